-- pgTAP: import_model and export_model have the documented signatures and
-- properties, and nobody but the owner may call them until granted.
\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off
BEGIN;
CREATE EXTENSION IF NOT EXISTS mlops;
SELECT plan(12);

SELECT has_function('mlops', 'import_model', ARRAY['text', 'bytea', 'text[]', 'text', 'jsonb', 'jsonb', 'jsonb']);
SELECT function_returns('mlops', 'import_model', ARRAY['text', 'bytea', 'text[]', 'text', 'jsonb', 'jsonb', 'jsonb'],
                        'integer');
SELECT volatility_is('mlops', 'import_model', ARRAY['text', 'bytea', 'text[]', 'text', 'jsonb', 'jsonb', 'jsonb'],
                     'volatile', 'import_model changes the registry: volatile');
SELECT isnt_definer('mlops', 'import_model', ARRAY['text', 'bytea', 'text[]', 'text', 'jsonb', 'jsonb', 'jsonb'],
                    'import_model runs as the caller and switches to the owner only for its write');
SELECT is((SELECT pronargdefaults::int FROM pg_proc WHERE oid = 'mlops.import_model(text, bytea, text[], text, jsonb, jsonb, jsonb)'::regprocedure),
          5, 'feature_names, task, metrics, params and tags have defaults');
SELECT has_function('mlops', 'export_model', ARRAY['text']);
SELECT function_returns('mlops', 'export_model', ARRAY['text'], 'bytea');
SELECT volatility_is('mlops', 'export_model', ARRAY['text'], 'stable', 'export_model only reads: stable');
SELECT isnt_definer('mlops', 'export_model', ARRAY['text'], 'export_model is not SECURITY DEFINER');
SELECT function_privs_are('mlops', 'import_model', ARRAY['text', 'bytea', 'text[]', 'text', 'jsonb', 'jsonb', 'jsonb'],
                          'public', ARRAY[]::text[], 'PUBLIC cannot import models');
SELECT function_privs_are('mlops', 'export_model', ARRAY['text'], 'public', ARRAY[]::text[],
                          'PUBLIC cannot export models');
SELECT col_default_is('mlops', 'model_versions', 'model_format', 'json', 'stored models are JSON');

SELECT * FROM finish();
ROLLBACK;
