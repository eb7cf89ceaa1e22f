# Fairness and cancellation with real workers: one owner's sleeping jobs
# cannot take every slot (mlops.max_running_jobs_per_owner) -- without the
# limit they do, and another owner's job starves; unschedule and
# alter_job(enabled => false) cancel a running run (its worker is
# terminated, the run is recorded as cancelled and its history stays); and
# the SQL a job stores (a pipeline's parameters) runs as the job's owner,
# whoever triggers the run.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep);

my $node = PostgreSQL::Test::Cluster->new('fairness');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mlops'
max_worker_processes = 32
log_min_messages = warning
mlops.max_running_jobs = 3
mlops.max_running_jobs_per_owner = 2
});
$node->start;

# sql runs a query in the postgres database and returns its output
sub sql { my ($q) = @_; return $node->safe_psql('postgres', $q); }

# wait_for polls a query until it returns 't' (or times out, failing the test)
sub wait_for
{
	my ($q, $what) = @_;
	ok($node->poll_query_until('postgres', $q), $what);
}

# running counts the job workers of a role
sub running
{
	my ($role) = @_;
	return sql(qq{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'mlops job' AND usename = '$role'});
}

sql(q{CREATE EXTENSION mlops;
  CREATE ROLE hog LOGIN;
  CREATE ROLE meek LOGIN;
  SELECT mlops.grant_capability(r, 'operator') FROM unnest(ARRAY['hog', 'meek']) r;
  CREATE TABLE meek_log (at timestamptz DEFAULT clock_timestamp());
  GRANT INSERT ON meek_log TO meek});

# hog fills the scheduler with jobs that sleep for ten minutes
sql(q{SET ROLE hog;
  SELECT mlops.schedule('sleep' || i, 'every 1 second', 'SELECT pg_sleep(600)') FROM generate_series(1, 4) i});
wait_for(q{SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'mlops job' AND usename = 'hog'},
	"two of hog's jobs run");
sleep(3);
is(running('hog'), '2', 'and no more: mlops.max_running_jobs_per_owner = 2 of the 3 slots');
is(sql(q{SELECT count(*) FROM mlops.job_runs WHERE owner = 'hog'::regrole AND status IN ('scheduled', 'running')}),
	'2', 'the run history agrees');

# meek's job gets the free slot, every second
sql(q{SET ROLE meek; SELECT mlops.schedule('tick', 'every 1 second', 'INSERT INTO meek_log DEFAULT VALUES')});
wait_for(q{SELECT count(*) >= 3 FROM meek_log}, "meek's job runs beside hog's sleepers");

# without the per-owner limit, hog takes the last slot and meek starves
sql(q{ALTER SYSTEM SET mlops.max_running_jobs_per_owner = 3; SELECT pg_reload_conf()});
wait_for(q{SELECT count(*) = 3 FROM pg_stat_activity WHERE backend_type = 'mlops job' AND usename = 'hog'},
	'with the limit raised to 3, hog runs three sleepers');
sleep(1.5);
my $before = sql('SELECT count(*) FROM meek_log');
sleep(3);
is(sql('SELECT count(*) FROM meek_log'), $before, 'and meek\'s job no longer runs: hog holds every slot');
sql(q{ALTER SYSTEM RESET mlops.max_running_jobs_per_owner; SELECT pg_reload_conf()});

# unschedule cancels a running run: its worker is terminated, the run is
# recorded as cancelled, and the history stays
my $victim = sql(q{SELECT job_name FROM mlops.job_runs WHERE owner = 'hog'::regrole AND status = 'running'
  ORDER BY job_name LIMIT 1});
like($victim, qr/^sleep\d$/, "a running sleeper: $victim");
sql(qq{SET ROLE hog; SELECT mlops.unschedule('$victim')});
wait_for(qq{SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'mlops job $victim'},
	'unschedule terminates the running worker');
is(sql(qq{SELECT string_agg(status || ' ' || (job_id IS NULL) || ' ' || message, ', ')
  FROM mlops.job_runs WHERE job_name = '$victim' AND status NOT IN ('succeeded', 'failed')}),
	"cancelled true cancelled by hog: the job was unscheduled", 'the run is cancelled and kept, without its job');
is(sql(qq{SELECT finished_at - started_at < interval '60 seconds' FROM mlops.job_runs
  WHERE job_name = '$victim' AND status = 'cancelled'}), 't', 'long before its pg_sleep(600) would have ended');

# alter_job(enabled => false) cancels too, and the job stays (disabled)
wait_for(q{SELECT count(*) = 2 FROM mlops.job_runs WHERE owner = 'hog'::regrole AND status = 'running'},
	'hog has two runs again');
my $second = sql(q{SELECT job_name FROM mlops.job_runs WHERE owner = 'hog'::regrole AND status = 'running'
  ORDER BY job_name LIMIT 1});
sql(qq{SET ROLE hog; SELECT mlops.alter_job('$second', enabled => false)});
wait_for(qq{SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'mlops job $second'},
	'disabling a job terminates its running worker');
is(sql(qq{SELECT r.status || ' ' || j.enabled || ' ' || j.failures FROM mlops.job_runs r JOIN mlops.jobs j USING (job_id)
  WHERE j.job_name = '$second' ORDER BY r.run_id DESC LIMIT 1}), 'cancelled false 0',
	'the run is cancelled, the job disabled, and a cancel is not a failure');
sleep(2);
is(sql(qq{SELECT count(*) FROM mlops.job_runs r JOIN mlops.jobs j USING (job_id)
  WHERE j.job_name = '$second' AND r.status IN ('scheduled', 'running')}), '0', 'nor is it retried');
sql(q{SET ROLE hog; SELECT mlops.unschedule(job_name) FROM mlops.jobs WHERE owner = 'hog'::regrole});
wait_for(q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'mlops job' AND usename = 'hog'},
	"unscheduling hog's jobs stops all its workers");
sql(q{SET ROLE meek; SELECT mlops.unschedule('tick')});

# Stored SQL runs as the role that stored it.  mallory stores a pipeline
# whose source calls a function that would make her superuser; the
# superuser runs the job (the extension owner may): it runs as mallory, and
# fails.  And a pipeline job of the superuser refuses to refill a table
# mallory planted with a trigger.
sql(q{CREATE ROLE mallory LOGIN;
  SELECT mlops.grant_capability('mallory', 'scientist');
  SELECT mlops.grant_capability('mallory', 'operator');
  CREATE SCHEMA mallory AUTHORIZATION mallory;
  SET ROLE mallory;
  CREATE FUNCTION mallory.evil() RETURNS integer LANGUAGE plpgsql AS $$
  BEGIN
      ALTER ROLE mallory SUPERUSER;
      RETURN 1;
  END $$;
  CREATE TABLE mallory.planted (x integer);
  CREATE FUNCTION mallory.promote() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
      ALTER ROLE mallory SUPERUSER;
      RETURN NULL;
  END $$;
  CREATE TRIGGER promote BEFORE INSERT OR UPDATE ON mallory.planted
      FOR EACH STATEMENT EXECUTE FUNCTION mallory.promote();
  CREATE TRIGGER promote_truncate BEFORE TRUNCATE ON mallory.planted
      FOR EACH STATEMENT EXECUTE FUNCTION mallory.promote();
  GRANT USAGE ON SCHEMA mallory TO PUBLIC;
  GRANT ALL ON mallory.planted TO PUBLIC;
  SELECT mlops.schedule_pipeline('steal', 'data_pipeline', '@yearly',
           '{"data_source": "SELECT mallory.evil() AS x", "output_table": "mallory.out"}')});
sql(q{SELECT mlops.run_job('steal')});
wait_for(q{SELECT count(*) = 1 FROM mlops.job_runs WHERE job_name = 'steal' AND status = 'failed'},
	"mallory's pipeline job, run by the superuser, fails");
is(sql(q{SELECT message FROM mlops.job_runs WHERE job_name = 'steal'}),
	'must be superuser to alter superuser roles or change superuser attribute', 'because it ran as mallory');
is(sql(q{SELECT owner_name FROM mlops.pipeline_runs WHERE parameters->>'data_source' LIKE '%evil%'}), 'mallory',
	'and the pipeline run is recorded as hers');
sql(q{CREATE TABLE feed AS SELECT 1 AS x;
  SELECT mlops.schedule_pipeline('refill', 'data_pipeline', '@yearly',
           '{"data_source": "feed", "output_table": "mallory.planted"}');
  SELECT mlops.run_job('refill')});
wait_for(q{SELECT count(*) = 1 FROM mlops.job_runs WHERE job_name = 'refill' AND status = 'failed'},
	"the superuser's pipeline job does not write into mallory's table");
is(sql(q{SELECT message FROM mlops.job_runs WHERE job_name = 'refill'}),
	'permission denied to write output table mallory.planted', 'with the write rule\'s error');
is(sql(q{SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'}), 'f', 'mallory is still not a superuser');
is(sql('SELECT count(*) FROM mallory.planted'), '0', 'and her table is untouched');

$node->stop;
done_testing();
