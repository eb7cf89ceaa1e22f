-- Serving: predict, predict_proba and predict_label (float8[], jsonb, text),
-- predict_batch, predict_table, predict_proba_table, model references, the
-- model cache, prediction statistics, health and readiness, and every input
-- error.
CREATE EXTENSION mlops;
\set SHOW_CONTEXT never
SET mlops.train_progress_rounds = 0;

CREATE TABLE accounts AS
SELECT i AS id,
       (i % 17)::int AS visits,
       CASE WHEN i % 11 = 0 THEN NULL ELSE ((i * 7) % 13) / 3.0 END::float8 AS spend,
       (i % 5 = 0) AS promo,
       (ARRAY['red', 'green', 'blue'])[i % 3 + 1] AS color,
       CASE WHEN (i % 17) + ((i * 7) % 13) / 3.0 > 10 THEN 'yes' ELSE 'no' END AS churned,
       (i % 17) * 2.5 + (i % 4) AS amount,
       (i % 3) AS tier
  FROM generate_series(1, 300) AS i;

SELECT version FROM mlops.train('churn', 'accounts', 'churned',
       features => ARRAY['visits', 'spend', 'promo', 'color'],
       hyperparams => '{"max_depth": 3, "n_estimators": 30}', test_size => 0);
SELECT version FROM mlops.train('churn', 'accounts', 'churned',
       features => ARRAY['visits', 'spend', 'promo', 'color'],
       hyperparams => '{"max_depth": 1, "n_estimators": 1}', test_size => 0);
SELECT version FROM mlops.train('amount', 'SELECT visits, promo, amount FROM accounts', 'amount',
       task => 'regression', hyperparams => '{"n_estimators": 30}', test_size => 0);
SELECT version FROM mlops.train('tier', 'SELECT visits, color, tier FROM accounts', 'tier',
       hyperparams => '{"n_estimators": 10}', test_size => 0);
SELECT mlops.transition_stage('churn', 1, 'Production');
SELECT mlops.transition_stage('churn', 2, 'Staging');
SELECT mlops.set_alias('churn', 'champion', 1);
SELECT mlops.transition_stage('amount', 1, 'Production');
SELECT mlops.transition_stage('tier', 1, 'Production');

-- one row: float8[] (categories as codes: blue 0, green 1, red 2), real[], jsonb
SELECT mlops.predict('churn', ARRAY[16, 4, 0, 1]::float8[]) AS yes,
       mlops.predict('churn', ARRAY[1, 0, 0, 1]::float8[]) AS no,
       mlops.predict('churn', ARRAY[16, 4, 0, 1]::real[]) AS yes_real,
       mlops.predict('churn', '{"visits": 16, "spend": 4, "promo": false, "color": "green"}'::jsonb) AS yes_json;
-- calls as written, without casts: an untyped JSON object, JSON array or
-- array literal (the text overload), numeric[] and integer[] arrays (cast to
-- float8[]); every form predicts the same
SELECT mlops.predict('churn', '{"visits": 16, "spend": 4, "promo": false, "color": "green"}') AS json_object,
       mlops.predict('churn', '[16, 4, false, "green"]') AS json_array,
       mlops.predict('churn', '{16, 4, 0, 1}') AS array_literal,
       mlops.predict('churn', ARRAY[16, 4, 0, 1]) AS int_array,
       mlops.predict('churn', ARRAY[16.0, 4.0, 0, 1.0]) AS numeric_array,
       mlops.predict('churn', '[16, 4, 0, null]'::jsonb) = mlops.predict('churn', '{16, 4, 0, NULL}') AS nulls_agree;
SELECT mlops.predict_proba('churn', '{"visits": 16, "spend": 4, "promo": false, "color": "green"}') =
       mlops.predict_proba('churn', ARRAY[16, 4, 0, 1]) AS proba_same,
       mlops.predict_proba('tier', '{3, 0}') = mlops.predict_proba('tier', ARRAY[3, 0]::float8[]) AS proba_multi_same,
       mlops.predict_proba('tier', '[3, "blue"]') = mlops.predict_proba('tier', ARRAY[3.0, 0]) AS proba_numeric_same;
-- which overload each call resolves to: literals take text, arrays float8[]
EXPLAIN (VERBOSE, COSTS OFF)
SELECT mlops.predict('churn', '{"visits": 16}'), mlops.predict_label('churn', '{16, 4, 0, 1}'),
       mlops.predict('churn', '{"visits": 16}'::jsonb);
EXPLAIN (VERBOSE, COSTS OFF)
SELECT mlops.predict_proba('churn', ARRAY[16.0, 4.0, 0, 1.0]), mlops.predict('churn', ARRAY[16, 4, 0, 1]),
       mlops.predict('churn', ARRAY[16, 4, 0, 1]::real[]);
-- a null literal (the text overload) predicts null
SELECT mlops.predict('churn', NULL) IS NULL AS null_in_null_out;
-- a text column (JSON objects, JSON arrays and array literals mixed)
SELECT f, mlops.predict('churn', f) AS prediction, mlops.predict_label('churn', f) AS label
  FROM (VALUES ('{"visits": 16, "spend": 4, "promo": false, "color": "green"}'),
               ('  [1, 0, true, "red"]'), ('{1, 0, 1, 2}'), ('[1:4]={16,4,0,1}'), ('{"16", "4", "0", NULL}')) v(f);
-- NULL elements and JSON nulls are missing values; an unseen category is missing too
SELECT mlops.predict('churn', ARRAY[16, NULL, NULL, NULL]::float8[]) =
       mlops.predict('churn', '{"visits": 16, "spend": null, "promo": null, "color": "purple"}'::jsonb) AS same;
-- predictions equal for every row through each entry point
SELECT count(*) AS rows,
       count(*) FILTER (WHERE p_arr = p_json AND p_json = p_tab) AS agree,
       count(*) FILTER (WHERE p_arr::int = (CASE churned WHEN 'yes' THEN 1 ELSE 0 END)) AS correct
  FROM (SELECT a.id, a.churned,
               mlops.predict('churn', ARRAY[visits, spend, promo::int,
                   array_position(ARRAY['blue', 'green', 'red'], color) - 1]::float8[]) AS p_arr,
               mlops.predict('churn', jsonb_build_object('visits', visits, 'spend', spend,
                   'promo', promo, 'color', color)) AS p_json,
               t.prediction AS p_tab
          FROM accounts a JOIN mlops.predict_table('churn', 'accounts', 'id') t ON t.id = a.id::text) s;

-- a parallel scan: every worker loads the model itself and predicts the same
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF)
SELECT sum(mlops.predict('amount', ARRAY[visits, promo::int]::float8[])) FROM accounts;
SELECT round(sum(mlops.predict('amount', ARRAY[visits, promo::int]::float8[]))::numeric, 2) AS parallel_sum
  FROM accounts;
RESET max_parallel_workers_per_gather;
RESET min_parallel_table_scan_size;
RESET parallel_tuple_cost;
RESET parallel_setup_cost;
SELECT round(sum(mlops.predict('amount', ARRAY[visits, promo::int]::float8[]))::numeric, 2) AS serial_sum
  FROM accounts;

-- probabilities: binary [P(no), P(yes)], multiclass in class order, sum to 1
SELECT array_length(p, 1) AS n, round((p[1] + p[2])::numeric, 6) AS total, p[2] > 0.5 AS yes
  FROM mlops.predict_proba('churn', '{"visits": 16, "spend": 4, "promo": false, "color": "green"}'::jsonb) p;
SELECT array_length(p, 1) AS n, round((p[1] + p[2] + p[3])::numeric, 6) AS total,
       mlops.predict('tier', ARRAY[3, 0]::float8[]) = (array_position(p, (SELECT max(x) FROM unnest(p) x)) - 1) AS argmax
  FROM mlops.predict_proba('tier', ARRAY[3, 0]::float8[]) p;

-- regression
SELECT round(mlops.predict('amount', ARRAY[10, 0]::float8[])::numeric, 0) AS amount;

-- an objective that outputs classes: predict returns the class, no probabilities
SELECT version FROM mlops.train('tier_softmax', 'SELECT visits, color, tier FROM accounts', 'tier',
       hyperparams => '{"n_estimators": 10, "objective": "multi:softmax"}', test_size => 0);
SELECT mlops.predict('tier_softmax/1', ARRAY[3, 0]::float8[]) = mlops.predict('tier', ARRAY[3, 0]::float8[]) AS same_class;
SELECT mlops.predict_proba('tier_softmax/1', ARRAY[3, 0]::float8[]);

-- labels: the predicted class's label for every input form (text labels,
-- integer labels, a boolean label, a model that outputs classes)
SELECT version FROM mlops.train('promo', 'SELECT visits, spend, promo FROM accounts', 'promo',
       hyperparams => '{"n_estimators": 10}', test_size => 0);
SELECT mlops.predict_label('churn', ARRAY[16, 4, 0, 1]) AS float8_array,
       mlops.predict_label('churn', '{"visits": 1, "spend": 0, "promo": false, "color": "green"}'::jsonb) AS jsonb,
       mlops.predict_label('churn', '{"visits": 16, "spend": 4, "promo": false, "color": "green"}') AS json_literal,
       mlops.predict_label('churn', '{1, 0, 0, 1}') AS array_literal,
       mlops.predict_label('tier', ARRAY[3, 0]) AS tier,
       mlops.predict_label('tier_softmax/1', ARRAY[3, 0]) AS softmax,
       mlops.predict_label('promo/1', '{"visits": 5, "spend": 1}') AS boolean_label;
-- the label is classes[code] of the stored schema, on every row
SELECT count(*) AS rows,
       count(*) FILTER (WHERE mlops.predict_label('tier', ARRAY[visits, array_position(ARRAY['blue', 'green', 'red'], color) - 1]) =
                              (mlops.model_schema('tier') #>> ARRAY['label', 'classes',
                                  mlops.predict('tier', ARRAY[visits, array_position(ARRAY['blue', 'green', 'red'], color) - 1])::int::text])) AS agree
  FROM accounts;

-- batch of named instances
SELECT mlops.predict_batch('churn', '[{"visits": 16, "spend": 4, "promo": false, "color": "green"},
                                      {"visits": 1, "spend": 0, "promo": false, "color": "green"}]');
SELECT mlops.predict_batch('churn', '[]');

-- predict_table: a query source, row numbers as ids when id_column is NULL;
-- label is the class label for classifiers, NULL for a regression
SELECT id, round(prediction::numeric, 2) AS prediction, label
  FROM mlops.predict_table('amount', 'SELECT visits, promo FROM accounts WHERE id <= 3 ORDER BY id')
 ORDER BY id;
SELECT * FROM mlops.predict_table('churn', 'SELECT * FROM accounts WHERE id IN (1, 16, 33) ORDER BY id', 'id');
SELECT * FROM mlops.predict_table('tier_softmax/1', 'SELECT visits, color FROM accounts WHERE id <= 3 ORDER BY id');
SELECT count(*), count(DISTINCT id) FROM mlops.predict_table('churn', 'accounts');
SELECT count(*) AS rows, count(*) FILTER (WHERE t.label = mlops.predict_label('churn', jsonb_build_object('visits', visits,
           'spend', spend, 'promo', promo, 'color', color))) AS labels_agree
  FROM mlops.predict_table('churn', 'accounts', 'id') t JOIN accounts a ON t.id = a.id::text;

-- predict_proba_table: one row per source row, the probabilities in class order
SELECT id, (SELECT array_agg(round(p::numeric, 4)) FROM unnest(probabilities) p) AS probabilities
  FROM mlops.predict_proba_table('tier', 'SELECT id, visits, color FROM accounts WHERE id <= 3 ORDER BY id', 'id');
SELECT count(*) AS rows,
       count(*) FILTER (WHERE t.probabilities = mlops.predict_proba('churn', jsonb_build_object('visits', visits,
           'spend', spend, 'promo', promo, 'color', color))) AS agree
  FROM mlops.predict_proba_table('churn', 'accounts', 'id') t JOIN accounts a ON t.id = a.id::text;
SELECT id, array_length(probabilities, 1) AS n FROM mlops.predict_proba_table('churn', 'SELECT * FROM accounts LIMIT 2');

-- predict_table past several chunks of 16,384 rows, where XGBoost predicts
-- one chunk on a helper thread while the next is read: every id once, every
-- prediction equal to predict's, for integer, text and row-number ids, a
-- multiclass model, and a source that itself predicts
CREATE TABLE many AS
SELECT i AS id, i::bigint AS big, 'r' || i AS name,
       (i % 17)::int AS visits,
       CASE WHEN i % 11 = 0 THEN NULL ELSE ((i * 7) % 13) / 3.0 END::float8 AS spend,
       (i % 5 = 0) AS promo,
       (ARRAY['red', 'green', 'blue'])[i % 3 + 1] AS color
  FROM generate_series(1, 40000) AS i;
SELECT count(*) AS rows, count(DISTINCT t.id) AS ids,
       count(*) FILTER (WHERE t.prediction = mlops.predict('churn', jsonb_build_object('visits', visits,
           'spend', spend, 'promo', promo, 'color', color))) AS agree
  FROM mlops.predict_table('churn', 'many', 'big') t JOIN many m ON t.id = m.id::text;
SELECT count(*) AS rows, count(*) FILTER (WHERE t.id = m.name) AS ids,
       count(*) FILTER (WHERE t.prediction = mlops.predict('tier', jsonb_build_object('visits', visits,
           'color', color))) AS agree,
       count(*) FILTER (WHERE t.label = t.prediction::int::text) AS labels
  FROM mlops.predict_table('tier', 'SELECT name, visits, color FROM many ORDER BY id', 'name') t
  JOIN many m ON t.id = m.name;
SELECT count(*) AS rows, count(DISTINCT t.id) AS ids,
       count(*) FILTER (WHERE t.probabilities = mlops.predict_proba('tier', jsonb_build_object('visits', visits,
           'color', color))) AS agree
  FROM mlops.predict_proba_table('tier', 'SELECT id, visits, color FROM many', 'id') t JOIN many m ON t.id = m.id::text;
SELECT count(*) AS rows, min(t.id::int) AS first, max(t.id::int) AS last, count(DISTINCT t.id) AS ids,
       count(*) FILTER (WHERE prediction = own) AS agree
  FROM mlops.predict_table('amount', 'SELECT visits, promo, mlops.predict(''amount'',
           ARRAY[visits, promo::int]::float8[]) AS own FROM many ORDER BY id') t
  JOIN (SELECT id, mlops.predict('amount', ARRAY[visits, promo::int]::float8[]) AS own FROM many) m
    ON t.id = m.id::text;
-- an error in the source after some chunks were predicted
SELECT count(*) FROM mlops.predict_table('churn', 'SELECT *, 1 / (35000 - id) AS x FROM many', 'id');
SELECT count(*) FROM mlops.predict_table('churn', 'many', 'id');
DROP TABLE many;

-- references: Production, version, stage, alias
SELECT mlops.predict('churn', ARRAY[16, 4, 0, 1]::float8[]) AS production,
       mlops.predict('churn/1', ARRAY[16, 4, 0, 1]::float8[]) AS v1,
       mlops.predict('churn@champion', ARRAY[16, 4, 0, 1]::float8[]) AS champion,
       mlops.predict_proba('churn/Staging', ARRAY[16, 4, 0, 1]::float8[]) =
       mlops.predict_proba('churn/2', ARRAY[16, 4, 0, 1]::float8[]) AS staging_is_v2;

-- the model cache: one entry per version; a stage change switches what 'churn' means
SELECT model, version, hits > 0 AS used FROM mlops.model_cache() ORDER BY model, version;
SELECT mlops.predict_proba('churn', ARRAY[16, 4, 0, 1]::float8[]) =
       mlops.predict_proba('churn/1', ARRAY[16, 4, 0, 1]::float8[]) AS production_is_v1;
SELECT mlops.transition_stage('churn', 2, 'Production');
SELECT mlops.predict_proba('churn', ARRAY[16, 4, 0, 1]::float8[]) =
       mlops.predict_proba('churn/2', ARRAY[16, 4, 0, 1]::float8[]) AS production_is_v2;
-- an alias change too, inside a transaction, and its rollback
BEGIN;
SELECT mlops.set_alias('churn', 'champion', 2);
SELECT mlops.predict_proba('churn@champion', ARRAY[16, 4, 0, 1]::float8[]) =
       mlops.predict_proba('churn/2', ARRAY[16, 4, 0, 1]::float8[]) AS champion_is_v2;
ROLLBACK;
SELECT mlops.predict_proba('churn@champion', ARRAY[16, 4, 0, 1]::float8[]) =
       mlops.predict_proba('churn/1', ARRAY[16, 4, 0, 1]::float8[]) AS champion_is_v1_again;
SELECT mlops.model_cache_reset() > 0 AS dropped;
SELECT count(*) FROM mlops.model_cache();
-- bounded: with a tiny limit only the model just used stays
SET mlops.model_cache_mb = 1;
SELECT version FROM mlops.train('big', 'SELECT visits, spend, color, amount FROM accounts', 'amount',
       task => 'regression', hyperparams => '{"n_estimators": 400, "max_depth": 8, "min_child_weight": 0}', test_size => 0);
SELECT mlops.predict('churn/1', ARRAY[1, 1, 0, 1]::float8[]) IS NOT NULL AS ok;
SELECT mlops.predict('big/1', ARRAY[1, 1, 0]::float8[]) IS NOT NULL AS ok;
SELECT model, version FROM mlops.model_cache();
RESET mlops.model_cache_mb;

-- prediction statistics: calls, rows and errors per version
SELECT mlops.prediction_stats_reset() >= 0 AS reset;
SELECT mlops.predict('amount', ARRAY[1, 0]::float8[]) IS NOT NULL,
       mlops.predict('amount/1', ARRAY[2, 1]::float8[]) IS NOT NULL;
SELECT count(*) FROM mlops.predict_table('amount', 'SELECT visits, promo FROM accounts');
SELECT mlops.predict('amount', ARRAY[1]::float8[]);
SELECT model, version, calls, rows, errors, total_ms > 0 AS timed,
       p50_ms <= p95_ms AND p95_ms <= p99_ms AS ordered, mean_ms > 0 AS has_mean
  FROM mlops.prediction_stats ORDER BY model, version;

-- volatility and parallel safety
SELECT p.oid::regprocedure, p.provolatile, p.proparallel FROM pg_proc p
 WHERE p.pronamespace = 'mlops'::regnamespace AND p.proname LIKE 'predict%' ORDER BY p.oid::regprocedure::text COLLATE "C";

-- health and readiness; a corrupted booster fails its own predictions only
SELECT h->'status' AS status, h->'ready' AS ready, h->'production_models' AS production,
       h->'unloadable_models' AS unloadable, h ? 'xgboost_version' AS has_version
  FROM mlops.health() h;
SELECT mlops.ready();
UPDATE mlops.model_versions SET model_data = model_data || '\x20'::bytea
 WHERE model_id = (SELECT model_id FROM mlops.models WHERE name = 'tier');
-- checksums are verified whenever a booster is loaded
SELECT mlops.model_cache_reset() >= 0 AS reset;
SELECT mlops.predict('tier', ARRAY[3, 0]::float8[]);
SELECT mlops.ready();
SELECT h->'status' AS status, h->'unloadable_models' AS unloadable FROM mlops.health() h;
SELECT mlops.predict('amount', ARRAY[1, 0]::float8[]) IS NOT NULL AS others_still_serve;

-- errors
\set VERBOSITY default
SELECT mlops.predict('nope', ARRAY[1]::float8[]);
SELECT mlops.predict('churn/9', ARRAY[1]::float8[]);
SELECT mlops.predict('churn', ARRAY[1, 2]::float8[]);
SELECT mlops.predict('churn', ARRAY[[1, 2], [3, 4]]::float8[]);
SELECT mlops.predict('churn', '{"visits": "many", "spend": [1], "colour": "red", "color": 3}'::jsonb);
SELECT mlops.predict('churn', '[1, 2, 3, 4]'::jsonb);
SELECT mlops.predict('churn', '[1, 2, 3]');
SELECT mlops.predict('churn', '[[1], {"a": 2}, "x", true]');
SELECT mlops.predict('churn', '"visits"'::jsonb);
SELECT mlops.predict('churn', 'visits=16');
SELECT mlops.predict('churn', '3');
SELECT mlops.predict('churn', '{1, 2');
SELECT mlops.predict('churn', '{1, two, 3, 4}');
SELECT mlops.predict('churn', '{"visits": 1');
SELECT mlops.predict('churn', '{{1, 2}, {3, 4}}');
SELECT mlops.predict('churn', '{1e400, 0, 0, 0}');
SELECT mlops.predict('churn', '{}');
SELECT mlops.predict_proba('amount', ARRAY[1, 0]::float8[]);
SELECT mlops.predict_proba('amount', '{1, 0}');
SELECT mlops.predict_label('amount', ARRAY[1, 0]);
SELECT mlops.predict_label('amount', '{"visits": 1, "promo": true}');
SELECT * FROM mlops.predict_proba_table('amount', 'accounts');
SELECT * FROM mlops.predict_proba_table('tier_softmax/1', 'accounts');
SELECT * FROM mlops.predict_proba_table('churn', 'SELECT visits FROM accounts');
SELECT * FROM mlops.predict_proba_table(NULL, 'accounts');
SELECT mlops.predict_batch('churn', '{"visits": 1}');
SELECT mlops.predict_batch('churn', '[{"visits": 1, "spend": 1, "promo": true, "color": "red"}, 7, {"visits": 1}]');
SELECT * FROM mlops.predict_table('churn', 'SELECT visits, color FROM accounts');
SELECT * FROM mlops.predict_table('churn', 'SELECT visits, spend, color AS promo, color FROM accounts');
SELECT * FROM mlops.predict_table('churn', 'accounts', 'nope');
SELECT * FROM mlops.predict_table('churn', 'no_such_table');
SELECT * FROM mlops.predict_table(NULL, 'accounts');
-- error messages are bounded (issue 10: one predict with a million unknown
-- keys wrote a 27 MB DETAIL): the first 20 problems, then how many more
SELECT mlops.predict('churn', (SELECT jsonb_object_agg('k' || i, i) FROM generate_series(1, 200000) i));
SELECT mlops.predict_batch('churn', (SELECT jsonb_agg(i) FROM generate_series(1, 100000) i));
SELECT mlops.predict('churn', jsonb_build_object(repeat('x', 1000), 1, 'visits', 1, 'spend', 1, 'promo', true, 'color', 'red'));
-- a model of 30 features: hints list the first 20 names
SELECT version FROM mlops.train('wide', (SELECT 'SELECT ' || string_agg(format('(i * %s) %% 7 AS feature_%s', g, g), ', ')
                                                || ', i % 2 AS y FROM generate_series(1, 100) i' FROM generate_series(1, 30) g),
                                'y', hyperparams => '{"n_estimators": 1}', test_size => 0);
SELECT mlops.predict('wide/1', '{}'::jsonb);
SELECT mlops.predict('wide/1', ARRAY[1, 2]);
SELECT * FROM mlops.predict_table('wide/1', 'SELECT 1 AS x');
SELECT * FROM mlops.predict_table('wide/1', (SELECT 'SELECT ' || string_agg(format('now() AS feature_%s', g), ', ')
                                                    FROM generate_series(1, 30) g));
SELECT * FROM mlops.predict_table('churn', 'accounts', repeat('i', 300));
\set VERBOSITY terse

-- numbers beyond the float32 range are infinities, which XGBoost compares
-- above (or below) every split; NaN and NULL are missing values
SELECT mlops.predict('amount', ARRAY['Infinity', 1]::float8[]) = mlops.predict('amount', ARRAY[1e300, 1]::float8[]) AS inf_is_huge,
       mlops.predict('amount', ARRAY['-Infinity', 1]::float8[]) = mlops.predict('amount', '{"visits": -1e300, "promo": true}'::jsonb) AS neg_inf,
       mlops.predict('amount', ARRAY['NaN', 1]::float8[]) = mlops.predict('amount', ARRAY[NULL, 1]::float8[]) AS nan_is_missing;
SELECT count(*) FROM mlops.predict_table('amount', $$SELECT 'Infinity'::float8 AS visits, true AS promo UNION ALL SELECT 1e308, false$$);

-- privileges: predicting needs EXECUTE on the function only
CREATE ROLE scorer;
GRANT USAGE ON SCHEMA mlops TO scorer;
SET ROLE scorer;
SELECT mlops.predict('amount', ARRAY[1, 0]::float8[]);
RESET ROLE;
GRANT EXECUTE ON FUNCTION mlops.predict(text, float8[], text) TO scorer;
SET ROLE scorer;
SELECT mlops.predict('amount', ARRAY[1, 0]::float8[]) IS NOT NULL AS ok;
SELECT mlops.predict('amount', ARRAY[1, 0]) IS NOT NULL AS integer_array_ok;
SELECT mlops.predict('amount', '{1, 0}');
SELECT mlops.predict_label('churn', ARRAY[1, 0, 0, 1]);
SELECT * FROM mlops.model_versions;
SELECT count(*) FROM mlops.prediction_stats;
RESET ROLE;
-- the monitoring recipe of docs/serving.md
GRANT SELECT ON mlops.prediction_stats TO scorer;
GRANT EXECUTE ON FUNCTION mlops._prediction_stats() TO scorer;
SET ROLE scorer;
SELECT calls > 0 AS counted FROM mlops.prediction_stats WHERE model = 'amount';
RESET ROLE;

DROP EXTENSION mlops;
DROP OWNED BY scorer;
DROP ROLE scorer;
