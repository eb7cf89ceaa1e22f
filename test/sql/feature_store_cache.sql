-- predict_entity keeps, per backend, what a model reference resolves to (the
-- version, its lineage, its feature sets' lookup plans).  Every change of the
-- registry or the feature store is seen at the next call of the same
-- session: a promotion (alias, stage), a new feature-set version, a
-- re-materialisation, a dropped set; a rolled-back change is forgotten.
-- Each prediction is compared with mlops.predict on the features that
-- get_online_features returns at that moment.
CREATE EXTENSION mlops;
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';

-- entity n has a = n % 17, b = n % 13, c = n % 11 and label n (regression)
CREATE TABLE public.fc_f AS
    SELECT (i % 50)::text AS cid, now() - interval '10 days' + (i || ' minutes')::interval AS ts,
           (i % 50 % 17)::float8 AS a, (i % 50 % 13)::float8 AS b FROM generate_series(1, 2000) i;
CREATE TABLE public.fc_g AS
    SELECT (i % 50)::text AS cid, now() - interval '10 days' + (i || ' minutes')::interval AS ts,
           (i % 50 % 11)::float8 AS c FROM generate_series(1, 2000) i;
CREATE TABLE public.fc_ev AS
    SELECT (i % 50)::text AS cid, now() - interval '10 days' + (i * 3 || ' minutes')::interval AS event_timestamp,
           (i % 50)::float8 AS label FROM generate_series(1, 600) i;
SELECT mlops.register_feature_set('fc_a', 'fc_f', 'cid', 'ts');
SELECT mlops.register_feature_set('fc_b', 'fc_g', 'cid', 'ts');
SELECT mlops.create_training_set('fc_tr1', 'fc_ev', ARRAY['fc_a:a', 'fc_a:b']);
SELECT mlops.create_training_set('fc_tr2', 'fc_ev', ARRAY['fc_b:c']);
SET client_min_messages = warning;
SELECT version FROM mlops.train('fc_m', 'fc_tr1', 'label', task => 'regression', features => ARRAY['a', 'b'],
                                hyperparams => '{"num_boost_round": 20, "max_depth": 3}');
SELECT version FROM mlops.train('fc_m', 'fc_tr2', 'label', task => 'regression', features => ARRAY['c'],
                                hyperparams => '{"num_boost_round": 20, "max_depth": 3}');
RESET client_min_messages;
SELECT mlops.materialize('fc_a'), mlops.materialize('fc_b');
-- what predict says on the features the online store holds now
CREATE FUNCTION public.fc_expect(model text, fset text, id text) RETURNS float8
    LANGUAGE sql AS $$
    SELECT mlops.predict(model, (SELECT g.features FROM mlops.get_online_features(fset, ARRAY[id]) g))
$$;
-- the two versions predict differently for entity 5, so each check below can fail
SELECT public.fc_expect('fc_m/1', 'fc_a', '5') <> public.fc_expect('fc_m/2', 'fc_b', '5') AS versions_differ;

-- promotion by alias: the cached reference follows it
SELECT mlops.set_alias('fc_m', 'champion', 1);
SELECT mlops.predict_entity('fc_m@champion', '5') = public.fc_expect('fc_m/1', 'fc_a', '5') AS champion_v1;
SELECT mlops.set_alias('fc_m', 'champion', 2);
SELECT mlops.predict_entity('fc_m@champion', '5') = public.fc_expect('fc_m/2', 'fc_b', '5') AS champion_v2;
-- promotion by stage
SELECT mlops.transition_stage('fc_m', 1, 'Production');
SELECT mlops.predict_entity('fc_m/Production', '5') = public.fc_expect('fc_m/1', 'fc_a', '5') AS production_v1;
SELECT mlops.transition_stage('fc_m', 2, 'Production');
SELECT mlops.predict_entity('fc_m/Production', '5') = public.fc_expect('fc_m/2', 'fc_b', '5') AS production_v2;
-- a change rolled back is forgotten: inside, the new alias; after, the old one
BEGIN;
SELECT mlops.set_alias('fc_m', 'champion', 1);
SELECT mlops.predict_entity('fc_m@champion', '5') = public.fc_expect('fc_m/1', 'fc_a', '5') AS inside_v1;
ROLLBACK;
SELECT mlops.predict_entity('fc_m@champion', '5') = public.fc_expect('fc_m/2', 'fc_b', '5') AS after_rollback_v2;

-- re-materialisation: new source values reach the next call (get_online_features
-- keeps its query per backend too)
SELECT mlops.predict_entity('fc_m/1', '5') AS before \gset
SELECT entity_id, features FROM mlops.get_online_features('fc_a', ARRAY['5', 'nobody']);
UPDATE public.fc_f SET a = a + 100, b = -b WHERE cid = '5';
SELECT mlops.materialize('fc_a');
SELECT entity_id, features FROM mlops.get_online_features('fc_a', ARRAY['5', 'nobody']);
-- no feature asked: known entities get an empty object
SELECT entity_id, features FROM mlops.get_online_features('fc_a', ARRAY['5', 'nobody'], ARRAY[]::text[]);
SELECT mlops.predict_entity('fc_m/1', '5') = public.fc_expect('fc_m/1', 'fc_a', '5') AS rematerialised,
       mlops.predict_entity('fc_m/1', '5') <> :before AS changed;
SELECT mlops.predict_entity('fc_m/1', '5') AS before \gset
-- a new feature-set version, materialised: its ttl now hides every value
SELECT mlops.register_feature_set('fc_a', 'fc_f', 'cid', 'ts', ttl => '1 hour');
SELECT mlops.materialize('fc_a');
SELECT features FROM mlops.get_online_features('fc_a', ARRAY['5']);
SELECT mlops.predict_entity('fc_m/1', '5') = public.fc_expect('fc_m/1', 'fc_a', '5') AS new_version,
       mlops.predict_entity('fc_m/1', '5') <> :before AS changed;
-- a version without feature b: the model cannot be served from it any more
SELECT mlops.register_feature_set('fc_a', 'fc_f', 'cid', 'ts', ARRAY['a']);
SELECT mlops.materialize('fc_a');
\set VERBOSITY terse
SELECT mlops.predict_entity('fc_m/1', '5');
\set VERBOSITY default
-- a dropped set
SELECT mlops.predict_entity('fc_m/2', '5') = public.fc_expect('fc_m/2', 'fc_b', '5') AS before_drop;
SELECT mlops.drop_feature_set('fc_b');
\set VERBOSITY terse
SELECT mlops.predict_entity('fc_m/2', '5');
SELECT mlops.predict_entity('fc_m@champion', '5');
\set VERBOSITY default

-- more references than the cache keeps (64): all still right
SELECT mlops.register_feature_set('fc_b', 'fc_g', 'cid', 'ts');
SELECT mlops.materialize('fc_b');
SELECT count(*) AS aliases FROM (SELECT mlops.set_alias('fc_m', 'a' || i, 2) FROM generate_series(1, 70) i) s;
SELECT count(*) FILTER (WHERE mlops.predict_entity('fc_m@a' || i, (i % 50)::text)
                              = public.fc_expect('fc_m/2', 'fc_b', (i % 50)::text)) AS right_predictions
  FROM generate_series(1, 70) i;

-- a call nested in another's lookup (the entity type's check predicts and
-- moves an alias, which marks the cache stale) leaves the outer call's entry alone
CREATE FUNCTION public.fc_nested(id text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    PERFORM mlops.set_alias('fc_m', 'nested', 2);
    RETURN mlops.predict_entity('fc_m@nested', id) IS NOT NULL OR true;
END
$$;
CREATE DOMAIN public.fc_dom AS text CHECK (public.fc_nested(VALUE));
CREATE TABLE public.fc_d AS SELECT cid::public.fc_dom AS cid, ts, c FROM public.fc_g;
SELECT mlops.set_alias('fc_m', 'nested', 2);
SELECT mlops.register_feature_set('fc_b', 'fc_d', 'cid', 'ts');
SELECT mlops.materialize('fc_b');
SELECT v.entity_type FROM mlops.feature_set_versions v JOIN mlops.feature_sets s USING (feature_set_id)
 WHERE s.name = 'fc_b' AND v.version = s.online_version;
SELECT mlops.predict_entity('fc_m/2', '5') = public.fc_expect('fc_m/2', 'fc_b', '5') AS nested_ok;
SELECT mlops.predict_entity('fc_m/2', '5') = public.fc_expect('fc_m/2', 'fc_b', '5') AS nested_ok_again;

SELECT mlops.drop_feature_set('fc_a'), mlops.drop_feature_set('fc_b');
DROP EXTENSION mlops;
DROP FUNCTION public.fc_expect(text, text, text);
DROP TABLE public.fc_f, public.fc_g, public.fc_d, public.fc_ev, public.fc_tr1, public.fc_tr2;
DROP DOMAIN public.fc_dom;
DROP FUNCTION public.fc_nested(text);
