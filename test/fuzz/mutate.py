"""mutate.py — the mutation fuzz of mlops's SQL surface (suite `fuzz` of `make test`).

In a fresh database with mlops and real data (scikit-learn's breast cancer, iris and diabetes
sets loaded into tables; models trained on them, a Production stage and an alias, an experiment and
a run, two monitors with recorded predictions, drift references, an ADWIN detector, an alert rule
and its alerts, two jobs, a role with a capability), this script

1. enumerates every public SQL function of mlops from pg_proc (name not starting with "_", plus
   the underscore functions the documentation tells users to GRANT, EXTRA below) with its argument
   names, types and defaults, and requires a base call for each in BASE: a public function without
   one, or a base entry naming no function or an unknown argument, is a failing test, so a new
   function cannot escape the fuzz;
2. makes the base call (it must succeed), then replaces one argument at a time with hostile values
   chosen by the argument's type (MUTATIONS): NULL, NaN, ±Infinity, 0, −1, 1e19, INT_MAX, huge
   arrays (1e6 elements) and strings (1 MB), malformed and deep JSON, injection strings, paths and
   URLs, and for jsonb arguments each member of the base document (nested ones too; at most 16,
   a seeded sample) replaced by such values;
3. runs every call in its own transaction (rolled back: the fixture stays as it was) with
   statement_timeout (10 s; 1 s for "SELECT pg_sleep(10)" in an argument that is a query by contract,
   where the cancel is the expected outcome), watched by a thread that cancels, terminates and finally
   kills a backend that ignores the timeout, and kills at once a backend whose private memory
   (RssAnon) passes 2 GB (--max-backend-mb), before the OOM killer takes the cluster down.

A call fails when the backend crashed (the connection was lost, the server log says "terminated by
signal"), when its error has SQLSTATE class XX (internal) or 58 (system), when it exceeded the
timeout (57014 from statement_timeout, or the watchdog had to step in), when its backend's memory
passed the limit, or when an injection string ran (the canary table public.x was dropped, or
public.fuzz_canary() ran from an argument that is not a query by contract).  An error a pipeline reports in its result ({"status": "failed", "sqlstate":
...}) counts as the call's error.  Any other error is the function refusing bad input, which is fine.

Output: TAP, one test per function (its base call and all its mutations); a failing test lists each
offending call: argument, value kind, outcome, and the SQL that reproduces it in the fixture
database (run with --keep to keep it: `psql -d mlops_fuzz`).  Deterministic: the data, the training
seeds and the sample of JSON members (--seed, per function and argument) are fixed.

Usage: /usr/bin/python3 test/fuzz/mutate.py [--only GLOB] [--server-log FILE] [--report FILE]
       [--timeout SECONDS] [--max-backend-mb MB] [--keep] [--list] [--verbose]
Connection from the libpq environment (PGHOST, PGPORT, PGUSER), as a superuser.
"""
import argparse
import fnmatch
import json
import os
import random
import re
import signal
import sys
import threading
import time

import psycopg2
import psycopg2.extensions
from sklearn import datasets

# results are read as text: a deep JSON result must not exhaust the client's recursion limit
psycopg2.extensions.register_type(psycopg2.extensions.new_type((114, 3802), "JSONTEXT", lambda v, c: v))
psycopg2.extensions.register_type(psycopg2.extensions.new_array_type((199, 3807), "JSONTEXTARRAY",
                                                                     psycopg2.STRING))

DBNAME = "mlops_fuzz"
GRACE = 3.0            # seconds past statement_timeout before the watchdog cancels
STEP = 5.0             # seconds between the watchdog's cancel, terminate and kill
CLIP = 200             # characters of an error message shown in diagnostics
HUGE_N = 1000000       # elements of a huge array
HUGE_S = 1048576       # characters of a huge string


def lit(s):
    """lit quotes a Python string as an SQL literal (standard_conforming_strings is on)."""
    return "'" + s.replace("'", "''") + "'"


def J(obj):
    """J is the SQL literal of a JSON document."""
    return lit(json.dumps(obj))


# ---------------------------------------------------------------------------------------------
# The fixture: real data, and one object of every kind mlops manages.
# ---------------------------------------------------------------------------------------------

def column_name(name):
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def load_table(cur, table, data, target, labels):
    """load_table creates TABLE from a scikit-learn data set (id, the features, TARGET)."""
    cols = [column_name(c) for c in data.feature_names]
    ttype = "text" if labels else "float8"
    cur.execute("CREATE TABLE public.%s (id integer PRIMARY KEY, %s, %s %s)"
                % (table, ", ".join(c + " float8" for c in cols), target, ttype))
    rows = []
    for i, row in enumerate(data.data):
        y = data.target[i]
        rows.append([i + 1] + [float(v) for v in row] + [str(data.target_names[y]) if labels else float(y)])
    cur.executemany("INSERT INTO public.%s VALUES (%s)" % (table, ", ".join(["%s"] * (len(cols) + 2))), rows)
    return cols


FIXTURE_SQL = r"""
CREATE TABLE public.x (id integer);   -- the canary that "'; DROP TABLE x; --" would drop
CREATE FUNCTION public.fuzz_canary() RETURNS integer LANGUAGE plpgsql AS
  $$BEGIN RAISE WARNING 'FUZZ-CANARY-EXECUTED'; RETURN 1; END$$;
-- the huge jsonb values, built once: an array of 1e6 numbers, an object of 1e5 keys (each key
-- costs far more work than an array element: 1e6 would make honest functions exceed the timeout)
CREATE TABLE public.fuzz_values (kind text PRIMARY KEY, j jsonb);
INSERT INTO public.fuzz_values
SELECT 'array_1e6', pg_catalog.jsonb_agg(g) FROM pg_catalog.generate_series(1, 1000000) g
UNION ALL
SELECT 'object_1e5', pg_catalog.jsonb_object_agg('k' || g, g) FROM pg_catalog.generate_series(1, 100000) g;
-- a categorical feature, and a drifted copy of the data
ALTER TABLE public.bc ADD COLUMN grade text;
UPDATE public.bc SET grade = CASE WHEN mean_radius < 12 THEN 'low' WHEN mean_radius < 16 THEN 'mid' ELSE 'high' END;
ALTER TABLE public.bc ADD COLUMN diag text;
UPDATE public.bc SET diag = diagnosis;
ALTER TABLE public.bc DROP COLUMN diagnosis;
ALTER TABLE public.bc RENAME COLUMN diag TO diagnosis;
CREATE TABLE public.bc_live AS SELECT * FROM public.bc;
UPDATE public.bc_live SET mean_radius = mean_radius * 1.3, grade = CASE WHEN id % 3 = 0 THEN 'high' ELSE grade END;
CREATE ROLE fuzz_role;
"""

FIXTURE_MLOPS = r"""
SELECT mlops.create_experiment('fz', 'the fuzz experiment', '{"team": "qa"}');
-- the HTTP service: an API key of a role that may log in (revoke_api_key's base call revokes it)
ALTER ROLE fuzz_role LOGIN;
SELECT mlops.create_api_key('fuzz_role') IS NOT NULL;
SELECT count(*) FROM mlops.train('bc', 'bc', 'diagnosis', hyperparams => '{"n_estimators": 10, "max_depth": 3}', experiment => 'fz');
SELECT count(*) FROM mlops.train('bc', 'bc', 'diagnosis', hyperparams => '{"n_estimators": 12, "max_depth": 3}', experiment => 'fz');
SELECT count(*) FROM mlops.train('iris', 'iris', 'species', hyperparams => '{"n_estimators": 10, "max_depth": 3}');
SELECT count(*) FROM mlops.train('diab', 'diab', 'progression', task => 'regression', hyperparams => '{"n_estimators": 10, "max_depth": 3}');
-- a version no deployment, test or alias uses, for drop_model_version's base call
SELECT count(*) FROM mlops.train('dropme', 'diab', 'progression', task => 'regression', hyperparams => '{"n_estimators": 2, "max_depth": 2}');
SELECT mlops.transition_stage('bc', 1, 'Production');
SELECT mlops.set_alias('bc', 'champion', 1);
-- inputs in every form, from real rows
CREATE TABLE public.bc_inputs AS
SELECT b.id, NULL::float8[] AS v, pg_catalog.to_jsonb(b) - 'id' - 'diagnosis' AS j, NULL::text AS t
  FROM public.bc b;
UPDATE public.bc_inputs SET t = j::text;
CREATE TABLE public.iris_inputs AS
SELECT i.id, ARRAY[sepal_length_cm, sepal_width_cm, petal_length_cm, petal_width_cm] AS v,
       pg_catalog.to_jsonb(i) - 'id' - 'species' AS j
  FROM public.iris i;
-- a monitor with predictions, some labelled
SELECT mlops.create_monitor('bc', 'classification', '{"accuracy": 0.9, "f1_score": 0.9}');
SELECT count(mlops.record_prediction('bc', mlops.predict('bc', i.j),
                                     CASE WHEN i.id > 50 THEN (b.diagnosis = 'malignant')::int END,
                                     'p' || i.id, '2024-01-01 00:00+00'::timestamptz + i.id * interval '1 minute'))
  FROM public.bc_inputs i JOIN public.bc b USING (id);
SELECT mlops.create_monitor('diab', 'regression', '{"rmse": 60, "r2": 0.3}');
SELECT count(mlops.record_prediction('diab', progression * 0.9, progression, 'd' || id)) FROM public.diab;
-- drift references and a detector
SELECT mlops.set_drift_reference('bcref', 'bc', ARRAY['mean_radius', 'mean_texture', 'grade']);
SELECT mlops.set_drift_reference_from_model('bcmodel', 'bc');
SELECT mlops.set_monitor_drift('bc', 'bcref', 'bc_live');
SELECT mlops.detect_drift('bcref', 'bc_live');
SELECT mlops.create_adwin('ad1', 0.002);
SELECT count(mlops.update_adwin('ad1', mean_radius)) FROM public.bc;
-- an alert rule that fires, twice
SELECT mlops.add_alert_rule('r1', 'accuracy low', 'accuracy < 2', 'warning', '0');
SELECT count(*) FROM mlops.check_alerts('{"accuracy": 0.5}', 'bc');
SELECT count(*) FROM mlops.check_alerts('{"accuracy": 0.4}', 'bc');
-- jobs that would run on 29 February only
SELECT mlops.schedule('j1', '0 0 29 2 *', 'SELECT 1');
SELECT mlops.schedule_pipeline('jp', 'monitoring_pipeline', '0 0 29 2 *', '{"model": "bc"}');
-- deployments: a validation, an active canary of bc, and a pending deployment of another role's
-- model (approving it must not be self-approval)
SELECT mlops.validate_model('bc/2', 'bc', 'diagnosis');
SELECT mlops.deploy('bc', 2, canary_percent => 20, require_validation => false);
CREATE ROLE fuzz_deployer;
SELECT mlops.grant_capability('fuzz_deployer', 'deployer');
SELECT mlops.grant_capability('fuzz_deployer', 'scientist');
GRANT SELECT ON public.diab TO fuzz_deployer;
SET ROLE fuzz_deployer;
SELECT count(*) FROM mlops.train('dep', 'public.diab', 'progression', task => 'regression', hyperparams => '{"n_estimators": 5}');
SELECT count(*) FROM mlops.train('dep', 'public.diab', 'progression', task => 'regression', hyperparams => '{"n_estimators": 6}');
SELECT mlops.deploy('dep', 1, strategy => 'direct', require_validation => false);
SELECT mlops.deploy('dep', 2, require_validation => false, require_approval => true);
RESET ROLE;
SELECT mlops.grant_capability('fuzz_role', 'reader');
-- the feature store over the real rows: a feature set, a training set, a model on it, the online store
CREATE TABLE public.bc_feats AS
SELECT id, '2024-01-01 00:00+00'::timestamptz + id * interval '1 hour' AS ts, mean_radius, mean_texture, grade
  FROM public.bc;
CREATE TABLE public.bc_events AS
SELECT id, '2024-01-01 00:30+00'::timestamptz + id * interval '1 hour' AS event_timestamp, diagnosis
  FROM public.bc;
SELECT mlops.register_feature_set('bcf', 'public.bc_feats', 'id', 'ts');
SELECT mlops.create_training_set('public.bc_ts', 'public.bc_events', ARRAY['bcf:*']);
SELECT count(*) FROM mlops.train('bcfs', 'public.bc_ts', 'diagnosis', hyperparams => '{"n_estimators": 5, "max_depth": 3}',
                                 features => ARRAY['mean_radius', 'mean_texture', 'grade']);
SELECT mlops.materialize('bcf');
-- the open run (its id is the largest: keep it last)
SELECT mlops.start_run('fz', 'r1', '{"git": "a1b2c3"}');
-- an A/B test with an assigned, converted user
SELECT mlops.create_ab_test('abz', '[{"name": "control", "model": "bc/1", "weight": 0.5},
                                     {"name": "treatment", "model": "bc/2", "weight": 0.5}]');
SELECT mlops.ab_assign('abz', 'user-1');
SELECT mlops.record_conversion('abz', 'user-1', 2.5);
"""


def build_fixture(conn):
    """build_fixture fills the fresh database; returns the ids base calls refer to."""
    cur = conn.cursor()
    cur.execute("CREATE EXTENSION mlops")
    load_table(cur, "bc", datasets.load_breast_cancer(), "diagnosis", True)
    load_table(cur, "iris", datasets.load_iris(), "species", True)
    load_table(cur, "diab", datasets.load_diabetes(), "progression", False)
    cur.execute("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'fuzz_role'")
    sql = FIXTURE_SQL
    if cur.fetchone():
        sql = sql.replace("CREATE ROLE fuzz_role;", "")
    cur.execute(sql)
    cur.execute(FIXTURE_MLOPS)
    # the float8[] form: every feature in the model's order, categories as their codes
    cur.execute("SELECT mlops.model_schema('bc')")
    schema = json.loads(cur.fetchone()[0])
    parts = []
    for f in schema["features"]:
        if f.get("categories"):
            cats = "ARRAY[%s]::text[]" % ", ".join(lit(c) for c in f["categories"])
            parts.append("(pg_catalog.array_position(%s, b.%s) - 1)::float8" % (cats, f["name"]))
        else:
            parts.append("b.%s::float8" % f["name"])
    cur.execute("UPDATE public.bc_inputs i SET v = ARRAY[%s] FROM public.bc b WHERE b.id = i.id"
                % ", ".join(parts))
    ids = {}
    cur.execute("SELECT max(run_id) FROM mlops.runs")
    ids["run_id"] = cur.fetchone()[0]
    cur.execute("SELECT min(alert_id), max(alert_id) FROM mlops.alerts")
    ids["alert_id"], ids["alert_id2"] = cur.fetchone()
    cur.execute("SELECT max(id) FILTER (WHERE state = 'active'), max(id) FILTER (WHERE state = 'pending')"
                " FROM mlops.deployments")
    ids["deployment_id"], ids["pending_deployment_id"] = cur.fetchone()
    conn.commit()
    return ids


# ---------------------------------------------------------------------------------------------
# Base calls: one valid call of every public function (argument name -> SQL expression; {run_id}
# and {alert_id} are the fixture's ids).  Arguments left out take their defaults; every argument,
# defaults included, is mutated.
# ---------------------------------------------------------------------------------------------

BC = "(SELECT v FROM public.bc_inputs WHERE id = 1)"
BCJ = "(SELECT j FROM public.bc_inputs WHERE id = 1)"
BCT = "(SELECT t FROM public.bc_inputs WHERE id = 1)"
HYPER = {"n_estimators": 5, "max_depth": 3, "eta": 0.3, "nthread": 1, "subsample": 0.9,
         "colsample_bytree": 0.9, "min_child_weight": 1, "lambda": 1, "alpha": 0, "gamma": 0,
         "max_bin": 64, "num_parallel_tree": 1, "early_stopping_rounds": 3, "scale_pos_weight": 1}

BASE = {
    "mlops.current_actor()": {},
    "mlops.audit(text,text,text,jsonb)": {
        "action": lit("report.export"), "resource_type": lit("report"), "resource_id": lit("q3"),
        "details": J({"rows": 1200})},
    "mlops.audit_events(text,timestamp with time zone,timestamp with time zone,integer)": {
        "action": lit("model"), "since": lit("2000-01-01 00:00+00"), "until": lit("2100-01-01 00:00+00"),
        "max_rows": "20"},
    "mlops.create_experiment(text,text,jsonb)": {
        "name": lit("fz_new"), "description": lit("a new experiment"), "tags": J({"team": "qa"})},
    "mlops.start_run(text,text,jsonb)": {
        "experiment": lit("fz"), "run_name": lit("r2"), "tags": J({"git": "a1b2c3"})},
    "mlops.log_params(bigint,jsonb)": {"run_id": "{run_id}", "params": J({"max_depth": 6, "eta": 0.3})},
    "mlops.log_metrics(bigint,jsonb,integer)": {
        "run_id": "{run_id}", "metrics": J({"auc": 0.91, "logloss": 0.23}), "step": "10"},
    "mlops.set_tags(bigint,jsonb)": {"run_id": "{run_id}", "tags": J({"reviewed": "yes"})},
    "mlops.end_run(bigint,text)": {"run_id": "{run_id}", "status": lit("finished")},
    "mlops.compare_runs(text,text,boolean)": {"experiment": lit("fz"), "metric": lit("accuracy"),
                                              "ascending": "false"},
    "mlops.resolve_model(text)": {"model": lit("bc@champion")},
    "mlops.transition_stage(text,integer,text,boolean)": {
        "name": lit("bc"), "version": "2", "stage": lit("Staging"), "archive_existing": "true"},
    "mlops.set_alias(text,text,integer)": {"name": lit("bc"), "alias": lit("challenger"), "version": "2"},
    "mlops.drop_alias(text,text)": {"name": lit("bc"), "alias": lit("champion")},
    "mlops.drop_model_version(text,integer)": {"name": lit("dropme"), "version": "1"},
    "mlops.model_info(text)": {"model": lit("bc/1")},
    "mlops.model_schema(text)": {"model": lit("bc/Production")},
    "mlops.import_model(text,bytea,text[],text,jsonb,jsonb,jsonb)": {
        "name": lit("bc_imported"), "model": "mlops.export_model('bc/1')",
        "feature_names": "ARRAY(SELECT pg_catalog.jsonb_array_elements_text(mlops.model_info('bc/1') -> 'feature_names'))",
        "task": lit("classification"), "metrics": J({"auc": 0.9}), "params": J({"eta": 0.3}),
        "tags": J({"source": "fuzz"})},
    "mlops.export_model(text)": {"model": lit("bc/1")},
    "mlops.train(text,text,text,text,jsonb,text[],double precision,text,text,integer)": {
        "model_name": lit("bc"), "source": lit("bc"), "target": lit("diagnosis"), "task": lit("classification"),
        "hyperparams": J(HYPER), "features": "ARRAY['mean_radius', 'mean_texture', 'worst_area', 'grade']",
        "test_size": "0.25", "test_sampling": lit("stratified"), "experiment": lit("fz"), "seed": "7"},
    "mlops.predict(text,double precision[],text)": {"routing_key": lit("user-42"), "model": lit("bc"), "features": BC},
    "mlops.predict(text,jsonb,text)": {"routing_key": lit("user-42"), "model": lit("bc"), "features": BCJ},
    "mlops.predict(text,text,text)": {"routing_key": lit("user-42"), "model": lit("bc"), "features": BCT},
    "mlops.predict_proba(text,double precision[],text)": {"routing_key": lit("user-42"), "model": lit("bc/2"), "features": BC},
    "mlops.predict_proba(text,jsonb,text)": {"routing_key": lit("user-42"), "model": lit("bc@champion"), "features": BCJ},
    "mlops.predict_proba(text,text,text)": {"routing_key": lit("user-42"), "model": lit("bc/Production"), "features": BCT},
    "mlops.predict_label(text,double precision[],text)": {"routing_key": lit("user-42"), 
        "model": lit("iris/1"), "features": "(SELECT v FROM public.iris_inputs WHERE id = 1)"},
    "mlops.predict_label(text,jsonb,text)": {"routing_key": lit("user-42"), "model": lit("bc"), "features": BCJ},
    "mlops.predict_label(text,text,text)": {"routing_key": lit("user-42"), "model": lit("bc"), "features": BCT},
    "mlops.predict_batch(text,jsonb)": {
        "model": lit("bc"), "instances": "(SELECT pg_catalog.jsonb_agg(j ORDER BY id) FROM public.bc_inputs WHERE id <= 5)"},
    "mlops.predict_table(text,text,text)": {"model": lit("bc"), "source": lit("bc"), "id_column": lit("id")},
    "mlops.predict_proba_table(text,text,text)": {
        "model": lit("iris/latest"), "source": lit("SELECT * FROM iris WHERE id <= 100"), "id_column": lit("id")},
    "mlops.predict_detail(text,jsonb,text)": {"model": lit("bc"), "features": BCJ, "routing_key": lit("user-42")},
    "mlops.validate_model(text,text,text,jsonb,double precision,text,double precision)": {
        "model": lit("bc/2"), "source": lit("bc"), "target": lit("diagnosis"),
        "min_metrics": J({"accuracy": 0.5, "roc_auc": 0.5}), "max_latency_ms": "100",
        "compare_to": lit("bc/1"), "max_regression": "0.5"},
    "mlops.deploy(text,integer,text,text,double precision,boolean,jsonb,jsonb,boolean)": {
        "model": lit("iris"), "version": "1", "environment": lit("production"), "strategy": lit("direct"),
        "canary_percent": "10", "require_validation": "false",
        "auto_rollback": J({"max_error_rate": 0.02, "max_p95_latency_ms": 50, "min_requests": 10,
                            "max_metric_drop": {"accuracy": 0.02}}),
        "steps": J([{"percent": 50, "after": "10 minutes"}, {"percent": 100, "after": "1 hour"}]),
        "require_approval": "false"},
    "mlops.promote_deployment(bigint)": {"deployment_id": "{deployment_id}"},
    "mlops.set_canary_percent(bigint,double precision)": {"deployment_id": "{deployment_id}", "percent": "35"},
    "mlops.rollback(text,text,text)": {"model": lit("bc"), "environment": lit("production"), "reason": lit("fuzz")},
    "mlops.approve_deployment(bigint,text)": {"deployment_id": "{pending_deployment_id}", "comment": lit("ok")},
    "mlops.refuse_deployment(bigint,text)": {"deployment_id": "{pending_deployment_id}", "reason": lit("no")},
    "mlops.deployment_status(text)": {"model": lit("bc")},
    "mlops.check_deployments()": {},
    "mlops.deployment_pipeline(text,integer,text,text,double precision,jsonb,jsonb,jsonb)": {
        "model_name": lit("iris"), "model_version": "1", "environment": lit("production"),
        "strategy": lit("direct"), "canary_percentage": "10",
        "validation": J({"source": "iris", "target": "species", "min_metrics": {"accuracy": 0.5}}),
        "auto_rollback": J({"max_error_rate": 0.5}), "steps": J([{"percent": 100, "after": "0 seconds"}])},
    "mlops.set_alert_action(text,text)": {"rule_id": lit("r1"), "job_name": lit("j1")},
    "mlops.model_cache()": {},
    "mlops.model_cache_reset()": {},
    "mlops.prediction_stats_reset()": {},
    "mlops.health()": {},
    "mlops.ready()": {},
    "mlops.version()": {},
    "mlops.psi(double precision[],double precision[],integer,text)": {
        "reference": "(SELECT pg_catalog.array_agg(mean_radius) FROM public.bc)",
        "current": "(SELECT pg_catalog.array_agg(mean_radius) FROM public.bc_live)",
        "bins": "10", "binning": lit("quantile")},
    "mlops.psi(text[],text[])": {
        "reference": "(SELECT pg_catalog.array_agg(grade) FROM public.bc)",
        "current": "(SELECT pg_catalog.array_agg(grade) FROM public.bc_live)"},
    "mlops.kl_divergence(double precision[],double precision[],integer,text)": {
        "reference": "(SELECT pg_catalog.array_agg(mean_texture) FROM public.bc)",
        "current": "(SELECT pg_catalog.array_agg(mean_texture * 1.1) FROM public.bc_live)",
        "bins": "20", "binning": lit("quantile")},
    "mlops.js_distance(double precision[],double precision[],integer,text)": {
        "reference": "(SELECT pg_catalog.array_agg(mean_radius) FROM public.bc)",
        "current": "(SELECT pg_catalog.array_agg(mean_radius) FROM public.bc_live)",
        "bins": "10", "binning": lit("sturges")},
    "mlops.wasserstein(double precision[],double precision[])": {
        "reference": "(SELECT pg_catalog.array_agg(mean_radius) FROM public.bc)",
        "current": "(SELECT pg_catalog.array_agg(mean_radius) FROM public.bc_live)"},
    "mlops.ks_test(double precision[],double precision[])": {
        "reference": "(SELECT pg_catalog.array_agg(worst_area) FROM public.bc)",
        "current": "(SELECT pg_catalog.array_agg(worst_area) FROM public.bc_live)"},
    "mlops.chi_square_test(text[],text[])": {
        "reference": "(SELECT pg_catalog.array_agg(grade) FROM public.bc)",
        "current": "(SELECT pg_catalog.array_agg(grade) FROM public.bc_live)"},
    "mlops.psi(text,text,text,integer,text)": {
        "reference": lit("bc"), "current": lit("SELECT mean_radius FROM public.bc_live"),
        "column_name": lit("mean_radius"), "bins": "10", "binning": lit("quantile")},
    "mlops.kl_divergence(text,text,text,integer,text)": {
        "reference": lit("bc"), "current": lit("bc_live"), "column_name": lit("mean_texture"),
        "bins": "20", "binning": lit("quantile")},
    "mlops.js_distance(text,text,text,integer,text)": {
        "reference": lit("bc"), "current": lit("bc_live"), "column_name": lit("mean_radius"),
        "bins": "10", "binning": lit("sturges")},
    "mlops.wasserstein(text,text,text)": {
        "reference": lit("bc"), "current": lit("bc_live"), "column_name": lit("mean_radius")},
    "mlops.ks_test(text,text,text)": {
        "reference": lit("bc"), "current": lit("bc_live"), "column_name": lit("worst_area")},
    "mlops.chi_square_test(text,text,text)": {
        "reference": lit("bc"), "current": lit("bc_live"), "column_name": lit("grade")},
    "mlops.adwin(double precision[],double precision)": {
        "stream": "(SELECT pg_catalog.array_agg(mean_radius ORDER BY id) FROM public.bc)", "delta": "0.002"},
    "mlops.set_drift_reference(text,text,text[])": {
        "name": lit("bcref2"), "source": lit("bc"), "columns": "ARRAY['mean_radius', 'grade']"},
    "mlops.set_drift_reference_from_model(text,text)": {"name": lit("bcmodel2"), "model": lit("bc/2")},
    "mlops.detect_drift(text,text,text[],text[],jsonb)": {
        "name": lit("bcref"), "source": lit("bc_live"), "methods": "ARRAY['psi', 'js_distance']",
        "columns": "ARRAY['mean_radius']", "thresholds": J({"psi": 0.1})},
    "mlops._detect_drift_distributions(text,text,text[],text[],integer)": {
        "name": lit("bcref"), "source": lit("bc_live"), "methods": "ARRAY['psi', 'ks']",
        "columns": "ARRAY['mean_radius', 'grade']", "bins": "20"},
    "mlops.drop_drift_reference(text)": {"name": lit("bcref")},
    "mlops.create_adwin(text,double precision)": {"name": lit("ad2"), "delta": "0.002"},
    "mlops.update_adwin(text,double precision)": {"name": lit("ad1"), "value": "14.5"},
    "mlops.drop_adwin(text)": {"name": lit("ad1")},
    "mlops.next_runs(text,timestamp with time zone,integer)": {
        "schedule": lit("0 12 29 2 *"), "after": lit("2023-03-01 00:00+00"), "count": "3"},
    "mlops.schedule(text,text,text,boolean)": {
        "job_name": lit("j2"), "schedule": lit("0 0 29 2 *"), "command": lit("SELECT 2"), "validate": "true"},
    "mlops.schedule_pipeline(text,text,text,jsonb)": {
        "job_name": lit("jp2"), "pipeline": lit("training_pipeline"), "schedule": lit("0 0 29 2 *"),
        "parameters": J({"data_source": "bc", "target_column": "diagnosis", "model_name": "bc",
                         "hyperparams": {"n_estimators": 5}, "min_metrics": {"accuracy": 0.5}})},
    "mlops.unschedule(text)": {"job_name": lit("j1")},
    "mlops.alter_job(text,text,text,boolean,interval,integer,interval,boolean)": {
        "job_name": lit("j1"), "schedule": lit("0 0 29 2 *"), "command": lit("SELECT 3"), "enabled": "true",
        "max_runtime": lit("5 minutes"), "max_retries": "3", "retry_delay": lit("30 seconds"), "validate": "true"},
    "mlops.run_job(text)": {"job_name": lit("j1")},
    "mlops.training_pipeline(text,text,text,text,text,text,jsonb,jsonb)": {
        "data_source": lit("bc"), "target_column": lit("diagnosis"), "model_name": lit("bc_tp"),
        "model_type": lit("xgboost"), "experiment_name": lit("fz"), "task": lit("classification"),
        "hyperparams": J({"n_estimators": 5, "max_depth": 2}), "min_metrics": J({"accuracy": 0.5})},
    "mlops.data_pipeline(text,text,boolean,jsonb)": {
        "data_source": lit("bc"), "output_table": lit("bc_clean"), "validate": "true",
        "rules": J({"not_null": ["id"], "ranges": {"mean_radius": {"min": 0, "max": 100}}})},
    "mlops.create_monitor(text,text,jsonb,integer,double precision)": {
        "model": lit("iris"), "problem_type": lit("classification"), "baseline_metrics": J({"accuracy": 0.9}),
        "window_size": "1000", "tolerance": "0.05"},
    "mlops.drop_monitor(text)": {"model": lit("bc")},
    "mlops.set_monitor_drift(text,text,text)": {"model": lit("bc"), "reference": lit("bcref"), "source": lit("bc_live")},
    "mlops.record_prediction(text,double precision,double precision,text,timestamp with time zone)": {
        "model": lit("bc"), "prediction": "0.83", "actual": "1", "prediction_id": lit("p-new"),
        "recorded_at": lit("2024-06-01 00:00+00")},
    "mlops.record_actual(text,text,double precision)": {"model": lit("bc"), "prediction_id": lit("p1"), "actual": "1"},
    "mlops.model_metrics(text,timestamp with time zone,integer)": {
        "model": lit("bc"), "since": lit("2000-01-01 00:00+00"), "window_size": "300"},
    "mlops.check_degradation(text)": {"model": lit("bc")},
    "mlops.add_alert_rule(text,text,text,text,interval,jsonb)": {
        "rule_id": lit("r2"), "name": lit("rule two"), "condition": lit("accuracy < 0.5 or drift_share > 0.3"),
        "severity": lit("critical"), "cooldown": lit("1 hour"), "labels": J({"runbook": "https://wiki/x"})},
    "mlops.drop_alert_rule(text)": {"rule_id": lit("r1")},
    "mlops.set_alert_rule_enabled(text,boolean)": {"rule_id": lit("r1"), "enabled": "false"},
    "mlops.check_alerts(jsonb,text)": {"metrics": J({"accuracy": 0.5, "drift_share": 0.1}), "source": lit("bc")},
    "mlops.acknowledge_alert(bigint)": {"alert_id": "{alert_id}"},
    "mlops.resolve_alert(bigint)": {"alert_id": "{alert_id2}"},
    "mlops.current_metrics(text)": {"model": lit("bc")},
    "mlops.monitoring_pipeline(text)": {"model": lit("bc")},
    "mlops.prometheus_metrics()": {},
    "mlops.set_owner(text,text,name)": {"kind": lit("experiment"), "name": lit("fz"), "role": lit("fuzz_role")},
    "mlops.grant_capability(name,text)": {"role": lit("fuzz_role"), "capability": lit("scientist")},
    "mlops.revoke_capability(name,text)": {"role": lit("fuzz_role"), "capability": lit("reader")},
    # the trust model's functions
    "mlops.alert(bigint)": {"alert_id": "{alert_id}"},
    "mlops.check_monitor_drift(text)": {"model": lit("bc")},
    "mlops.verify_audit_log(timestamp with time zone)": {"since": lit("2000-01-01 00:00+00")},
    # A/B tests
    "mlops.create_ab_test(text,jsonb,text)": {
        "name": lit("abz2"), "variants": J([{"name": "control", "model": "bc/1", "weight": 0.4},
                                            {"name": "treatment", "model": "bc@champion", "weight": 0.6}]),
        "description": lit("a second test")},
    "mlops.set_ab_weights(text,jsonb)": {"test": lit("abz"), "weights": J({"control": 0.7, "treatment": 0.3})},
    "mlops.ab_assign(text,text)": {"test": lit("abz"), "user_id": lit("user-2")},
    "mlops.ab_predict(text,text,jsonb)": {"test": lit("abz"), "user_id": lit("user-1"), "features": BCJ},
    "mlops.record_conversion(text,text,double precision)": {
        "test": lit("abz"), "user_id": lit("user-1"), "value": "1"},
    "mlops.stop_ab_test(text,text,boolean)": {"test": lit("abz"), "winner": lit("treatment"), "promote": "true"},
    "mlops.ab_results(text,double precision)": {"test": lit("abz"), "alpha": "0.05"},
    "mlops.ab_test_health(text)": {"test": lit("abz")},
    # the HTTP service's SQL functions (sql/install/85_http.sql)
    "mlops.create_api_key(name,text,timestamp with time zone,text)": {
        "role": lit("fuzz_role"), "tier": lit("pro"), "expires_at": lit("2999-01-01 00:00+00"), "description": lit("fuzz")},
    "mlops.revoke_api_key(bigint)": {"key_id": "(SELECT pg_catalog.max(key_id) FROM mlops.http_api_keys)"},
    "mlops.set_input_constraints(text,jsonb)": {
        "model": lit("bc"), "constraints": J({"mean_radius": {"type": "number", "min": 0, "max": 100},
                                              "grade": {"pattern": "^[a-z]+$"}})},
    "mlops.validate_input(text,jsonb)": {"model": lit("bc"), "features": J({"mean_radius": 10.5, "grade": "high"})},
    # underscore functions that the documentation tells users to GRANT (EXTRA)
    "mlops._log_metric_history(bigint,text[],integer[],double precision[])": {
        "run_id": "{run_id}", "keys": "ARRAY['loss', 'loss', 'auc']", "steps": "ARRAY[0, 1, 2]",
        "metric_values": "ARRAY[0.52, 0.41, 0.93]"},
    "mlops._prediction_stats()": {},
    "mlops._training_progress()": {},
    "mlops._dashboard_rows()": {},
    "mlops._monitor_pipeline_settings(text)": {"p_model": lit("bc")},
    # reports and artifacts (issue 14)
    "mlops.drift_report(text,text,text[],text[],text)": {
        "name": lit("bcref"), "source": lit("bc_live"), "methods": "ARRAY['psi', 'ks']",
        "columns": "ARRAY['mean_radius', 'grade']", "format": lit("html")},
    "mlops.model_report(text,text,text,text)": {
        "model": lit("bc/1"), "source": lit("bc"), "target": lit("diagnosis"), "format": lit("json")},
    "mlops.dashboard_html(text)": {"format": lit("html")},
    "mlops._dashboard_activity()": {},
    "mlops.log_artifact(bigint,text,bytea,text)": {
        "run_id": "{run_id}", "name": lit("notes.txt"), "content": "'\\x414243'::bytea", "content_type": lit("text/plain")},
    "mlops.artifacts(bigint)": {"run_id": "(SELECT v.run_id FROM mlops.model_versions v JOIN mlops.models m ON m.model_id OPERATOR(pg_catalog.=) v.model_id WHERE m.name OPERATOR(pg_catalog.=) 'bc' AND v.version OPERATOR(pg_catalog.=) 1)"},
    "mlops.get_artifact(bigint,text)": {"run_id": "(SELECT v.run_id FROM mlops.model_versions v JOIN mlops.models m ON m.model_id OPERATOR(pg_catalog.=) v.model_id WHERE m.name OPERATOR(pg_catalog.=) 'bc' AND v.version OPERATOR(pg_catalog.=) 1)", "name": lit("model_report.html")},
    # the feature store
    "mlops.register_feature_set(text,text,text,text,text[],interval,text,text,jsonb)": {
        "name": lit("bcf2"), "source": lit("public.bc_feats"), "entity_column": lit("id"),
        "timestamp_column": lit("ts"), "features": "ARRAY['mean_radius', 'grade']", "ttl": lit("30 days"),
        "created_column": "NULL", "description": lit("radius and grade"), "tags": J({"team": "qa"})},
    "mlops.drop_feature_set(text)": {"name": lit("bcf")},
    "mlops.feature_set_info(text)": {"name": lit("bcf")},
    "mlops.create_training_set(text,text,text[],text)": {
        "name": lit("public.bc_ts2"), "entity_source": lit("public.bc_events"),
        "features": "ARRAY['bcf:mean_radius', 'bcf@1:grade']", "event_timestamp_column": lit("event_timestamp")},
    "mlops.historical_features_sql(text,text[],text)": {
        "entity_source": lit("SELECT id, event_timestamp FROM public.bc_events"), "features": "ARRAY['bcf:*']",
        "event_timestamp_column": lit("event_timestamp")},
    "mlops.materialize(text,timestamp with time zone,timestamp with time zone)": {
        "feature_set": lit("bcf"), "start_ts": lit("2024-01-01 00:00+00"), "end_ts": lit("2024-02-01 00:00+00")},
    "mlops.materialize_incremental(text)": {"feature_set": lit("bcf")},
    "mlops.materialization_pipeline(text,boolean)": {"feature_set": lit("bcf"), "incremental": "false"},
    "mlops.get_online_features(text,text[],text[])": {
        "feature_set": lit("bcf"), "entity_ids": "ARRAY['1', '2', '99999']", "feature_names": "ARRAY['grade']"},
    "mlops.predict_entity(text,text,text)": {"model": lit("bcfs/1"), "entity_id": lit("7"),
                                             "routing_key": lit("customer-7")},
    "mlops.predict_entity_detail(text,text,text)": {"model": lit("bcfs/1"), "entity_id": lit("7"),
                                                    "routing_key": lit("customer-7")},
    "mlops.set_drift_reference_from_feature_set(text,text)": {"name": lit("bcfref"), "feature_set": lit("bcf")},
}

# Base calls of functions being added on another branch: while a function is absent its entry is
# only noted; once it exists it is checked and fuzzed like every other.  Move them to BASE when merged.
PENDING = set()

# Underscore functions users are told to GRANT EXECUTE on (docs/*.md): fuzzed like public ones.
EXTRA = ["_detect_drift_distributions", "_log_metric_history", "_prediction_stats", "_training_progress", "_dashboard_rows",
         "_monitor_pipeline_settings", "_dashboard_activity"]

# Arguments that are SQL by contract (a table, view or query read as the caller, or a job command):
# a query there runs, so "SELECT pg_sleep(10)" is cancelled by a 1 s statement_timeout (the expected
# outcome: the function reads its source interruptibly) and public.fuzz_canary() may run.
SQL_ARGS = {("train", "source"), ("predict_table", "source"), ("predict_proba_table", "source"),
            ("set_drift_reference", "source"), ("detect_drift", "source"), ("set_monitor_drift", "source"),
            ("training_pipeline", "data_source"), ("data_pipeline", "data_source"),
            ("schedule", "command"), ("alter_job", "command"), ("validate_model", "source"),
            ("deployment_pipeline", "validation"),
            ("drift_report", "source"), ("model_report", "source"), ("_detect_drift_distributions", "source"),
            ("register_feature_set", "source"), ("create_training_set", "entity_source"),
            ("historical_features_sql", "entity_source")}
# the table forms of the drift statistics read both their sources
SQL_ARGS |= {(f, a) for f in ("psi", "kl_divergence", "js_distance", "wasserstein", "ks_test", "chi_square_test")
             for a in ("reference", "current")}

# ---------------------------------------------------------------------------------------------
# Mutations by type: (value kind, SQL expression); BASE_EXPR stands for the base value.
# ---------------------------------------------------------------------------------------------

SLEEP = "SELECT pg_sleep(10)"
CANARY = "SELECT public.fuzz_canary()"

TEXT = [
    ("empty string", "''"),
    ("huge string (1 MB)", "pg_catalog.repeat('x', %d)" % HUGE_S),
    ("malformed JSON", lit('{"a": [1, 2')),
    ("deep JSON (100000 levels)", "pg_catalog.repeat('[', 100000) || pg_catalog.repeat(']', 100000)"),
    ("NaN", lit("NaN")), ("+Infinity", lit("Infinity")), ("-Infinity", lit("-Infinity")),
    ("0", lit("0")), ("-1", lit("-1")), ("1e19", lit("1e19")), ("INT_MAX", lit("2147483647")),
    ("injection: quote, DROP TABLE", lit("'; DROP TABLE x; --")),
    ("injection: pg_sleep", lit(SLEEP)),
    ("injection: close paren, second statement", lit("1); SELECT 1; --")),
    ("injection: dollar quote", lit("$$; DROP TABLE x; $$")),
    ("injection: \\x00 escape", lit("\\x00")),
    ("injection: canary call", lit(CANARY)),
    ("injection: double quote", lit('x"; DROP TABLE x; --')),
    ("path /etc/passwd", lit("/etc/passwd")),
    ("URL s3://x/y.csv", lit("s3://x/y.csv")),
    ("multibyte", lit("\u00e4\u20ac\U0001d11e")),
]
MODEL_REFS = [  # extra values of an argument named "model": references out of range
    ("reference version INT_MAX", lit("bc/2147483647")), ("reference version -1", lit("bc/-1")),
    ("reference version 0", lit("bc/0")), ("reference version 1e19", lit("bc/10000000000000000000")),
    ("reference empty alias", lit("bc@")), ("reference empty version", lit("bc/")),
    ("reference huge alias", "'bc@' || pg_catalog.repeat('a', %d)" % HUGE_S),
]
FLOAT = [("NaN", "'NaN'"), ("+Infinity", "'Infinity'"), ("-Infinity", "'-Infinity'"), ("0", "0"),
         ("-1", "-1"), ("1e19", "1e19"), ("-1e19", "-1e19"), ("INT_MAX", "2147483647"),
         ("DBL_MAX", "1.7976931348623157e308"), ("denormal", "5e-324")]
INT = [("0", "0"), ("-1", "-1"), ("INT_MAX", "2147483647"), ("INT_MIN", "-2147483648")]
BIGINT = INT + [("INT64_MAX", "9223372036854775807"), ("INT64_MIN", "-9223372036854775808")]
BOOL = [("true", "true"), ("false", "false")]
INTERVAL = [("0", "'0'"), ("-1 day", "'-1 day'"), ("1 microsecond", "'1 microsecond'"),
            ("178000000 years", "'178000000 years'"), ("-178000000 years", "'-178000000 years'")]
TIMESTAMPTZ = [("infinity", "'infinity'"), ("-infinity", "'-infinity'"),
               ("4713 BC", "'4713-01-01 00:00+00 BC'"), ("294276 AD", "'294276-12-31 23:59:59+00'"),
               ("epoch", "'epoch'")]
JSONB = [
    ("JSON null", "'null'"), ("empty array", "'[]'"), ("empty object", "'{}'"), ("string", "'\"x\"'"),
    ("number 1e19", "'1e19'"), ("number -1", "'-1'"),
    ("huge array (1e6)", "(SELECT j FROM public.fuzz_values WHERE kind = 'array_1e6')"),
    ("huge object (1e5 keys)", "(SELECT j FROM public.fuzz_values WHERE kind = 'object_1e5')"),
    ("deep array (10000 levels)", "(pg_catalog.repeat('[', 10000) || pg_catalog.repeat(']', 10000))::jsonb"),
    ("deep object (10000 levels)", "(pg_catalog.repeat('{\"a\": ', 10000) || '1' || pg_catalog.repeat('}', 10000))::jsonb"),
    ("string with injection", J("'; DROP TABLE x; --")),
]
LEAF = [  # values put in place of one member (nested ones included) of a jsonb base document
    ("null", "'null'"), ("\"NaN\"", "'\"NaN\"'"), ("\"Infinity\"", "'\"Infinity\"'"),
    ("\"-Infinity\"", "'\"-Infinity\"'"), ("0", "'0'"), ("-1", "'-1'"), ("1e19", "'1e19'"),
    ("INT_MAX", "'2147483647'"), ("1e400", "'1e400'"), ("empty string", "'\"\"'"),
    ("huge string (1 MB)", "pg_catalog.to_jsonb(pg_catalog.repeat('x', %d))" % HUGE_S),
    ("injection string", J("'; DROP TABLE x; --")), ("empty array", "'[]'"), ("empty object", "'{}'"),
    ("true", "'true'"),
]
LEAF_PATHS = 16        # at most this many members of one jsonb argument (a seeded sample)


def array_kinds(elem_type, elem_values, seed_array):
    """array_kinds lists the mutations of an array argument of ELEM_TYPE."""
    t = elem_type + "[]"
    out = [("empty array", "'{}'"),
           ("huge array (1e6)", "pg_catalog.array_fill(%s::%s, ARRAY[%d])" % (elem_values[0][1], elem_type, HUGE_N)),
           ("NULL element", "pg_catalog.array_cat(ARRAY[NULL]::%s, (BASE_EXPR)[2:])" % t),
           ("2-D array", "ARRAY[%s, %s]::%s" % (seed_array, seed_array, t))]
    for kind, v in elem_values[1:]:
        out.append(("first element " + kind, "pg_catalog.array_cat(ARRAY[%s]::%s, (BASE_EXPR)[2:])" % (v, t)))
    return out


FLOAT_ARRAY = array_kinds("float8", [("0.5", "0.5")] + FLOAT, "ARRAY[1.0, 2.0]") + [
    ("extreme pair ±1.7e308", "ARRAY[-1.7e308, 1.7e308]::float8[]"),
    ("all NaN", "pg_catalog.array_fill('NaN'::float8, ARRAY[100])"),
    ("constant", "pg_catalog.array_fill(1.0::float8, ARRAY[100])"),
    ("single element", "ARRAY[1.0]::float8[]")]
INT_ARRAY = array_kinds("integer", [("1", "1")] + INT, "ARRAY[1, 2]")
TEXT_ARRAY = array_kinds("text", [("'a'", "'a'")] + [
    ("empty string", "''"), ("huge string (1 MB)", "pg_catalog.repeat('x', %d)" % HUGE_S),
    ("injection", lit("'; DROP TABLE x; --")), ("canary call", lit(CANARY)),
    ("path /etc/passwd", lit("/etc/passwd"))], "ARRAY['a', 'b']") + [
    ("duplicated", "(BASE_EXPR) || (BASE_EXPR)")]
BYTEA = [("empty", "''"), ("huge (1 MB)", "pg_catalog.convert_to(pg_catalog.repeat('x', %d), 'UTF8')" % HUGE_S),
         ("malformed JSON", "pg_catalog.convert_to(%s, 'UTF8')" % lit('{"learner": {')),
         ("deep JSON", "pg_catalog.convert_to(pg_catalog.repeat('[', 100000) || pg_catalog.repeat(']', 100000), 'UTF8')"),
         ("\\x00", "'\\x00'"), ("UBJSON object marker", "'\\x7b'"),
         ("truncated", "pg_catalog.substring(BASE_EXPR FROM 1 FOR 100)"),
         ("random bytes", "pg_catalog.decode(pg_catalog.md5('1') || pg_catalog.md5('2'), 'hex')")]

BY_TYPE = {
    "text": TEXT, "name": TEXT, "character varying": TEXT,
    "double precision": FLOAT, "real": FLOAT, "numeric": FLOAT,
    "integer": INT, "smallint": INT[:3], "bigint": BIGINT, "boolean": BOOL,
    "interval": INTERVAL, "timestamp with time zone": TIMESTAMPTZ,
    "jsonb": JSONB, "bytea": BYTEA,
    "double precision[]": FLOAT_ARRAY, "integer[]": INT_ARRAY, "text[]": TEXT_ARRAY,
}


class Func:
    """Func is one function of pg_proc: signature, name, IN arguments, defaults, set-returning."""

    def __init__(self, sig, name, retset, args, types, ndefaults):
        self.sig, self.name, self.retset = sig, name, retset
        self.args, self.types = args, types
        self.required = set(args[:len(args) - ndefaults])

    def call(self, values):
        """call renders a call with named arguments (VALUES: name -> SQL expression)."""
        parts = []
        for a, t in zip(self.args, self.types):
            if a in values:
                v = values[a]
                parts.append('"%s" => %s' % (a, "NULL::" + t if v is None else "(%s)::%s" % (v, t)))
        inner = "mlops.%s(%s)" % (self.name, ", ".join(parts))
        if self.retset:
            return "SELECT count(*) FROM %s" % inner
        return "SELECT %s" % inner


def functions(cur):
    """functions enumerates the public mlops functions (and EXTRA) from pg_proc."""
    cur.execute("""
        SELECT p.oid::regprocedure::text, p.proname, p.proretset, p.pronargdefaults,
               coalesce(p.proargnames, '{}'), coalesce(p.proargmodes::text[], '{}'),
               ARRAY(SELECT pg_catalog.format_type(t, NULL) FROM pg_catalog.unnest(p.proargtypes) t)
          FROM pg_catalog.pg_proc p
         WHERE p.pronamespace = 'mlops'::regnamespace AND p.prokind = 'f'
           AND (p.proname !~ '^_' OR p.proname = ANY (%s))
         ORDER BY p.proname, p.oid::regprocedure::text""", (EXTRA,))
    out = []
    for sig, name, retset, ndef, names, modes, types in cur.fetchall():
        if modes:
            names = [n for n, m in zip(names, modes) if m in ("i", "b", "v")]
        out.append(Func(sig, name, retset, list(names[:len(types)]), types, ndef))
    return out


def mutations(fn, arg, typ, base):
    """mutations yields (kind, SQL expression or None for NULL) for one argument of FN."""
    yield "NULL", None
    kinds = BY_TYPE.get(typ)
    if kinds is None:
        return
    for kind, expr in kinds:
        if "BASE_EXPR" in expr:
            expr = expr.replace("BASE_EXPR", base if base is not None else "NULL::" + typ)
        yield kind, expr
    if arg == "model" and typ == "text":
        for kind, expr in MODEL_REFS:
            yield kind, expr


def leaf_paths(cur, expr, rng):
    """leaf_paths lists the paths of the members of a jsonb base value, nested ones included (a
    seeded sample)."""
    cur.execute("""
        WITH RECURSIVE walk (path, v, depth) AS (
            SELECT ARRAY[]::text[], (%s)::jsonb, 0
          UNION ALL
            SELECT w.path || e.k, e.v, w.depth + 1
              FROM walk w, LATERAL (
                    SELECT o.key AS k, o.value AS v FROM pg_catalog.jsonb_each(
                        CASE WHEN pg_catalog.jsonb_typeof(w.v) = 'object' THEN w.v ELSE '{}' END) o
                    UNION ALL
                    SELECT (a.n - 1)::text, a.v FROM pg_catalog.jsonb_array_elements(
                        CASE WHEN pg_catalog.jsonb_typeof(w.v) = 'array' THEN w.v ELSE '[]' END)
                        WITH ORDINALITY a (v, n) WHERE a.n <= 2) e
             WHERE w.depth < 4)
        SELECT path FROM walk WHERE pg_catalog.cardinality(path) > 0 ORDER BY path""" % expr)
    paths = [r[0] for r in cur.fetchall()]
    if len(paths) > LEAF_PATHS:
        paths = sorted(rng.sample(paths, LEAF_PATHS))
    return paths


def plan_calls(cur, fn, base, seed):
    """plan_calls lists FN's calls: (argument, kind, SQL, timeout override, SQL-by-contract)."""
    calls = [(None, "base call", fn.call(base), None, False)]
    for arg, typ in zip(fn.args, fn.types):
        bexpr = base.get(arg)
        sqlarg = (fn.name, arg) in SQL_ARGS
        for kind, expr in mutations(fn, arg, typ, bexpr):
            v = dict(base)
            v[arg] = expr
            timeout = 1.0 if (sqlarg and expr == lit(SLEEP)) else None
            calls.append((arg, kind, fn.call(v), timeout, sqlarg))
        if typ == "jsonb" and bexpr is not None:
            rng = random.Random("%d %s %s" % (seed, fn.sig, arg))   # stable when functions come and go
            for path in leaf_paths(cur, bexpr, rng):
                p = "{" + ",".join('"%s"' % s.replace('"', '\\"') for s in path) + "}"
                for kind, leaf in LEAF:
                    v = dict(base)
                    v[arg] = "pg_catalog.jsonb_set((%s)::jsonb, %s, %s)" % (bexpr, lit(p), leaf)
                    calls.append((arg, "%s = %s" % (".".join(path), kind), fn.call(v), None, sqlarg))
    return calls


# ---------------------------------------------------------------------------------------------
# Running calls: one transaction each, a watchdog for backends deaf to statement_timeout.
# ---------------------------------------------------------------------------------------------

class Watchdog(threading.Thread):
    """Watchdog cancels, then terminates, then kills (SIGKILL) a backend still busy GRACE seconds
    after its statement_timeout, STEP seconds apart, and kills at once a backend whose private
    memory (RssAnon) passes MAX_MB, before it takes the machine's memory (and the cluster, through
    the OOM killer) with it; what it had to do is reported for the call."""

    def __init__(self, connect, max_mb):
        super().__init__(daemon=True)
        self.connect = connect
        self.max_kb = max_mb * 1024
        self.lock = threading.Lock()
        self.pid = None
        self.deadline = 0.0
        self.actions = []
        self.memory_kb = 0
        self.conn = None

    def arm(self, pid, deadline):
        with self.lock:
            self.pid, self.deadline, self.actions, self.memory_kb = pid, deadline, [], 0

    def disarm(self):
        """disarm ends the watch of a call: returns (actions taken, RssAnon kB if killed for it)."""
        with self.lock:
            self.pid = None
            return list(self.actions), self.memory_kb

    def act(self, pid, step):
        try:
            if step == 2:
                os.kill(pid, signal.SIGKILL)
                return "kill -9"
            fn = "pg_cancel_backend" if step == 0 else "pg_terminate_backend"
            for attempt in (1, 2):      # the control connection may have died in a restart
                try:
                    if self.conn is None or self.conn.closed:
                        self.conn = self.connect(wait=5)
                        self.conn.autocommit = True
                    self.conn.cursor().execute("SELECT pg_catalog.%s(%%s)" % fn, (pid,))
                    return fn
                except psycopg2.Error:
                    self.conn = None
                    if attempt == 2:
                        raise
        except Exception as e:          # noqa: BLE001 - the watchdog must keep going
            self.conn = None
            return "%s failed: %s" % ("kill -9" if step == 2 else fn, clip(e, 80))

    def run(self):
        while True:
            time.sleep(0.1)
            with self.lock:
                pid, deadline, step, killed = self.pid, self.deadline, len(self.actions), self.memory_kb
            if pid is None or killed:
                continue
            kb = rss_anon_kb(pid)
            if kb > self.max_kb:
                what = self.act(pid, 2)
                with self.lock:
                    if self.pid == pid:
                        self.memory_kb = kb
                        self.actions.append(what)
                continue
            if step > 2 or time.time() < deadline + STEP * step:
                continue
            what = self.act(pid, step)
            with self.lock:
                if self.pid == pid:
                    self.actions.append(what)


def rss_anon_kb(pid):
    """rss_anon_kb is the private anonymous memory of process PID in kB (0 if unreadable)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class Outcome:
    """Outcome of one call: error SQLSTATE and message, time, and what went wrong."""

    def __init__(self):
        self.sqlstate = None
        self.message = ""
        self.elapsed = 0.0
        self.problems = []


def reported_error(o, rows):
    """reported_error takes the error a pipeline reports in its result instead of raising it
    ({"status": "failed", "sqlstate": ..., "error": ...}) as the call's error."""
    if len(rows) != 1 or len(rows[0]) != 1 or not isinstance(rows[0][0], str) or '"sqlstate"' not in rows[0][0]:
        return
    try:
        doc = json.loads(rows[0][0])
    except (ValueError, RecursionError):
        return
    if isinstance(doc, dict) and doc.get("sqlstate"):
        o.sqlstate = str(doc["sqlstate"])
        o.message = "(reported in the result) %s" % doc.get("error")


class Runner:
    """Runner holds the connection to the fixture database and runs calls."""

    def __init__(self, args, ids):
        self.args = args
        self.ids = ids
        self.log_pos = None
        self.log = args.server_log
        if self.log and os.path.exists(self.log):
            self.log_pos = os.path.getsize(self.log)
        self.conn = self.connect()
        self.watchdog = Watchdog(self.connect, args.max_backend_mb)
        self.watchdog.start()

    def connect(self, wait=120):
        """connect opens a connection to the fixture database, waiting for a restarting server."""
        end = time.time() + wait
        while True:
            try:
                conn = psycopg2.connect(dbname=self.args.dbname)
                conn.cursor().execute("SET client_min_messages = warning")
                conn.commit()
                return conn
            except psycopg2.OperationalError:
                if time.time() > end:
                    raise
                time.sleep(1)

    def crash_lines(self):
        """crash_lines returns the new server log lines about crashed processes."""
        if self.log_pos is None:
            return []
        with open(self.log, "rb") as f:
            f.seek(self.log_pos)
            data = f.read()
        self.log_pos += len(data)
        pat = re.compile(r"terminated by signal|was terminated by exception|PANIC:")
        return [ln for ln in data.decode("utf-8", "replace").splitlines() if pat.search(ln)]

    def run(self, sql, timeout, sqlarg):
        """run makes one call; returns its Outcome."""
        o = Outcome()
        conn = self.conn
        lost = False
        actions, memory_kb = [], 0
        try:
            cur = conn.cursor()
            cur.execute("SET LOCAL statement_timeout = %d" % int(timeout * 1000))
            cur.execute("SAVEPOINT fuzz")
            del conn.notices[:]
            self.watchdog.arm(conn.get_backend_pid(), time.time() + timeout + GRACE)
            t0 = time.monotonic()
            try:
                cur.execute(sql)
                reported_error(o, cur.fetchall())
            except psycopg2.Error as e:
                o.sqlstate = e.pgcode
                o.message = (e.diag.message_primary if e.pgcode else str(e)) or str(e)
            o.elapsed = time.monotonic() - t0
            actions, memory_kb = self.watchdog.disarm()
            if conn.closed:
                lost = True
            else:
                if o.sqlstate is not None:
                    cur.execute("ROLLBACK TO SAVEPOINT fuzz")
                cur.execute("SELECT pg_catalog.to_regclass('public.x') IS NULL")
                if cur.fetchone()[0]:
                    o.problems.append("injection ran: table x was dropped")
                if not sqlarg and any("FUZZ-CANARY-EXECUTED" in n for n in conn.notices):
                    o.problems.append("injection ran: public.fuzz_canary() was called")
                conn.rollback()
        except psycopg2.Error as e:
            if not actions:
                actions, memory_kb = self.watchdog.disarm()
            if not conn.closed:
                raise
            lost = True
            o.message = o.message or str(e).strip()
        if memory_kb:
            o.problems.append("memory: the backend's RssAnon reached %d MB (limit %d MB; %s)"
                              % (memory_kb // 1024, self.args.max_backend_mb, ", then ".join(actions)))
        elif actions:
            o.problems.append("hang: still running %.0f s after statement_timeout (%s)"
                              % (GRACE, ", then ".join(actions)))
        elif lost:
            o.problems.append("crash: the connection was lost")
        if lost:
            time.sleep(1)
            self.conn = self.connect()
        crashes = self.crash_lines()
        if "kill -9" in actions:        # the watchdog's own SIGKILL is not a crash
            crashes = [ln for ln in crashes if "signal 9" not in ln]
        if crashes:
            o.problems.append("crash: " + " | ".join(ln[-CLIP:] for ln in crashes[:3]))
        if o.sqlstate and o.sqlstate[:2] in ("XX", "58"):
            o.problems.append("internal error")
        if o.sqlstate == "57014" and "statement timeout" in o.message and not (sqlarg and timeout < self.args.timeout):
            o.problems.append("hang: cancelled by statement_timeout (%.0f s)" % timeout)
        return o


def substitute(expr, ids):
    """substitute puts the fixture's ids in place of {run_id}, {alert_id} and {alert_id2}."""
    for k, v in ids.items():
        expr = expr.replace("{%s}" % k, str(v))
    return expr


def clip(s, n=CLIP):
    s = " ".join(str(s).split())
    return s if len(s) <= n else s[:n] + "…"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default="*", help="glob on function names (e.g. 'predict*')")
    ap.add_argument("--server-log", help="the server's log file, read for crashed backends")
    ap.add_argument("--report", help="write every failing call to this JSON file")
    ap.add_argument("--timeout", type=float, default=10.0, help="statement_timeout of a call, seconds")
    ap.add_argument("--max-backend-mb", type=int, default=2048,
                    help="a backend whose RssAnon passes this is killed and its call fails")
    ap.add_argument("--seed", type=int, default=20240610, help="seed of the sample of JSON members")
    ap.add_argument("--dbname", default=DBNAME)
    ap.add_argument("--keep", action="store_true", help="keep the fixture database")
    ap.add_argument("--list", action="store_true", help="print the calls instead of running them")
    ap.add_argument("--verbose", action="store_true", help="print the outcome of every call")
    args = ap.parse_args()
    started = time.time()

    admin = psycopg2.connect(dbname="postgres")
    admin.autocommit = True
    admin.cursor().execute("DROP DATABASE IF EXISTS %s" % args.dbname)
    admin.cursor().execute("CREATE DATABASE %s" % args.dbname)
    conn = psycopg2.connect(dbname=args.dbname)
    tests = []          # (ok, description, diagnostics)
    try:
        ids = build_fixture(conn)
        tests.append((True, "fixture: mlops with breast cancer, iris and diabetes data, models, monitors, "
                            "drift references, a detector, alerts, jobs", []))
    except psycopg2.Error as e:
        print("1..1\nnot ok 1 - fixture\n# %s" % clip(e, 2000))
        return 1
    cur = conn.cursor()
    fns = functions(cur)
    have = {f.sig: f for f in fns}

    missing = [f.sig for f in fns if f.sig not in BASE]
    tests.append((not missing, "every public mlops function has a base call (%d functions)" % len(fns),
                  ["no base call in test/fuzz/mutate.py BASE: %s" % s for s in missing]))
    bad = []
    notes = []
    for sig, base in BASE.items():
        f = have.get(sig)
        if f is None and sig in PENDING:
            notes.append("pending, not yet present: %s" % sig)
            continue
        if f is None:
            bad.append("BASE names %s, which does not exist" % sig)
            continue
        bad += ["BASE %s: unknown argument %s" % (sig, a) for a in base if a not in f.args]
        bad += ["BASE %s: required argument %s missing" % (sig, a) for a in f.required if a not in base]
    tests.append((not bad, "every base call names an existing function and its arguments", bad + notes))
    untyped = sorted({"%s (%s)" % (t, f.sig) for f in fns for t in f.types if t not in BY_TYPE})
    tests.append((not untyped, "every argument type has mutations", ["no mutations for type %s" % u for u in untyped]))

    selected = [f for f in fns if f.sig in BASE
                and (fnmatch.fnmatch(f.name, args.only) or fnmatch.fnmatch(f.sig, args.only))]
    plans = []
    for f in selected:
        base = {a: substitute(v, ids) for a, v in BASE[f.sig].items()}
        plans.append((f, plan_calls(cur, f, base, args.seed)))
    conn.commit()
    conn.close()
    if args.list:
        for f, calls in plans:
            for arg, kind, sql, _, _ in calls:
                print("%s\t%s\t%s\t%s" % (f.sig, arg or "-", kind, sql))
        return 0

    runner = Runner(args, ids)
    report = []
    ncalls = 0
    print("1..%d" % (len(tests) + len(plans)), flush=True)
    n = 0
    for ok, what, diags in tests:
        n += 1
        print("%s %d - %s" % ("ok" if ok else "not ok", n, what))
        for d in diags:
            print("# " + d)
    for f, calls in plans:
        n += 1
        t0 = time.time()
        diags = []
        failed = 0
        for arg, kind, sql, timeout, sqlarg in calls:
            ncalls += 1
            o = runner.run(sql, timeout or args.timeout, sqlarg)
            problems = list(o.problems)
            if arg is None and o.sqlstate is not None and not problems:
                problems.append("base call failed")
            if args.verbose:
                print("#   %s = %s: %s %s (%.2f s)" % (arg, kind, o.sqlstate or "ok", clip(o.message, 100), o.elapsed))
            if not problems:
                continue
            failed += 1
            what = "base call" if arg is None else "%s = %s" % (arg, kind)
            diags.append("%s: %s: %s %s (%.1f s)" % (what, "; ".join(problems), o.sqlstate or "-",
                                                    clip(o.message), o.elapsed))
            diags.append("  " + (sql if len(sql) <= 4000 else sql[:4000] + " … (clipped)") + ";")
            report.append({"function": f.sig, "argument": arg, "kind": kind, "problems": problems,
                           "sqlstate": o.sqlstate, "message": clip(o.message, 1000), "seconds": round(o.elapsed, 2),
                           "sql": sql})
        status = "ok" if failed == 0 else "not ok"
        print("%s %d - %s: base call and %d mutations%s (%.1f s)"
              % (status, n, f.sig, len(calls) - 1, "" if not failed else ", %d failed" % failed, time.time() - t0))
        for d in diags:
            print("# " + d)
        sys.stdout.flush()
    print("# %d calls of %d functions in %.0f s" % (ncalls, len(plans), time.time() - started))
    if args.report:
        with open(args.report, "w") as fh:
            json.dump(report, fh, indent=1)
    runner.conn.close()
    if not args.keep:
        admin = psycopg2.connect(dbname="postgres")     # the first one died if the server restarted
        admin.autocommit = True
        admin.cursor().execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % args.dbname)
        try:
            admin.cursor().execute("DROP ROLE IF EXISTS fuzz_role")
        except psycopg2.Error:
            pass                        # still used by another database (an earlier --keep)
    return 0 if all(t[0] for t in tests) and not report else 1


if __name__ == "__main__":
    sys.exit(main())
