-- pgTAP: the capability bundles, generated from pg_proc.  Every public mlops
-- function is in the admin bundle; a role given one bundle can execute
-- exactly that bundle's functions (every overload of each name) and select
-- exactly its relations, and nothing else of mlops.
\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off
BEGIN;
CREATE EXTENSION IF NOT EXISTS mlops;
SELECT plan(1 + 3 * 6);

SELECT is(ARRAY(SELECT DISTINCT p.proname::text FROM pg_proc p
                 WHERE p.pronamespace = 'mlops'::regnamespace AND p.proname !~ '^_'
                EXCEPT SELECT c.object_name FROM mlops._capability_objects() c
                 WHERE c.capability = 'admin' AND c.object_type = 'function'
                ORDER BY 1),
          '{}'::text[], 'every public mlops function is in the admin bundle');

CREATE FUNCTION pg_temp.check_bundle(cap text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    r text := 'cap_test_' || cap;
BEGIN
    EXECUTE format('CREATE ROLE %I', r);
    PERFORM mlops.grant_capability(r, cap);
    RETURN NEXT is(ARRAY(SELECT p.oid::regprocedure::text FROM pg_proc p
                          WHERE p.pronamespace = 'mlops'::regnamespace
                            AND has_function_privilege(r, p.oid, 'EXECUTE') ORDER BY 1),
                   ARRAY(SELECT p.oid::regprocedure::text FROM pg_proc p
                          JOIN mlops._capability_objects() c ON c.object_name = p.proname::text
                          WHERE p.pronamespace = 'mlops'::regnamespace AND c.capability = cap
                            AND c.object_type = 'function' ORDER BY 1),
                   cap || ' executes exactly its functions');
    RETURN NEXT is(ARRAY(SELECT c.relname::text FROM pg_class c
                          WHERE c.relnamespace = 'mlops'::regnamespace AND c.relkind IN ('r', 'v', 'p')
                            AND has_table_privilege(r, c.oid, 'SELECT') ORDER BY 1),
                   ARRAY(SELECT c.relname::text FROM pg_class c
                          JOIN mlops._capability_objects() o ON o.object_name = c.relname::text
                          WHERE c.relnamespace = 'mlops'::regnamespace AND o.capability = cap
                            AND o.object_type = 'relation' ORDER BY 1),
                   cap || ' selects exactly its relations');
    PERFORM mlops.revoke_capability(r, cap);
    RETURN NEXT is((SELECT count(*)::int FROM pg_proc p WHERE p.pronamespace = 'mlops'::regnamespace
                      AND has_function_privilege(r, p.oid, 'EXECUTE')), 0,
                   cap || ' revoked leaves nothing executable');
    EXECUTE format('DROP ROLE %I', r);
END
$$;
SELECT pg_temp.check_bundle(c) FROM unnest(ARRAY['reader', 'scientist', 'deployer', 'operator', 'auditor', 'admin']) c;

SELECT * FROM finish();
ROLLBACK;
