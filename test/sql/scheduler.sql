-- Scheduler SQL API: schedules, jobs, row-level security and pipelines.
-- (Jobs that actually run are tested with the real workers in test/t/.)
CREATE EXTENSION mlops;
\set SHOW_CONTEXT never

-- next fire times (mlops.timezone is UTC here)
SELECT * FROM mlops.next_runs('*/15 * * * *', '2024-01-01 00:07:30+00', 3);
SELECT * FROM mlops.next_runs('0 0 31 * *', '2024-01-31 00:00+00', 3);
SELECT * FROM mlops.next_runs('0 12 29 2 *', '2023-03-01 00:00+00', 2);
SELECT * FROM mlops.next_runs('0 0 1,15 * mon', '2024-01-01 00:00+00', 4);
SELECT * FROM mlops.next_runs('0 9 * * MON-FRI', '2024-01-05 09:00+00', 2);
SELECT * FROM mlops.next_runs('@weekly', '2024-01-01 00:00+00', 2);
SELECT * FROM mlops.next_runs('every 90 seconds', '2024-01-01 00:00+00', 3);
SELECT * FROM mlops.next_runs('1 hour 30 minutes', '2024-01-01 00:00+00', 2);

-- invalid schedules say what is wrong
SELECT * FROM mlops.next_runs('61 * * * *');
SELECT * FROM mlops.next_runs('* 24 * * *');
SELECT * FROM mlops.next_runs('* * 0 * *');
SELECT * FROM mlops.next_runs('* * * foo *');
SELECT * FROM mlops.next_runs('* * * * 8');
SELECT * FROM mlops.next_runs('*/0 * * * *');
SELECT * FROM mlops.next_runs('0 0 30 2 *');
SELECT * FROM mlops.next_runs('* * * *');
SELECT * FROM mlops.next_runs('every 2 months');
SELECT * FROM mlops.next_runs('every 0 seconds');
SELECT * FROM mlops.next_runs('@reboot');
SELECT * FROM mlops.next_runs('');
SELECT * FROM mlops.next_runs('@daily', now(), 0);
SELECT * FROM mlops.next_runs(NULL);

-- scheduling (far-future schedules: nothing runs during this test)
SELECT mlops.schedule('yearly-report', '0 0 1 1 *', 'SELECT 1') > 0 AS scheduled;
SELECT job_name, owner_name = current_user AS mine, schedule, command, enabled, pipeline,
       next_run_at = (SELECT mlops.next_runs('0 0 1 1 *', now(), 1)) AS next_ok
  FROM mlops.jobs;
-- the same name replaces the job
SELECT mlops.schedule('yearly-report', '0 0 2 1 *', 'SELECT 2') = job_id AS same_id
  FROM mlops.jobs WHERE job_name = 'yearly-report';
SELECT schedule, command FROM mlops.jobs;
SELECT mlops.alter_job('yearly-report', enabled => false, max_runtime => '5 minutes', max_retries => 2);
SELECT enabled, max_runtime, max_retries FROM mlops.jobs;
SELECT mlops.alter_job('yearly-report', schedule => '@yearly', command => 'SELECT 3', enabled => true);
SELECT schedule, command, enabled FROM mlops.jobs;
SELECT mlops.run_job('yearly-report');
SELECT action, details->>'job_name' AS job FROM mlops.audit_log
 WHERE action LIKE 'job.%' ORDER BY event_id;

-- bad input
SELECT mlops.schedule('', '@daily', 'SELECT 1');
SELECT mlops.schedule('x', NULL, 'SELECT 1');
SELECT mlops.schedule('x', '@daily', NULL);
SELECT mlops.schedule('x', '60 * * * *', 'SELECT 1');
SELECT mlops.schedule('x', '@daily', 'SELEC 1');
SELECT mlops.schedule('x', '@daily', '');
SELECT mlops.schedule('x', '@daily', 'BEGIN; SELECT 1; COMMIT');
SELECT mlops.schedule('x', '@daily', 'VACUUM');
SELECT mlops.schedule('x', '@daily', 'COPY mlops.jobs TO STDOUT');
SELECT mlops.alter_job('nope', enabled => false);
SELECT mlops.alter_job('yearly-report', max_retries => -1);
SELECT mlops.alter_job('yearly-report', max_runtime => '0 seconds');
SELECT mlops.alter_job('yearly-report', retry_delay => '10 ms');
SELECT mlops.alter_job('yearly-report', schedule => 'every now and then');
SELECT mlops.unschedule('nope');
SELECT mlops.run_job('nope');
-- boundaries: names, schedules and commands are bounded, and so is what a message echoes
SELECT mlops.schedule(repeat('j', 201), '@daily', 'SELECT 1');
SELECT mlops.schedule('x', repeat('* ', 50000), 'SELECT 1');
SELECT mlops.schedule('x', '@daily', 'SELECT "' || repeat('x', 100000));
SELECT mlops.alter_job(repeat('j', 100000), enabled => false);
SELECT mlops.alter_job('yearly-report', max_runtime => '11 years');
SELECT mlops.alter_job('yearly-report', retry_delay => '2 hours');
SELECT mlops.alter_job('yearly-report', max_retries => 2147483647);
SELECT mlops.schedule_pipeline('x', 'data_pipeline', '@daily', jsonb_build_object(repeat('k', 100000), 1));

-- commands are parse-analysed when scheduled, as the role that runs them:
-- what would fail at every run is refused now, with the analysis error
SELECT mlops.schedule('x', '@daily', 'SELECT no_such_function(1)');
SELECT mlops.schedule('x', '@daily', 'INSERT INTO no_such_table VALUES (1)');
SELECT mlops.schedule('x', '@daily', 'SELECT 1; SELECT no_such_column FROM mlops.jobs');
SELECT mlops.schedule('x', '@daily', 'CALL no_such_procedure()');
SELECT mlops.schedule('x', '@daily', 'REFRESH MATERIALIZED VIEW no_such_view');
SELECT mlops.schedule('x', '@daily', 'TRUNCATE mlops.jobs, no_such_table');
SELECT mlops.schedule('x', '@daily', 'SELECT $1');
SELECT mlops.schedule('x', '@daily', 'SELECT ''abc''::integer');
SELECT mlops.schedule_pipeline('x', 'data_pipeline', '@daily', '{"data_source": "t", "output_table": "u"}') > 0 AS pipelines_pass;
SELECT mlops.unschedule('x');
-- the SQLSTATE is the analysis error's
\set VERBOSITY sqlstate
SELECT mlops.schedule('x', '@daily', 'SELECT no_such_function(1)');
SELECT mlops.schedule('x', '@daily', 'SELECT * FROM no_such_table');
SELECT mlops.schedule('x', '@daily', 'SELECT no_such_column FROM mlops.jobs');
SELECT mlops.schedule('x', '@daily', 'REFRESH MATERIALIZED VIEW mlops.jobs');
\set VERBOSITY default
-- statements after one that may create objects are not analysed
SELECT mlops.schedule('ddl-first', '@daily',
         'CREATE TABLE IF NOT EXISTS job_totals (n bigint); INSERT INTO job_totals SELECT count(*) FROM mlops.jobs') > 0 AS scheduled;
-- validate => false accepts a command whose objects are created later
SELECT mlops.schedule('later', '@daily', 'INSERT INTO created_later VALUES (1)', validate => false) > 0 AS scheduled;
SELECT mlops.alter_job('later', command => 'INSERT INTO created_later VALUES (2)');
CREATE TABLE created_later (x integer);
SELECT mlops.alter_job('later', command => 'INSERT INTO created_later VALUES (2)');
SELECT mlops.alter_job('later', command => 'INSERT INTO created_later VALUES (''two'')');
SELECT mlops.alter_job('later', command => 'SELECT no_such_function()', validate => false);
SELECT mlops.alter_job('later', command => 'SELEC 1', validate => false);
SELECT mlops.alter_job('later', command => 'SELECT 1', validate => NULL);
SELECT job_name, command FROM mlops.jobs WHERE job_name IN ('ddl-first', 'later') ORDER BY job_name;
SELECT details->>'validate' AS validate FROM mlops.audit_log
 WHERE action = 'job.alter' AND details->>'job_name' = 'later' ORDER BY event_id;
SELECT mlops.unschedule('ddl-first'), mlops.unschedule('later');
DROP TABLE created_later;

-- a job copied from another database (pg_dump, CREATE DATABASE ... TEMPLATE)
-- is paused: run_job refuses it until alter_job(enabled => true) stamps it
-- with this database (the scheduler's side is tested in test/t/053_scheduler_copy.pl)
SELECT home_database_oid = (SELECT oid FROM pg_database WHERE datname = current_database()) AS this_db,
       home_system_identifier = (SELECT system_identifier FROM pg_control_system()) AS this_cluster,
       paused_reason
  FROM mlops.jobs WHERE job_name = 'yearly-report';
UPDATE mlops.jobs SET home_database_oid = 1, enabled = false, paused_reason = 'copied'
 WHERE job_name = 'yearly-report';
SELECT mlops.run_job('yearly-report');
SELECT mlops.alter_job('yearly-report', max_retries => 1);
SELECT enabled, paused_reason FROM mlops.jobs WHERE job_name = 'yearly-report';
SELECT mlops.alter_job('yearly-report', enabled => true);
SELECT enabled, paused_reason, home_database_oid = mlops._database_oid() AS this_db
  FROM mlops.jobs WHERE job_name = 'yearly-report';
SELECT details->>'resumed' AS resumed FROM mlops.audit_log
 WHERE action = 'job.alter' AND details->>'job_name' = 'yearly-report' ORDER BY event_id DESC LIMIT 1;
SELECT mlops.run_job('yearly-report');
-- a stamp from another cluster (same OID) is a copy too
UPDATE mlops.jobs SET home_system_identifier = home_system_identifier # 1, run_requested = false
 WHERE job_name = 'yearly-report';
SELECT mlops.run_job('yearly-report');
-- scheduling under the same name again stamps it here as well
SELECT mlops.schedule('yearly-report', '@yearly', 'SELECT 3') > 0 AS rescheduled;
SELECT enabled, paused_reason, home_system_identifier = mlops._system_identifier() AS this_cluster
  FROM mlops.jobs WHERE job_name = 'yearly-report';

-- pipelines as jobs: the command calls the pipeline with named arguments
SELECT mlops.schedule_pipeline('nightly-clean', 'data_pipeline', '0 3 * * *',
         '{"data_source": "raw_events", "output_table": "clean_events", "validate": true,
           "rules": {"not_null": ["id"]}}') > 0 AS scheduled;
SELECT command, pipeline, parameters->>'output_table' AS output FROM mlops.jobs WHERE job_name = 'nightly-clean';
SELECT mlops.schedule_pipeline('x', 'deploy_pipeline', '@daily');
SELECT mlops.schedule_pipeline('x', 'data_pipeline', '@daily', '{"data_sauce": "t"}');
SELECT mlops.schedule_pipeline('x', 'data_pipeline', '@daily', '{"data_source": 5}');
SELECT mlops.schedule_pipeline('x', 'data_pipeline', '@daily', '[]');
SELECT mlops.schedule_pipeline('x', 'data_pipeline', '@daily', '{"data_source": "raw_events"}');
SELECT mlops.schedule_pipeline('x', 'training_pipeline', '@daily', '{"model_name": "m"}');
-- monitoring_pipeline: one parameter, the model
SELECT mlops.schedule_pipeline('churn-monitoring', 'monitoring_pipeline', '@hourly',
         '{"model": "churn"}') > 0 AS scheduled;
SELECT command, pipeline, parameters FROM mlops.jobs WHERE job_name = 'churn-monitoring';
SELECT mlops.schedule_pipeline('x', 'monitoring_pipeline', '@hourly');
SELECT mlops.schedule_pipeline('x', 'monitoring_pipeline', '@hourly', '{"model": null}');
SELECT mlops.schedule_pipeline('x', 'monitoring_pipeline', '@hourly', '{"model": ["churn"]}');
SELECT mlops.schedule_pipeline('x', 'monitoring_pipeline', '@hourly', '{"model": "churn", "window": 10}');
SELECT mlops.schedule_pipeline('x', 'monitoring_pipeline', 'hourly', '{"model": "churn"}');
SELECT mlops.alter_job('churn-monitoring', command => 'SELECT 1');
SELECT count(*) AS rejected_jobs_saved FROM mlops.jobs WHERE job_name = 'x';
SELECT mlops.unschedule('churn-monitoring');
SELECT mlops.alter_job('nightly-clean', command => 'SELECT 1');

-- row-level security: a role sees and changes only its own jobs
CREATE ROLE sched_alice LOGIN;
CREATE ROLE sched_nologin;
GRANT USAGE ON SCHEMA mlops TO sched_alice, sched_nologin;
GRANT EXECUTE ON FUNCTION mlops.schedule(text, text, text, boolean), mlops.unschedule(text),
      mlops.alter_job(text, text, text, boolean, interval, integer, interval, boolean), mlops.run_job(text)
   TO sched_alice, sched_nologin;
GRANT SELECT ON mlops.jobs, mlops.job_runs, mlops.pipeline_runs TO sched_alice;
SET ROLE sched_alice;
SELECT count(*) AS visible FROM mlops.jobs;
SELECT mlops.schedule('alice-job', '0 0 1 1 *', 'SELECT 1') > 0 AS scheduled;
SELECT job_name FROM mlops.jobs;
SELECT mlops.unschedule('yearly-report');
SELECT mlops.alter_job('nightly-clean', enabled => false);
UPDATE mlops.jobs SET enabled = false;
DELETE FROM mlops.job_runs;
SELECT mlops.next_runs('@daily');
RESET ROLE;
-- commands are analysed as their owner, with the search_path a session of
-- the owner starts with ("$user", and ALTER ROLE ... SET search_path), not
-- the caller's current one
CREATE SCHEMA sched_alice AUTHORIZATION sched_alice;
CREATE TABLE sched_alice.alice_log (at timestamptz);
ALTER TABLE sched_alice.alice_log OWNER TO sched_alice;
CREATE SCHEMA sched_private;
CREATE TABLE sched_private.stats (n bigint);
CREATE SCHEMA sched_reports;
GRANT USAGE ON SCHEMA sched_reports TO sched_alice;
CREATE TABLE sched_reports.report_log (at timestamptz);
SET ROLE sched_alice;
SET search_path = public;
SELECT mlops.schedule('alice-log', '0 0 1 1 *', 'INSERT INTO alice_log VALUES (now())') > 0 AS scheduled;
SELECT mlops.schedule('alice-private', '0 0 1 1 *', 'SELECT n FROM sched_private.stats');
SELECT mlops.schedule('alice-report', '0 0 1 1 *', 'INSERT INTO report_log VALUES (now())');
RESET ROLE;
ALTER ROLE sched_alice SET search_path = sched_reports;
SET ROLE sched_alice;
SELECT mlops.schedule('alice-report', '0 0 1 1 *', 'INSERT INTO report_log VALUES (now())') > 0 AS scheduled;
SELECT mlops.schedule('alice-log2', '0 0 1 1 *', 'INSERT INTO alice_log VALUES (now())');
RESET ROLE;
RESET search_path;
DO $$ BEGIN
  EXECUTE format('ALTER ROLE sched_alice IN DATABASE %I SET search_path = "$user", sched_reports', current_database());
END $$;
SET ROLE sched_alice;
SELECT mlops.schedule('alice-log2', '0 0 1 1 *', 'INSERT INTO alice_log VALUES (now())') > 0 AS scheduled;
RESET ROLE;
SELECT mlops.schedule('alice-log', '0 0 1 1 *', 'INSERT INTO alice_log VALUES (now())');
SET ROLE sched_alice;
SELECT mlops.unschedule('alice-log'), mlops.unschedule('alice-report'), mlops.unschedule('alice-log2');
RESET ROLE;
SET ROLE sched_nologin;
SELECT mlops.schedule('x', '@daily', 'SELECT 1');
RESET ROLE;
SELECT job_name, owner_name FROM mlops.jobs ORDER BY job_name;

-- unschedule
SELECT mlops.unschedule('yearly-report');
SELECT job_name FROM mlops.jobs ORDER BY job_name;

-- data_pipeline: profile, rules, clean rows, rejections
CREATE TABLE raw_events (id int, age int, plan text, score float8, seen date);
INSERT INTO raw_events VALUES
  (1, 30, 'basic', 0.5, '2024-01-01'), (2, 45, 'pro', 1.5, '2024-01-02'),
  (3, NULL, 'pro', 2.5, '2024-01-03'), (4, 150, 'basic', 0.1, NULL),
  (5, 22, 'gold', NULL, '2024-01-05'), (5, 33, 'basic', 3.0, '2024-01-06'),
  (NULL, 40, 'pro', 1.0, '2024-01-07');
SELECT r->>'status' AS status,
       r->'result'->'rows_in' AS rows_in, r->'result'->'rows_written' AS written,
       r->'result'->'rows_rejected' AS rejected, r->'result'->'rejections' AS rejections,
       jsonb_array_length(r->'result'->'rejected_samples') AS samples,
       (r->'pipeline_run_id') IS NOT NULL AS recorded
  FROM mlops.data_pipeline('raw_events', 'clean_events', true,
         '{"not_null": ["id", "age"], "ranges": {"age": {"min": 0, "max": 120}},
           "allowed_values": {"plan": ["basic", "pro"]}, "unique": ["id"]}') AS r;
SELECT * FROM clean_events ORDER BY id;
-- the profile of every column
SELECT key, value FROM mlops.pipeline_runs p,
       jsonb_each(p.steps->0->'result'->'columns') ORDER BY key;
SELECT pipeline, status, jsonb_path_query_array(steps, '$[*].step') AS steps,
       jsonb_path_query_array(steps, '$[*].status') AS statuses, error
  FROM mlops.pipeline_runs ORDER BY pipeline_run_id;
-- a query as source, validation off, output refilled
SELECT r->>'status' AS status, r->'result'->'rows_written' AS written
  FROM mlops.data_pipeline('SELECT id, plan FROM raw_events WHERE id < 3', 'clean_events', false) AS r;
SELECT * FROM clean_events ORDER BY id;
-- failures are recorded, with the failing step
SELECT r->>'status' AS status, r->>'error' AS error, r->'steps'->-1->>'step' AS failed_step
  FROM mlops.data_pipeline('raw_events', 'clean2', true, '{"not_null": ["nope"]}') AS r;
SELECT r->>'status' AS status, r->>'error' AS error
  FROM mlops.data_pipeline('raw_events', 'clean2', true, '{"sometimes": ["id"]}') AS r;
SELECT r->>'status' AS status, r->>'error' AS error
  FROM mlops.data_pipeline('no_such_table', 'clean2') AS r;
SELECT to_regclass('clean2') IS NULL AS nothing_written;
SELECT status, error FROM mlops.pipeline_runs ORDER BY pipeline_run_id DESC LIMIT 3;

-- training_pipeline validates before it trains
SELECT r->>'status' AS status, r->>'error' AS error, r->'steps'->0->>'step' AS step
  FROM mlops.training_pipeline('raw_events', 'plan', 'm', model_type => 'lightgbm') AS r;
SELECT r->>'status' AS status, r->>'error' AS error
  FROM mlops.training_pipeline('raw_events', 'plan', 'm', task => 'clustering') AS r;
SELECT r->>'status' AS status, r->>'error' AS error
  FROM mlops.training_pipeline('raw_events', 'plan', 'm', min_metrics => '{"accuracy": "high"}') AS r;

-- users see their own pipeline runs only
SET ROLE sched_alice;
SELECT count(*) AS visible FROM mlops.pipeline_runs;
RESET ROLE;

-- Jobs are owned objects (issue 10).  alice owns jobs; bob is a stranger,
-- carol a member of alice, dave a member of the extension owner, audrey an
-- auditor.  Changing, running or unscheduling needs membership in the owner
-- (or in the extension owner); a job a role may not see does not exist for it.
CREATE ROLE sched_bob LOGIN;
CREATE ROLE sched_carol LOGIN IN ROLE sched_alice;
CREATE ROLE sched_dave LOGIN;
CREATE ROLE sched_audrey LOGIN;
DO $$ BEGIN EXECUTE format('GRANT %I TO sched_dave', current_user); END $$;
SELECT mlops.grant_capability(r, 'operator')
  FROM unnest(ARRAY['sched_alice', 'sched_bob', 'sched_carol', 'sched_dave', 'sched_audrey']) r;
SELECT mlops.grant_capability('sched_audrey', 'auditor');
SET ROLE sched_alice;
SELECT mlops.schedule('alice-only', '0 0 1 1 *', 'SELECT 1') > 0 AS scheduled;
SELECT mlops.schedule('shared-name', '0 0 1 1 *', 'SELECT 1') > 0 AS scheduled;
RESET ROLE;
SET ROLE sched_bob;
SELECT mlops.schedule('shared-name', '0 0 1 1 *', 'SELECT 2') > 0 AS scheduled;
SELECT job_name, owner_name FROM mlops.jobs ORDER BY job_name;
SELECT mlops.alter_job('alice-only', enabled => false);
SELECT mlops.run_job('alice-only');
SELECT mlops.unschedule('alice-only');
-- bob's own job of the same name is the one he changes
SELECT mlops.alter_job('shared-name', max_retries => 1);
RESET ROLE;
SELECT owner_name, max_retries FROM mlops.jobs WHERE job_name = 'shared-name' ORDER BY owner_name;
-- an auditor sees alice's jobs but may not change them
SET ROLE sched_audrey;
SELECT mlops.alter_job('alice-only', enabled => false);
SELECT mlops.run_job('alice-only');
SELECT mlops.unschedule('alice-only');
RESET ROLE;
-- carol, a member of alice, sees and changes alice's jobs, command included
-- (the run_job request and dave's disabling, which withdraws it, commit
-- together: the scheduler of this cluster never sees the request)
SET ROLE sched_carol;
SELECT job_name, owner_name FROM mlops.jobs ORDER BY job_name, owner_name;
SELECT mlops.alter_job('alice-only', max_retries => 3, command => 'SELECT 3');
BEGIN;
SELECT mlops.run_job('alice-only');
RESET ROLE;
SELECT command, max_retries, run_requested FROM mlops.jobs WHERE job_name = 'alice-only';
-- dave, a member of the extension owner, may change any job, but not write
-- a command that would run as alice, and must say which job he means
SET ROLE sched_dave;
SELECT mlops.alter_job('alice-only', max_retries => 4, enabled => false);
COMMIT;
RESET ROLE;
SELECT user_name, action, details->>'owner' AS owner FROM mlops.audit_log
 WHERE action LIKE 'job.%' AND details->>'job_name' = 'alice-only' ORDER BY event_id;
SELECT max_retries, enabled, run_requested FROM mlops.jobs WHERE job_name = 'alice-only';
SET ROLE sched_dave;
SELECT mlops.alter_job('alice-only', command => 'SELECT 4');
SELECT mlops.alter_job('shared-name', enabled => false);
SET ROLE sched_alice;
SELECT mlops.alter_job('shared-name', enabled => false);
RESET ROLE;
SELECT owner_name, enabled FROM mlops.jobs WHERE job_name = 'shared-name' ORDER BY owner_name;

-- set_owner('job', job_id, role): the actor must be allowed to change the job
-- and be a member of the new owner; owner_name follows; the new owner must
-- be able to log in and have no job of that name
SELECT job_id AS alice_only FROM mlops.jobs WHERE job_name = 'alice-only' \gset
SELECT job_id AS alice_shared FROM mlops.jobs WHERE job_name = 'shared-name' AND owner_name = 'sched_alice' \gset
SET ROLE sched_bob;
SELECT mlops.set_owner('job', :'alice_only', 'sched_bob');
RESET ROLE;
SET ROLE sched_alice;
SELECT mlops.set_owner('job', :'alice_only', 'sched_carol');
RESET ROLE;
SET ROLE sched_carol;
SELECT mlops.set_owner('job', :'alice_only', 'sched_carol');
RESET ROLE;
SELECT job_name, owner::regrole AS owner, owner_name FROM mlops.jobs WHERE job_id = :'alice_only';
SELECT mlops.set_owner('job', :'alice_only', 'sched_nologin');
SELECT mlops.set_owner('job', :'alice_shared', 'sched_bob');
SELECT mlops.set_owner('job', 'not-an-id', 'sched_bob');
SELECT mlops.set_owner('job', '-1', 'sched_bob');
SELECT action, resource_type, details->>'to' AS new_owner FROM mlops.audit_log
 WHERE action = 'ownership.set' ORDER BY event_id;
-- the handed-over job is carol's now: alice may no longer change it
SET ROLE sched_alice;
SELECT mlops.alter_job('alice-only', enabled => true);
RESET ROLE;

-- unschedule and alter_job(enabled => false) cancel a run in progress; the
-- run history stays after unschedule (the scheduler's side is in
-- test/t/054_scheduler_fairness.pl)
INSERT INTO mlops.job_runs (job_id, owner, status, due_at, started_at, command, job_name)
SELECT job_id, owner, 'running', now(), now(), command, job_name FROM mlops.jobs WHERE job_id = :'alice_only';
SET ROLE sched_carol;
SELECT mlops.alter_job('alice-only', enabled => false);
RESET ROLE;
SELECT status, message FROM mlops.job_runs WHERE job_id = :'alice_only' ORDER BY run_id;
SELECT details->>'cancelled_runs' AS cancelled FROM mlops.audit_log
 WHERE action = 'job.alter' ORDER BY event_id DESC LIMIT 1;
-- a worker whose command finished after the cancel is told to roll back
\set VERBOSITY terse
SELECT mlops._finish_run(run_id, 'succeeded', 1, '1', NULL, false)
  FROM mlops.job_runs WHERE job_id = :'alice_only';
\set VERBOSITY default
SELECT mlops._finish_run(run_id, 'failed', 0, NULL, 'late failure', false)
  FROM mlops.job_runs WHERE job_id = :'alice_only';
INSERT INTO mlops.job_runs (job_id, owner, status, due_at, started_at, command, job_name)
SELECT job_id, owner, 'running', now(), now(), command, job_name FROM mlops.jobs WHERE job_id = :'alice_only';
SET ROLE sched_carol;
SELECT mlops.unschedule('alice-only');
RESET ROLE;
SELECT job_id IS NULL AS job_gone, job_name, status, message FROM mlops.job_runs
 WHERE job_name = 'alice-only' ORDER BY run_id;
SELECT details->>'cancelled_runs' AS cancelled FROM mlops.audit_log
 WHERE action = 'job.unschedule' ORDER BY event_id DESC LIMIT 1;
-- a finished run is recorded once; a pipeline's "failed" document fails the run
INSERT INTO mlops.job_runs (job_id, owner, status, due_at, started_at, command, job_name)
SELECT job_id, owner, 'running', now(), now(), command, job_name FROM mlops.jobs WHERE job_id = :'alice_shared';
SELECT mlops._finish_run(max(run_id), 'succeeded', 1, '{"status": "failed", "error": "step broke"}', NULL, true)
  FROM mlops.job_runs;
SELECT status, message FROM mlops.job_runs ORDER BY run_id DESC LIMIT 1;

-- prometheus_metrics lists the runs of the jobs the caller may see (the
-- runs of yearly-report above depend on this cluster's scheduler: left out)
INSERT INTO mlops.job_runs (job_id, owner, status, due_at, started_at, finished_at, command, job_name)
SELECT job_id, owner, 'succeeded', now(), now(), now(), command, job_name FROM mlops.jobs
 WHERE job_name = 'shared-name';
SET ROLE sched_bob;
SELECT line FROM regexp_split_to_table(mlops.prometheus_metrics(), E'\n') line
 WHERE line LIKE 'mlops_job_runs_total%' AND line LIKE '%owner="sched_%';
SET ROLE sched_alice;
SELECT line FROM regexp_split_to_table(mlops.prometheus_metrics(), E'\n') line
 WHERE line LIKE 'mlops_job_runs_total%' AND line LIKE '%owner="sched_%';
SET ROLE sched_audrey;
SELECT line FROM regexp_split_to_table(mlops.prometheus_metrics(), E'\n') line
 WHERE line LIKE 'mlops_job_runs_total%' AND line LIKE '%owner="sched_%';
RESET ROLE;
SELECT line FROM regexp_split_to_table(mlops.prometheus_metrics(), E'\n') line
 WHERE line LIKE 'mlops_job_runs_total%' AND line LIKE '%owner="sched_%';

-- mlops.max_running_jobs_per_owner is range-checked (a sighup setting: only
-- ALTER SYSTEM or the configuration file set it)
SHOW mlops.max_running_jobs_per_owner;
ALTER SYSTEM SET mlops.max_running_jobs_per_owner = 0;
ALTER SYSTEM SET mlops.max_running_jobs_per_owner = 101;
ALTER SYSTEM SET mlops.max_running_jobs_per_owner = 1e19;
ALTER SYSTEM SET mlops.max_running_jobs_per_owner = 'two';
SET mlops.max_running_jobs_per_owner = 3;

DROP TABLE raw_events, clean_events;
DROP TABLE sched_alice.alice_log, sched_private.stats, sched_reports.report_log;
DROP SCHEMA sched_alice, sched_private, sched_reports;
DROP EXTENSION mlops;
DROP OWNED BY sched_alice, sched_nologin, sched_bob, sched_carol, sched_dave, sched_audrey;
DROP ROLE sched_alice, sched_nologin, sched_bob, sched_carol, sched_dave, sched_audrey;
