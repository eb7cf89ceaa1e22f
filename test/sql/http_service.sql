-- The SQL side of the HTTP service: rate-limit tiers, API keys (created
-- once, only a SHA-256 stored, revoked, owned; tried by a hostile role),
-- input constraints (checked when set, listed at once by validate_input,
-- enforced by predict and predict_batch, owned) and set_owner for both
-- kinds.  The HTTP workers themselves are tested in test/t/080_http.pl.
CREATE EXTENSION mlops;
\set SHOW_CONTEXT never
SET mlops.train_progress_rounds = 0;

SELECT tier, requests_per_minute, burst FROM mlops.rate_limit_tiers ORDER BY requests_per_minute;

CREATE ROLE hs_alice LOGIN;
CREATE ROLE hs_bob LOGIN;
CREATE ROLE hs_carol LOGIN;
CREATE ROLE hs_team;
CREATE ROLE hs_nologin;
GRANT hs_team TO hs_carol;
SELECT mlops.grant_capability(r, c)
  FROM unnest(ARRAY['hs_alice', 'hs_bob', 'hs_carol']) r, unnest(ARRAY['operator', 'scientist']) c;

-- keys: made by a member of the role, shown once, stored as a SHA-256
SET ROLE hs_alice;
SELECT mlops.create_api_key('hs_alice', 'pro', now() + interval '1 day', 'ci') AS alice_key \gset
SELECT :'alice_key' ~ '^mlk_[0-9a-f]{64}$' AS key_format;
SELECT key_prefix = left(:'alice_key', 12) AS prefix, role, tier, description, active, created_by, owner
  FROM mlops.api_keys;
RESET ROLE;
SELECT key_hash = sha256(convert_to(:'alice_key', 'UTF8')) AS only_the_hash FROM mlops.http_api_keys;
SELECT count(*) AS key_columns FROM information_schema.columns
 WHERE table_schema = 'mlops' AND table_name = 'api_keys' AND column_name LIKE '%hash%';

-- refused arguments
SET ROLE hs_alice;
SELECT mlops.create_api_key(NULL);
SELECT mlops.create_api_key('hs_nosuch');
SELECT mlops.create_api_key('hs_bob');
SELECT mlops.create_api_key('hs_alice', 'platinum');
\set VERBOSITY terse
SELECT mlops.create_api_key('hs_alice', 'free', now() - interval '1 second');
\set VERBOSITY default
SELECT mlops.create_api_key('hs_alice', 'free', 'infinity');
SELECT mlops.create_api_key('hs_alice', 'free', NULL, repeat('x', 1001));
RESET ROLE;
SELECT mlops.create_api_key('hs_nologin');
SELECT mlops.create_api_key(current_user);

-- bob cannot see or revoke alice's key; carol's team key is carol's to revoke
SET ROLE hs_bob;
SELECT count(*) AS bob_sees FROM mlops.api_keys;
SELECT mlops.revoke_api_key(key_id) FROM mlops.http_api_keys;
SELECT mlops.revoke_api_key(key_id) FROM (SELECT 1::bigint AS key_id) k;
SELECT mlops.revoke_api_key(-1);
RESET ROLE;
SET ROLE hs_alice;
SELECT mlops.revoke_api_key(key_id) FROM mlops.api_keys;
SELECT mlops.revoke_api_key(key_id) FROM mlops.api_keys;   -- again: no error, no second event
SELECT active, revoked_by FROM mlops.api_keys;
RESET ROLE;
SELECT action, resource_type, details - 'key_prefix' - 'expires_at' AS details
  FROM mlops.audit_log WHERE action LIKE 'api_key.%' ORDER BY event_id;

-- a key owned by a group: set_owner, then a member may revoke it
SET ROLE hs_carol;
SELECT mlops.create_api_key('hs_carol') IS NOT NULL AS carol_key;
SELECT mlops.set_owner('api_key', key_id::text, 'hs_team') FROM mlops.api_keys WHERE role = 'hs_carol'::regrole;
RESET ROLE;
SELECT role, owner FROM mlops.http_api_keys WHERE role = 'hs_carol'::regrole;

-- input constraints on a trained model
CREATE TABLE hs_data AS
SELECT i, (i % 7)::float8 AS x1, (i % 11)::float8 AS x2, (i % 7 > 3)::int AS y FROM generate_series(1, 200) i;
GRANT SELECT ON hs_data TO hs_alice;
SET ROLE hs_alice;
SELECT version FROM mlops.train('hs_m', 'SELECT x1, x2, y FROM hs_data', 'y', test_size => 0,
                                hyperparams => '{"n_estimators": 3}');
SELECT mlops.set_input_constraints('hs_m', '{"x1": {"type": "decimal", "min": "0", "max": 1, "pattern": "(",
  "allowed": 3, "required": "yes", "color": 1}, "x2": 5, "x3": {"min": 3, "max": 1}}');
SELECT mlops.set_input_constraints('hs_nosuch', '{}');
SELECT mlops.set_input_constraints('hs_m', '{"x1": {"type": "number", "min": 0, "max": 6, "required": true},
  "x2": {"type": "integer", "allowed": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]},
  "user": {"type": "string", "pattern": "^u[0-9]+$"}}');
SELECT mlops.validate_input('hs_m', '{"x1": 3, "x2": 4, "user": "u7"}');
SELECT jsonb_pretty(mlops.validate_input('hs_m/Production', '{"x1": 9, "x2": 2.5, "user": "bad"}'));
SELECT mlops.validate_input('hs_m@any', '{"x2": true}');
SELECT mlops.validate_input('hs_m', '[1, 2]');
SELECT mlops.validate_input('hs_other', '{"x1": -1}');
SELECT mlops.validate_input(NULL, '{}');
-- enforced by predict (every form that reads a JSON object) and predict_batch
SELECT mlops.predict('hs_m/1', '{"x1": 3, "x2": 4}'::jsonb) IS NOT NULL AS ok;
SELECT mlops.predict('hs_m/1', '{"x1": 9, "x2": 2.5}'::jsonb);
SELECT mlops.predict_proba('hs_m/1', '{"x2": 1}');
SELECT mlops.predict_label('hs_m/1', '{"x1": -1, "x2": 1}'::jsonb);
SELECT mlops.predict('hs_m/1', ARRAY[9, 2.5]) IS NOT NULL AS arrays_are_not_named;
SELECT mlops.predict_batch('hs_m/1', '[{"x1": 1, "x2": 1}, {"x1": 1, "x2": 99}]');
RESET ROLE;

-- bob may not change alice's constraints; carol's team may after set_owner
SET ROLE hs_bob;
SELECT mlops.set_input_constraints('hs_m', NULL);
RESET ROLE;
SET ROLE hs_alice;
SELECT mlops.set_owner('input_constraints', 'hs_m', 'hs_alice');
RESET ROLE;
GRANT hs_team TO hs_alice;
SET ROLE hs_alice;
SELECT mlops.set_owner('input_constraints', 'hs_m', 'hs_team');
RESET ROLE;
SET ROLE hs_carol;
SELECT mlops.set_input_constraints('hs_m', '{"x1": {"max": 100}}');
SELECT mlops.predict('hs_m/1', '{"x1": 9, "x2": 2.5}'::jsonb) IS NOT NULL AS relaxed;
SELECT mlops.set_input_constraints('hs_m', NULL);
RESET ROLE;
SELECT count(*) AS constraints_left FROM mlops.input_constraints;
SELECT action, resource_id FROM mlops.audit_log WHERE action LIKE 'input_constraints.%' ORDER BY event_id;

-- the built-in rate-limit tiers are fixed (pg_dump leaves them out); others may change
UPDATE mlops.rate_limit_tiers SET burst = 20 WHERE tier = 'free';
DELETE FROM mlops.rate_limit_tiers WHERE tier = 'enterprise';
INSERT INTO mlops.rate_limit_tiers VALUES ('team', 100, 5);
UPDATE mlops.rate_limit_tiers SET burst = 20 WHERE tier = 'team';
SELECT tier, requests_per_minute, burst FROM mlops.rate_limit_tiers ORDER BY requests_per_minute;
SELECT pg_catalog.unnest(extcondition) FROM pg_catalog.pg_extension WHERE extname = 'mlops'
 EXCEPT SELECT '';
DELETE FROM mlops.rate_limit_tiers WHERE tier = 'team';

DROP EXTENSION mlops;
DROP TABLE hs_data;
DROP OWNED BY hs_alice, hs_bob, hs_carol, hs_team, hs_nologin;
DROP ROLE hs_alice, hs_bob, hs_carol, hs_team, hs_nologin;
