-- Ownership and capabilities: the rule in one place (mlops._require_owner),
-- set_owner, the capability bundles, and the audit actor after caught errors.
CREATE EXTENSION mlops;
\set SHOW_CONTEXT never

CREATE ROLE own_alice;
CREATE ROLE own_bob;
CREATE ROLE own_team;
GRANT own_team TO own_bob;

-- the rule: members of the owner role may change, others may not
SELECT mlops.grant_capability('own_alice', 'reader');
SELECT mlops.grant_capability('own_bob', 'reader');
SET ROLE own_bob;
SELECT mlops._require_owner('monitor', 'm', 'own_team');
RESET ROLE;
GRANT EXECUTE ON FUNCTION mlops._require_owner(text, text, regrole), mlops._may_change(regrole) TO own_alice, own_bob;
SET ROLE own_bob;
SELECT mlops._require_owner('monitor', 'm', 'own_team');
SELECT mlops._may_change('own_team'), mlops._may_change('own_alice'), mlops._may_change(NULL);
RESET ROLE;
SET ROLE own_alice;
SELECT mlops._require_owner('monitor', 'm', 'own_team');
SELECT mlops._require_owner('monitor', repeat('x', 500), 'own_team');
SELECT mlops._require_owner(NULL, 'm', 'own_team');
RESET ROLE;
-- the extension owner may change anything
SELECT mlops._require_owner('monitor', 'm', 'own_team');
REVOKE EXECUTE ON FUNCTION mlops._require_owner(text, text, regrole), mlops._may_change(regrole) FROM own_alice, own_bob;

-- set_owner: unknown kinds and roles
SELECT mlops.set_owner('no_such_kind', 'x', 'own_bob');
SELECT mlops.set_owner(NULL, 'x', 'own_bob');

-- capabilities: bad arguments
SELECT mlops.grant_capability('own_alice', 'wizard');
SELECT mlops.grant_capability('no_such_role', 'reader');
SELECT mlops.grant_capability(NULL, 'reader');
-- a reader may predict but not train or schedule
SELECT has_function_privilege('own_alice', 'mlops.health()', 'EXECUTE') AS reader_health,
       (SELECT bool_or(has_function_privilege('own_alice', p.oid, 'EXECUTE')) FROM pg_proc p
         WHERE p.proname = 'train' AND p.pronamespace = 'mlops'::regnamespace) AS reader_train,
       has_schema_privilege('own_alice', 'mlops', 'USAGE') AS reader_usage;
-- two bundles share reader's functions; revoking one keeps the other's
SELECT mlops.grant_capability('own_alice', 'auditor');
SELECT mlops.revoke_capability('own_alice', 'reader');
SELECT has_function_privilege('own_alice', 'mlops.health()', 'EXECUTE') AS health_after_revoke,
       has_function_privilege('own_alice', 'mlops.current_actor()', 'EXECUTE') AS actor_kept_by_auditor,
       has_schema_privilege('own_alice', 'mlops', 'USAGE') AS usage_kept;
SELECT mlops.revoke_capability('own_alice', 'auditor');
SELECT has_schema_privilege('own_alice', 'mlops', 'USAGE') AS usage_after_last_revoke;
SELECT role::text, capability FROM mlops.capability_grants ORDER BY 1, 2;
-- a reader cannot hand out capabilities
SET ROLE own_bob;
SELECT mlops.grant_capability('own_bob', 'admin');
RESET ROLE;
SELECT action, resource_id, details FROM mlops.audit_log
 WHERE action LIKE 'capability.%' ORDER BY event_id;

-- the audit actor after an error caught inside an owner section: a later
-- action in the same session, after a commit, is never attributed to the
-- role that hit the error
SELECT mlops.grant_capability('own_alice', 'reader');
SET ROLE own_alice;
DO $$ BEGIN PERFORM mlops.predict('no_such_model', ARRAY[1.0]::float8[]);
          EXCEPTION WHEN undefined_object THEN RAISE NOTICE 'caught'; END $$;
RESET ROLE;
SET ROLE own_bob;
SELECT mlops.current_actor();
RESET ROLE;
BEGIN;
SET LOCAL ROLE own_alice;
SAVEPOINT s1;
SELECT mlops.predict('no_such_model', ARRAY[1.0]::float8[]);
ROLLBACK TO SAVEPOINT s1;
RESET ROLE;
SELECT mlops.current_actor() = current_user AS actor_is_me;
COMMIT;

DROP EXTENSION mlops;
DROP OWNED BY own_alice, own_bob, own_team;
DROP ROLE own_alice, own_bob, own_team;
