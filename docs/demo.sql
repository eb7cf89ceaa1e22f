-- The mlops end-to-end demo (run by `make demo`).  Each section grows as
-- capabilities land.  Data: table breast_cancer (569 rows, 30 features,
-- label diagnosis), loaded from scikit-learn's copy of the Wisconsin data.
\pset footer off
\echo
\echo '== 1. The data: real tumour measurements, loaded into PostgreSQL'
SELECT diagnosis, count(*) AS rows, round(avg(mean_radius)::numeric, 2) AS avg_radius
  FROM breast_cancer GROUP BY diagnosis ORDER BY diagnosis;

CREATE EXTENSION mlops;

\echo
\echo '== 2. Experiment tracking: runs, parameters and metrics live in tables'
SELECT mlops.create_experiment('breast-cancer', 'tumour diagnosis from cell nuclei measurements') AS experiment_id;
SELECT mlops.start_run('breast-cancer', 'radius-threshold') AS run_id \gset
SELECT mlops.log_params(:run_id, '{"rule": "mean_radius > t", "t": 15}');
-- a hand-made baseline: predict malignant when the mean radius exceeds 15
SELECT mlops.log_metrics(:run_id, jsonb_build_object(
         'accuracy', avg(((mean_radius > 15) = (diagnosis = 'malignant'))::int)))
  FROM breast_cancer;
SELECT mlops.end_run(:run_id);
SELECT run_name, status, params, metrics FROM mlops.compare_runs('breast-cancer', 'accuracy');

\echo
\echo '== 3. The audit log recorded every change, with who made it'
SELECT event_id, action, user_name, resource_type, resource_id FROM mlops.audit_events() ORDER BY event_id;
