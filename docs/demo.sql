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

\echo
\echo '== 4. Monitoring: the radius rule in "production", checked against its labels'
-- the baseline promised 95% accuracy; record the rule's predictions with their diagnoses
SELECT mlops.create_monitor('radius-rule', 'classification', '{"accuracy": 0.95, "recall": 0.9}') AS monitor_id;
SELECT count(*) AS predictions_recorded
  FROM (SELECT mlops.record_prediction('radius-rule', (mean_radius > 15)::int, (diagnosis = 'malignant')::int)
          FROM breast_cancer) s;
SELECT key AS metric, value FROM jsonb_each(mlops.model_metrics('radius-rule'))
 WHERE key IN ('rows', 'accuracy', 'precision', 'recall', 'f1_score') ORDER BY key;

\echo
\echo '== 5. Alerts: a rule in the safe condition language fires, and LISTENers hear it'
SELECT mlops.add_alert_rule('radius-degraded', 'Radius rule worse than its baseline',
                            'degradation_detected and labelled_rows >= 100', 'critical');
LISTEN mlops_alerts;
SELECT p->>'status' AS pipeline, p->'result'->>'alerts_fired' AS alerts_fired,
       p->'steps'->1->'result'->'degraded_metrics' AS degraded_metrics
  FROM mlops.monitoring_pipeline('radius-rule') p;
SELECT alert_id, rule_id, severity, source, metrics FROM mlops.alerts;
SELECT model, predictions_last_hour, degradation_status, open_critical FROM mlops.dashboard;
