-- The native tree walk (mlops.native_tree_walk): which models it walks and
-- which stay with XGBoost (dart, gblinear, categorical splits), and that
-- every prediction is the same with the setting on and off.  Agreement
-- with python3-xgboost itself is tested by test/oracle/test_native_walk.py.
CREATE EXTENSION mlops;
\set SHOW_CONTEXT never
\getenv src MLOPS_SRC
\set data :src '/test/unit/data/'
SHOW mlops.native_tree_walk;
SET mlops.native_tree_walk = maybe;

-- the models XGBoost 1.7.4 wrote for the C unit tests (3 features each, named as binary's)
CREATE TEMP TABLE models AS
SELECT m AS name,
       m || '/' || mlops.import_model(m, pg_read_binary_file(:'data' || f), ARRAY['age', 'income', 'tenure']) AS ref,
       m IN ('binary', 'multi', 'dart') AS classifier
  FROM (VALUES ('binary', 'binary.json'), ('multi', 'multi.ubj'), ('regression', 'regression.json'),
               ('pruned', 'pruned.ubj'), ('dart', 'dart.ubj'), ('linear', 'linear.json'),
               ('categorical', 'categorical.json')) v(m, f);
SELECT name, ref, classifier FROM models ORDER BY name;

-- the first small call of a model builds its copy and says whether it is walked (DEBUG1)
SET client_min_messages = debug1;
SELECT mlops.predict('binary/1', ARRAY[0.1, -0.2, 1]) IS NOT NULL AS binary;
SELECT mlops.predict('multi/1', ARRAY[0.1, -0.2, 1]) IS NOT NULL AS multi;
SELECT mlops.predict('regression/1', ARRAY[0.1, -0.2, 1]) IS NOT NULL AS regression;
SELECT mlops.predict('pruned/1', ARRAY[0.1, -0.2, 1]) IS NOT NULL AS pruned;
SELECT mlops.predict('dart/1', ARRAY[0.1, -0.2, 1]) IS NOT NULL AS dart;
SELECT mlops.predict('linear/1', ARRAY[0.1, -0.2, 1]) IS NOT NULL AS linear;
SELECT mlops.predict('categorical/1', ARRAY[0.1, -0.2, 1]) IS NOT NULL AS categorical;
SELECT mlops.predict('binary/1', ARRAY[0.1, -0.2, 1]) IS NOT NULL AS binary_cached;
RESET client_min_messages;

-- 300 rows: values on a grid of tenths (so some equal the thresholds), NULLs,
-- and a third feature of whole numbers (the categorical model's codes 0..3)
CREATE TEMP TABLE rows AS
SELECT i, ARRAY[CASE WHEN i % 7 = 0 THEN NULL ELSE ((i * 37) % 61 - 30) / 10.0 END,
                CASE WHEN i % 5 = 0 THEN NULL ELSE ((i * 13) % 41 - 20) / 10.0 END,
                CASE WHEN i % 11 = 0 THEN NULL ELSE i % 4 END]::float8[] AS x
  FROM generate_series(1, 300) i;

-- one row per call (predict, predict_proba, predict_label), with the walk and without
SET mlops.native_tree_walk = on;
CREATE TEMP TABLE walked AS
SELECT m.name, r.i, mlops.predict(m.ref, r.x) AS p,
       CASE WHEN m.classifier THEN mlops.predict_proba(m.ref, r.x) END AS pp,
       CASE WHEN m.classifier THEN mlops.predict_label(m.ref, r.x) END AS label
  FROM models m, rows r;
SET mlops.native_tree_walk = off;
CREATE TEMP TABLE xgboost AS
SELECT m.name, r.i, mlops.predict(m.ref, r.x) AS p,
       CASE WHEN m.classifier THEN mlops.predict_proba(m.ref, r.x) END AS pp,
       CASE WHEN m.classifier THEN mlops.predict_label(m.ref, r.x) END AS label
  FROM models m, rows r;
RESET mlops.native_tree_walk;
SELECT w.name, count(*) AS calls, count(DISTINCT w.p) > 1 AS varied,
       bool_and(w.p = x.p AND w.pp IS NOT DISTINCT FROM x.pp AND w.label IS NOT DISTINCT FROM x.label) AS same
  FROM walked w JOIN xgboost x USING (name, i)
 GROUP BY w.name ORDER BY w.name;

-- predict_batch (fewer than 1,024 rows: walked) and predict_table, on and off,
-- with the features named as each model names them
CREATE TEMP TABLE batch_rows AS
SELECT i, x[1] AS a, x[2] AS b, x[3] AS c FROM rows;
CREATE FUNCTION pg_temp.batch(ref text) RETURNS float8[] LANGUAGE sql AS $$
  SELECT mlops.predict_batch(ref, jsonb_agg(jsonb_build_object('age', a, 'income', b, 'tenure', c) ORDER BY i))
    FROM batch_rows $$;
CREATE FUNCTION pg_temp.scored(ref text) RETURNS float8[] LANGUAGE sql AS $$
  SELECT array_agg(prediction ORDER BY id::int)
    FROM mlops.predict_table(ref, 'SELECT i, a AS age, b AS income, c AS tenure FROM batch_rows', 'i') $$;
CREATE TEMP TABLE one_row AS SELECT name, array_agg(p ORDER BY i) AS p FROM walked GROUP BY name;
-- (the categorical model takes its category as a string in named forms)
SELECT m.name, pg_temp.batch(m.ref) = o.p AS batch_equals_one_row,
       pg_temp.scored(m.ref) = o.p AS table_equals_one_row
  FROM models m JOIN one_row o USING (name) WHERE m.name <> 'categorical' ORDER BY m.name;
SET mlops.native_tree_walk = off;
SELECT m.name, pg_temp.batch(m.ref) = o.p AS batch_equals_walked,
       pg_temp.scored(m.ref) = o.p AS table_equals_walked
  FROM models m JOIN one_row o USING (name) WHERE m.name <> 'categorical' ORDER BY m.name;
RESET mlops.native_tree_walk;

DROP EXTENSION mlops;
