-- pgTAP: drift detection's tables, functions and their declared properties.
\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off
BEGIN;
CREATE EXTENSION IF NOT EXISTS mlops;
SELECT plan(32);

-- tables and keys
SELECT has_table('mlops', 'drift_references', 'drift references are stored');
SELECT has_table('mlops', 'drift_reference_columns', 'reference columns are stored');
SELECT has_table('mlops', 'drift_results', 'every check is stored');
SELECT has_table('mlops', 'adwin_detectors', 'streaming detectors are stored');
SELECT col_is_pk('mlops', 'drift_references', 'name', 'references keyed by name');
SELECT col_is_pk('mlops', 'drift_reference_columns', ARRAY['reference_name', 'column_name'], 'one row per reference column');
SELECT fk_ok('mlops', 'drift_reference_columns', 'reference_name', 'mlops', 'drift_references', 'name');
SELECT col_is_pk('mlops', 'drift_results', 'result_id', 'results keyed by result_id');
SELECT col_is_pk('mlops', 'adwin_detectors', 'name', 'detectors keyed by name');
SELECT has_index('mlops', 'drift_results', 'drift_results_reference_time_idx', 'results are indexed by reference and time');
SELECT col_not_null('mlops', 'drift_results', 'threshold', 'every result records its threshold');
SELECT throws_ok($$INSERT INTO mlops.drift_results (reference_name, checked_at, column_name, method, value, threshold, drift, checked_by)
                   VALUES ('r', now(), 'c', 'magic', 0, 0, false, 'me')$$, '23514', NULL, 'methods are checked');
SELECT throws_ok($$INSERT INTO mlops.adwin_detectors (name, delta, state, created_by, owner) VALUES ('d', 1, '\x00', 'me', current_user::regrole)$$,
                 '23514', NULL, 'delta lies in (0, 1)');
SELECT col_not_null('mlops', 'drift_references', 'owner', 'every reference has an owner');
SELECT col_not_null('mlops', 'adwin_detectors', 'owner', 'every detector has an owner');

-- functions with the issue's signatures and the right volatility
SELECT has_function('mlops', 'psi', ARRAY['double precision[]', 'double precision[]', 'integer', 'text']);
SELECT has_function('mlops', 'psi', ARRAY['text[]', 'text[]']);
SELECT has_function('mlops', 'kl_divergence', ARRAY['double precision[]', 'double precision[]', 'integer', 'text']);
SELECT has_function('mlops', 'js_distance', ARRAY['double precision[]', 'double precision[]', 'integer', 'text']);
SELECT has_function('mlops', 'wasserstein', ARRAY['double precision[]', 'double precision[]']);
SELECT has_function('mlops', 'ks_test', ARRAY['double precision[]', 'double precision[]']);
SELECT has_function('mlops', 'chi_square_test', ARRAY['text[]', 'text[]']);
SELECT has_function('mlops', 'adwin', ARRAY['double precision[]', 'double precision']);
SELECT function_returns('mlops', 'adwin', ARRAY['double precision[]', 'double precision'], 'integer[]');
SELECT has_function('mlops', 'detect_drift', ARRAY['text', 'text', 'text[]', 'text[]', 'jsonb']);
SELECT has_function('mlops', 'set_drift_reference', ARRAY['text', 'text', 'text[]']);
SELECT has_function('mlops', 'set_drift_reference_from_model', ARRAY['text', 'text']);
SELECT function_returns('mlops', 'update_adwin', ARRAY['text', 'double precision'], 'boolean');
SELECT is((SELECT count(*)::int FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = 'mlops'
              AND p.proname IN ('psi', 'kl_divergence', 'js_distance', 'wasserstein', 'ks_test', 'chi_square_test', 'adwin')
              AND p.provolatile = 'i' AND p.proparallel = 's' AND p.proisstrict),
          8, 'the array statistics are IMMUTABLE, PARALLEL SAFE and STRICT');
SELECT is((SELECT count(*)::int FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = 'mlops'
              AND p.proname IN ('set_drift_reference', 'set_drift_reference_from_model', 'detect_drift')
              AND p.provolatile = 'v' AND NOT p.prosecdef),
          3, 'the detector functions are VOLATILE and run as the caller');
SELECT is((SELECT count(*)::int FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = 'mlops'
              AND p.proname IN ('psi', 'kl_divergence', 'js_distance', 'wasserstein', 'ks_test', 'chi_square_test', 'adwin',
                                'set_drift_reference', 'set_drift_reference_from_model', 'detect_drift', 'drop_drift_reference',
                                'create_adwin', 'update_adwin', 'drop_adwin')
              AND has_function_privilege('public', p.oid, 'EXECUTE')),
          0, 'PUBLIC can run no drift function');
SELECT is((SELECT count(*)::int FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'mlops' AND c.relname IN ('drift_references', 'drift_reference_columns', 'drift_results', 'adwin_detectors')
              AND has_table_privilege('public', c.oid, 'SELECT')),
          0, 'PUBLIC can read no drift table');

SELECT * FROM finish();
ROLLBACK;
