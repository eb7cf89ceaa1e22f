-- Feature store: feature sets and their versions, feature references,
-- point-in-time training sets, the online store, prediction by entity, and
-- every error path.  test/oracle/test_feature_store.py checks the join
-- against a brute-force join and pandas merge_asof on random data.
CREATE EXTENSION mlops;
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';

CREATE TABLE public.fs_cust (customer_id integer, ts timestamptz, created integer,
                             spend float8, visits integer, plan text);
INSERT INTO public.fs_cust VALUES
    (1, '2024-01-01', 1, 10, 1, 'a'), (1, '2024-01-05', 1, 20, 2, 'b'), (1, '2024-01-05', 2, 25, 3, 'c'),
    (2, '2024-01-02', 1, 5, 1, 'a'), (3, '2023-01-01', 1, 100, 9, 'z'),
    (NULL, '2024-01-01', 1, 1, 1, 'n'), (2, NULL, 1, 1, 1, 'n');
CREATE TABLE public.fs_labels (customer_id integer, event_timestamp timestamptz, churned integer);
INSERT INTO public.fs_labels VALUES
    (1, '2024-01-04', 0), (1, '2024-01-05', 1), (1, '2023-12-31', 0), (2, '2024-01-10', 1),
    (4, '2024-01-10', 0), (NULL, '2024-01-10', 0), (3, '2024-01-10', 1), (2, NULL, 1),
    (2, '2024-02-01 00:00', 0), (2, '2024-02-01 00:00:01', 1);

-- registration: every column but the keys is a feature, with statistics
SELECT mlops.register_feature_set('customer', 'fs_cust', 'customer_id', 'ts', created_column => 'created',
                                  ttl => '30 days', description => 'spend and visits') AS version;
SELECT jsonb_pretty(v - 'registered_at') FROM jsonb_array_elements(mlops.feature_set_info('customer') -> 'versions') v;
SELECT name, latest_version, owner FROM mlops.feature_sets;
-- the same schema again: the same version, fresh statistics
SELECT mlops.register_feature_set('customer', 'fs_cust', 'customer_id', 'ts', created_column => 'created',
                                  ttl => '30 days') AS same_version;
-- another feature list is a new version; the old one stays readable
SELECT mlops.register_feature_set('customer', 'fs_cust', 'customer_id', 'ts', ARRAY['spend'],
                                  created_column => 'created', ttl => '30 days') AS new_version;
SELECT (mlops.feature_set_info('customer') ->> 'latest_version') AS latest,
       jsonb_array_length(mlops.feature_set_info('customer') -> 'versions') AS versions;

-- point-in-time join: latest row with ts <= event time, ties by created,
-- older than ttl -> NULL, unknown entity / NULL keys -> NULL
SELECT mlops.create_training_set('fs_train', 'fs_labels', ARRAY['customer@1:*']) AS rows;
TABLE fs_train;
SELECT relid = 'public.fs_train'::regclass AS relid_ok, name, features, feature_set_versions, row_count
  FROM mlops.training_sets;
-- a qualified name, features of two versions, an entity source query
CREATE SCHEMA fs_out;
SELECT mlops.create_training_set('fs_out.t2', 'SELECT customer_id, event_timestamp FROM fs_labels WHERE churned = 1',
                                 ARRAY['customer:spend', 'customer@1:plan']) AS rows;
TABLE fs_out.t2;
-- historical_features_sql is the same join as SQL
DO $$ BEGIN EXECUTE format('CREATE TEMP VIEW fs_hist AS %s', mlops.historical_features_sql('fs_labels', ARRAY['customer@1:*'])); END $$;
SELECT count(*) AS differing FROM ((TABLE fs_hist EXCEPT ALL TABLE fs_train) UNION ALL (TABLE fs_train EXCEPT ALL TABLE fs_hist)) d;
DROP VIEW fs_hist;

-- errors of the join
\set VERBOSITY terse
SELECT mlops.create_training_set('fs_train', 'fs_labels', ARRAY['customer:spend']);
SELECT mlops.create_training_set('fs_x', 'fs_labels', ARRAY['nope:spend']);
SELECT mlops.create_training_set('fs_x', 'fs_labels', ARRAY['customer:nope']);
SELECT mlops.create_training_set('fs_x', 'fs_labels', ARRAY['customer@7:spend']);
SELECT mlops.create_training_set('fs_x', 'fs_labels', ARRAY['customer@0:spend']);
SELECT mlops.create_training_set('fs_x', 'fs_labels', ARRAY['customer@x:spend']);
SELECT mlops.create_training_set('fs_x', 'fs_labels', ARRAY['customer@99999999999:spend']);
SELECT mlops.create_training_set('fs_x', 'fs_labels', ARRAY['customer']);
SELECT mlops.create_training_set('fs_x', 'fs_labels', ARRAY['customer:']);
SELECT mlops.create_training_set('fs_x', 'fs_labels', ARRAY[':spend']);
SELECT mlops.create_training_set('fs_x', 'fs_labels', ARRAY['Customer:spend']);
SELECT mlops.create_training_set('fs_x', 'fs_labels', ARRAY['customer:spend', 'customer:spend']);
SELECT mlops.create_training_set('fs_x', 'fs_labels', ARRAY[NULL]::text[]);
SELECT mlops.create_training_set('fs_x', 'fs_labels', ARRAY[]::text[]);
SELECT mlops.create_training_set('fs_x', 'fs_labels', NULL);
SELECT mlops.create_training_set(NULL, 'fs_labels', ARRAY['customer:spend']);
SELECT mlops.create_training_set('fs_x', 'fs_labels', ARRAY['customer:spend'], 'churned');
SELECT mlops.create_training_set('fs_x', 'fs_labels', ARRAY['customer:spend'], 'nope');
SELECT mlops.create_training_set('fs_x', 'SELECT event_timestamp FROM fs_labels', ARRAY['customer:spend']);
SELECT mlops.create_training_set('fs_x', 'SELECT customer_id::text AS customer_id, event_timestamp FROM fs_labels',
                                 ARRAY['customer:spend']);
SELECT mlops.create_training_set('fs_x', 'SELECT customer_id, event_timestamp, 1 AS spend FROM fs_labels',
                                 ARRAY['customer:spend']);
SELECT mlops.create_training_set('nodb.fs_x.y.z', 'fs_labels', ARRAY['customer:spend']);
SELECT mlops.create_training_set('fs_x', 's3://bucket/labels.csv', ARRAY['customer:spend']);
-- duplicate rows at one timestamp make the join ambiguous when chosen
INSERT INTO public.fs_cust VALUES (2, '2024-01-02', 1, 6, 1, 'dup');
SELECT mlops.create_training_set('fs_x', 'fs_labels', ARRAY['customer:spend']);
DELETE FROM public.fs_cust WHERE plan = 'dup';
-- a source whose type changed after registration
ALTER TABLE public.fs_cust ALTER COLUMN visits TYPE bigint;
SELECT mlops.create_training_set('fs_x', 'fs_labels', ARRAY['customer@1:visits']);
ALTER TABLE public.fs_cust ALTER COLUMN visits TYPE integer;

-- errors of registration
SELECT mlops.register_feature_set('Bad Name', 'fs_cust', 'customer_id', 'ts');
SELECT mlops.register_feature_set(repeat('x', 49), 'fs_cust', 'customer_id', 'ts');
SELECT mlops.register_feature_set('c2', 'fs_nope', 'customer_id', 'ts');
SELECT mlops.register_feature_set('c2', 'fs_cust', 'nope', 'ts');
SELECT mlops.register_feature_set('c2', 'fs_cust', 'customer_id', 'spend');
SELECT mlops.register_feature_set('c2', 'fs_cust', 'customer_id', 'customer_id');
SELECT mlops.register_feature_set('c2', 'fs_cust', 'customer_id', 'ts', ARRAY['ts']);
SELECT mlops.register_feature_set('c2', 'fs_cust', 'customer_id', 'ts', ARRAY['spend', 'spend']);
SELECT mlops.register_feature_set('c2', 'fs_cust', 'customer_id', 'ts', ARRAY[NULL]::text[]);
SELECT mlops.register_feature_set('c2', 'fs_cust', 'customer_id', 'ts', ARRAY['nope']);
SELECT mlops.register_feature_set('c2', 'fs_cust', 'customer_id', 'ts', ttl => '-1 day');
SELECT mlops.register_feature_set('c2', 'fs_cust', 'customer_id', 'ts', ttl => '0');
SELECT mlops.register_feature_set('c2', 'fs_cust', 'customer_id', 'ts', created_column => 'plan');
SELECT mlops.register_feature_set('c2', 'fs_cust', 'customer_id', 'ts', tags => NULL);
SELECT mlops.register_feature_set('c2', 'fs_cust', 'customer_id', 'ts', tags => '[1]');
SELECT mlops.register_feature_set('c2', NULL, 'customer_id', 'ts');
SELECT mlops.register_feature_set('c2', 'SELECT customer_id, ts FROM fs_cust', 'customer_id', 'ts');
SELECT mlops.register_feature_set('c2', 'SELECT ARRAY[customer_id] AS k, ts, spend FROM fs_cust', 'k', 'ts');
SELECT mlops.register_feature_set('c2', 'SELECT customer_id, ts, spend AS "__mlops_x" FROM fs_cust', 'customer_id', 'ts');
SELECT mlops.feature_set_info('nope');
SELECT mlops.drop_feature_set('nope');
\set VERBOSITY default

-- the online store: the latest row per entity; ttl relative to now()
CREATE TABLE public.fs_live (id text, ts timestamptz, score float8, flag boolean);
INSERT INTO public.fs_live VALUES ('a', now() - interval '1 hour', 1.5, true), ('a', now() - interval '2 hours', 0.5, false),
    ('b', now() - interval '60 days', 2.5, true), ('c', now() + interval '1 day', 9, false);
SELECT mlops.register_feature_set('live', 'fs_live', 'id', 'ts', ttl => '30 days');
\set VERBOSITY terse
SELECT * FROM mlops.get_online_features('live', ARRAY['a']);
\set VERBOSITY default
SELECT mlops.materialize('live') AS entities;
SELECT entity_id, features FROM mlops.get_online_features('live', ARRAY['a', 'b', 'c', 'zz']);
SELECT entity_id, features FROM mlops.get_online_features('live', ARRAY['a'], ARRAY['flag']);
SELECT (mlops.feature_set_info('live') -> 'online' ->> 'rows') AS online_rows,
       (mlops.feature_set_info('live') -> 'online' ->> 'version') AS online_version,
       (mlops.feature_set_info('live') -> 'online' ->> 'staleness_seconds')::float8 >= 0 AS staleness_known;
-- incremental: only rows from the watermark on (a late row is left out)
INSERT INTO public.fs_live VALUES ('d', now(), 4, true), ('a', now() - interval '3 hours', -1, true);
SELECT mlops.materialize_incremental('live') AS entities;
SELECT entity_id, features FROM mlops.get_online_features('live', ARRAY['d', 'a', 'c']);
-- a window reaching into the future takes c too
SELECT mlops.materialize('live', end_ts => now() + interval '4 days') AS entities;
SELECT entity_id, features FROM mlops.get_online_features('live', ARRAY['d', 'a', 'c']);
\set VERBOSITY terse
SELECT * FROM mlops.get_online_features('live', ARRAY['a', NULL]);
SELECT * FROM mlops.get_online_features('live', NULL);
SELECT * FROM mlops.get_online_features('live', ARRAY['a'], ARRAY['nope']);
SELECT * FROM mlops.get_online_features('nope', ARRAY['a']);
SELECT * FROM mlops.get_online_features('customer', ARRAY['x']);
SELECT mlops.materialize('customer');
SELECT * FROM mlops.get_online_features('customer', ARRAY['1', 'x']);
SELECT mlops.materialize('live', now(), now() - interval '1 day');
SELECT mlops.materialize('nope');
SELECT mlops.materialize(NULL);
\set VERBOSITY default
-- a new version rebuilds the online table with its columns
SELECT mlops.register_feature_set('live', 'fs_live', 'id', 'ts', ARRAY['score'], ttl => '30 days');
SELECT mlops.materialize('live', end_ts => now() + interval '4 days') AS entities;
SELECT entity_id, features FROM mlops.get_online_features('live', ARRAY['a']);

-- freshness in Prometheus, the pipeline, a drift reference over the set
SELECT regexp_replace(line, ' [0-9.e+-]+$', ' N') AS metric
  FROM regexp_split_to_table(mlops.prometheus_metrics(), E'\n') line
 WHERE line LIKE 'mlops_feature_set%live%';
SELECT p - 'pipeline_run_id' - 'steps' AS pipeline FROM mlops.materialization_pipeline('live', false) p;
SELECT r ->> 'rows' AS rows, r -> 'columns' -> 'score' ->> 'type' AS score
  FROM mlops.set_drift_reference_from_feature_set('live_ref', 'live') r;
SELECT mlops.detect_drift('live_ref', 'fs_live') ->> 'drift_detected' AS drift;
\set VERBOSITY terse
SELECT mlops.set_drift_reference_from_feature_set('live_ref2', 'nope');
SELECT mlops.materialization_pipeline(NULL);
\set VERBOSITY default

-- lineage: train on a training set, model_info shows it, predict by entity
CREATE TABLE public.fs_f2 AS
    SELECT (i % 50)::text AS cid, now() - interval '10 days' + (i || ' minutes')::interval AS ts,
           (i % 17)::float8 AS a, ((i * 7) % 13)::float8 AS b FROM generate_series(1, 2000) i;
CREATE TABLE public.fs_ev2 AS
    SELECT (i % 50)::text AS cid, now() - interval '10 days' + (i * 3 || ' minutes')::interval AS event_timestamp,
           ((i * 7) % 13 > 6)::integer AS label FROM generate_series(1, 600) i;
SELECT mlops.register_feature_set('cust2', 'fs_f2', 'cid', 'ts');
SELECT mlops.create_training_set('fs_tr2', 'fs_ev2', ARRAY['cust2:a', 'cust2:b']);
SET client_min_messages = warning;
SELECT version FROM mlops.train('fs_m2', 'fs_tr2', 'label', features => ARRAY['a', 'b'],
                                hyperparams => '{"num_boost_round": 5}');
RESET client_min_messages;
SELECT mlops.model_info('fs_m2/1') -> 'lineage' -> 'feature_set_versions' AS lineage,
       mlops.model_info('fs_m2/1') -> 'lineage' ->> 'training_set' AS training_set;
SELECT mlops.materialize('cust2');
SELECT mlops.predict_entity('fs_m2/1', '5') = mlops.predict('fs_m2/1',
           (SELECT features FROM mlops.get_online_features('cust2', ARRAY['5']))) AS same_prediction;
SELECT mlops.predict_entity('fs_m2/1', 'nobody') IS NULL AS unknown_is_null;
SELECT d -> 'known' AS known, d -> 'features' AS features, d ->> 'model' AS model, d ->> 'model_version' AS version,
       d ->> 'variant' AS variant, (d ->> 'prediction')::float8 = mlops.predict_entity('fs_m2/1', '5') AS same
  FROM mlops.predict_entity_detail('fs_m2/1', '5') d;
SELECT d - 'event_timestamps' FROM mlops.predict_entity_detail('fs_m2/1', 'nobody') d;
SELECT mlops.predict_entity('fs_m2/1', '5', 'customer-5') = mlops.predict_entity('fs_m2/1', '5') AS routed_same;
\set VERBOSITY terse
SELECT mlops.predict_entity('fs_m2/1', NULL);
SELECT version FROM mlops.train('fs_m3', 'fs_f2', 'a', task => 'regression', features => ARRAY['b'],
                                hyperparams => '{"num_boost_round": 2}');
SELECT mlops.predict_entity('fs_m3/1', '5');
\set VERBOSITY default

-- a hostile second role
CREATE ROLE fs_alice;
CREATE ROLE fs_bob;
CREATE ROLE fs_team;
GRANT fs_team TO fs_bob;
SELECT mlops.grant_capability('fs_alice', 'scientist');
SELECT mlops.grant_capability('fs_bob', 'scientist');
GRANT CREATE ON SCHEMA public TO fs_alice, fs_bob;
CREATE TABLE public.fs_secret (id text, ts timestamptz, v float8);
INSERT INTO public.fs_secret VALUES ('k', '2024-01-01', 42);
GRANT SELECT ON public.fs_secret TO fs_alice;
SET ROLE fs_alice;
SELECT mlops.register_feature_set('secret', 'fs_secret', 'id', 'ts');
SELECT mlops.materialize('secret', end_ts => '2025-01-01');
RESET ROLE;
SET ROLE fs_bob;
\set VERBOSITY terse
-- bob cannot change alice's set
SELECT mlops.drop_feature_set('secret');
SELECT mlops.materialize('secret');
SELECT mlops.register_feature_set('secret', 'SELECT ''k''::text AS id, now() AS ts, 1.0::float8 AS v', 'id', 'ts');
-- nor read its source through a training set (the source is read as bob)
SELECT mlops.create_training_set('fs_bob_t', 'SELECT ''k''::text AS id, now() AS event_timestamp', ARRAY['secret:v']);
SELECT mlops.register_feature_set('bobs', 'fs_secret', 'id', 'ts');
-- but get_online_features needs no privilege on the source
SELECT entity_id, features FROM mlops.get_online_features('secret', ARRAY['k']);
-- nor write into a table he does not own, nor overwrite one
SELECT mlops.create_training_set('fs_train', 'fs_labels', ARRAY['customer:spend']);
SELECT mlops.create_training_set('fs_out.bob', 'fs_labels', ARRAY['customer:spend']);
\set VERBOSITY default
RESET ROLE;
-- in alice's group, bob may change her set (reading its source as himself)
SELECT mlops.set_owner('feature_set', 'secret', 'fs_team');
GRANT SELECT ON public.fs_secret TO fs_team;
SET ROLE fs_bob;
SELECT mlops.materialize('secret', end_ts => '2025-01-01');
RESET ROLE;
SELECT name, owner FROM mlops.feature_sets WHERE name = 'secret';

-- a role with EXECUTE on get_online_features only (docs/security.md)
CREATE ROLE fs_app;
GRANT USAGE ON SCHEMA mlops TO fs_app;
GRANT EXECUTE ON FUNCTION mlops.get_online_features(text, text[], text[]),
                          mlops.predict_entity(text, text, text) TO fs_app;
SET ROLE fs_app;
SELECT entity_id, features FROM mlops.get_online_features('secret', ARRAY['k', 'other']);
SELECT mlops.predict_entity('fs_m2/1', '5') IS NOT NULL AS app_predicts;
\set VERBOSITY terse
SELECT * FROM mlops_online.secret;
SELECT * FROM public.fs_secret;
\set VERBOSITY default
RESET ROLE;

-- drop: the set, its versions and its online table go; lineage stays
SELECT mlops.drop_feature_set('secret');
SELECT to_regclass('mlops_online.secret') IS NULL AS online_table_gone;
SELECT count(*) AS training_sets FROM mlops.training_sets;
SELECT mlops.drop_feature_set('customer'), mlops.drop_feature_set('live'), mlops.drop_feature_set('cust2');
SELECT count(*) AS left_over FROM pg_class WHERE relnamespace = 'mlops_online'::regnamespace;
-- a model whose feature set is gone says so
\set VERBOSITY terse
SELECT mlops.predict_entity('fs_m2/1', '5');
\set VERBOSITY default

DROP EXTENSION mlops;
DROP SCHEMA fs_out CASCADE;
DROP TABLE public.fs_cust, public.fs_labels, public.fs_train, public.fs_live, public.fs_f2, public.fs_ev2,
           public.fs_tr2, public.fs_secret;
REVOKE CREATE ON SCHEMA public FROM fs_alice, fs_bob;
DROP OWNED BY fs_alice, fs_bob, fs_team, fs_app;
DROP ROLE fs_alice, fs_bob, fs_team, fs_app;
