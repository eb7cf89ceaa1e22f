-- Audit log: events from mlops and applications, queries, append-only,
-- tamper-evident (the hash chain and mlops.verify_audit_log).
CREATE EXTENSION mlops;
\set SHOW_CONTEXT never

SELECT mlops.create_experiment('audited') > 0 AS created;
SELECT mlops.audit('report.export', 'report', 'q3', '{"rows": 10}') > 0 AS logged;
SELECT action, origin, user_name = current_user AS me, session_user_name = session_user AS session,
       resource_type, resource_id, details, application_name
  FROM mlops.audit_log ORDER BY event_id;

-- applications cannot forge the actor
CREATE ROLE audit_app;
GRANT USAGE ON SCHEMA mlops TO audit_app;
GRANT EXECUTE ON FUNCTION mlops.audit(text, text, text, jsonb) TO audit_app;
SET ROLE audit_app;
SELECT mlops.audit('app.login', 'session', NULL) > 0 AS logged;
SELECT count(*) FROM mlops.audit_log;
UPDATE mlops.audit_log SET action = 'x';
SELECT mlops._audit_event('model.register', 'model', 'fake');
RESET ROLE;
SELECT user_name, session_user_name = session_user AS session FROM mlops.audit_log WHERE action = 'app.login';

-- errors
SELECT mlops.audit('Bad Action', 'x', NULL);
SELECT mlops.audit(NULL, 'x', NULL);
SELECT mlops.audit('a.b', '', NULL);
SELECT mlops.audit('a.b', 'x', NULL, '[]');
SELECT mlops.audit('a.' || repeat('b', 99), 'x', NULL);
SELECT mlops.audit(repeat('a', 5000), 'x', NULL);
SELECT mlops.audit('Bad ' || repeat('Action ', 1000), 'x', NULL);

-- queries
SELECT action FROM mlops.audit_events() ORDER BY event_id;
SELECT action FROM mlops.audit_events('report') ;
SELECT action FROM mlops.audit_events('experiment.create');
SELECT count(*) FROM mlops.audit_events(since => now() + interval '1 day');
SELECT count(*) FROM mlops.audit_events(until => now() - interval '1 day');
SELECT action FROM mlops.audit_events(max_rows => 1);
SELECT * FROM mlops.audit_events(max_rows => 0);
SELECT * FROM mlops.audit_events(since => now(), until => now() - interval '1 hour');

-- append-only, even for a superuser that is not the owner
CREATE ROLE audit_super SUPERUSER;
SET ROLE audit_super;
UPDATE mlops.audit_log SET action = 'x.y';
DELETE FROM mlops.audit_log;
TRUNCATE mlops.audit_log;
RESET ROLE;

-- tamper evidence: every committed event is in the chain, linked to the one before it
SELECT event_id, action, chain_seq, length(hash) AS hash_bytes, prev_hash IS NULL AS first
  FROM mlops.audit_log ORDER BY chain_seq;
SELECT bool_and(l.prev_hash = p.hash) AS linked,
       bool_and(l.hash = mlops._audit_hash(l, l.chain_seq, l.prev_hash)) AS hashes_match
  FROM mlops.audit_log l JOIN mlops.audit_log p ON p.chain_seq = l.chain_seq - 1;
SELECT (SELECT event_id FROM mlops.audit_chain_head) = (SELECT max(event_id) FROM mlops.audit_log) AS head_is_last;
SELECT mlops.verify_audit_log() - 'last_hash' AS verified;
SELECT mlops.verify_audit_log() ->> 'last_hash' = (SELECT encode(hash, 'hex') FROM mlops.audit_chain_head) AS reports_head;
-- events are chained when their transaction commits, in commit order;
-- an event rolled back with its subtransaction leaves no gap
BEGIN;
SELECT mlops.audit('app.pending', 'x', NULL) AS pending \gset
SELECT chain_seq IS NULL AS not_yet_chained FROM mlops.audit_log WHERE event_id = :pending;
SELECT mlops.verify_audit_log() ->> 'ok' AS ok_while_pending;
SAVEPOINT s;
SELECT mlops.audit('app.undone', 'x', NULL) > 0 AS logged;
ROLLBACK TO SAVEPOINT s;
SELECT mlops.audit('app.kept', 'x', NULL) > 0 AS logged;
COMMIT;
SELECT action, chain_seq FROM mlops.audit_log WHERE action LIKE 'app.%' ORDER BY chain_seq;
-- a transaction that recorded events cannot be prepared (it would hold the chain)
BEGIN;
SELECT mlops.audit('app.two_phase', 'x', NULL) > 0 AS logged;
PREPARE TRANSACTION 'audit_2pc';
SELECT count(*) AS two_phase_events FROM mlops.audit_log WHERE action = 'app.two_phase';
-- arguments: since picks where to start, verify_audit_log is for auditors
SELECT mlops.verify_audit_log(since => now() + interval '1 day') - 'last_hash' AS nothing_since;
SET ROLE audit_app;
SELECT mlops.verify_audit_log();
RESET ROLE;

-- a superuser that disables the append-only trigger can change the log, but
-- not without verify_audit_log noticing: an edited event ...
BEGIN;
SET LOCAL ROLE audit_super;
ALTER TABLE mlops.audit_log DISABLE TRIGGER audit_log_append_only;
UPDATE mlops.audit_log SET details = '{"rows": 10000}' WHERE action = 'report.export';
SELECT mlops.verify_audit_log();
ROLLBACK;
-- ... an edited link ...
BEGIN;
SET LOCAL ROLE audit_super;
ALTER TABLE mlops.audit_log DISABLE TRIGGER audit_log_append_only;
UPDATE mlops.audit_log SET prev_hash = sha256('forged') WHERE chain_seq = 3;
SELECT mlops.verify_audit_log();
ROLLBACK;
-- ... a deleted event ...
BEGIN;
SET LOCAL ROLE audit_super;
ALTER TABLE mlops.audit_log DISABLE TRIGGER audit_log_append_only;
DELETE FROM mlops.audit_log WHERE chain_seq = 2;
SELECT mlops.verify_audit_log();
ROLLBACK;
-- ... the newest events deleted ...
BEGIN;
SET LOCAL ROLE audit_super;
ALTER TABLE mlops.audit_log DISABLE TRIGGER audit_log_append_only;
DELETE FROM mlops.audit_log WHERE chain_seq >= 4;
SELECT mlops.verify_audit_log();
ROLLBACK;
-- ... two events swapped, with their hashes ...
BEGIN;
SET LOCAL ROLE audit_super;
ALTER TABLE mlops.audit_log DISABLE TRIGGER audit_log_append_only;
UPDATE mlops.audit_log a
   SET (event_time, action, origin, user_name, session_user_name, resource_type, resource_id, details,
        client_addr, application_name, transaction_id, prev_hash, hash)
     = (SELECT b.event_time, b.action, b.origin, b.user_name, b.session_user_name, b.resource_type,
               b.resource_id, b.details, b.client_addr, b.application_name, b.transaction_id, b.prev_hash, b.hash
          FROM mlops.audit_log b WHERE b.chain_seq = 5 - a.chain_seq)
 WHERE a.chain_seq IN (2, 3);
SELECT action, chain_seq FROM mlops.audit_log WHERE chain_seq <= 4 ORDER BY chain_seq;
SELECT mlops.verify_audit_log();
ROLLBACK;
-- ... or without them ...
BEGIN;
SET LOCAL ROLE audit_super;
ALTER TABLE mlops.audit_log DISABLE TRIGGER audit_log_append_only;
UPDATE mlops.audit_log a
   SET (action, resource_type, resource_id, details)
     = (SELECT b.action, b.resource_type, b.resource_id, b.details FROM mlops.audit_log b WHERE b.chain_seq = 5 - a.chain_seq)
 WHERE a.chain_seq IN (2, 3);
SELECT mlops.verify_audit_log();
ROLLBACK;
-- ... the chain head moved back ...
BEGIN;
SET LOCAL ROLE audit_super;
UPDATE mlops.audit_chain_head SET chain_seq = chain_seq - 1;
SELECT mlops.verify_audit_log();
ROLLBACK;
-- ... and an event added with the chaining trigger disabled
SET ROLE audit_super;
ALTER TABLE mlops.audit_log DISABLE TRIGGER audit_log_chain;
INSERT INTO mlops.audit_log (action, user_name, session_user_name, resource_type)
VALUES ('app.forged', 'audit_app', 'audit_app', 'session');
ALTER TABLE mlops.audit_log ENABLE TRIGGER audit_log_chain;
RESET ROLE;
SELECT mlops.verify_audit_log();

-- the owner may prune the log; verify_audit_log then reports the gap, and
-- verifies what is left from a given time on
DELETE FROM mlops.audit_log WHERE action IN ('app.forged', 'app.login');
SELECT count(*) FROM mlops.audit_log WHERE action = 'app.login';
SELECT mlops.verify_audit_log();
DELETE FROM mlops.audit_log WHERE chain_seq < 4;
SELECT mlops.verify_audit_log();
SELECT mlops.verify_audit_log(since => (SELECT min(event_time) FROM mlops.audit_log)) - 'last_hash' AS verified_since;

DROP EXTENSION mlops;
DROP OWNED BY audit_app;
DROP ROLE audit_app;
DROP ROLE audit_super;
