-- Audit log: events from mlops and applications, queries, append-only.
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
-- the owner may prune it
DELETE FROM mlops.audit_log WHERE action = 'app.login';
SELECT count(*) FROM mlops.audit_log WHERE action = 'app.login';

DROP EXTENSION mlops;
DROP OWNED BY audit_app;
DROP ROLE audit_app;
DROP ROLE audit_super;
