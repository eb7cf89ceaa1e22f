-- Performance monitoring: monitors, recorded predictions and labels,
-- model_metrics, check_degradation, current_metrics, monitoring_pipeline,
-- the dashboard view and the Prometheus export.
CREATE EXTENSION mlops;
\set SHOW_CONTEXT never

-- creating monitors, and every way to get it wrong
SELECT mlops.create_monitor('churn', 'classification', '{"accuracy": 0.9, "f1_score": 0.85}') > 0 AS created;
SELECT model, problem_type, baseline_metrics, window_size, tolerance FROM mlops.monitors;
SELECT mlops.create_monitor('churn', 'classification', '{"accuracy": 0.9}');
SELECT mlops.create_monitor('bad name', 'classification', '{"accuracy": 0.9}');
SELECT mlops.create_monitor(NULL, 'classification', '{"accuracy": 0.9}');
SELECT mlops.create_monitor('m', 'clustering', '{"accuracy": 0.9}');
SELECT mlops.create_monitor('m', 'classification', '[1]');
SELECT mlops.create_monitor('m', 'classification', '{}');
SELECT mlops.create_monitor('m', 'classification', '{"rmse": 1, "bogus": 2}');
SELECT mlops.create_monitor('m', 'regression', '{"accuracy": 1}');
SELECT mlops.create_monitor('m', 'regression', '{"rmse": "low"}');
SELECT mlops.create_monitor('m', 'regression', '{"rmse": 1}', 0);
SELECT mlops.create_monitor('m', 'regression', '{"rmse": 1}', 100, -0.1);
SELECT mlops.create_monitor('m', 'regression', '{"rmse": 1}', 100, 'NaN');
SELECT count(*) FROM mlops.monitors;

-- recording predictions, with labels now or later
SELECT count(*) AS recorded FROM (SELECT mlops.record_prediction('churn', (i % 3 = 0)::int, (i % 2 = 0)::int, 'p' || i)
  FROM generate_series(1, 40) i) s;
SELECT mlops.record_prediction('churn', 1, NULL, 'late-1');
SELECT mlops.record_prediction('churn', 0, NULL, 'late-2');
SELECT mlops.record_prediction('churn', 1);
SELECT mlops.record_actual('churn', 'late-1', 1);
SELECT mlops.record_actual('churn', 'late-1', 0);   -- a correction replaces the label
SELECT count(*) AS recorded, count(actual) AS labelled FROM mlops.monitor_predictions;
-- errors
SELECT mlops.record_prediction('nobody', 1);
SELECT mlops.record_prediction('churn', 1, NULL, 'p1');
SELECT mlops.record_prediction('churn', NULL);
SELECT mlops.record_prediction('churn', 'NaN');
SELECT mlops.record_prediction('churn', 2.5);
SELECT mlops.record_prediction('churn', 1, 0.5);
SELECT mlops.record_prediction('churn', 1, recorded_at => 'infinity');
SELECT mlops.record_actual('churn', 'nope', 1);
SELECT mlops.record_actual('churn', 'late-2', NULL);
SELECT mlops.record_actual('churn', 'late-2', 0.25);
SELECT mlops.record_actual('nobody', 'late-2', 1);

-- metrics over the labelled window (binary labels)
SELECT mlops.model_metrics('churn');
-- a smaller window: the most recent labelled predictions
SELECT m->'rows' AS rows, m->'accuracy' AS accuracy FROM mlops.model_metrics('churn', window_size => 10) m;
-- only what was recorded since a time: nothing yet
SELECT m->'rows' AS rows, m->'unlabelled_rows' AS unlabelled, m ? 'accuracy' AS has_accuracy,
       (m->>'since')::timestamptz = date_trunc('day', now()) + interval '1 day' AS since_ok
  FROM mlops.model_metrics('churn', since => date_trunc('day', now()) + interval '1 day') m;
SELECT mlops.model_metrics('nobody');
SELECT mlops.model_metrics(NULL);
SELECT mlops.model_metrics('churn', window_size => 0);

-- binary scores give roc_auc; multiclass labels give macro averages
SELECT mlops.create_monitor('scored', 'classification', '{"roc_auc": 0.8, "accuracy": 0.7}', 500, 0.1);
SELECT count(*) AS recorded FROM (SELECT mlops.record_prediction('scored', s, a)
  FROM (VALUES (0.1, 0), (0.9, 1), (0.4, 1), (0.4, 0), (0.8, 1), (0.7, 1), (0.6, 0), (0.2, 0), (0.6, 1), (0.5, 1)) v(s, a)) r;
SELECT mlops.model_metrics('scored');
SELECT mlops.create_monitor('species', 'classification', '{"accuracy": 0.9}');
SELECT count(*) AS recorded FROM (SELECT mlops.record_prediction('species', p, a)
  FROM (VALUES (0, 0), (2, 1), (2, 2), (1, 2), (1, 1), (0, 0), (2, 2), (0, 1), (3, 3), (3, 0)) v(p, a)) r;
SELECT mlops.model_metrics('species');

-- regression
SELECT mlops.create_monitor('price', 'regression', '{"rmse": 0.5, "r2": 0.95, "mape": 0}', 1000, 0.05);
SELECT count(*) AS recorded FROM (SELECT mlops.record_prediction('price', p, a)
  FROM (VALUES (2.5, 3), (0.0, -0.5), (2, 2), (8, 7), (0.3, 1.5)) v(p, a)) r;
SELECT mlops.model_metrics('price');

-- more than 64 distinct labels cannot be summarised
SELECT mlops.create_monitor('many', 'classification', '{"accuracy": 0.5}');
SELECT count(*) AS recorded FROM (SELECT mlops.record_prediction('many', i, i) FROM generate_series(1, 65) i) r;
SELECT mlops.model_metrics('many');
SELECT mlops.drop_monitor('many');

-- degradation: too few rows is reported, not guessed
SELECT mlops.check_degradation('price');
SET mlops.monitor_min_rows = 5;
-- rmse 0.77 > 0.5 * 1.05 and r2 0.904 < 0.95 * 0.95; mape against a baseline of 0 is absolute
SELECT mlops.check_degradation('price');
SET mlops.monitor_min_rows = 10;
SELECT r->'status' AS status, r->'degradation_detected' AS degraded, r->'degraded_metrics' AS metrics,
       r->'current' AS current FROM mlops.check_degradation('churn') r;
-- roc_auc 0.875 and accuracy 0.8 are above baseline: ok
SELECT mlops.check_degradation('scored');
-- labels only: roc_auc cannot be compared, so there is no verdict, and the result says why
SELECT mlops.create_monitor('labels_only', 'classification', '{"roc_auc": 0.8}', 100, 0.05);
SELECT count(*) AS recorded FROM (SELECT mlops.record_prediction('labels_only', i % 2, i % 2) FROM generate_series(1, 12) i) r;
SELECT mlops.check_degradation('labels_only');
SELECT mlops.check_degradation('nobody');
RESET mlops.monitor_min_rows;
SELECT m.model, c.status, c.degradation_detected, c.degraded_metrics, c.labelled_rows
  FROM mlops.monitor_checks c JOIN mlops.monitors m USING (monitor_id) ORDER BY c.check_id;

-- drift settings of a monitor
SELECT mlops.set_monitor_drift('price', 'price_reference', 'SELECT 1');
SELECT drift_reference, drift_source FROM mlops.monitors WHERE model = 'price';
SELECT mlops.set_monitor_drift('price', 'price_reference');
SELECT mlops.set_monitor_drift('price', NULL);
SELECT drift_reference, drift_source FROM mlops.monitors WHERE model = 'price';
SELECT mlops.set_monitor_drift('nobody', NULL);

-- current metrics: a registered model with a monitor, a registered one without
SELECT mlops._register_model_version('churn', '\x7b7d', NULL, 'classification', 'xgboost',
         NULL, NULL, NULL, NULL, NULL) AS v;
SELECT mlops.transition_stage('churn', 1, 'Production');
SELECT mlops._register_model_version('unmonitored', '\x7b7d', NULL, 'regression', 'xgboost',
         NULL, NULL, NULL, NULL, NULL) AS v;
SELECT mlops.current_metrics('churn');
SELECT mlops.current_metrics('unmonitored');
SELECT mlops.current_metrics('nobody');

-- drift results (the drift capability's table, mlops.drift_results; created
-- here with the shared interface's columns when that capability is absent)
SELECT to_regclass('mlops.drift_results') IS NULL AS make_drift_results \gset
\if :make_drift_results
CREATE TABLE mlops.drift_results (reference_name text, checked_at timestamptz, column_name text,
    method text, value float8, p_value float8, threshold float8, drift boolean, checked_by name);
\endif
INSERT INTO mlops.drift_results (reference_name, checked_at, column_name, method, value, p_value, threshold,
                                 drift, checked_by)
SELECT r, now() - d * interval '1 day', c, m, v, p, t, dr, current_user
  FROM (VALUES ('churn', 2, 'age', 'psi', 0.05, NULL, 0.2, false),
               ('churn', 1, 'age', 'psi', 0.31, NULL, 0.2, true),
               ('churn', 1, 'age', 'ks', 0.2, 0.001, 0.05, true),
               ('churn', 1, 'plan', 'chi_square', 3.1, 0.21, 0.05, false),
               ('other', 0, 'x', 'psi', 0.9, NULL, 0.2, true)) v(r, d, c, m, v, p, t, dr);
SELECT jsonb_object_agg(key, value) FILTER (WHERE key LIKE 'drift%' AND key <> 'drift_checked_at') AS drift
  FROM jsonb_each(mlops.current_metrics('churn'));
-- a monitor can name another reference
SELECT mlops.set_monitor_drift('churn', 'other', 'SELECT 1');
SELECT (mlops.current_metrics('churn'))->'drift.x.psi' AS other_psi;
SELECT mlops.set_monitor_drift('churn', NULL);

-- the monitoring pipeline: degradation and alerts (drift needs a reference)
SELECT mlops.add_alert_rule('churn_degraded', 'Churn model degraded', 'degradation_detected', 'critical');
SELECT mlops.add_alert_rule('low_accuracy', 'Accuracy below 0.7', 'accuracy < 0.7 and labelled_rows >= 10');
SELECT mlops.add_alert_rule('age_drift', 'Age drifted', 'drift.age.psi > 0.2 or drift_share > 0.5', 'warning');
SET mlops.monitor_min_rows = 5;
SELECT p->'status' AS status, p->'result'->'alerts_fired' AS fired,
       p ? 'pipeline_run_id' AS recorded,
       jsonb_path_query_array(p->'steps', '$[*].step') AS steps,
       jsonb_path_query_array(p->'steps', '$[*].status') AS step_status,
       p->'steps'->1->'result'->'degraded_metrics' AS degraded
  FROM mlops.monitoring_pipeline('churn') p;
SELECT rule_id, severity, source, metrics FROM mlops.alerts ORDER BY alert_id;
-- within the cooldown the same alerts do not fire again
SELECT p->'result'->'alerts_fired' AS fired FROM mlops.monitoring_pipeline('churn') p;
-- a model nobody knows: every step that needs it fails or is skipped, and the pipeline says so
\set VERBOSITY terse
SELECT p->'status' AS status, jsonb_path_query_array(p->'steps', '$[*].status') AS step_status,
       p->'steps'->2->>'error' AS error, p->'error' AS pipeline_error, p->'parameters' AS parameters
  FROM mlops.monitoring_pipeline('nobody') p;
SELECT mlops.monitoring_pipeline(NULL);
\set VERBOSITY default
-- a drift step over a reference that does not exist: skipped when drift detection is not
-- installed, recorded as failed when it is; either way the other steps run
SELECT to_regprocedure('mlops.detect_drift(text,text,text[],text[],jsonb)') IS NOT NULL AS have_detect_drift \gset
SELECT mlops.set_monitor_drift('labels_only', 'no_such_reference', 'SELECT 1');
SET client_min_messages = error;
SELECT CASE WHEN :'have_detect_drift'::boolean THEN s->0->>'status' = 'failed'
            ELSE s->0->>'reason' = 'mlops.detect_drift is not installed' END AS drift_step_as_expected,
       jsonb_path_query_array(s, '$[1 to 2].status') AS other_steps
  FROM (SELECT mlops.monitoring_pipeline('labels_only')->'steps' AS s) x;
RESET client_min_messages;
RESET mlops.monitor_min_rows;
SELECT action, resource_id FROM mlops.audit_log WHERE action LIKE 'monitor.%' ORDER BY event_id;
SELECT count(*) AS pipeline_runs_audited FROM mlops.audit_log
 WHERE action = 'pipeline.run' AND details->>'pipeline' = 'monitoring_pipeline';
-- every run is in mlops.pipeline_runs with the other pipelines (the NULL model raised: no run)
SELECT pipeline, status, parameters, jsonb_path_query_array(steps, '$[*].status') AS step_status,
       result->'alerts_fired' AS fired, error, owner_name = current_user AS mine
  FROM mlops.pipeline_runs ORDER BY pipeline_run_id;

-- the dashboard
SELECT model, production_version, predictions_last_hour, calls, drift_detected, degradation_status,
       degradation_detected, open_info, open_warning, open_critical
  FROM mlops.dashboard;

-- Prometheus text (the oracle test parses it with prometheus_client)
SELECT line FROM regexp_split_to_table(mlops.prometheus_metrics(), E'\n') line
 WHERE line ~ '^(# TYPE|mlops_model_versions|mlops_alerts_open|mlops_model_degraded|mlops_model_metric\{model="price"|mlops_drift)';
-- label values are escaped
SELECT mlops._prom_label(E'a"b\\c\nd');

-- privileges: a role granted the monitoring functions uses them as itself
CREATE ROLE mon_reader;
GRANT USAGE ON SCHEMA mlops TO mon_reader;
GRANT EXECUTE ON FUNCTION mlops.record_prediction(text, float8, float8, text, timestamptz),
    mlops.model_metrics(text, timestamptz, integer) TO mon_reader;
CREATE ROLE mon_grafana;
GRANT USAGE ON SCHEMA mlops TO mon_grafana;
GRANT SELECT ON mlops.dashboard TO mon_grafana;
GRANT EXECUTE ON FUNCTION mlops._dashboard_rows(), mlops.prometheus_metrics() TO mon_grafana;
SET ROLE mon_grafana;
SELECT count(*) AS dashboard_rows FROM mlops.dashboard;
SELECT mlops.prometheus_metrics() LIKE '# HELP mlops_predictions_total %' AS prometheus_ok;
SELECT * FROM mlops.alerts;
RESET ROLE;
-- the on-call recipe of docs/monitoring.md runs the pipeline as itself: a member of the role
-- that owns the monitor, with the operator capability
CREATE ROLE mon_oncall;
CREATE ROLE mon_ml;
SELECT mlops.grant_capability('mon_oncall', 'operator');
SET ROLE mon_oncall;
-- not yet a member of the monitor's owner: the degradation step may not record its check
SELECT p->'status' AS status, jsonb_path_query_array(p->'steps', '$[*].status') AS step_status,
       p->'steps'->1->>'error' AS error
  FROM mlops.monitoring_pipeline('scored') p;
RESET ROLE;
SELECT mlops.set_owner('monitor', 'scored', 'mon_ml');
GRANT mon_ml TO mon_oncall;
SET ROLE mon_oncall;
SELECT p->'status' AS status, jsonb_path_query_array(p->'steps', '$[*].status') AS step_status
  FROM mlops.monitoring_pipeline('scored') p;
-- the implementation is reached through the public function only
SELECT mlops._impl_monitoring_pipeline('scored');
RESET ROLE;
SELECT user_name FROM mlops.audit_log WHERE action = 'pipeline.run' ORDER BY event_id DESC LIMIT 1;
SELECT owner_name, status FROM mlops.pipeline_runs ORDER BY pipeline_run_id DESC LIMIT 1;
SET ROLE mon_reader;
SELECT mlops.record_prediction('price', 1, 1);
SELECT (mlops.model_metrics('price'))->'rows' AS rows;
SELECT mlops.check_degradation('price');
SELECT * FROM mlops.monitor_predictions;
SELECT * FROM mlops.dashboard;
SELECT mlops.prometheus_metrics();
RESET ROLE;

-- dropping a monitor drops its predictions and checks
SELECT mlops.drop_monitor('price');
SELECT mlops.drop_monitor('price');
SELECT count(*) FROM mlops.monitor_predictions p WHERE NOT EXISTS (SELECT 1 FROM mlops.monitors m WHERE m.monitor_id = p.monitor_id);

-- classification monitors learn their model's classes: labels are the codes 0 .. k-1 that
-- mlops.predict returns for the classes of the model's current version
SET mlops.train_progress_rounds = 0;
CREATE TABLE tickets AS
SELECT (i % 7)::float8 AS x, CASE WHEN i % 7 < 3 THEN 'no' ELSE 'yes' END AS label
  FROM generate_series(1, 60) i;
SELECT version FROM mlops.train('tickets', 'tickets', 'label', test_size => 0,
                                hyperparams => '{"n_estimators": 3, "nthread": 1}');
SELECT mlops.create_monitor('tickets', 'classification', '{"accuracy": 0.9}') > 0 AS created;
SELECT classes, classes_version FROM mlops.monitors WHERE model = 'tickets';
SELECT details->'classes' AS classes, details->'classes_version' AS version
  FROM mlops.audit_log WHERE action = 'monitor.create' AND resource_id = 'tickets';
SELECT mlops.record_prediction('tickets', 1, 1, 't1');
SELECT mlops.record_prediction('tickets', 0.8, 0, 't2');   -- a binary model's probability of class 1
SELECT mlops.record_prediction('tickets', 0, NULL, 't3');
-- a binary monitor refuses label 3 (it used to switch to macro averages)
SELECT mlops.record_prediction('tickets', 1, 3);
SELECT mlops.record_prediction('tickets', 3, 1);
SELECT mlops.record_prediction('tickets', -1, 0);
SELECT mlops.record_actual('tickets', 't3', 2);
SELECT mlops.record_actual('tickets', 't3', 0);
SELECT m->'rows' AS rows, m->'average' AS average, m->'confusion'->'labels' AS labels
  FROM mlops.model_metrics('tickets') m;
-- the model changes (a new version with a third class): the monitor learns the new classes
UPDATE tickets SET label = 'maybe' WHERE x = 3;
SELECT version FROM mlops.train('tickets', 'tickets', 'label', test_size => 0,
                                hyperparams => '{"n_estimators": 3, "nthread": 1}');
SELECT mlops.record_prediction('tickets', 2, 2, 't4');
SELECT classes, classes_version FROM mlops.monitors WHERE model = 'tickets';
SELECT mlops.record_prediction('tickets', 0.8, 1);         -- a probability needs a binary model
SELECT mlops.record_prediction('tickets', 3, 2);
-- macro averages over the model's three classes, whichever labels the window holds
SELECT count(*) AS recorded FROM (SELECT mlops.record_prediction('tickets', p, a)
  FROM (VALUES (0, 0), (1, 1), (1, 0)) v(p, a)) r;
SELECT m->'rows' AS rows, m->'average' AS average, m->'confusion'->'labels' AS labels,
       m->'precision' AS precision, m->'recall' AS recall
  FROM mlops.model_metrics('tickets', window_size => 3) m;
-- the Production version decides: back to two classes, and the window holds a label of version 2
SELECT mlops.transition_stage('tickets', 1, 'Production');
BEGIN READ ONLY;
SELECT m->'rows' AS rows FROM mlops.model_metrics('tickets', since => now() + interval '1 day') m;
SELECT classes_version FROM mlops.monitors WHERE model = 'tickets';   -- read-only: not stored
COMMIT;
SELECT mlops.model_metrics('tickets');
SELECT mlops.record_actual('tickets', 't4', 2);
SELECT mlops.record_actual('tickets', 't4', 1);
SELECT classes, classes_version FROM mlops.monitors WHERE model = 'tickets';
SELECT m->'rows' AS rows, m->'average' AS average
  FROM mlops.model_metrics('tickets', since => now() + interval '1 day') m;
-- a model of many classes: the message stays short
CREATE TABLE many_classes AS
SELECT (i % 40)::float8 AS x, 'class number ' || lpad((i % 40)::text, 2, '0') || ' with a rather long name' AS label
  FROM generate_series(1, 80) i;
SELECT version FROM mlops.train('many_classes', 'many_classes', 'label', test_size => 0,
                                hyperparams => '{"n_estimators": 1, "nthread": 1}');
SELECT mlops.create_monitor('many_classes', 'classification', '{"accuracy": 0.9}') > 0 AS created;
SELECT mlops.record_prediction('many_classes', 40, 1);
-- a regression monitor checks no classes
SELECT mlops.create_monitor('tickets_reg', 'regression', '{"rmse": 1}') > 0 AS created;
SELECT mlops.record_prediction('tickets_reg', 3.5, 7);
SELECT mlops.drop_monitor('tickets');
SELECT mlops.drop_monitor('many_classes');
SELECT mlops.drop_monitor('tickets_reg');
DROP TABLE tickets, many_classes;


-- ---------------------------------------------------------------------------
-- Hostile roles.  The attack of issue 10: a role with EXECUTE on set_monitor_drift replaced
-- the drift source of another role's monitor with SELECT public.evil(), and the owner's
-- pipeline ran it with the owner's rights.  Now only members of the monitor's owner may set
-- it, and a stored source runs as the role that stored it.
-- ---------------------------------------------------------------------------
CREATE ROLE mon_attacker;
SELECT mlops.grant_capability('mon_attacker', 'operator');
GRANT CREATE ON SCHEMA public TO mon_attacker;
CREATE TABLE victim_only (who name);   -- only the superuser running this file may write it
SELECT mlops.create_monitor('victim_model', 'regression', '{"rmse": 1}') > 0 AS created;
SELECT mlops.set_drift_reference('victim_ref', 'SELECT 1.0::float8 AS x FROM generate_series(1, 10)') ->> 'rows' AS rows;
SELECT mlops.set_monitor_drift('victim_model', 'victim_ref', 'SELECT 1.0::float8 AS x');
SET ROLE mon_attacker;
CREATE FUNCTION public.evil() RETURNS float8 LANGUAGE sql
    AS $$ INSERT INTO public.victim_only VALUES (current_user) RETURNING 1.0::float8 $$;
SELECT mlops.set_monitor_drift('victim_model', 'victim_ref', 'SELECT public.evil() AS x');
SELECT mlops.set_monitor_drift('victim_model', NULL);
SELECT mlops.drop_monitor('victim_model');
RESET ROLE;
-- the owner's pipeline runs the owner's own source; evil() never ran
SELECT p->'steps'->0->>'status' AS drift_step, p->'steps'->0->'result'->'drift_detected' AS drift
  FROM mlops.monitoring_pipeline('victim_model') p;
SELECT count(*) AS evil_rows FROM victim_only;
SELECT drift_source, drift_source_role, drift_source_search_path FROM mlops.monitors WHERE model = 'victim_model';

-- a monitor of a team: bob (a member) and alice (not one)
CREATE ROLE mon_alice;
CREATE ROLE mon_bob;
CREATE ROLE mon_team;
GRANT mon_team TO mon_bob;
SELECT mlops.grant_capability(r, c) FROM unnest(ARRAY['mon_alice', 'mon_bob']) r, unnest(ARRAY['operator', 'scientist']) c;
GRANT CREATE ON SCHEMA public TO mon_bob;
SELECT current_database() AS db \gset
GRANT CREATE ON DATABASE :"db" TO mon_bob;
SET ROLE mon_bob;
SELECT mlops.create_monitor('team_model', 'regression', '{"rmse": 1}') > 0 AS created;
SELECT mlops.set_owner('monitor', 'team_model', 'mon_team');
SELECT mlops.set_drift_reference('team_ref', 'SELECT g::float8 AS x FROM generate_series(1, 50) g') ->> 'rows' AS rows;
SELECT mlops.set_owner('drift_reference', 'team_ref', 'mon_team');
RESET ROLE;
SELECT model, owner, created_by FROM mlops.monitors WHERE model = 'team_model';
-- alice may read but not change: every change is refused with the ownership error
SET ROLE mon_alice;
\set VERBOSITY default
SELECT mlops.set_monitor_drift('team_model', 'team_ref', 'SELECT 1.0::float8 AS x');
\set VERBOSITY terse
SELECT mlops.set_monitor_drift('team_model', NULL);
SELECT mlops.record_prediction('team_model', 1.0, 1.0, 'a1');
SELECT mlops.record_actual('team_model', 'a1', 1.0);
SELECT mlops.check_degradation('team_model');
SELECT mlops.check_monitor_drift('team_model');
SELECT mlops.drop_monitor('team_model');
SELECT mlops.set_owner('monitor', 'team_model', 'mon_alice');
SELECT (mlops.model_metrics('team_model'))->'rows' AS rows;
SELECT p->>'status' AS status, jsonb_path_query_array(p->'steps', '$[*].status') AS step_status
  FROM mlops.monitoring_pipeline('team_model') p;
RESET ROLE;
-- bob, a member of the team, may
SET ROLE mon_bob;
SELECT mlops.record_prediction('team_model', 1.0, 1.5, 'b1');
SELECT mlops.record_actual('team_model', 'b1', 2.0);
SELECT mlops.check_degradation('team_model') ->> 'status' AS status;
SELECT mlops.set_owner('monitor', 'team_model', 'mon_bob');
SELECT mlops.set_owner('monitor', 'team_model', 'mon_team');
-- the drift source bob stores is checked by the source resolver when it is stored
SELECT mlops.set_monitor_drift('team_model', 'team_ref', 'SELECT 1; SELECT 2');
SELECT mlops.set_monitor_drift('team_model', 'team_ref', '/tmp/current.csv');
SELECT mlops.set_monitor_drift('team_model', 'team_ref', 'DELETE FROM victim_only');
SELECT mlops.set_monitor_drift('team_model', 'team_ref', 'SELECT 1 FROM');
SELECT mlops.set_monitor_drift('team_model', repeat('r', 129), 'SELECT 1');
-- bob's source calls evil(): it runs as bob, who may not write victim_only
SELECT mlops.set_monitor_drift('team_model', 'team_ref', 'SELECT public.evil() AS x');
RESET ROLE;
SELECT drift_source, drift_source_role FROM mlops.monitors WHERE model = 'team_model';
SELECT mlops.check_monitor_drift('team_model');
SELECT p->'steps'->0->>'status' AS drift_step, p->'steps'->0->>'error' AS error
  FROM mlops.monitoring_pipeline('team_model') p;
SELECT count(*) AS evil_rows FROM victim_only;
-- what a stored source sees: bob's identity and bob's search_path, inside a security-restricted
-- operation, whoever runs it
SET ROLE mon_bob;
CREATE SCHEMA bobs;
CREATE TABLE bobs.seen (who name, path text);
CREATE TABLE bobs.obs AS SELECT g::float8 AS x FROM generate_series(1, 50) g;
CREATE FUNCTION bobs.seen() RETURNS float8 LANGUAGE sql
    AS $$ INSERT INTO bobs.seen VALUES (current_user, current_setting('search_path')) RETURNING 1.0::float8 $$;
CREATE FUNCTION bobs.temp_table() RETURNS float8 LANGUAGE plpgsql
    AS $$ BEGIN CREATE TEMP TABLE t (x int); RETURN 1.0; END $$;
SET search_path = bobs, public;
SELECT mlops.set_monitor_drift('team_model', 'team_ref', 'SELECT x + seen() - 1 AS x FROM obs');
RESET search_path;
RESET ROLE;
CREATE TABLE public.obs AS SELECT 1000.0::float8 AS x;   -- the runner's obs is not read
SELECT drift_source_search_path FROM mlops.monitors WHERE model = 'team_model';
SELECT r->'drift_detected' AS drift, r->'counts' AS counts FROM mlops.check_monitor_drift('team_model') r;
SELECT who, path, count(*) AS calls FROM bobs.seen GROUP BY 1, 2;
SET ROLE mon_bob;
SELECT mlops.set_monitor_drift('team_model', 'team_ref', 'SELECT bobs.temp_table() AS x');
RESET ROLE;
SELECT mlops.check_monitor_drift('team_model');
-- a source stored by a role that no longer exists, or before 0.2.0 recorded who stored it, does not run
CREATE ROLE mon_gone;
GRANT mon_team TO mon_gone;
SELECT mlops.grant_capability('mon_gone', 'operator');
SET ROLE mon_gone;
SELECT mlops.set_monitor_drift('team_model', 'team_ref', 'SELECT 1.0::float8 AS x');
RESET ROLE;
SELECT mlops.revoke_capability('mon_gone', 'operator');
DROP ROLE mon_gone;
SELECT mlops.check_monitor_drift('team_model');
UPDATE mlops.monitors SET drift_source_role = NULL WHERE model = 'team_model';
SELECT mlops.check_monitor_drift('team_model');
-- a source the extension owner stored runs only for the extension owner
SELECT mlops.set_monitor_drift('team_model', 'team_ref', 'SELECT 1.0::float8 AS x');
SET ROLE mon_bob;
SELECT mlops.check_monitor_drift('team_model');
RESET ROLE;
SELECT mlops.check_monitor_drift('team_model') ->> 'drift_detected' AS drift;
SELECT mlops.check_monitor_drift('victim_model') IS NULL AS no_reference_set
  FROM (SELECT mlops.set_monitor_drift('victim_model', NULL)) s;
SELECT mlops.check_monitor_drift('nobody');
-- prediction ids are at most 256 characters
SELECT mlops.record_prediction('team_model', 1.0, NULL, repeat('p', 256));
SELECT mlops.record_prediction('team_model', 1.0, NULL, repeat('p', 257));
SELECT mlops.record_actual('team_model', repeat('p', 100000), 1.0);
-- messages echo at most 200 bytes of what they were given
SELECT mlops.create_monitor(repeat('x', 100000), 'regression', '{"rmse": 1}');
SELECT mlops.drop_monitor(repeat('x', 100000));
SELECT mlops.create_monitor('m', 'regression', (SELECT jsonb_object_agg('metric_' || g, g) FROM generate_series(1, 30) g));
SELECT action, resource_id, user_name FROM mlops.audit_log
 WHERE action = 'ownership.set' AND resource_type = 'monitor' ORDER BY event_id;
DROP TABLE victim_only, public.obs;
DROP FUNCTION public.evil();
DROP SCHEMA bobs CASCADE;
SELECT mlops.drop_monitor('team_model');
SELECT mlops.drop_monitor('victim_model');

\if :make_drift_results
DROP TABLE mlops.drift_results;
\endif
DROP EXTENSION mlops;
DROP OWNED BY mon_reader, mon_grafana, mon_oncall, mon_ml, mon_attacker, mon_alice, mon_bob, mon_team;
DROP ROLE mon_reader, mon_grafana, mon_oncall, mon_ml, mon_attacker, mon_alice, mon_bob, mon_team;
