# Makefile for mlops (PGXS).
#
# `make demo` and `make test` are the README's Quick start: they install what is missing (as root,
# from Debian's archive), build, install into a private tree, start a throwaway cluster and run the
# demo or every test suite. They are defined before PGXS is included so that they work on a machine
# that has no PostgreSQL development files yet.

EXTENSION  = mlops
EXTVERSION = 0.2.0

PG_CONFIG ?= pg_config

.DEFAULT_GOAL := all

.PHONY: demo test deps bench-quick
demo:
	@test/lib/run.sh demo
test:
	@test/lib/run.sh test
deps:
	@test/lib/deps.sh

MODULE_big = mlops
# one folder per subsystem; see CONTRIBUTING.md for the map and the include rule
OBJS = \
	src/mlops.o \
	src/common/catalog.o \
	src/common/dataset.o \
	src/common/dataset_encode.o \
	src/common/dataset_schema.o \
	src/common/evalmetrics.o \
	src/common/guc.o \
	src/common/messages.o \
	src/common/metrics.o \
	src/common/modelref.o \
	src/common/security.o \
	src/common/source.o \
	src/drift/adwin_sql.o \
	src/drift/categories.o \
	src/drift/detect.o \
	src/drift/drift.o \
	src/drift/reference.o \
	src/drift/reference_model.o \
	src/drift/sample.o \
	src/drift/stats.o \
	src/drift/stats_adwin.o \
	src/drift/stats_chi2.o \
	src/drift/stats_ks.o \
	src/monitor/alerts.o \
	src/monitor/classes.o \
	src/monitor/expr.o \
	src/monitor/monitoring.o \
	src/registry/model_categories.o \
	src/registry/model_import.o \
	src/registry/registry.o \
	src/sched/cron.o \
	src/sched/cron_pg.o \
	src/sched/jobs.o \
	src/sched/jobworker.o \
	src/sched/pipelines.o \
	src/sched/scheduler.o \
	src/sched/scheduler_db.o \
	src/serve/health.o \
	src/serve/model_cache.o \
	src/serve/predict.o \
	src/serve/prediction_stats.o \
	src/train/train.o \
	src/train/train_boost.o \
	src/train/train_memory.o \
	src/train/train_metrics.o \
	src/train/train_params.o \
	src/train/train_progress.o \
	src/train/train_tracking.o \
	src/xgb/modelcheck.o \
	src/xgb/modelcheck_canon.o \
	src/xgb/modelcheck_json.o \
	src/xgb/modelcheck_ubjson.o \
	src/xgb/modelcheck_validate.o \
	src/xgb/xgb.o
# every object depends on every header: a header change rebuilds everything (no stale workers)
$(OBJS): $(wildcard src/*/*.h)
DATA_built = $(EXTENSION)--$(EXTVERSION).sql
# released install scripts stay as they shipped; each release adds its upgrade script
DATA       = sql/$(EXTENSION)--0.1.0.sql sql/$(EXTENSION)--0.1.0--0.2.0.sql
SQL_PIECES = $(sort $(wildcard sql/install/*.sql))
REGRESS    = $(sort $(basename $(notdir $(wildcard test/sql/*.sql))))
REGRESS_OPTS = --inputdir=test --outputdir=tmp_check/regress
EXTRA_CLEAN = tmp_check results regression.diffs regression.out

PG_CPPFLAGS = -I$(srcdir)/src -DMLOPS_VERSION=\"$(EXTVERSION)\"
PG_CFLAGS   = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
SHLIB_LINK  = -lxgboost -ljansson -lm

$(EXTENSION)--$(EXTVERSION).sql: $(SQL_PIECES)
	cat $(SQL_PIECES) > $@

PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(PGXS),)
include $(PGXS)
else
all install installcheck:
	@echo "PostgreSQL development files not found ($(PG_CONFIG) --pgxs failed): run 'make test' or 'make demo' as root, or install postgresql-server-dev-15" >&2
	@exit 1
endif
