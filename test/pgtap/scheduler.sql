-- pgTAP: the scheduler's tables, keys, row-level security and invalidation trigger.
\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off
BEGIN;
CREATE EXTENSION IF NOT EXISTS mlops;
SELECT plan(33);

SELECT col_is_pk('mlops', 'jobs', 'job_id', 'jobs keyed by job_id');
SELECT col_is_unique('mlops', 'jobs', ARRAY['owner', 'job_name'], 'job names are unique per owner');
SELECT col_is_pk('mlops', 'job_runs', 'run_id', 'job runs keyed by run_id');
SELECT fk_ok('mlops', 'job_runs', 'job_id', 'mlops', 'jobs', 'job_id');
SELECT col_is_pk('mlops', 'pipeline_runs', 'pipeline_run_id', 'pipeline runs keyed by pipeline_run_id');
SELECT has_trigger('mlops', 'jobs', 'jobs_changed', 'job changes invalidate the scheduler''s copy');
SELECT is((SELECT relrowsecurity FROM pg_class WHERE oid = 'mlops.jobs'::regclass), true, 'jobs have row-level security');
SELECT is((SELECT relrowsecurity FROM pg_class WHERE oid = 'mlops.job_runs'::regclass), true, 'job runs have row-level security');
SELECT is((SELECT relrowsecurity FROM pg_class WHERE oid = 'mlops.pipeline_runs'::regclass), true, 'pipeline runs have row-level security');
SELECT policies_are('mlops', 'jobs', ARRAY['jobs_own'], 'one read policy on jobs');
SELECT throws_ok($$INSERT INTO mlops.job_runs (job_id, owner, status, due_at, command, job_name) VALUES (-1, 10, 'scheduled', now(), 'x', 'x')$$,
                 '23503', NULL, 'a run belongs to a job');
SELECT col_is_null('mlops', 'job_runs', 'job_id', 'a run outlives its job (job_id NULL after unschedule)');
SELECT col_not_null('mlops', 'job_runs', 'job_name', 'and keeps its name');
SELECT is((SELECT confdeltype FROM pg_constraint WHERE conname = 'job_runs_job_id_fkey'), 'n'::"char",
          'unscheduling a job sets its runs'' job_id to NULL');
SELECT has_trigger('mlops', 'jobs', 'jobs_owner_changed', 'owner_name follows the owner');
SELECT is((SELECT relation || ' ' || key_column FROM mlops._object_kinds() WHERE kind = 'job'), 'mlops.jobs job_id',
          'jobs are an owned kind, named by job_id');
SELECT lives_ok($$SELECT mlops.schedule('p2', '0 0 1 1 *', 'SELECT 1')$$, 'schedule a job');
SELECT lives_ok($$SELECT mlops.alter_job('p2', enabled => false)$$, 'alter_job on an existing job');
SELECT throws_ok($$INSERT INTO mlops.job_runs (job_id, owner, status, due_at, command, job_name)
                   SELECT job_id, owner, 'lost', now(), 'x', job_name FROM mlops.jobs WHERE job_name = 'p2'$$,
                 '23514', NULL, 'run statuses are checked');
SELECT lives_ok($$INSERT INTO mlops.job_runs (job_id, owner, status, due_at, command, job_name)
                  SELECT job_id, owner, 'cancelled', now(), 'x', job_name FROM mlops.jobs WHERE job_name = 'p2'$$,
                'a run may be cancelled');
SELECT is((SELECT count(*)::int FROM pg_settings WHERE name = 'mlops.max_running_jobs_per_owner'
             AND min_val = '1' AND max_val = '100' AND context = 'sighup'), 1,
          'mlops.max_running_jobs_per_owner: 1 to 100, sighup');
SELECT throws_ok($$SELECT mlops.schedule_pipeline('x', 'data_pipeline', '@daily', '{"data_source": "t", "extra": 1}')$$,
                 '22023', NULL, 'pipeline parameters are checked');

-- commands are parse-analysed as their owner unless validate => false
SELECT throws_ok($$SELECT mlops.schedule('p3', '@daily', 'SELECT pgtap_no_such_function()')$$,
                 '42883', 'function pgtap_no_such_function() does not exist', 'an unknown function is refused with its SQLSTATE');
SELECT throws_ok($$SELECT mlops.alter_job('p2', command => 'DELETE FROM pgtap_no_such_table')$$,
                 '42P01', 'relation "pgtap_no_such_table" does not exist', 'alter_job checks a new command too');
SELECT lives_ok($$SELECT mlops.schedule('p3', '@daily', 'SELECT pgtap_no_such_function()', validate => false)$$,
                'validate => false accepts it');
SELECT lives_ok($$SELECT mlops.alter_job('p2', command => 'DELETE FROM pgtap_no_such_table', validate => false)$$,
                'alter_job(validate => false) accepts it');

-- jobs are stamped with their database; a copy's jobs are paused until resumed
SELECT col_not_null('mlops', 'jobs', 'home_database_oid', 'every job has a home database');
SELECT col_not_null('mlops', 'jobs', 'home_system_identifier', 'and a home cluster');
SELECT is((SELECT count(*)::int FROM mlops.jobs
            WHERE home_database_oid = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND home_system_identifier = (SELECT system_identifier FROM pg_control_system())),
          (SELECT count(*)::int FROM mlops.jobs), 'new jobs are stamped with this database');
UPDATE mlops.jobs SET home_database_oid = 1 WHERE job_name = 'p2';
SELECT throws_ok($$SELECT mlops.run_job('p2')$$, '55000', 'job "p2" is paused', 'run_job refuses a job from another database');
SELECT lives_ok($$SELECT mlops.alter_job('p2', enabled => true)$$, 'alter_job(enabled => true) resumes it');
SELECT is((SELECT home_database_oid = mlops._database_oid() AND enabled AND paused_reason IS NULL
             FROM mlops.jobs WHERE job_name = 'p2'), true, 'stamped with this database');
SELECT is((SELECT count(*)::int FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = 'mlops' AND p.proname IN ('schedule', 'schedule_pipeline', 'unschedule', 'alter_job',
                                                         'run_job', 'next_runs', 'training_pipeline', 'data_pipeline')
              AND has_function_privilege('public', p.oid, 'EXECUTE')), 0,
          'PUBLIC can run no scheduler or pipeline function');

SELECT * FROM finish();
ROLLBACK;
