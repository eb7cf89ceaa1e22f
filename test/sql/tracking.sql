-- Experiment tracking: experiments, runs, params, metrics, tags, comparison.
CREATE EXTENSION mlops;
\set SHOW_CONTEXT never

SELECT mlops.create_experiment('churn', 'customer churn models', '{"team": "growth"}') AS exp_id \gset
SELECT name, description, tags, created_by = current_user AS by_me, owner = current_user::regrole AS mine
  FROM mlops.experiments;

-- errors: duplicate, empty name, non-object tags
SELECT mlops.create_experiment('churn');
SELECT mlops.create_experiment('  ');
SELECT mlops.create_experiment('x', NULL, '[1,2]');
SELECT mlops.create_experiment('x', NULL, NULL);
-- names an index sees are bounded first: 256 characters (this one would not fit in an index row)
SELECT mlops.create_experiment((SELECT string_agg(md5(i::text), '') FROM generate_series(1, 300) i));
SELECT mlops.create_experiment(repeat('é', 257));
BEGIN;
SELECT mlops.create_experiment(repeat('é', 256)) > 0 AS longest_name_ok;
ROLLBACK;
SELECT mlops.start_run(repeat('x', 300));
SELECT mlops.start_run('churn', repeat('r', 257));

-- start_run creates a missing experiment
SELECT mlops.start_run('churn', 'baseline', '{"owner": "ana"}') AS r1 \gset
SELECT mlops.start_run('fraud') AS r2 \gset
SELECT name FROM mlops.experiments ORDER BY experiment_id;
SELECT run_name = 'run-' || :r2 AS default_name, owner = current_user::regrole AS mine FROM mlops.runs WHERE run_id = :r2;
SELECT mlops.start_run(NULL);
SELECT mlops.start_run('churn', 'bad', '"str"');

-- params are write-once
SELECT mlops.log_params(:r1, '{"max_depth": 6, "eta": 0.3}');
SELECT mlops.log_params(:r1, '{"max_depth": 6, "subsample": 0.8}');
SELECT mlops.log_params(:r1, '{"max_depth": 8, "eta": 0.1, "gamma": 1}');
SELECT mlops.log_params(:r1, jsonb_build_object('eta', repeat('9', 500)));
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
SELECT mlops.log_metrics(:r1, '{"": 1}');
-- metric keys are at most 250 characters; a DETAIL lists at most 20 problems
SELECT mlops.log_metrics(:r1, jsonb_build_object(repeat('k', 251), 1, 'ok', 2));
SELECT mlops.log_metrics(:r1, (SELECT jsonb_object_agg('m' || lpad(i::text, 2, '0'), 'bad') FROM generate_series(1, 25) i));
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


-- _log_metric_history (training's internal call): many rows in one call and
-- one audit event, leaving the same latest values as logging the rows one by
-- one in array order: the highest step wins, the last row among equal steps,
-- and a value logged earlier at a higher step stays
SELECT mlops.start_run('hist', 'one-call') AS h1 \gset
SELECT mlops.start_run('hist', 'one-by-one') AS h2 \gset
SELECT mlops.log_metrics(:h1, '{"loss": 0.9}', 7);
SELECT mlops.log_metrics(:h2, '{"loss": 0.9}', 7);
SELECT mlops._log_metric_history(:h1,
         ARRAY['loss', 'auc', 'loss', 'auc', 'loss', 'auc', 'acc', 'loss'],
         ARRAY[0, 0, 1, 1, 7, 1, 3, 2],
         ARRAY[0.5, 0.6, 0.4, 0.7, 0.35, 0.65, 'NaN', 0.3]::float8[]);
DO $$
DECLARE
    h2 bigint := (SELECT run_id FROM mlops.runs WHERE run_name = 'one-by-one');
    m record;
BEGIN
    FOR m IN SELECT * FROM unnest(ARRAY['loss', 'auc', 'loss', 'auc', 'loss', 'auc', 'acc', 'loss'],
                                  ARRAY[0, 0, 1, 1, 7, 1, 3, 2],
                                  ARRAY[0.5, 0.6, 0.4, 0.7, 0.35, 0.65, 'NaN', 0.3]::float8[])
                    WITH ORDINALITY AS h(key, step, value, ord) ORDER BY ord
    LOOP
        PERFORM mlops.log_metrics(h2, jsonb_build_object(m.key, m.value), m.step);
    END LOOP;
END
$$;
SELECT key, value, step FROM mlops.run_latest_metrics WHERE run_id = :h1 ORDER BY key;
SELECT (SELECT count(*) FROM (SELECT key, value, step FROM mlops.run_latest_metrics WHERE run_id = :h1
                              EXCEPT SELECT key, value, step FROM mlops.run_latest_metrics WHERE run_id = :h2) d) AS only_one_call,
       (SELECT count(*) FROM (SELECT key, value, step FROM mlops.run_latest_metrics WHERE run_id = :h2
                              EXCEPT SELECT key, value, step FROM mlops.run_latest_metrics WHERE run_id = :h1) d) AS only_one_by_one;
SELECT (SELECT count(*) FROM mlops.run_metrics WHERE run_id = :h1) AS history_rows,
       (SELECT count(*) FROM (SELECT key, value, step FROM mlops.run_metrics WHERE run_id = :h1
                              EXCEPT ALL SELECT key, value, step FROM mlops.run_metrics WHERE run_id = :h2) d) AS history_differences;
SELECT details FROM mlops.audit_log
 WHERE action = 'run.log_metrics' AND resource_id = :'h1' ORDER BY event_id;
SELECT count(*) AS one_by_one_events FROM mlops.audit_log
 WHERE action = 'run.log_metrics' AND resource_id = :'h2';
-- an empty history logs nothing and audits nothing
SELECT mlops._log_metric_history(:h1, '{}', '{}', '{}');
SELECT count(*) AS events FROM mlops.audit_log WHERE action = 'run.log_metrics' AND resource_id = :'h1';
-- errors: lengths, NULLs, empty keys, ended or unknown runs; nothing is logged
SELECT mlops._log_metric_history(:h1, ARRAY['a', 'b'], ARRAY[1], ARRAY[1.0, 2.0]);
SELECT mlops._log_metric_history(:h1, ARRAY['a'], ARRAY[1], ARRAY[NULL]::float8[]);
SELECT mlops._log_metric_history(:h1, ARRAY['a'], NULL, ARRAY[1.0]);
SELECT mlops._log_metric_history(:h1, ARRAY[''], ARRAY[1], ARRAY[1.0]);
SELECT mlops._log_metric_history(:h1, ARRAY[repeat('k', 251)], ARRAY[1], ARRAY[1.0]);
SELECT mlops._log_metric_history(424242, ARRAY['a'], ARRAY[1], ARRAY[1.0]);
SELECT mlops.end_run(:h1);
SELECT mlops._log_metric_history(:h1, ARRAY['a'], ARRAY[1], ARRAY[1.0]);
SELECT count(*) AS history_rows FROM mlops.run_metrics WHERE run_id = :h1;
-- only the extension owner may call it
CREATE ROLE tracking_outsider;
GRANT USAGE ON SCHEMA mlops TO tracking_outsider;
SET ROLE tracking_outsider;
SELECT mlops._log_metric_history(:h2, ARRAY['a'], ARRAY[1], ARRAY[1.0]);
RESET ROLE;
DROP OWNED BY tracking_outsider;
DROP ROLE tracking_outsider;

DROP EXTENSION mlops;
