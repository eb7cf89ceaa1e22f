-- Deployments' guards: validate_model (schema, metrics, latency, sanity,
-- compare_to), require_validation, deployment_status, check_deployments
-- (automatic rollback with an alert, canary steps and promotion).
CREATE EXTENSION mlops;
\set SHOW_CONTEXT never
SET mlops.train_progress_rounds = 0;
-- the background scheduler's own checks stay out of this test's way
ALTER SYSTEM SET mlops.deployment_check_interval = 0;
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);

CREATE TABLE accounts AS
SELECT i AS id,
       (i % 17)::int AS visits,
       ((i * 7) % 13) / 3.0::float8 AS spend,
       (ARRAY['red', 'green', 'blue'])[i % 3 + 1] AS color,
       CASE WHEN (i % 17) + ((i * 7) % 13) / 3.0 > 10 THEN 'yes' ELSE 'no' END AS churned,
       (i % 17) * 2.5 + (i % 4) AS amount
  FROM generate_series(1, 400) AS i;

SELECT version FROM mlops.train('churn', 'accounts', 'churned', features => ARRAY['visits', 'spend', 'color'],
       hyperparams => '{"max_depth": 3, "n_estimators": 20}', test_size => 0);
SELECT version FROM mlops.train('churn', 'accounts', 'churned', features => ARRAY['visits', 'spend', 'color'],
       hyperparams => '{"max_depth": 1, "n_estimators": 1, "learning_rate": 0.01}', test_size => 0);
-- version 3 has one feature only: the guard's rows fail on it
SELECT version FROM mlops.train('churn', 'accounts', 'churned', features => ARRAY['visits'],
       hyperparams => '{"n_estimators": 5}', test_size => 0);
SELECT version FROM mlops.train('amount', 'SELECT visits, spend, amount FROM accounts', 'amount',
       task => 'regression', hyperparams => '{"n_estimators": 30}', test_size => 0);

-- a passing validation: every check, the metrics equal model_metrics' over the same pairs
SELECT r->'status' AS status, r->'rows' AS rows, jsonb_path_query_array(r, '$.checks[*].name') AS checks,
       jsonb_path_query_array(r, '$.checks[*].status') AS statuses
  FROM mlops.validate_model('churn/1', 'accounts', 'churned', '{"accuracy": 0.8, "roc_auc": 0.8}',
                            max_latency_ms => 1000) r;
SELECT mlops.create_monitor('churn', 'classification', '{"accuracy": 0.9}', window_size => 1000);
SELECT count(*) FROM (SELECT mlops.record_prediction('churn', (mlops.predict_proba('churn/1', jsonb_build_object('visits', visits, 'spend', spend, 'color', color)))[2],
                                                    CASE churned WHEN 'yes' THEN 1 ELSE 0 END) FROM accounts) s;
SELECT round((v.r->'metrics'->>'accuracy')::numeric, 12) = round((m->>'accuracy')::numeric, 12) AS same_accuracy,
       round((v.r->'metrics'->>'roc_auc')::numeric, 12) = round((m->>'roc_auc')::numeric, 12) AS same_roc_auc,
       round((v.r->'metrics'->>'f1_score')::numeric, 12) = round((m->>'f1_score')::numeric, 12) AS same_f1
  FROM (SELECT report AS r FROM mlops.validations WHERE version = 1 ORDER BY id DESC LIMIT 1) v,
       mlops.model_metrics('churn') m;
SELECT mlops.drop_monitor('churn');
-- latency is measured (a positive number of milliseconds)
SELECT (c->>'value')::float8 > 0 AS measured, c->>'status' AS status
  FROM mlops.validations v, jsonb_array_elements(v.report->'checks') c
 WHERE c->>'name' = 'p95_latency_ms' ORDER BY v.id DESC LIMIT 1;

-- a failing threshold, and a regression against compare_to
SELECT r->'status' AS status, c->>'name' AS name, c->>'status' AS check_status, c->'threshold' AS threshold
  FROM mlops.validate_model('churn/2', 'accounts', 'churned', '{"accuracy": 0.95}',
                            compare_to => 'churn/1', max_regression => 0.01) r,
       jsonb_array_elements(r->'checks') c
 WHERE c->>'status' = 'failed' ORDER BY 2;
-- regression models: error metrics are upper bounds
SELECT r->'status' AS status, jsonb_path_query_array(r, '$.checks[*].name') AS checks
  FROM mlops.validate_model('amount/1', 'accounts', 'amount', '{"rmse": 100, "r2": 0.5}') r;
SELECT r->'status' AS status
  FROM mlops.validate_model('amount/1', 'accounts', 'amount', '{"mae": 0.0001}') r;
-- a source without a feature fails the schema check (nothing else runs)
SELECT r->'status' AS status, r->'checks' AS checks
  FROM mlops.validate_model('churn/1', 'SELECT id, visits, churned FROM accounts', 'churned') r;
SELECT r->'status' AS status, r->'checks'->0->>'value' AS problem
  FROM mlops.validate_model('churn/1', 'SELECT visits, spend, 1 AS color, churned FROM accounts', 'churned') r;
SELECT model, version, status, created_by = current_user AS by_me FROM mlops.validations ORDER BY id;
SELECT action, resource_id, details->>'status' AS status FROM mlops.audit_log
 WHERE action = 'model.validate' ORDER BY event_id;

-- argument errors
\set VERBOSITY terse
SELECT mlops.validate_model(NULL, 'accounts', 'churned');
SELECT mlops.validate_model('churn/1', 'accounts', 'churned', '{"accuracy": "high"}');
SELECT mlops.validate_model('churn/1', 'accounts', 'churned', '{"rmse": 1, "bogus": 2}');
SELECT mlops.validate_model('churn/1', 'accounts', 'churned', '[1]');
SELECT mlops.validate_model('churn/1', 'accounts', 'churned', max_latency_ms => 'NaN');
SELECT mlops.validate_model('churn/1', 'accounts', 'churned', max_latency_ms => 0);
SELECT mlops.validate_model('churn/1', 'accounts', 'churned', max_latency_ms => 1e19);
SELECT mlops.validate_model('churn/1', 'accounts', 'churned', max_regression => 0.1);
SELECT mlops.validate_model('churn/1', 'accounts', 'churned', compare_to => 'churn/1', max_regression => '-Infinity');
SELECT mlops.validate_model('churn/1', 'accounts', 'churned', compare_to => 'amount/1');
SELECT mlops.validate_model('churn/9', 'accounts', 'churned');
SELECT mlops.validate_model('churn/1', 'no_such_table', 'churned');
SELECT mlops.validate_model('churn/1', 'SELECT visits, spend, color, ''maybe'' AS churned FROM accounts', 'churned');
SELECT mlops.validate_model('churn/1', 'SELECT * FROM accounts WHERE false', 'churned');
\set VERBOSITY default

-- require_validation: a passed validation of the version lets it deploy
SELECT mlops.deploy('churn', 1, strategy => 'direct') > 0 AS deployed;
\set VERBOSITY terse
SELECT mlops.deploy('churn', 2);
\set VERBOSITY default

-- check_deployments: a canary whose candidate fails more than max_error_rate is rolled back
SELECT mlops.prediction_stats_reset() >= 0 AS reset;
SELECT mlops.deploy('churn', 3, canary_percent => 50, require_validation => false,
       auto_rollback => '{"max_error_rate": 0.05, "min_requests": 10}') AS bad \gset
DO $$
BEGIN
    FOR i IN 1..40 LOOP
        BEGIN
            PERFORM mlops.predict('churn', ARRAY[3, 1, 0]::float8[], 'k' || i);
        EXCEPTION WHEN invalid_parameter_value THEN
            NULL;
        END;
    END LOOP;
END
$$;
SELECT s->'deployment'->>'state' AS state, (s->'candidate'->>'errors')::int > 0 AS candidate_errors,
       (s->'candidate'->>'error_rate')::float8 = 1 AS all_failed, (s->'stable'->>'errors')::int AS stable_errors
  FROM mlops.deployment_status('churn') s;
-- predict_table cannot route rows between versions that take different features
\set VERBOSITY terse
SELECT count(*) FROM mlops.predict_table('churn', 'accounts', 'id');
\set VERBOSITY default
SELECT deployment_id = :bad AS this_one, model, action, detail FROM mlops.check_deployments();
SELECT state, percent, reason FROM mlops.deployments WHERE id = :bad;
SELECT rule_id, severity, source = 'deployment:' || :bad AS source, labels->>'model' AS model
  FROM mlops.alerts ORDER BY alert_id;
SELECT event, from_state, to_state FROM mlops.deployment_events WHERE deployment_id = :bad ORDER BY event_id;
SELECT action FROM mlops.audit_log WHERE action = 'deployment.auto_rollback';
SELECT count(DISTINCT (mlops.predict_detail('churn', '{"visits": 3, "spend": 1, "color": "red"}', 'k' || i)->>'model_version')) AS versions
  FROM generate_series(1, 20) i;

-- steps: a healthy canary widens step by step, then is promoted
SELECT mlops.deploy('churn', 2, canary_percent => 10, require_validation => false,
       auto_rollback => '{"max_error_rate": 0.5}',
       steps => '[{"percent": 50, "after": "0 seconds"}, {"percent": 100, "after": "0 seconds"}]') AS good \gset
SELECT deployment_id = :good AS this_one, action, detail FROM mlops.check_deployments();
SELECT state, percent, step_index FROM mlops.deployments WHERE id = :good;
SELECT deployment_id = :good AS this_one, action, detail FROM mlops.check_deployments();
SELECT state, percent FROM mlops.deployments WHERE id = :good;
SELECT version, stage FROM mlops.model_versions ORDER BY model_id, version;
-- a step waits for its time
SELECT mlops.rollback('churn') AS serving;
SELECT mlops.deploy('churn', 2, canary_percent => 10, require_validation => false,
       steps => '[{"percent": 50, "after": "1 hour"}]') AS slow \gset
SELECT count(*) AS actions FROM mlops.check_deployments();
SELECT percent, step_index FROM mlops.deployments WHERE id = :slow;

-- shadow status: agreement and mean absolute difference
SELECT mlops.rollback('churn') AS serving;
-- a shadow must take the stable version's features
\set VERBOSITY terse
SELECT mlops.deploy('churn', 3, strategy => 'shadow', require_validation => false);
\set VERBOSITY default
SELECT mlops.deploy('churn', 2, strategy => 'shadow', require_validation => false) AS sh \gset
SELECT count(p) FROM (SELECT mlops.predict('churn', jsonb_build_object('visits', visits, 'spend', spend, 'color', color)) AS p
                        FROM accounts) s;
SELECT s->'deployment'->>'strategy' AS strategy, (s->'shadow'->>'comparisons')::int AS comparisons,
       (s->'shadow'->>'agreement_rate')::float8 BETWEEN 0 AND 1 AS agreement_rate,
       (s->'shadow'->>'mean_abs_diff')::float8 >= 0 AS mean_abs_diff,
       round(((s->'shadow'->>'agreement_rate')::float8 + (s->'shadow'->>'mean_abs_diff')::float8)::numeric, 9) AS binary_sum
  FROM mlops.deployment_status('churn') s;
-- the shadow's outputs are never returned
SELECT bool_and(mlops.predict('churn', jsonb_build_object('visits', visits, 'spend', spend, 'color', color)) =
                mlops.predict('churn/1', jsonb_build_object('visits', visits, 'spend', spend, 'color', color))) AS stable_only
  FROM accounts;
SELECT mlops.deployment_status('amount')->'deployment' AS none;
\set VERBOSITY terse
SELECT mlops.deployment_status('nosuch');
SELECT mlops.deployment_status(NULL);
\set VERBOSITY default

-- deployment_pipeline: validate, then deploy; recorded in pipeline_runs
SELECT mlops.rollback('churn') AS serving;
SELECT p->>'status' AS status, jsonb_path_query_array(p, '$.steps[*].step') AS steps,
       jsonb_path_query_array(p, '$.steps[*].status') AS statuses, p->'result'->>'state' AS state,
       p->'result'->>'to_version' AS to_version, p->'result'->'percent' AS percent
  FROM mlops.deployment_pipeline('churn', 2, canary_percentage => 20,
       validation => '{"source": "accounts", "target": "churned", "min_metrics": {"accuracy": 0.5}}') p;
SELECT pipeline, status, result->>'version' AS version FROM mlops.pipeline_runs ORDER BY pipeline_run_id;
-- a failed validation deploys nothing, and the run says why
SELECT mlops.rollback('churn') AS serving;
SELECT p->>'status' AS status, p->>'error' AS error, p->>'error_detail' AS detail,
       jsonb_path_query_array(p, '$.steps[*].status') AS statuses
  FROM mlops.deployment_pipeline('churn', 2,
       validation => '{"source": "accounts", "target": "churned", "min_metrics": {"accuracy": 0.99}}') p;
SELECT count(*) AS active FROM mlops.deployments WHERE state = 'active';
SELECT p->>'status' AS status, p->>'error' AS error
  FROM mlops.deployment_pipeline('churn', 2, validation => '{"source": "accounts"}') p;
SELECT p->>'status' AS status, p->>'error' AS error
  FROM mlops.deployment_pipeline('churn', 2, validation => '{"source": "accounts", "target": "churned", "x": 1}') p;
-- model_version NULL deploys the latest version (3, which fails its validation here)
SELECT p->'steps'->0->'result'->>'version' AS resolved, p->>'status' AS status
  FROM mlops.deployment_pipeline('churn', NULL, validation => '{"source": "accounts", "target": "churned", "min_metrics": {"accuracy": 0.99}}') p;
-- schedulable
SELECT mlops.schedule_pipeline('nightly deploy', 'deployment_pipeline', '0 3 * * *',
       '{"model_name": "churn", "model_version": null, "canary_percentage": 5, "validation": {"source": "accounts", "target": "churned"}, "steps": [{"percent": 50, "after": "1 hour"}]}') > 0 AS scheduled;
SELECT pipeline, command FROM mlops.jobs WHERE job_name = 'nightly deploy';
\set VERBOSITY terse
SELECT mlops.schedule_pipeline('bad', 'deployment_pipeline', '0 3 * * *', '{"model_name": "churn"}');
SELECT mlops.schedule_pipeline('bad', 'deployment_pipeline', '0 3 * * *', '{"model_name": "churn", "model_version": "two"}');
\set VERBOSITY default

-- max_metric_drop: the labelled metrics since the deployment started against the monitor's baseline
SELECT mlops.deploy('churn', 2, canary_percent => 10, require_validation => false,
       auto_rollback => '{"max_metric_drop": {"accuracy": 0.05}}') AS md \gset
SELECT mlops.create_monitor('churn', 'classification', '{"accuracy": 0.99}');
SELECT count(*) AS nothing_to_judge_yet FROM mlops.check_deployments();
SELECT count(*) FROM (SELECT mlops.record_prediction('churn', 1, 0) FROM generate_series(1, 40)) s;
SELECT (mlops.deployment_status('churn')->'labelled_metrics'->>'accuracy')::float8 AS labelled_accuracy;
SELECT deployment_id = :md AS this_one, action, detail FROM mlops.check_deployments();
SELECT mlops.drop_monitor('churn');

-- set_alert_action: a firing rule asks the scheduler to run a job, once per cooldown
SELECT mlops.add_alert_rule('drift_retrain', 'retrain on drift', 'psi > 0.2', cooldown => '1 hour');
SELECT mlops.schedule('retrain churn', '0 0 1 1 *', 'SELECT 1') > 0 AS scheduled;
SELECT mlops.set_alert_action('drift_retrain', 'retrain churn');
-- (the scheduler may already have started the run, so the request is read
-- from the audit log and the action's last_run_at, not from mlops.jobs)
BEGIN;
SELECT count(*) AS fired FROM mlops.check_alerts('{"psi": 0.5}', 'churn');
SELECT job_name, run_requested FROM mlops.jobs WHERE job_name = 'retrain churn';
COMMIT;
SELECT last_run_at IS NOT NULL AS ran FROM mlops.alert_actions;
-- another source fires the rule again within the hour: the job is not asked again
SELECT count(*) AS fired FROM mlops.check_alerts('{"psi": 0.5}', 'other');
SELECT action, details->>'rule_id' AS rule_id, details->>'requested' AS requested FROM mlops.audit_log
 WHERE action LIKE 'alert_action.%' ORDER BY event_id;
\set VERBOSITY terse
SELECT mlops.set_alert_action('no_rule', 'retrain churn');
SELECT mlops.set_alert_action('drift_retrain', 'no job');
\set VERBOSITY default
-- job_name NULL removes the action
SELECT mlops.set_alert_action('drift_retrain', NULL);
SELECT count(*) AS actions FROM mlops.alert_actions;

-- the requested run's worker reads mlops tables: let it finish before the extension goes away
DO $$
BEGIN
    FOR i IN 1 .. 300 LOOP
        EXIT WHEN NOT EXISTS (SELECT 1 FROM mlops.job_runs WHERE finished_at IS NULL)
              AND NOT EXISTS (SELECT 1 FROM mlops.jobs WHERE run_requested)
              AND NOT EXISTS (SELECT 1 FROM pg_stat_activity
                               WHERE datname = current_database() AND backend_type = 'mlops job');
        PERFORM pg_sleep(0.1);
    END LOOP;
END
$$;
DROP EXTENSION mlops;
DROP TABLE accounts;
ALTER SYSTEM RESET mlops.deployment_check_interval;
SELECT pg_reload_conf();
