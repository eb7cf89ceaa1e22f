-- Experiment tracking: experiments, runs, params, metrics, tags, comparison.
CREATE EXTENSION mlops;
\set SHOW_CONTEXT never

SELECT mlops.create_experiment('churn', 'customer churn models', '{"team": "growth"}') AS exp_id \gset
SELECT name, description, tags, created_by = current_user AS by_me FROM mlops.experiments;

-- errors: duplicate, empty name, non-object tags
SELECT mlops.create_experiment('churn');
SELECT mlops.create_experiment('  ');
SELECT mlops.create_experiment('x', NULL, '[1,2]');
SELECT mlops.create_experiment('x', NULL, NULL);

-- start_run creates a missing experiment
SELECT mlops.start_run('churn', 'baseline', '{"owner": "ana"}') AS r1 \gset
SELECT mlops.start_run('fraud') AS r2 \gset
SELECT name FROM mlops.experiments ORDER BY experiment_id;
SELECT run_name = 'run-' || :r2 AS default_name FROM mlops.runs WHERE run_id = :r2;
SELECT mlops.start_run(NULL);
SELECT mlops.start_run('churn', 'bad', '"str"');

-- params are write-once
SELECT mlops.log_params(:r1, '{"max_depth": 6, "eta": 0.3}');
SELECT mlops.log_params(:r1, '{"max_depth": 6, "subsample": 0.8}');
SELECT mlops.log_params(:r1, '{"max_depth": 8, "eta": 0.1, "gamma": 1}');
SELECT params FROM mlops.runs WHERE run_id = :r1;
SELECT mlops.log_params(:r1, '[1]');
SELECT mlops.log_params(:r1, NULL);
SELECT mlops.log_params(999999, '{}');

-- metrics: history and latest value; NaN and infinities are kept
SELECT mlops.log_metrics(:r1, '{"auc": 0.80, "loss": 0.5}', 1);
SELECT mlops.log_metrics(:r1, '{"auc": 0.85, "loss": 0.4}', 2);
SELECT mlops.log_metrics(:r1, '{"auc": 0.70}', 0);
SELECT mlops.log_metrics(:r1, '{"weird": "NaN", "up": "Infinity", "down": "-Infinity"}');
SELECT key, value, step FROM mlops.run_metrics WHERE run_id = :r1 ORDER BY key, step, logged_at;
SELECT key, value, step FROM mlops.run_latest_metrics WHERE run_id = :r1 ORDER BY key;
SELECT mlops.log_metrics(:r1, '{"auc": "high", "n": true, "ok": 1}');
SELECT mlops.log_metrics(:r1, '{"auc": 1}', NULL);
SELECT mlops.log_metrics(:r1, '3');
SELECT count(*) FROM mlops.run_metrics WHERE run_id = :r1 AND key = 'ok';

-- tags merge
SELECT mlops.set_tags(:r1, '{"owner": "bo", "note": "first"}');
SELECT tags FROM mlops.runs WHERE run_id = :r1;
SELECT mlops.set_tags(:r1, '1');

-- ending runs
SELECT mlops.end_run(:r1);
SELECT status, ended_at IS NOT NULL AS ended FROM mlops.runs WHERE run_id = :r1;
SELECT mlops.end_run(:r1);
SELECT mlops.log_metrics(:r1, '{"auc": 0.9}');
SELECT mlops.log_params(:r1, '{"new": 1}');
SELECT mlops.set_tags(:r1, '{"after": "end"}');
SELECT mlops.end_run(:r2, 'exploded');
SELECT mlops.end_run(:r2, 'FAILED');
SELECT status FROM mlops.runs WHERE run_id = :r2;
SELECT mlops.end_run(424242);

-- compare_runs orders by the latest value of a metric
SELECT mlops.start_run('churn', 'deeper') AS r3 \gset
SELECT mlops.log_params(:r3, '{"max_depth": 10}');
SELECT mlops.log_metrics(:r3, '{"auc": 0.9, "loss": 0.45}');
SELECT mlops.start_run('churn', 'no-metrics') AS r4 \gset
SELECT run_name, status, params, metrics FROM mlops.compare_runs('churn', 'auc');
SELECT run_name FROM mlops.compare_runs('churn', 'loss', ascending => true);
SELECT run_name FROM mlops.compare_runs('churn');
SELECT * FROM mlops.compare_runs('nope');

-- every change was audited
SELECT action, resource_type, details - 'run_name' AS details
  FROM mlops.audit_log WHERE action LIKE 'experiment.%' OR action LIKE 'run.%' ORDER BY event_id;

DROP EXTENSION mlops;
