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

# The git revision mlops.version() reports: `git describe` of this checkout, "unknown" for a tree
# without .git (a tarball, the copy `make deb` builds in) unless the builder passes one in:
# `make MLOPS_GIT_REVISION=...` or the environment.  Only [A-Za-z0-9._+~-] are kept.
mlops_top := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
MLOPS_GIT_REVISION ?= $(shell test -e '$(mlops_top)/.git' && git -C '$(mlops_top)' describe --always --dirty 2>/dev/null || echo unknown)
mlops_revision := $(shell printf '%s' '$(subst ','',$(MLOPS_GIT_REVISION))' | tr -cd 'A-Za-z0-9._+~-')
ifeq ($(mlops_revision),)
mlops_revision := unknown
endif

.PHONY: demo test deps bench-quick deb
demo:
	@test/lib/run.sh demo
test:
	@test/lib/run.sh test
deps:
	@test/lib/deps.sh

# `make deb` builds the Debian package postgresql-15-mlops (debian/: pg_buildext, debhelper) with
# dpkg-buildpackage -us -uc -b in a temporary copy of this tree without its build products, so the
# checkout stays as it is.  The .deb, .changes and .buildinfo land in DEB_DIR (default: the parent
# directory, where dpkg-buildpackage puts them).  The copy has no .git, so the revision goes in
# through MLOPS_GIT_REVISION.  Needs the build dependencies of debian/control (`make deps` as root).
DEB_DIR ?= ..
deb:
	@set -e; out=$$(cd '$(DEB_DIR)' && pwd); tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	tree="$$tmp/$(EXTENSION)-$(EXTVERSION)"; mkdir "$$tree"; \
	tar -C '$(mlops_top)' --exclude-vcs --exclude=./tmp_check --exclude=./results --exclude='./regression.*' \
	    --exclude='*.o' --exclude='*.so' --exclude='*.bc' --exclude=__pycache__ --exclude='./work-*' \
	    --exclude='./$(EXTENSION)--$(EXTVERSION).sql' --exclude=./mlops.revision -cf - . | tar -C "$$tree" -xf -; \
	(cd "$$tree" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL MLOPS_GIT_REVISION='$(mlops_revision)' \
	    dpkg-buildpackage -us -uc -b); \
	cp "$$tmp"/*.deb "$$tmp"/*.changes "$$tmp"/*.buildinfo "$$out"/; \
	for f in "$$tmp"/*.deb; do echo "mlops: built $$out/$${f##*/}"; done

MODULE_big = mlops
# one folder per subsystem; see CONTRIBUTING.md for the map and the include rule
OBJS = \
	src/mlops.o \
	src/common/audit_chain.o \
	src/common/catalog.o \
	src/common/dataset.o \
	src/common/dataset_encode.o \
	src/common/dataset_schema.o \
	src/common/dataset_spill.o \
	src/common/distributions.o \
	src/common/evalmetrics.o \
	src/common/guc.o \
	src/common/messages.o \
	src/common/metrics.o \
	src/common/modelref.o \
	src/common/schema_version.o \
	src/common/security.o \
	src/common/source.o \
	src/deploy/ab_cache.o \
	src/deploy/ab_predict.o \
	src/deploy/ab_sql.o \
	src/deploy/ab_stats.o \
	src/deploy/validate.o \
	src/drift/adwin_sql.o \
	src/drift/categories.o \
	src/drift/detect.o \
	src/drift/drift.o \
	src/drift/histograms.o \
	src/drift/reference.o \
	src/drift/reference_model.o \
	src/drift/sample.o \
	src/drift/stats.o \
	src/drift/stats_adwin.o \
	src/drift/stats_chi2.o \
	src/drift/stats_ks.o \
	src/drift/tables.o \
	src/features/feature_sets.o \
	src/features/features_common.o \
	src/features/materialize.o \
	src/features/online.o \
	src/features/pit_join.o \
	src/features/pit_merge.o \
	src/http/http_auth.o \
	src/http/http_errors.o \
	src/http/http_init.o \
	src/http/http_jwt.o \
	src/http/http_request.o \
	src/http/http_routes.o \
	src/http/http_shmem.o \
	src/http/http_worker.o \
	src/http/token_bucket.o \
	src/monitor/alerts.o \
	src/monitor/classes.o \
	src/monitor/expr.o \
	src/monitor/monitoring.o \
	src/registry/model_categories.o \
	src/registry/model_import.o \
	src/registry/registry.o \
	src/report/chart.o \
	src/report/curves.o \
	src/report/dashboard.o \
	src/report/drift_report.o \
	src/report/html.o \
	src/report/model_report.o \
	src/report/report.o \
	src/sched/cron.o \
	src/sched/cron_pg.o \
	src/sched/fair.o \
	src/sched/jobs.o \
	src/sched/jobworker.o \
	src/sched/pipelines.o \
	src/sched/scheduler.o \
	src/sched/scheduler_db.o \
	src/serve/health.o \
	src/serve/input_constraints.o \
	src/serve/model_cache.o \
	src/serve/predict.o \
	src/serve/prediction_stats.o \
	src/serve/routing.o \
	src/serve/routing_hash.o \
	src/serve/version.o \
	src/train/train.o \
	src/train/train_batches.o \
	src/train/train_boost.o \
	src/train/train_memory.o \
	src/train/train_metrics.o \
	src/train/train_params.o \
	src/train/train_progress.o \
	src/train/train_tracking.o \
	src/xgb/forest.o \
	src/xgb/modelcheck.o \
	src/xgb/modelcheck_canon.o \
	src/xgb/modelcheck_json.o \
	src/xgb/modelcheck_ubjson.o \
	src/xgb/modelcheck_validate.o \
	src/xgb/xgb.o \
	src/xgb/xgb_forest.o \
	src/xgb/xgb_iter.o
# every object depends on every header: a header change rebuilds everything (no stale workers)
$(OBJS): $(wildcard src/*/*.h)
DATA_built = $(EXTENSION)--$(EXTVERSION).sql
# released install scripts stay as they shipped; each release adds its upgrade script
DATA       = sql/$(EXTENSION)--0.1.0.sql sql/$(EXTENSION)--0.1.0--0.2.0.sql
SQL_PIECES = $(sort $(wildcard sql/install/*.sql))
# `make installcheck` runs these against a running server that has mlops installed and preloaded
# (PGHOST, PGPORT, PGUSER from the environment, as for psql); it creates and drops its own database
# contrib_regression and touches no other.  Results and diffs: tmp_check/regress.
REGRESS    = $(sort $(basename $(notdir $(wildcard test/sql/*.sql))))
REGRESS_OPTS = --inputdir=test --outputdir=tmp_check/regress
REGRESS_PREP = tmp_check/regress
tmp_check/regress:
	@mkdir -p $@
EXTRA_CLEAN = tmp_check results regression.diffs regression.out mlops.revision

PG_CPPFLAGS = -I$(srcdir)/src -DMLOPS_VERSION=\"$(EXTVERSION)\" -DMLOPS_GIT_REVISION=\"$(mlops_revision)\"
# mlops.revision holds the revision the objects were built with: version.o is rebuilt when it moves
src/serve/version.o src/serve/version.bc: mlops.revision
mlops.revision: FORCE
	@echo '$(mlops_revision)' | cmp -s - $@ || echo '$(mlops_revision)' > $@
.PHONY: FORCE
PG_CFLAGS   = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
SHLIB_LINK  = -lxgboost -ljansson -lmicrohttpd -lm

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
