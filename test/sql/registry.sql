-- Model registry: versions, stages, aliases, references, info and schema.
CREATE EXTENSION mlops;
\set SHOW_CONTEXT never

-- registering versions (import_model and train call this internal function)
SELECT mlops._register_model_version('churn', '\x7b7d', NULL, 'classification', 'xgboost',
         ARRAY['age', 'income'], NULL, '{"auc": 0.91}', '{"max_depth": 6}', '{}') AS v;
SELECT mlops._register_model_version('churn', '\x7b2231227d', NULL, 'classification', 'xgboost',
         ARRAY['age', 'income'], '{"features": [{"name": "age", "type": "integer", "stats": {"min": 18}},
                                                {"name": "income", "type": "float"}],
                                   "label": {"name": "churned", "type": "boolean", "classes": [false, true]}}',
         '{"auc": 0.93}', '{}', '{"data": "2026-q3"}') AS v;
SELECT mlops._register_model_version('churn', '\x7b2232227d', NULL, 'classification', NULL, NULL, NULL, NULL, NULL, NULL) AS v;
SELECT m.name, v.version, v.stage, v.task, v.model_size, encode(v.model_sha256, 'hex') = encode(sha256(v.model_data), 'hex') AS sha_ok
  FROM mlops.model_versions v JOIN mlops.models m USING (model_id) ORDER BY version;
SELECT mlops._register_model_version('bad/name', '\x00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
SELECT mlops._register_model_version('ok', '', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
SELECT mlops._register_model_version('ok', '\x00', NULL, 'clustering', NULL, NULL, NULL, NULL, NULL, NULL);
-- an over-long name is refused before any index sees it, and echoed clipped
SELECT mlops._register_model_version((SELECT string_agg(md5(i::text), '') FROM generate_series(1, 300) i),
                                     '\x00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
SELECT name, owner = current_user::regrole AS mine FROM mlops.models;

-- stages
SELECT mlops.transition_stage('churn', 1, 'production');
SELECT mlops.transition_stage('churn', 2, 'Staging');
SELECT version, stage FROM mlops.model_versions ORDER BY version;
SELECT * FROM mlops.resolve_model('churn');
SELECT * FROM mlops.resolve_model('churn/Staging');
SELECT * FROM mlops.resolve_model('churn/3');
SELECT * FROM mlops.resolve_model('churn/LATEST');
-- promoting archives the previous Production version
SELECT mlops.transition_stage('churn', 2, 'Production');
SELECT version, stage FROM mlops.model_versions ORDER BY version;
-- without archive_existing, a second Production version is refused
SELECT mlops.transition_stage('churn', 3, 'Production', archive_existing => false);
SELECT mlops.transition_stage('churn', 3, 'Staging', archive_existing => false);
SELECT mlops.transition_stage('churn', 1, 'Staging', archive_existing => false);
SELECT version, stage FROM mlops.model_versions ORDER BY version;
-- the schema enforces one Production version even against direct writes
UPDATE mlops.model_versions SET stage = 'Production' WHERE version = 3;
SELECT mlops.transition_stage('churn', 1, 'Gold');
SELECT mlops.transition_stage('churn', 9, 'Staging');
SELECT mlops.transition_stage('nope', 1, 'Staging');
SELECT mlops.transition_stage('churn', 2, 'Production');

-- aliases
SELECT mlops.set_alias('churn', 'champion', 2);
SELECT mlops.set_alias('churn', 'challenger', 3);
SELECT * FROM mlops.resolve_model('churn@champion');
SELECT mlops.set_alias('churn', 'champion', 3);
SELECT * FROM mlops.resolve_model('churn@champion');
-- stage names and latest are reserved, in any case; over-long or malformed aliases are refused
SELECT mlops.set_alias('churn', 'latest', 1);
SELECT mlops.set_alias('churn', 'Production', 1);
SELECT mlops.set_alias('churn', 'STAGING', 1);
SELECT mlops.set_alias('churn', 'none', 1);
SELECT mlops.set_alias('churn', 'archived', 1);
SELECT mlops.set_alias('churn', 'production_candidate', 1);
SELECT mlops.drop_alias('churn', 'production_candidate');
SELECT mlops.set_alias('churn', '9lives', 1);
SELECT mlops.set_alias('churn', repeat('a', 65), 1);
SELECT mlops.set_alias('churn', (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 300) i), 1);
SELECT mlops.drop_alias('churn', repeat('a', 5000));
SELECT mlops.set_alias('churn', 'x', 42);
SELECT mlops.drop_alias('churn', 'champion');
SELECT mlops.drop_alias('churn', 'champion');
SELECT * FROM mlops.resolve_model('churn@champion');

-- unresolvable references say what exists
SELECT * FROM mlops.resolve_model('nope');
SELECT * FROM mlops.resolve_model('churn/7');
SELECT * FROM mlops.resolve_model('churn/Archived');
SELECT * FROM mlops.resolve_model('churn/best');
SELECT * FROM mlops.resolve_model('');
SELECT * FROM mlops.resolve_model(NULL);
SELECT * FROM mlops.resolve_model(repeat('m', 1000));
SELECT * FROM mlops.resolve_model('churn/' || repeat('x', 1000));
SELECT * FROM mlops.resolve_model('churn@' || repeat('x', 1000));
SELECT mlops.transition_stage('churn', 1, repeat('Gold', 1000));
-- a hint lists at most 20 versions, then how many more
BEGIN;
SELECT count(*) AS versions FROM (SELECT mlops._register_model_version('many', '\x00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
                                    FROM generate_series(1, 25)) s;
SELECT * FROM mlops.resolve_model('many/99');
ROLLBACK;
SELECT mlops._register_model_version('fresh', '\x00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
SELECT * FROM mlops.resolve_model('fresh');
-- the argument is named model, like every model reference
SELECT * FROM mlops.resolve_model(model => 'churn/1');

-- info and schema
SELECT mlops.model_info('churn') - '{created_at,stage_changed_at}'::text[];
SELECT mlops.model_schema('churn');
SELECT mlops.model_schema('churn/1');
SELECT mlops.model_info('churn/9');

-- dropping versions
SELECT mlops.drop_model_version('churn', 2);
SELECT mlops.drop_model_version('churn', 3);
SELECT version, stage FROM mlops.model_versions v JOIN mlops.models m USING (model_id) WHERE m.name = 'churn' ORDER BY version;
SELECT * FROM mlops.model_aliases;
SELECT mlops.drop_model_version('churn', 3);
SELECT mlops.drop_model_version('nope', 1);

-- the 0.1.0 names are gone (naming rules of 0.2.0)
SELECT to_regprocedure('mlops.delete_alias(text, text)') AS delete_alias,
       to_regprocedure('mlops.delete_model_version(text, integer)') AS delete_model_version,
       to_regprocedure('mlops._impl_delete_alias(text, text)') AS impl;
SELECT p.oid::regprocedure, pg_get_function_arguments(p.oid) FROM pg_proc p
 WHERE p.pronamespace = 'mlops'::regnamespace AND p.proname IN ('drop_alias', 'drop_model_version', 'resolve_model')
 ORDER BY p.oid::regprocedure::text COLLATE "C";

SELECT action, resource_id, details - '{sha256,size}'::text[] AS details
  FROM mlops.audit_log WHERE action LIKE 'model.%' ORDER BY event_id;

DROP EXTENSION mlops;
