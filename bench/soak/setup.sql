-- setup.sql — the soak's database (bench/soak.sh): the breast cancer data (loaded before this
-- runs), a model, inputs in every form, a monitor, a drift reference, one open run per client,
-- and a monitoring job every minute.  psql variable: clients.
\set ON_ERROR_STOP 1
CREATE EXTENSION mlops;
SELECT count(*) FROM mlops.train('bc', 'breast_cancer', 'diagnosis',
                                  hyperparams => '{"n_estimators": 50, "max_depth": 4}');
SELECT mlops.transition_stage('bc', 1, 'Production');
-- one row of inputs per source row: float8[], jsonb and text (JSON)
CREATE TABLE bc_inputs AS
SELECT id, NULL::float8[] AS v, pg_catalog.to_jsonb(b) - 'id' - 'diagnosis' AS j, NULL::text AS t
  FROM breast_cancer b;
UPDATE bc_inputs SET t = j::text;
SELECT pg_catalog.format('UPDATE bc_inputs i SET v = ARRAY[%s] FROM breast_cancer b WHERE b.id = i.id',
                         pg_catalog.string_agg(pg_catalog.quote_ident(f.e ->> 'name'), ', ' ORDER BY f.ord))
  FROM pg_catalog.jsonb_array_elements(mlops.model_schema('bc') -> 'features') WITH ORDINALITY f (e, ord) \gexec
ALTER TABLE bc_inputs ADD PRIMARY KEY (id);
-- 40 copies of the data: predict_table's chunked path with its helper thread
CREATE TABLE bc_big AS
SELECT b.*, c FROM breast_cancer b, pg_catalog.generate_series(0, 39) c;
UPDATE bc_big SET id = id + 569 * c;
ALTER TABLE bc_big DROP COLUMN c, DROP COLUMN diagnosis;
SELECT mlops.create_monitor('bc', 'classification', '{"accuracy": 0.95, "f1_score": 0.95}', window_size => 5000);
SELECT mlops.set_drift_reference('bcref', 'breast_cancer', ARRAY['mean_radius', 'mean_texture', 'worst_area']);
SELECT mlops.set_monitor_drift('bc', 'bcref', 'SELECT mean_radius, mean_texture, worst_area FROM breast_cancer WHERE id % 3 = 0');
SELECT mlops.create_experiment('soak');
CREATE TABLE soak_runs AS
SELECT c AS client, mlops.start_run('soak', 'client ' || c) AS run_id FROM pg_catalog.generate_series(0, :clients - 1) c;
SELECT mlops.schedule('soak-monitoring', '* * * * *', $$SELECT mlops.monitoring_pipeline('bc')$$);
