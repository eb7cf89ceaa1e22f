-- pgTAP: the mlops schema's tables, keys, constraints and privileges.
\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off
BEGIN;
CREATE EXTENSION IF NOT EXISTS mlops;
SELECT plan(45);

SELECT has_schema('mlops');
SELECT tables_are('mlops', ARRAY['audit_log', 'experiments', 'runs', 'run_metrics', 'run_latest_metrics',
                                 'models', 'model_versions', 'model_aliases']
                           || ARRAY(SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                                     WHERE n.nspname = 'mlops' AND c.relkind IN ('r', 'p')
                                       AND c.relname NOT IN ('audit_log', 'experiments', 'runs', 'run_metrics',
                                                             'run_latest_metrics', 'models', 'model_versions', 'model_aliases')),
                  'mlops has the foundation tables');

-- keys
SELECT col_is_pk('mlops', 'experiments', 'experiment_id', 'experiments keyed by experiment_id');
SELECT col_is_unique('mlops', 'experiments', 'name', 'experiment names are unique');
SELECT col_is_pk('mlops', 'runs', 'run_id', 'runs keyed by run_id');
SELECT fk_ok('mlops', 'runs', 'experiment_id', 'mlops', 'experiments', 'experiment_id');
SELECT fk_ok('mlops', 'run_metrics', 'run_id', 'mlops', 'runs', 'run_id');
SELECT col_is_pk('mlops', 'run_latest_metrics', ARRAY['run_id', 'key'], 'one latest value per run and key');
SELECT col_is_pk('mlops', 'models', 'model_id', 'models keyed by model_id');
SELECT col_is_unique('mlops', 'models', 'name', 'model names are unique');
SELECT col_is_pk('mlops', 'model_versions', ARRAY['model_id', 'version'], 'versions keyed by model and version');
SELECT fk_ok('mlops', 'model_versions', 'model_id', 'mlops', 'models', 'model_id');
SELECT fk_ok('mlops', 'model_versions', 'run_id', 'mlops', 'runs', 'run_id');
SELECT col_is_pk('mlops', 'model_aliases', ARRAY['model_id', 'alias'], 'one alias name per model');
SELECT fk_ok('mlops', 'model_aliases', ARRAY['model_id', 'version'], 'mlops', 'model_versions', ARRAY['model_id', 'version']);
SELECT col_is_pk('mlops', 'audit_log', 'event_id', 'audit events keyed by event_id');

-- constraints
SELECT index_is_unique('mlops', 'model_versions', 'model_versions_one_production', 'one Production version per model');
SELECT has_check('mlops', 'model_versions', 'model_versions has check constraints');
SELECT col_not_null('mlops', 'model_versions', 'model_sha256', 'every stored booster has a checksum');
SELECT col_not_null('mlops', 'audit_log', 'user_name', 'every audit event names its user');
SELECT has_trigger('mlops', 'audit_log', 'audit_log_append_only', 'audit log rows cannot be changed');
SELECT has_trigger('mlops', 'audit_log', 'audit_log_no_truncate', 'audit log cannot be truncated');
SELECT has_trigger('mlops', 'model_versions', 'model_versions_changed', 'version changes invalidate model caches');
SELECT has_trigger('mlops', 'model_aliases', 'model_aliases_changed', 'alias changes invalidate model caches');

-- a second Production version is rejected by the schema itself
SELECT lives_ok($$SELECT mlops._register_model_version('pgtap_m', '\x00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)$$);
SELECT lives_ok($$SELECT mlops._register_model_version('pgtap_m', '\x01', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)$$);
SELECT lives_ok($$UPDATE mlops.model_versions SET stage = 'Production' WHERE version = 1 AND model_id = (SELECT model_id FROM mlops.models WHERE name = 'pgtap_m')$$);
SELECT throws_ok($$UPDATE mlops.model_versions SET stage = 'Production' WHERE version = 2 AND model_id = (SELECT model_id FROM mlops.models WHERE name = 'pgtap_m')$$,
                 '23505', NULL, 'the unique index refuses a second Production version');
SELECT throws_ok($$UPDATE mlops.model_versions SET stage = 'Gold'$$, '23514', NULL, 'stages are checked');
SELECT throws_ok($$UPDATE mlops.runs SET status = 'running', ended_at = now()$$, NULL, NULL, 'running runs have no end time')
  FROM (SELECT mlops.start_run('pgtap')) s;

-- privileges: PUBLIC can neither read nor write any table, nor run any function
SELECT is((SELECT count(*)::int FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'mlops' AND c.relkind IN ('r', 'v', 'm', 'p')
              AND (has_table_privilege('public', c.oid, 'SELECT') OR has_table_privilege('public', c.oid, 'INSERT')
                   OR has_table_privilege('public', c.oid, 'UPDATE') OR has_table_privilege('public', c.oid, 'DELETE'))
              AND c.relname NOT IN (SELECT unnest(ARRAY['dashboard', 'prediction_stats', 'training_progress']))),
          0, 'PUBLIC has no privilege on mlops tables');
SELECT is((SELECT count(*)::int FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = 'mlops' AND has_function_privilege('public', p.oid, 'EXECUTE')),
          0, 'PUBLIC can execute no mlops function');
SELECT schema_privs_are('mlops', 'public', ARRAY[]::text[], 'PUBLIC has no privilege on schema mlops');

-- SECURITY DEFINER functions pin their search_path
SELECT is((SELECT count(*)::int FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = 'mlops' AND p.prosecdef
              AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)),
          0, 'every SECURITY DEFINER function sets search_path = pg_catalog, pg_temp');
-- every public trampoline has its implementation, with the same arguments
SELECT is((SELECT count(*)::int FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = 'mlops' AND p.prosrc = 'mlops_owner_trampoline'
              AND NOT EXISTS (SELECT 1 FROM pg_proc i WHERE i.pronamespace = p.pronamespace
                                 AND i.proname = '_impl_' || p.proname AND i.proargtypes = p.proargtypes
                                 AND i.prosecdef)),
          0, 'every trampoline has a SECURITY DEFINER implementation');
SELECT ok((SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = 'mlops' AND p.prosrc = 'mlops_owner_trampoline') >= 10, 'state-changing functions go through the trampoline');

-- functions exist with the documented signatures
SELECT has_function('mlops', 'create_experiment', ARRAY['text', 'text', 'jsonb']);
SELECT has_function('mlops', 'start_run', ARRAY['text', 'text', 'jsonb']);
SELECT has_function('mlops', 'compare_runs', ARRAY['text', 'text', 'boolean']);
SELECT has_function('mlops', 'transition_stage', ARRAY['text', 'integer', 'text', 'boolean']);
SELECT has_function('mlops', 'audit_events', ARRAY['text', 'timestamp with time zone', 'timestamp with time zone', 'integer']);
SELECT function_returns('mlops', 'create_experiment', ARRAY['text', 'text', 'jsonb'], 'bigint');

-- training's one-call metric history is internal: owner only, SECURITY DEFINER
SELECT has_function('mlops', '_log_metric_history', ARRAY['bigint', 'text[]', 'integer[]', 'double precision[]']);
SELECT is_definer('mlops', '_log_metric_history', ARRAY['bigint', 'text[]', 'integer[]', 'double precision[]']);
SELECT ok(NOT has_function_privilege('public', 'mlops._log_metric_history(bigint, text[], integer[], float8[])', 'EXECUTE'),
          'PUBLIC cannot execute mlops._log_metric_history');

SELECT * FROM finish();
ROLLBACK;
