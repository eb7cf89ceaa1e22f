-- Privileges: roles get exactly what they are granted, act as themselves,
-- and cannot reach the tables or the internal functions.
CREATE EXTENSION mlops;
\set SHOW_CONTEXT never

CREATE ROLE sec_scientist;
CREATE ROLE sec_nobody;
GRANT USAGE ON SCHEMA mlops TO sec_scientist, sec_nobody;
GRANT EXECUTE ON FUNCTION mlops.start_run(text, text, jsonb), mlops.log_metrics(bigint, jsonb, integer),
    mlops.end_run(bigint, text), mlops.compare_runs(text, text, boolean) TO sec_scientist;

SET ROLE sec_scientist;
SELECT mlops.start_run('sec', 'granted') AS run_id \gset
SELECT mlops.log_metrics(:run_id, '{"auc": 0.5}');
SELECT mlops.end_run(:run_id);
SELECT run_name, status, metrics FROM mlops.compare_runs('sec');
-- not granted: other functions, the tables, the implementations
SELECT mlops.log_params(:run_id, '{}');
SELECT mlops.transition_stage('m', 1, 'Production');
SELECT * FROM mlops.runs;
INSERT INTO mlops.experiments (name, created_by) VALUES ('direct', current_user);
SELECT mlops._impl_start_run('sec', 'bypass', '{}');
SELECT mlops._register_model_version('m', '\x00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
SELECT mlops._audit_event('run.start', 'run', '1');
RESET ROLE;

SET ROLE sec_nobody;
SELECT mlops.start_run('sec');
SELECT * FROM mlops.compare_runs('sec');
RESET ROLE;

-- the audit log names the role that acted, not the owner the functions run as
SELECT action, user_name FROM mlops.audit_log ORDER BY event_id;
SELECT created_by FROM mlops.runs;

DROP EXTENSION mlops;
DROP OWNED BY sec_scientist, sec_nobody;
DROP ROLE sec_scientist, sec_nobody;
