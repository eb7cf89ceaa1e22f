-- The mlops end-to-end demo (run by `make demo`).  Each section grows as
-- capabilities land.  Data: table breast_cancer (569 rows, 30 features,
-- label diagnosis), loaded from scikit-learn's copy of the Wisconsin data.
\pset footer off
-- (a trailing \gset only keeps psql from printing the empty result of a void function)
\echo
\echo '== 1. The data: real tumour measurements, loaded into PostgreSQL'
SELECT diagnosis, count(*) AS rows, round(avg(mean_radius)::numeric, 2) AS avg_radius
  FROM breast_cancer GROUP BY diagnosis ORDER BY diagnosis;

CREATE EXTENSION mlops;

\echo
\echo '== 2. Experiment tracking: runs, parameters and metrics live in tables'
SELECT mlops.create_experiment('breast-cancer', 'tumour diagnosis from cell nuclei measurements') AS experiment_id;
SELECT mlops.start_run('breast-cancer', 'radius-threshold') AS run_id \gset
SELECT mlops.log_params(:run_id, '{"rule": "mean_radius > t", "t": 15}') \gset
-- a hand-made baseline: predict malignant when the mean radius exceeds 15
SELECT mlops.log_metrics(:run_id, jsonb_build_object(
         'accuracy', avg(((mean_radius > 15) = (diagnosis = 'malignant'))::int)))
  FROM breast_cancer \gset
SELECT mlops.end_run(:run_id) \gset
SELECT run_name, status, params, metrics FROM mlops.compare_runs('breast-cancer', 'accuracy');

\echo
\echo '== 3. Train XGBoost in the database, register, promote, predict'
SET mlops.train_progress_rounds = 0;
-- every column but the id and the label is a feature; a quarter of the rows is held out
SELECT run_id, version, metrics->'accuracy' AS accuracy, metrics->'roc_auc' AS roc_auc,
       metrics->'train_rows' AS train_rows, metrics->'test_rows' AS test_rows
  FROM mlops.train('diagnosis', $$SELECT * FROM breast_cancer$$, 'diagnosis',
                   features => (SELECT array_agg(attname::text ORDER BY attnum) FROM pg_attribute
                                 WHERE attrelid = 'breast_cancer'::regclass AND attnum > 0
                                   AND attname NOT IN ('id', 'diagnosis')),
                   hyperparams => '{"max_depth": 3, "eta": 0.2, "n_estimators": 60}');
SELECT mlops.transition_stage('diagnosis', 1, 'Production') \gset
-- the stored schema: classes in code order, per-feature statistics for drift checks
SELECT input_schema->'label'->'classes' AS classes,
       input_schema->'features'->0->'stats'->'mean' AS mean_radius_mean
  FROM mlops.model_versions;
-- one patient, by name, then the whole table in one pass
SELECT mlops.predict_proba('diagnosis', to_jsonb(b) - 'id' - 'diagnosis') AS p_benign_malignant,
       diagnosis
  FROM breast_cancer b WHERE id = 1;
SELECT b.diagnosis, p.prediction AS predicted_code, count(*)
  FROM mlops.predict_table('diagnosis', 'breast_cancer', 'id') p
  JOIN breast_cancer b ON b.id = p.id::int
 GROUP BY 1, 2 ORDER BY 1, 2;
SELECT model, version, calls, rows FROM mlops.prediction_stats;

\echo
\echo '== 4. Drift: does the data a model sees still look like what it was trained on?'
-- a reference snapshot of three measurements over all patients (exact values, for KS and PSI)
SELECT jsonb_object_keys(mlops.set_drift_reference('tumours',
         $$SELECT mean_radius, mean_texture, mean_smoothness FROM breast_cancer$$) -> 'columns') AS reference_column;
-- a random half of the same population: no drift expected
SELECT r -> 'drift_detected' AS drift_detected, r -> 'columns_with_drift' AS columns_with_drift
  FROM mlops.detect_drift('tumours', $$SELECT * FROM breast_cancer WHERE id % 2 = 0$$) r;
-- a clinic that mostly sees large tumours: PSI and the KS test both flag it
SELECT c.key AS column_name, round((c.value -> 'psi' ->> 'value')::numeric, 3) AS psi,
       c.value -> 'psi' -> 'drift' AS psi_drift,
       (c.value -> 'ks' ->> 'p_value')::float8 AS ks_p_value, c.value -> 'ks' -> 'drift' AS ks_drift
  FROM jsonb_each(mlops.detect_drift('tumours', $$SELECT * FROM breast_cancer WHERE mean_radius > 14$$) -> 'columns') c
 ORDER BY 1;
-- the model's own training histograms are a reference too (named like the model, so the
-- monitoring pipeline finds it)
SELECT mlops.set_drift_reference_from_model('diagnosis', 'diagnosis') IS NOT NULL AS reference_from_model;
SELECT r -> 'drift_detected' AS drift_detected, jsonb_array_length(r -> 'columns_with_drift') AS drifting_features
  FROM mlops.detect_drift('diagnosis', $$SELECT * FROM breast_cancer WHERE mean_radius > 14$$) r;
SELECT method, count(*) AS checks, count(*) FILTER (WHERE drift) AS drifted FROM mlops.drift_results GROUP BY 1 ORDER BY 1;

\echo
\echo '== 5. Monitoring: the radius rule in "production", checked against its labels'
-- the baseline promised 95% accuracy; record the rule's predictions with their diagnoses
SELECT mlops.create_monitor('radius-rule', 'classification', '{"accuracy": 0.95, "recall": 0.9}') AS monitor_id;
SELECT count(*) AS predictions_recorded
  FROM (SELECT mlops.record_prediction('radius-rule', (mean_radius > 15)::int, (diagnosis = 'malignant')::int)
          FROM breast_cancer) s;
SELECT key AS metric, value FROM jsonb_each(mlops.model_metrics('radius-rule'))
 WHERE key IN ('rows', 'accuracy', 'precision', 'recall', 'f1_score') ORDER BY key;

\echo
\echo '== 6. Alerts: a rule in the safe condition language fires, and LISTENers hear it'
SELECT mlops.add_alert_rule('radius-degraded', 'Radius rule worse than its baseline',
                            'degradation_detected and labelled_rows >= 100', 'critical') \gset
LISTEN mlops_alerts;
SELECT p->>'status' AS pipeline, p->'result'->>'alerts_fired' AS alerts_fired,
       p->'steps'->1->'result'->'degraded_metrics' AS degraded_metrics
  FROM mlops.monitoring_pipeline('radius-rule') p;
SELECT alert_id, rule_id, severity, source, metrics FROM mlops.alerts;
SELECT model, predictions_last_hour, degradation_status, open_critical FROM mlops.dashboard;

\echo
\echo '== 7. Scheduling: a data pipeline runs every 2 seconds in a background worker, and every run is recorded'
SELECT mlops.schedule_pipeline('clean-tumours', 'data_pipeline', 'every 2 seconds',
         '{"data_source": "breast_cancer", "output_table": "breast_cancer_clean",
           "rules": {"not_null": ["diagnosis"], "ranges": {"mean_radius": {"min": 5, "max": 25}},
                     "allowed_values": {"diagnosis": ["benign", "malignant"]}}}') AS job_id;
SELECT pg_sleep(5) \gset
SELECT job_name, schedule, enabled, last_run_at IS NOT NULL AS has_run FROM mlops.jobs;
SELECT run_id, status, round(EXTRACT(epoch FROM started_at - due_at) * 1000) AS late_ms,
       round(EXTRACT(epoch FROM finished_at - started_at) * 1000) AS took_ms,
       result::jsonb -> 'result' -> 'rows_written' AS rows_written,
       result::jsonb -> 'result' -> 'rejections' AS rejections
  FROM mlops.job_runs ORDER BY run_id;
SELECT pipeline_run_id, pipeline, status, jsonb_path_query_array(steps, '$[*].step') AS steps
  FROM mlops.pipeline_runs ORDER BY pipeline_run_id;
SELECT mlops.unschedule('clean-tumours');

\echo
\echo '== 8. Deployments: a validated canary, routed inside predict, widened and promoted by the guard'
SELECT version AS candidate
  FROM mlops.train('diagnosis', $$SELECT * FROM breast_cancer$$, 'diagnosis',
                   features => (SELECT array_agg(attname::text ORDER BY attnum) FROM pg_attribute
                                 WHERE attrelid = 'breast_cancer'::regclass AND attnum > 0
                                   AND attname NOT IN ('id', 'diagnosis')),
                   hyperparams => '{"max_depth": 4, "eta": 0.1, "n_estimators": 120}') \gset
SELECT r->>'status' AS validation, r->'metrics'->'accuracy' AS accuracy, r->'metrics'->'roc_auc' AS roc_auc
  FROM mlops.validate_model('diagnosis/' || :candidate, 'breast_cancer', 'diagnosis',
                            '{"accuracy": 0.9}', max_latency_ms => 50, compare_to => 'diagnosis/Production',
                            max_regression => 0.02) r;
SELECT mlops.deploy('diagnosis', :candidate, canary_percent => 25,
                    auto_rollback => '{"max_error_rate": 0.01, "min_requests": 50}',
                    steps => '[{"percent": 50, "after": "0 seconds"}, {"percent": 100, "after": "0 seconds"}]') AS deployment_id \gset
-- the same patient id always gets the same version; the canary takes about a quarter
SELECT d->>'model_version' AS version, d->>'variant' AS variant, count(*)
  FROM breast_cancer b, LATERAL mlops.predict_detail('diagnosis', to_jsonb(b) - 'id' - 'diagnosis', b.id::text) d
 GROUP BY 1, 2 ORDER BY 1;
SELECT * FROM mlops.check_deployments();
SELECT * FROM mlops.check_deployments();
SELECT id, from_version, to_version, state, percent FROM mlops.deployments;
SELECT event, from_state, to_state, percent FROM mlops.deployment_events ORDER BY event_id;

\echo
\echo '== 9. The audit log recorded every change, with who made it'
SELECT action, user_name, count(*) AS events, min(resource_id) AS first_resource
  FROM mlops.audit_events(max_rows => 10000) GROUP BY action, user_name ORDER BY min(event_id);

