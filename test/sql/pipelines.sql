-- Pipelines and the trust model: a pipeline writes only into a table it
-- creates or one the caller owns (a planted table's trigger never runs with
-- the caller's rights), reads its source through the one source resolver as
-- the caller, and needs no privilege beyond EXECUTE on the pipeline.
-- (Scheduled pipelines run as their job's owner: test/t/054_scheduler_fairness.pl.)
CREATE EXTENSION mlops;
\set SHOW_CONTEXT never

CREATE ROLE pipe_mallory LOGIN;
CREATE ROLE pipe_victim LOGIN;
CREATE ROLE pipe_team;
CREATE ROLE pipe_member LOGIN;
GRANT pipe_team TO pipe_member;
SELECT mlops.grant_capability(r, 'scientist')
  FROM unnest(ARRAY['pipe_mallory', 'pipe_victim', 'pipe_member']) r;
CREATE SCHEMA pipe_shared;
GRANT USAGE, CREATE ON SCHEMA pipe_shared TO pipe_mallory, pipe_victim, pipe_member;
CREATE TABLE pipe_shared.events (id int, age int);
INSERT INTO pipe_shared.events SELECT g, CASE WHEN g % 4 = 0 THEN NULL ELSE 20 + g END FROM generate_series(1, 8) g;
GRANT SELECT ON pipe_shared.events TO pipe_mallory, pipe_victim, pipe_member;

-- The attack of issue 10: mallory plants an output table whose trigger makes
-- her superuser, and waits for a superuser (or anyone) to refill it.
SET ROLE pipe_mallory;
CREATE TABLE pipe_shared.clean_events (id int, age int);
CREATE FUNCTION pipe_shared.promote() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    ALTER ROLE pipe_mallory SUPERUSER;
    RETURN NULL;
END $$;
CREATE TRIGGER promote BEFORE INSERT ON pipe_shared.clean_events
    FOR EACH STATEMENT EXECUTE FUNCTION pipe_shared.promote();
CREATE TRIGGER promote_truncate BEFORE TRUNCATE ON pipe_shared.clean_events
    FOR EACH STATEMENT EXECUTE FUNCTION pipe_shared.promote();
GRANT INSERT, TRUNCATE ON pipe_shared.clean_events TO PUBLIC;
RESET ROLE;
-- the superuser's pipeline refuses the table: nothing written, no trigger fired
SELECT r->>'status' AS status, r->>'sqlstate' AS sqlstate, r->>'error' AS error, r->>'error_detail' AS detail
  FROM mlops.data_pipeline('pipe_shared.events', 'pipe_shared.clean_events') r;
SELECT rolsuper AS mallory_is_superuser FROM pg_roles WHERE rolname = 'pipe_mallory';
-- so does an ordinary role's, although mallory granted it INSERT and TRUNCATE
SET ROLE pipe_victim;
SELECT r->>'status' AS status, r->>'error' AS error
  FROM mlops.data_pipeline('pipe_shared.events', 'pipe_shared.clean_events') r;
RESET ROLE;
SELECT rolsuper AS mallory_is_superuser FROM pg_roles WHERE rolname = 'pipe_mallory';
SELECT count(*) AS rows_in_planted_table FROM pipe_shared.clean_events;
-- the owner herself may refill it (her trigger runs with her rights and fails)
SET ROLE pipe_mallory;
SELECT r->>'status' AS status, r->>'error' AS error
  FROM mlops.data_pipeline('pipe_shared.events', 'pipe_shared.clean_events') r;
RESET ROLE;

-- a table the pipeline creates belongs to the caller, who may refill it
SET ROLE pipe_victim;
SELECT r->>'status' AS status, r->'result'->>'output_table' AS output, r->'result'->>'rows_written' AS written
  FROM mlops.data_pipeline('pipe_shared.events', 'pipe_shared.victim_clean', true, '{"not_null": ["age"]}') r;
SELECT r->>'status' AS status, r->'result'->>'rows_written' AS written
  FROM mlops.data_pipeline('SELECT id, age FROM pipe_shared.events WHERE id < 3', 'pipe_shared.victim_clean') r;
SELECT * FROM pipe_shared.victim_clean ORDER BY id;
-- a table refilled from itself keeps its rows
SELECT r->>'status' AS status, r->'result'->>'rows_written' AS written
  FROM mlops.data_pipeline('pipe_shared.victim_clean', 'pipe_shared.victim_clean') r;
SELECT r->>'status' AS status, r->'result'->>'rows_written' AS written
  FROM mlops.data_pipeline('SELECT id, age + 1 AS age FROM pipe_shared.victim_clean', 'pipe_shared.victim_clean') r;
SELECT * FROM pipe_shared.victim_clean ORDER BY id;
RESET ROLE;
SELECT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE oid = 'pipe_shared.victim_clean'::regclass;
-- another role may not write into it
SET ROLE pipe_mallory;
SELECT r->>'status' AS status, r->>'error' AS error
  FROM mlops.data_pipeline('pipe_shared.events', 'pipe_shared.victim_clean') r;
RESET ROLE;
-- membership in the owner counts: a table of the group pipe_team
CREATE TABLE pipe_shared.team_clean (id int, age int);
ALTER TABLE pipe_shared.team_clean OWNER TO pipe_team;
SET ROLE pipe_member;
SELECT r->>'status' AS status, r->'result'->>'rows_written' AS written
  FROM mlops.data_pipeline('pipe_shared.events', 'pipe_shared.team_clean') r;
RESET ROLE;
SET ROLE pipe_victim;
SELECT r->>'status' AS status, r->>'error' AS error
  FROM mlops.data_pipeline('pipe_shared.events', 'pipe_shared.team_clean') r;
RESET ROLE;
-- only tables: not a view (its INSTEAD OF triggers would run too), nor a sequence
CREATE VIEW pipe_shared.a_view AS SELECT 1 AS id, 2 AS age;
CREATE SEQUENCE pipe_shared.a_seq;
SELECT r->>'status' AS status, r->>'sqlstate' AS sqlstate, r->>'error' AS error
  FROM mlops.data_pipeline('pipe_shared.events', 'pipe_shared.a_view') r;
SELECT r->>'status' AS status, r->>'error' AS error
  FROM mlops.data_pipeline('pipe_shared.events', 'pipe_shared.a_seq') r;
-- output_table names one table
SELECT r->>'status' AS status, r->>'sqlstate' AS sqlstate, r->>'error' AS error
  FROM mlops.data_pipeline('pipe_shared.events', 'a.b.c.d') r;
SELECT r->>'status' AS status, r->>'error' AS error
  FROM mlops.data_pipeline('pipe_shared.events', 'x; DROP TABLE pipe_shared.events') r;
SELECT r->>'status' AS status, r->>'error' AS error
  FROM mlops.data_pipeline('pipe_shared.events', repeat('x', 100000)) r;

-- the source goes through the one source resolver, as the caller: its
-- messages, its refusal of several statements, writes and files
SELECT r->>'status' AS status, r->>'sqlstate' AS sqlstate, r->>'error' AS error, r->>'error_detail' AS detail
  FROM mlops.data_pipeline('SELECT 1 AS id; SELECT 2 AS id', 'pipe_shared.out1') r;
SELECT r->>'status' AS status, r->>'sqlstate' AS sqlstate, r->>'error' AS error
  FROM mlops.data_pipeline('WITH d AS (DELETE FROM pipe_shared.events RETURNING *) SELECT * FROM d', 'pipe_shared.out1') r;
SELECT r->>'status' AS status, r->>'sqlstate' AS sqlstate, r->>'error' AS error
  FROM mlops.data_pipeline('s3://bucket/events.csv', 'pipe_shared.out1') r;
SELECT r->>'status' AS status, r->>'sqlstate' AS sqlstate, r->>'error' AS error
  FROM mlops.data_pipeline('pipe_shared.no_such_table', 'pipe_shared.out1') r;
SELECT r->>'status' AS status, r->>'sqlstate' AS sqlstate, r->>'error' AS error
  FROM mlops.data_pipeline('', 'pipe_shared.out1') r;
SELECT r->>'status' AS status, r->>'sqlstate' AS sqlstate, r->>'error' AS error
  FROM mlops.data_pipeline(repeat('SELECT ', 50000), 'pipe_shared.out1') r;
SELECT r->>'status' AS status, r->>'error' AS error
  FROM mlops.data_pipeline(NULL, 'pipe_shared.out1') r;
-- a source the caller may not read is refused by the resolver, not read by mlops
CREATE TABLE pipe_shared.secrets (id int, ssn text);
SET ROLE pipe_mallory;
SELECT r->>'status' AS status, r->>'sqlstate' AS sqlstate, r->>'error' AS error
  FROM mlops.data_pipeline('pipe_shared.secrets', 'pipe_shared.stolen') r;
SELECT r->>'status' AS status, r->>'sqlstate' AS sqlstate, r->>'error' AS error
  FROM mlops.data_pipeline('SELECT * FROM pipe_shared.secrets', 'pipe_shared.stolen') r;
RESET ROLE;
SELECT to_regclass('pipe_shared.out1') IS NULL AND to_regclass('pipe_shared.stolen') IS NULL AS nothing_written;
-- the training pipeline resolves its source the same way
SELECT r->>'status' AS status, r->'steps'->0->>'step' AS step, r->>'sqlstate' AS sqlstate, r->>'error' AS error
  FROM mlops.training_pipeline('SELECT 1 AS y; SELECT 2 AS y', 'y', 'pipe_m') r;
SELECT r->>'status' AS status, r->>'sqlstate' AS sqlstate, r->>'error' AS error
  FROM mlops.training_pipeline('pipe_shared.no_such_table', 'y', 'pipe_m') r;
SELECT r->>'status' AS status, r->>'error' AS error
  FROM mlops.training_pipeline('pipe_shared.events', 'age', 'pipe_m', task => 'clustering') r;
SELECT r->>'status' AS status, r->>'error' AS error
  FROM mlops.training_pipeline('pipe_shared.events', 'age', 'pipe_m', task => 'regression') r;
-- every run above is recorded as the role that called it
SELECT owner_name, pipeline, status, count(*) FROM mlops.pipeline_runs
 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
-- a role sees its own pipeline runs (and its groups')
SET ROLE pipe_victim;
SELECT DISTINCT owner_name FROM mlops.pipeline_runs;
RESET ROLE;

DROP SCHEMA pipe_shared CASCADE;
DROP EXTENSION mlops;
DROP OWNED BY pipe_mallory, pipe_victim, pipe_team, pipe_member;
DROP ROLE pipe_mallory, pipe_victim, pipe_team, pipe_member;
