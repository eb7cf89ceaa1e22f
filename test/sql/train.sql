-- Training: mlops.train on tables, views and queries; tracking, registry,
-- input schema, splits, early stopping, cancellation and every input error.
CREATE EXTENSION mlops;
\set SHOW_CONTEXT never
SET mlops.train_progress_rounds = 0;

CREATE ROLE trainer_nosuper;
CREATE TYPE shade AS ENUM ('light', 'dark');
CREATE TABLE customers AS
SELECT i AS id,
       (i % 17)::int AS visits,
       CASE WHEN i % 11 = 0 THEN NULL ELSE ((i * 7) % 13) / 3.0 END::float8 AS spend,
       ((i * 3) % 10)::numeric(6, 2) AS tenure,
       (i % 5 = 0) AS promo,
       (ARRAY['red', 'green', 'blue'])[i % 3 + 1] AS color,
       (ARRAY['light', 'dark'])[i % 2 + 1]::shade AS tone,
       CASE WHEN (i % 17) + ((i * 7) % 13) / 3.0 > 10 THEN 'yes' ELSE 'no' END AS churned,
       (i % 3) * 10 AS tier,
       (i % 17) * 2.5 + ((i * 3) % 10) AS amount
  FROM generate_series(1, 240) AS i;
CREATE VIEW customer_view AS SELECT visits, spend, churned FROM customers;

-- binary classification on a table: text, enum, boolean, numeric and NULL features
SELECT run_id IS NOT NULL AS has_run, version,
       (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(metrics) k) AS metric_names,
       metrics->'train_rows' AS train_rows, metrics->'test_rows' AS test_rows,
       metrics->'features' AS features, (metrics->>'accuracy')::float8 > 0.7 AS accurate
  FROM mlops.train('churn', 'customers', 'churned',
                   features => ARRAY['visits', 'spend', 'tenure', 'promo', 'color', 'tone'],
                   hyperparams => '{"max_depth": 3, "n_estimators": 20, "nthread": 1}');

-- the version: task, feature names, input schema with categories and statistics
SELECT v.version, v.stage, v.task, v.algorithm, v.feature_names, v.model_format,
       v.run_id = r.run_id AS linked_to_run
  FROM mlops.model_versions v JOIN mlops.models m USING (model_id)
  JOIN mlops.runs r ON r.run_id = v.run_id WHERE m.name = 'churn';
SELECT f->>'name' AS name, f->>'type' AS type, f->'categories' AS categories,
       f->'stats'->'count' AS count, round((f->'stats'->>'null_share')::numeric, 4) AS null_share,
       f->'stats'->'min' AS min, f->'stats'->'max' AS max,
       jsonb_array_length(f->'stats'->'histogram'->'edges') AS edges,
       (SELECT sum(c::int) FROM jsonb_array_elements_text(f->'stats'->'histogram'->'counts') c) AS hist_total,
       f->'stats'->'category_counts' AS category_counts
  FROM mlops.model_versions v, jsonb_array_elements(v.input_schema->'features') f
 ORDER BY f->>'name';
SELECT input_schema->'label' AS label FROM mlops.model_versions;

-- the run: finished, parameters (defaults included), per-round and final metrics
SELECT e.name AS experiment, r.run_name, r.status, r.tags
  FROM mlops.runs r JOIN mlops.experiments e USING (experiment_id);
SELECT params->'objective' AS objective, params->'nthread' AS nthread, params->'max_depth' AS max_depth,
       params->'n_estimators' AS n_estimators, params->'test_size' AS test_size,
       params->'test_sampling' AS sampling, params->'seed' AS seed, params->'features' AS features
  FROM mlops.runs;
SELECT key, count(*) AS steps, min(step), max(step)
  FROM mlops.run_metrics GROUP BY key ORDER BY key;
-- the whole metric history (every round and the final metrics) is one audit event
SELECT action, details FROM mlops.audit_log WHERE action = 'run.log_metrics';

-- a view, default features (every column but the target), an experiment name
SELECT version, metrics->'features' AS features
  FROM mlops.train('churn', 'customer_view', 'churned', experiment => 'views',
                   hyperparams => '{"n_estimators": 5}');
SELECT name FROM mlops.experiments ORDER BY name;

-- multiclass with integer labels (numeric class order), stratified and row-count split
SELECT version, metrics->'test_rows' AS test_rows,
       (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(metrics) k) AS metric_names
  FROM mlops.train('tiers', 'SELECT visits, spend, color, tier FROM customers', 'tier',
                   hyperparams => '{"n_estimators": 10, "max_depth": 2}',
                   test_size => 48, test_sampling => 'stratified');
SELECT input_schema->'label'->'classes' AS classes, params->'objective' AS objective,
       params->'num_class' AS num_class
  FROM mlops.model_versions v JOIN mlops.models m USING (model_id) WHERE m.name = 'tiers';
-- labels 2 and 10 sort numerically
SELECT version FROM mlops.train('numeric_order',
       $$SELECT v AS x, CASE WHEN v > 5 THEN 10 ELSE 2 END AS y FROM generate_series(1, 20) v$$,
       'y', hyperparams => '{"n_estimators": 2}', test_size => 0);
SELECT input_schema->'label'->'classes' AS classes FROM mlops.model_versions v
  JOIN mlops.models m USING (model_id) WHERE m.name = 'numeric_order';

-- regression, last rows held out
SELECT version, (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(metrics) k) AS metric_names,
       metrics->'test_rows' AS test_rows, (metrics->>'r2')::float8 > 0.5 AS fits
  FROM mlops.train('amount', 'SELECT visits, tenure, amount FROM customers', 'amount',
                   task => 'regression', hyperparams => '{"n_estimators": 50, "max_depth": 4}',
                   test_size => 0.2, test_sampling => 'last');

-- early stopping on the held-out rows keeps the best rounds
SELECT (metrics->>'rounds')::int < 500 AS stopped_early, metrics ? 'best_iteration' AS has_best
  FROM mlops.train('early', 'SELECT visits, spend, churned FROM customers', 'churned',
                   hyperparams => '{"n_estimators": 500, "early_stopping_rounds": 3, "eta": 0.5, "eval_metric": ["error", "logloss"]}');

-- objectives that output classes: no probabilistic metrics
SELECT (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(metrics) k) AS softmax_metrics
  FROM mlops.train('tiers_softmax', 'SELECT visits, spend, color, tier FROM customers', 'tier',
                   hyperparams => '{"n_estimators": 5, "objective": "multi:softmax"}');
SELECT (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(metrics) k) AS hinge_metrics
  FROM mlops.train('hinge', 'SELECT visits, spend, churned FROM customers', 'churned',
                   hyperparams => '{"n_estimators": 5, "objective": "binary:hinge"}');

-- boolean labels
SELECT version FROM mlops.train('promo', 'SELECT visits, color, promo FROM customers', 'promo',
                                hyperparams => '{"n_estimators": 3}');
SELECT input_schema->'label' AS label FROM mlops.model_versions v
  JOIN mlops.models m USING (model_id) WHERE m.name = 'promo';

-- nothing is left in the progress view once training ends
SELECT count(*) FROM mlops.training_progress;

-- cancelling (statement_timeout) stops a long training and registers
-- nothing: the boosting loop and every loop over the data check for
-- interrupts (which of them the timeout hits does not matter: 57014)
SELECT (SELECT count(*) FROM mlops.model_versions) AS versions_before, (SELECT count(*) FROM mlops.runs) AS runs_before;
SET statement_timeout = '500ms';
\set VERBOSITY sqlstate
SELECT * FROM mlops.train('slow', 'SELECT i % 97 AS a, i % 13 AS b, (i * 7919) % 101 AS c, i % 2 AS y FROM generate_series(1, 100000) i',
                          'y', hyperparams => '{"n_estimators": 100000, "max_depth": 2, "tree_method": "hist"}');
\set VERBOSITY default
RESET statement_timeout;
SELECT (SELECT count(*) FROM mlops.model_versions) AS versions_after, (SELECT count(*) FROM mlops.runs) AS runs_after;
SELECT count(*) FROM mlops.models WHERE name = 'slow';

-- default features leave out a table's primary-key, identity and serial
-- columns, with a NOTICE; named in features they are used
CREATE TABLE keyed_accounts (account text PRIMARY KEY, row_no serial, ext_id bigint GENERATED ALWAYS AS IDENTITY,
                       visits int, spend float8, churned text);
INSERT INTO keyed_accounts (account, visits, spend, churned) SELECT 'a' || id, visits, spend, churned FROM customers;
SELECT version FROM mlops.train('accounts', 'keyed_accounts', 'churned', hyperparams => '{"n_estimators": 2}');
SELECT version FROM mlops.train('accounts', 'keyed_accounts', 'churned', features => ARRAY['row_no', 'ext_id', 'account', 'visits'],
                                hyperparams => '{"n_estimators": 2}');
-- a query or a view is not a table: every column but the target
SELECT version FROM mlops.train('accounts', 'SELECT * FROM keyed_accounts', 'churned', hyperparams => '{"n_estimators": 2}');
-- a composite primary key
CREATE TABLE visits_by_day (account text, day int, visits int, churned text, PRIMARY KEY (account, day));
INSERT INTO visits_by_day SELECT 'a' || (id % 9), id, visits, churned FROM customers;
SELECT version FROM mlops.train('by_day', 'visits_by_day', 'churned', hyperparams => '{"n_estimators": 2}');
SELECT m.name, v.version, v.feature_names FROM mlops.model_versions v JOIN mlops.models m USING (model_id)
 WHERE m.name IN ('accounts', 'by_day') ORDER BY m.name, v.version;
-- a table of nothing but keys and the target
CREATE TABLE only_keys (id serial PRIMARY KEY, churned text);
SELECT * FROM mlops.train('e', 'only_keys', 'churned');

-- errors
\set VERBOSITY default
SELECT * FROM mlops.train('e', 'customers', 'nope');
-- a wide source lists its first 20 columns
SELECT * FROM mlops.train('e', (SELECT 'SELECT ' || string_agg(format('%s AS c%s', g, g), ', ') || ', 1 AS y'
                                  FROM generate_series(1, 25) g), 'nope');
SELECT * FROM mlops.train('e', 'no_such_table', 'churned');
SELECT * FROM mlops.train('e', 'SELECT * FROM customers WHERE false', 'churned');
SELECT * FROM mlops.train('e', 'SELECT visits, churned FROM customers WHERE visits > 14', 'churned');
SELECT * FROM mlops.train('e', 'customers', 'color', task => 'regression');
SELECT * FROM mlops.train('e', 'customers', 'churned', features => ARRAY['visits', 'churned']);
SELECT * FROM mlops.train('e', 'customers', 'churned', features => ARRAY['visits', 'nope']);
SELECT * FROM mlops.train('e', 'customers', 'churned', features => ARRAY['visits', 'visits']);
SELECT * FROM mlops.train('e', 'customers', 'churned', features => ARRAY[]::text[]);
SELECT * FROM mlops.train('e', 'SELECT visits, churned FROM customers WHERE visits IN (1, 16) LIMIT 4', 'churned', test_size => 3);
SELECT * FROM mlops.train('e', 'customers', 'churned', test_size => 1.5);
SELECT * FROM mlops.train('e', 'customers', 'churned', test_size => -0.1);
SELECT * FROM mlops.train('e', 'customers', 'churned', test_sampling => 'sideways');
SELECT * FROM mlops.train('e', 'customers', 'amount', task => 'regression', test_sampling => 'stratified');
SELECT * FROM mlops.train('e', 'customers', 'churned', task => 'clustering');
SELECT * FROM mlops.train('e', 'customers', 'churned', hyperparams => '{"max_depht": 3, "n_estimators": 2}');
SELECT * FROM mlops.train('e', 'customers', 'churned', hyperparams => '{"max_depth": "deep", "n_estimators": 2}');
SELECT * FROM mlops.train('e', 'customers', 'tier', hyperparams => '{"objective": "binary:logistic", "n_estimators": 2}');
SELECT * FROM mlops.train('e', 'customers', 'churned', hyperparams => '[1, 2]');
SELECT * FROM mlops.train('e', 'customers', 'churned', hyperparams => '{"n_estimators": 0}');
SELECT * FROM mlops.train('e', 'customers', 'churned', hyperparams => '{"n_estimators": "many"}');
SELECT * FROM mlops.train('e', 'customers', 'churned', hyperparams => '{"eta": null}');
SELECT * FROM mlops.train('e', 'customers', 'churned', test_size => 0, hyperparams => '{"early_stopping_rounds": 2}');
-- held-out metrics support at most 64 classes; without held-out rows any number trains
SELECT * FROM mlops.train('e', 'SELECT i % 65 AS f, i % 65 AS y FROM generate_series(0, 259) i', 'y', hyperparams => '{"n_estimators": 1}');
SELECT version, metrics->'test_rows' AS test_rows FROM mlops.train('many', 'SELECT i % 65 AS f, i % 65 AS y FROM generate_series(0, 259) i', 'y', test_size => 0, hyperparams => '{"n_estimators": 1}');
SELECT * FROM mlops.train('e', 'SELECT visits, churned, now() AS at FROM customers', 'churned');
SELECT * FROM mlops.train('e', 'SELECT visits, NULL::text AS churned FROM customers', 'churned');
SELECT * FROM mlops.train('e', $$SELECT visits, 'NaN'::float8 AS y FROM customers$$, 'y', task => 'regression');
SELECT * FROM mlops.train('e', 'SELECT 1 AS a, 2 AS a, 3 AS y', 'y');
SELECT * FROM mlops.train('e', 'SELECT churned FROM customers', 'churned');
SELECT * FROM mlops.train('e', 'DELETE FROM customers', 'churned');
SELECT * FROM mlops.train('bad/name', 'customers', 'churned', hyperparams => '{"n_estimators": 1}');
SELECT * FROM mlops.train(NULL, 'customers', 'churned');
SET mlops.max_train_cells = 1;
SELECT * FROM mlops.train('e', 'SELECT i AS a, i AS b, i AS c, i AS d, i % 2 AS y FROM generate_series(1, 300000) i', 'y');
RESET mlops.max_train_cells;
\set VERBOSITY terse

-- No argument may take the server down (issue 10).  Every argument and
-- hyperparameter has a documented range, checked before anything is read:
-- test_size 'Infinity' and 1e19 used to crash the backend, nthread 100000
-- too, num_parallel_tree 100000000 grew it to 24 GB, n_estimators
-- 2147483647 asked for 16 GB of history, a NaN learning rate spun forever.
\set VERBOSITY default
SELECT * FROM mlops.train('e', 'customers', 'churned', test_size => 'Infinity');
SELECT * FROM mlops.train('e', 'customers', 'churned', test_size => '-Infinity');
SELECT * FROM mlops.train('e', 'customers', 'churned', test_size => 'NaN');
SELECT * FROM mlops.train('e', 'customers', 'churned', test_size => 1e19);
SELECT * FROM mlops.train('e', 'customers', 'churned', test_size => 1e15 + 1);
SELECT * FROM mlops.train('e', 'customers', 'churned', test_size => -1);
SELECT * FROM mlops.train('e', 'customers', 'churned', hyperparams => '{"nthread": 100000}');
SELECT * FROM mlops.train('e', 'customers', 'churned', hyperparams => '{"num_parallel_tree": 100000000}');
SELECT * FROM mlops.train('e', 'customers', 'churned', hyperparams => '{"n_estimators": 2147483647}');
SELECT * FROM mlops.train('e', 'customers', 'churned', hyperparams => '{"learning_rate": "NaN"}');
SELECT * FROM mlops.train('e', 'customers', 'churned', hyperparams => '{"learning_rate": "Infinity"}');
SELECT * FROM mlops.train('e', 'customers', 'churned', hyperparams => '{"eta": "0x1p-3"}');
SELECT * FROM mlops.train('e', 'customers', 'churned', hyperparams => '{"max_depth": 6.5}');
SELECT * FROM mlops.train('e', 'customers', 'churned', hyperparams => '{"seed": 9223372036854775808}');
SELECT * FROM mlops.train('e', 'customers', 'churned', hyperparams => '{"tree_method": "gpu_hist"}');
SELECT * FROM mlops.train('e', 'customers', 'churned', hyperparams => '{"eval_metric": ["auc", "ndcg@0"]}');
SELECT * FROM mlops.train('e', 'customers', 'churned', features => ARRAY['visits', 'spend'],
                          hyperparams => '{"monotone_constraints": [1, -1, 0]}');
SELECT * FROM mlops.train('e', 'customers', 'churned', features => ARRAY['visits', 'spend'],
                          hyperparams => '{"interaction_constraints": [[0, 2]]}');
SELECT * FROM mlops.train('e', 'customers', 'churned', hyperparams => '{"interaction_constraints": "[[0, 1"}');
SELECT * FROM mlops.train('e', 'customers', 'churned', hyperparams => jsonb_build_object(repeat('x', 300), 1));
SELECT * FROM mlops.train('e', 'customers', 'churned', task => repeat('t', 300));
SELECT * FROM mlops.train('e', 'customers', 'churned', features => array_fill('visits'::text, ARRAY[100000]));
SELECT * FROM mlops.train('e', 'customers', 'churned', features => ARRAY[['visits'], ['spend']]);
-- values beyond the float32 range: XGBoost accepts no infinite feature, and a target must fit
SELECT * FROM mlops.train('e', $$SELECT CASE WHEN i = 7 THEN 'Infinity'::float8 ELSE i END AS x, i % 2 AS y FROM generate_series(1, 20) i$$, 'y');
SELECT * FROM mlops.train('e', 'SELECT CASE WHEN i = 3 THEN -1e300 ELSE i END::float8 AS x, i % 2 AS y FROM generate_series(1, 20) i', 'y');
SELECT * FROM mlops.train('e', 'SELECT i AS x, i * 1e300 AS y FROM generate_series(1, 20) i', 'y', task => 'regression');
\set VERBOSITY terse

-- every hyperparameter just outside its range, and at its limits
CREATE FUNCTION try_train(hp jsonb) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM mlops.train('limits', 'SELECT visits, spend, tier, churned FROM customers', 'churned',
                        hyperparams => '{"n_estimators": 2}'::jsonb || hp);
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ' ' || SQLERRM;
END
$$;
SELECT hp, try_train(hp::jsonb) FROM (VALUES
    ('{"n_estimators": 0}'), ('{"n_estimators": 1000001}'), ('{"early_stopping_rounds": 0}'),
    ('{"nthread": -1}'), ('{"n_jobs": 257}'), ('{"verbosity": 4}'), ('{"num_class": 0}'),
    ('{"eta": -0.001}'), ('{"learning_rate": 1.001}'), ('{"gamma": -1}'), ('{"min_split_loss": 1e39}'),
    ('{"max_depth": -1}'), ('{"max_depth": 65}'), ('{"min_child_weight": -1}'), ('{"max_delta_step": -1}'),
    ('{"subsample": 0}'), ('{"subsample": 1.5}'), ('{"colsample_bytree": 0}'), ('{"colsample_bylevel": 2}'),
    ('{"colsample_bynode": -0.5}'), ('{"lambda": -1}'), ('{"reg_lambda": "NaN"}'), ('{"alpha": -1}'),
    ('{"reg_alpha": 1e39}'), ('{"scale_pos_weight": -1}'), ('{"max_leaves": -1}'),
    ('{"max_leaves": 2147483648}'), ('{"max_bin": 1}'), ('{"max_bin": 65537}'),
    ('{"num_parallel_tree": 0}'), ('{"max_cat_to_onehot": 0}'), ('{"max_cat_threshold": 0}'),
    ('{"rate_drop": 1.1}'), ('{"skip_drop": -0.1}'), ('{"top_k": -1}'), ('{"tolerance": -1}'),
    ('{"huber_slope": 0}'), ('{"tweedie_variance_power": 2}'), ('{"aft_loss_distribution_scale": 0}'),
    ('{"num_pairsample": 101}'), ('{"fix_list_weight": -1}'), ('{"base_score": "-Infinity"}'),
    ('{"booster": "gbforest"}'), ('{"objective": "reg:linear"}'), ('{"grow_policy": "widthwise"}'),
    ('{"sampling_method": "none"}'), ('{"predictor": "gpu_predictor"}'), ('{"sample_type": "x"}'),
    ('{"normalize_type": "x"}'), ('{"updater": "grow_colmaker"}'), ('{"feature_selector": "x"}'),
    ('{"aft_loss_distribution": "x"}'), ('{"seed_per_iteration": 2}'), ('{"one_drop": "yes"}'),
    ('{"random_state": 1.5}'), ('{"eval_metric": "tweedie-nloglik@2"}'), ('{"eval_metric": []}'),
    ('{"monotone_constraints": "(1, 0"}'), ('{"interaction_constraints": [[-1]]}'),
    -- at their limits
    ('{"eta": 0, "gamma": 1e38, "min_child_weight": 0, "max_delta_step": 1e38}'),
    ('{"learning_rate": 1, "subsample": 1, "colsample_bytree": 1e-6, "colsample_bylevel": 1, "colsample_bynode": 1}'),
    ('{"max_depth": 64, "max_leaves": 2147483647, "max_bin": 65536, "tree_method": "hist"}'),
    ('{"max_depth": 0, "grow_policy": "lossguide", "tree_method": "hist"}'),
    ('{"lambda": 1e38, "alpha": 0, "seed": -9223372036854775808, "verbosity": 0}'),
    ('{"reg_lambda": 0, "reg_alpha": 1e38, "random_state": 9223372036854775807, "nthread": 0}'),
    ('{"booster": "dart", "rate_drop": 1, "skip_drop": 1, "one_drop": true, "sample_type": "weighted", "normalize_type": "forest"}'),
    ('{"booster": "gblinear", "updater": "coord_descent", "feature_selector": "greedy", "top_k": 2147483647}'),
    ('{"eval_metric": ["error@0.7", "ndcg@2147483647-", "map-", "pre@1", "aucpr"], "disable_default_eval_metric": 1}'),
    ('{"monotone_constraints": "(1, -1)", "interaction_constraints": "[[0, 1], [2]]"}'),
    ('{"num_parallel_tree": 3, "max_cat_to_onehot": 2147483647, "max_cat_threshold": 1, "n_jobs": 1}'),
    ('{"scale_pos_weight": 0, "base_score": 0.5, "boost_from_average": false, "seed_per_iteration": true}')
) AS v(hp);
DROP FUNCTION try_train(jsonb);

-- threads: nthread above mlops.max_threads is lowered with a NOTICE;
-- mlops.max_threads is a superuser setting, 1 to 256
SET mlops.max_threads = 1;
SELECT version FROM mlops.train('threads', 'SELECT visits, spend, churned FROM customers', 'churned',
       hyperparams => '{"n_estimators": 2, "nthread": 8}');
SELECT version FROM mlops.train('threads', 'SELECT visits, spend, churned FROM customers', 'churned',
       hyperparams => '{"n_estimators": 2, "n_jobs": 1}');
SET mlops.train_threads = 4;
SELECT version FROM mlops.train('threads', 'SELECT visits, spend, churned FROM customers', 'churned',
       hyperparams => '{"n_estimators": 2}');
SELECT v.version, r.params->'nthread' AS nthread, r.params ? 'n_jobs' AS has_n_jobs
  FROM mlops.model_versions v JOIN mlops.models m USING (model_id) JOIN mlops.runs r USING (run_id)
 WHERE m.name = 'threads' ORDER BY v.version;
RESET mlops.train_threads;
SET mlops.max_threads = 0;
SET mlops.max_threads = 257;
SET mlops.train_threads = 257;
RESET mlops.max_threads;
SET ROLE trainer_nosuper;
SET mlops.max_threads = 64;
SET mlops.max_train_memory_mb = 100000;
RESET ROLE;

-- the estimated memory of a training is refused beyond mlops.max_train_memory_mb,
-- before XGBoost sees the data; DETAIL gives the estimate by part (with one
-- thread, since per-thread histograms count)
SET mlops.train_threads = 1;
\set VERBOSITY default
SELECT * FROM mlops.train('e', 'customers', 'churned', hyperparams => '{"num_parallel_tree": 100000}');
SELECT * FROM mlops.train('e', 'customers', 'churned', hyperparams => '{"n_estimators": 1000000, "max_depth": 12, "tree_method": "hist"}');
SET mlops.max_train_memory_mb = 16;
SELECT * FROM mlops.train('e', 'SELECT i AS a, i AS b, i AS c, i AS d, i % 2 AS y FROM generate_series(1, 400000) i', 'y');
-- trained from batches (hist), the rows are not kept: the bound is on XGBoost's bins
SELECT * FROM mlops.train('e', 'SELECT i AS a, i AS b, i AS c, i AS d, i % 2 AS y FROM generate_series(1, 1100000) i', 'y',
                          hyperparams => '{"tree_method": "hist"}');
SELECT * FROM mlops.train('e', 'SELECT i % 7 AS a, i % 5 AS b, i % 2 AS y FROM generate_series(1, 20000) i', 'y',
                          hyperparams => '{"max_depth": 8, "max_bin": 4096, "tree_method": "hist"}');
RESET mlops.max_train_memory_mb;
-- the rows of a hist training are spilled to a temporary file, bounded by
-- temp_file_limit (1.6 MB of rows here); nothing is registered
CREATE TABLE spill_rows AS SELECT i AS a, i AS b, i AS c, i AS d, i % 2 AS y FROM generate_series(1, 100000) i;
SET temp_file_limit = '1MB';
SELECT * FROM mlops.train('spilled', 'spill_rows', 'y', hyperparams => '{"tree_method": "hist", "n_estimators": 2}');
RESET temp_file_limit;
SELECT count(*) FROM mlops.models WHERE name = 'spilled';
SELECT version FROM mlops.train('spilled', 'spill_rows', 'y', hyperparams => '{"tree_method": "hist", "n_estimators": 2}');
DROP TABLE spill_rows;
SET mlops.max_train_memory_mb = 15;
-- the estimate at DEBUG1 when it fits
SET client_min_messages = debug1;
SELECT version FROM mlops.train('fits', 'SELECT visits, spend, churned FROM customers', 'churned',
                                hyperparams => '{"n_estimators": 3, "max_depth": 3}');
RESET client_min_messages;

-- a model that predicts NaN (count:poisson without max_delta_step on huge
-- counts diverges) is an error, never a metric, with or without held-out rows
SELECT * FROM mlops.train('e', 'SELECT i AS x, i * 1e30 AS y FROM generate_series(1, 200) i', 'y', task => 'regression',
                          hyperparams => '{"objective": "count:poisson", "max_delta_step": 0, "eta": 1, "n_estimators": 5}');
SELECT * FROM mlops.train('e', 'SELECT i AS x, i * 1e30 AS y FROM generate_series(1, 200) i', 'y', task => 'regression',
                          test_size => 0, hyperparams => '{"objective": "count:poisson", "max_delta_step": 0, "eta": 1, "n_estimators": 5}');
\set VERBOSITY terse
RESET mlops.train_threads;

-- privileges: a role needs EXECUTE on mlops.train and SELECT on its source,
-- nothing on the mlops tables; the source is read as that role
CREATE ROLE trainer;
GRANT USAGE ON SCHEMA mlops TO trainer;
SET ROLE trainer;
SELECT * FROM mlops.train('p', 'customers', 'churned');
RESET ROLE;
GRANT EXECUTE ON FUNCTION mlops.train(text, text, text, text, jsonb, text[], float8, text, text, integer) TO trainer;
SET ROLE trainer;
SELECT * FROM mlops.train('p', 'customers', 'churned');
RESET ROLE;
GRANT SELECT ON customers TO trainer;
SET ROLE trainer;
SELECT version FROM mlops.train('p', 'customers', 'churned', hyperparams => '{"n_estimators": 2}');
SELECT count(*) FROM mlops.model_versions;
RESET ROLE;
SELECT m.name, v.created_by FROM mlops.model_versions v JOIN mlops.models m USING (model_id) WHERE m.name = 'p';

DROP TABLE keyed_accounts, visits_by_day, only_keys;
DROP EXTENSION mlops;
DROP OWNED BY trainer;
DROP ROLE trainer;
DROP ROLE trainer_nosuper;
