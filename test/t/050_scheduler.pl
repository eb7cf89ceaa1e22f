# The job scheduler with real background workers and real time: interval and
# cron jobs fire, disabled jobs do not, run_job, retries, max_runtime, job
# owners' privileges, application_name, two databases, a dropped owner,
# DROP DATABASE, SIGHUP and mlops.timezone.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my $node = PostgreSQL::Test::Cluster->new('scheduler');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mlops'
max_worker_processes = 32
log_min_messages = warning
});
$node->start;

# sql runs a query in a database and returns its output
sub sql { my ($db, $q) = @_; return $node->safe_psql($db, $q); }

# wait_for polls a query until it returns 't' (or times out, failing the test)
sub wait_for
{
	my ($db, $q, $what) = @_;
	ok($node->poll_query_until($db, $q), $what);
}

sql('postgres', 'CREATE EXTENSION mlops');
my $scheduler_query = q{SELECT pid FROM pg_stat_activity
  WHERE backend_type = 'mlops scheduler' AND datname = current_database()};
wait_for('postgres', "SELECT count(*) = 1 FROM ($scheduler_query) s", 'a scheduler starts after CREATE EXTENSION');
my $scheduler_pid = sql('postgres', $scheduler_query);
is(sql('postgres', q{SELECT application_name FROM pg_stat_activity WHERE backend_type = 'mlops launcher'}),
	'mlops launcher', 'the launcher is visible in pg_stat_activity');

# an every-1-second job runs at least 3 times in 5 seconds
sql('postgres', 'CREATE TABLE ticks (at timestamptz DEFAULT clock_timestamp())');
sql('postgres', q{SELECT mlops.schedule('tick', 'every 1 second', 'INSERT INTO ticks DEFAULT VALUES')});
sleep(5.0);
my $ticks = sql('postgres', 'SELECT count(*) FROM ticks');
cmp_ok($ticks, '>=', 3, "every 1 second: $ticks runs in 5 seconds");
cmp_ok($ticks, '<=', 6, 'no more runs than slots');
is(sql('postgres', q{SELECT count(*) FROM mlops.job_runs r JOIN mlops.jobs j USING (job_id)
  WHERE j.job_name = 'tick' AND r.status = 'succeeded' AND r.rows = 1 AND r.started_at >= r.due_at}),
	sql('postgres', q{SELECT count(*) FROM mlops.job_runs r JOIN mlops.jobs j USING (job_id)
  WHERE j.job_name = 'tick' AND r.status <> 'running'}), 'every finished run succeeded and started after it was due');
is(sql('postgres', q{SELECT count(DISTINCT due_at) = count(*) FROM mlops.job_runs r JOIN mlops.jobs j USING (job_id) WHERE j.job_name = 'tick'}),
	't', 'one run per slot');
sql('postgres', q{SELECT mlops.unschedule('tick')});

# a disabled job does not run; run_job runs it once anyway
sql('postgres', q{BEGIN;
  SELECT mlops.schedule('off', 'every 1 second', 'INSERT INTO ticks DEFAULT VALUES');
  SELECT mlops.alter_job('off', enabled => false);
  COMMIT});
sleep(3);
is(sql('postgres', q{SELECT count(*) FROM mlops.job_runs r JOIN mlops.jobs j USING (job_id) WHERE j.job_name = 'off'}),
	'0', 'a disabled job does not run');
sql('postgres', q{SELECT mlops.run_job('off')});
wait_for('postgres', q{SELECT count(*) = 1 FROM mlops.job_runs r JOIN mlops.jobs j USING (job_id)
  WHERE j.job_name = 'off' AND r.status = 'succeeded'}, 'run_job runs a disabled job once');
sleep(2);
is(sql('postgres', q{SELECT count(*) FROM mlops.job_runs r JOIN mlops.jobs j USING (job_id) WHERE j.job_name = 'off'}),
	'1', 'and only once');

# a cron job fires at its minute
sql('postgres', q{SELECT mlops.schedule('minutely', '* * * * *', 'SELECT 1')});
wait_for('postgres', q{SELECT count(*) >= 1 FROM mlops.job_runs r JOIN mlops.jobs j USING (job_id)
  WHERE j.job_name = 'minutely' AND r.status = 'succeeded'}, 'a cron job runs');
is(sql('postgres', q{SELECT date_trunc('minute', due_at) = due_at AND started_at - due_at < interval '2 seconds'
  FROM mlops.job_runs r JOIN mlops.jobs j USING (job_id) WHERE j.job_name = 'minutely' ORDER BY run_id LIMIT 1}),
	't', 'it fired at the start of its minute');
sql('postgres', q{SELECT mlops.unschedule('minutely')});

# retries with backoff up to max_retries
sql('postgres', q{BEGIN;
  SELECT mlops.schedule('flaky', '0 0 1 1 *', 'SELECT 1/0');
  SELECT mlops.alter_job('flaky', max_retries => 2, retry_delay => '1 second');
  SELECT mlops.run_job('flaky');
  COMMIT});
wait_for('postgres', q{SELECT count(*) = 3 FROM mlops.job_runs r JOIN mlops.jobs j USING (job_id)
  WHERE j.job_name = 'flaky' AND r.status = 'failed'}, 'a failing job is retried');
sleep(3);
is(sql('postgres', q{SELECT string_agg(attempt::text || ':' || message, ', ' ORDER BY run_id)
  FROM mlops.job_runs r JOIN mlops.jobs j USING (job_id) WHERE j.job_name = 'flaky'}),
	'1:division by zero, 2:division by zero, 3:division by zero', 'up to max_retries, then it waits for its schedule');
is(sql('postgres', q{SELECT (r3.started_at - r2.finished_at) > (r2.started_at - r1.finished_at)
  FROM (SELECT r.* FROM mlops.job_runs r JOIN mlops.jobs j USING (job_id) WHERE j.job_name = 'flaky') r1,
       (SELECT r.* FROM mlops.job_runs r JOIN mlops.jobs j USING (job_id) WHERE j.job_name = 'flaky') r2,
       (SELECT r.* FROM mlops.job_runs r JOIN mlops.jobs j USING (job_id) WHERE j.job_name = 'flaky') r3
  WHERE r1.attempt = 1 AND r2.attempt = 2 AND r3.attempt = 3}), 't', 'the backoff grows');

# max_runtime terminates a run that overstays; runs show up in pg_stat_activity
sql('postgres', q{BEGIN;
  SELECT mlops.schedule('sleeper', '0 0 1 1 *', 'SELECT pg_sleep(60)');
  SELECT mlops.alter_job('sleeper', max_runtime => '3 seconds');
  SELECT mlops.run_job('sleeper');
  COMMIT});
wait_for('postgres', q{SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'mlops job sleeper'
  AND backend_type = 'mlops job' AND query = 'SELECT pg_sleep(60)'}, 'a run shows in pg_stat_activity as "mlops job sleeper"');
wait_for('postgres', q{SELECT status = 'timed_out' FROM mlops.job_runs r JOIN mlops.jobs j USING (job_id) WHERE j.job_name = 'sleeper'},
	'max_runtime marks the run timed out');
wait_for('postgres', q{SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'mlops job sleeper'},
	'and terminates its worker');
is(sql('postgres', q{SELECT finished_at - started_at < interval '10 seconds' FROM mlops.job_runs r JOIN mlops.jobs j USING (job_id)
  WHERE j.job_name = 'sleeper'}), 't', 'well before the command would have finished');

# a job scheduled by an unprivileged role runs as that role and cannot do what it cannot
sql('postgres', q{
  CREATE ROLE bob LOGIN;
  GRANT USAGE ON SCHEMA mlops TO bob;
  GRANT EXECUTE ON FUNCTION mlops.schedule(text, text, text, boolean), mlops.run_job(text) TO bob;
  GRANT SELECT ON mlops.jobs, mlops.job_runs TO bob;
  CREATE TABLE secrets (s text);
  CREATE TABLE whoami (cur name, ses name, super boolean);
  GRANT INSERT ON whoami TO bob});
$node->safe_psql('postgres', q{
  SELECT mlops.schedule('who', 'every 1 second', $$INSERT INTO whoami SELECT current_user, session_user, current_setting('is_superuser')::boolean$$);
  SELECT mlops.schedule('steal', 'every 1 second', 'INSERT INTO secrets VALUES (''mine'')');
  SELECT mlops.schedule('escalate', 'every 1 second', 'RESET ROLE; SET ROLE postgres; INSERT INTO secrets VALUES (''mine'')');
}, extra_params => [ '-U', 'bob' ]);
wait_for('postgres', q{SELECT count(*) >= 1 FROM whoami}, 'the unprivileged job runs');
is(sql('postgres', 'SELECT DISTINCT cur || ' . "'/'" . ' || ses || ' . "'/'" . ' || super FROM whoami'), 'bob/bob/false',
	'as its owner, in a session of its owner, without superuser');
wait_for('postgres', q{SELECT count(*) >= 1 FROM mlops.job_runs r JOIN mlops.jobs j USING (job_id)
  WHERE j.job_name = 'steal' AND r.status = 'failed'}, 'a job cannot write what its owner cannot');
is(sql('postgres', q{SELECT message FROM mlops.job_runs r JOIN mlops.jobs j USING (job_id)
  WHERE j.job_name = 'steal' ORDER BY run_id LIMIT 1}), 'permission denied for table secrets', 'with the reason recorded');
wait_for('postgres', q{SELECT count(*) >= 1 FROM mlops.job_runs r JOIN mlops.jobs j USING (job_id)
  WHERE j.job_name = 'escalate' AND r.status = 'failed'}, 'a job cannot become another role');
is(sql('postgres', 'SELECT count(*) FROM secrets'), '0', 'nothing was written');
is($node->safe_psql('postgres', 'SELECT count(*) FROM mlops.jobs', extra_params => [ '-U', 'bob' ]), '3',
	'the owner sees its own jobs only');

# the scheduler survives a job whose owner was dropped
sql('postgres', q{DROP OWNED BY bob; DROP ROLE bob});
wait_for('postgres', q{SELECT count(*) = 3 FROM mlops.jobs WHERE NOT enabled AND disabled_reason LIKE '%no longer exists'},
	'jobs of a dropped owner are disabled with a reason');
sql('postgres', q{SELECT mlops.schedule('after', 'every 1 second', 'SELECT 1')});
wait_for('postgres', q{SELECT count(*) >= 2 FROM mlops.job_runs r JOIN mlops.jobs j USING (job_id)
  WHERE j.job_name = 'after' AND r.status = 'succeeded'}, 'other jobs keep running');
is(sql('postgres', $scheduler_query), $scheduler_pid, 'in the same scheduler process');

# a command broken behind mlops.schedule's back disables its job
sql('postgres', q{SELECT mlops.schedule('garbled', 'every 1 second', 'SELECT 1');
  UPDATE mlops.jobs SET command = 'SELEC 1' WHERE job_name = 'garbled'});
wait_for('postgres', q{SELECT NOT enabled AND disabled_reason LIKE 'its command does not parse: syntax error%'
  FROM mlops.jobs WHERE job_name = 'garbled'}, 'a job whose command does not parse is disabled with a reason');
sleep(2);
is(sql('postgres', q{SELECT count(*) FROM mlops.job_runs r JOIN mlops.jobs j USING (job_id) WHERE j.job_name = 'garbled'}),
	'1', 'after one failed run');
is(sql('postgres', $scheduler_query), $scheduler_pid, 'and the scheduler carries on');

# two databases run their own jobs
sql('postgres', 'CREATE DATABASE second');
sql('second', 'CREATE EXTENSION mlops; CREATE TABLE ticks (db text DEFAULT current_database())');
sql('second', q{SELECT mlops.schedule('tick2', 'every 1 second', 'INSERT INTO ticks DEFAULT VALUES')});
wait_for('second', q{SELECT count(*) >= 2 FROM ticks}, 'the second database runs its job');
is(sql('second', q{SELECT DISTINCT db FROM ticks}), 'second', 'in its own database');
is(sql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'mlops scheduler'}), '2',
	'one scheduler per database with mlops');

# SIGHUP reloads settings (and the scheduler carries on)
sql('postgres', q{ALTER SYSTEM SET mlops.timezone = 'Europe/Berlin'; SELECT pg_reload_conf()});
wait_for('postgres', q{SELECT current_setting('mlops.timezone') = 'Europe/Berlin'}, 'mlops.timezone reloads');
is(sql('postgres', q{SELECT string_agg(t::text, ', ') FROM mlops.next_runs('30 2 * * *', '2024-03-30 12:00+00', 3) t}),
	'2024-03-31 01:00:00+00, 2024-04-01 00:30:00+00, 2024-04-02 00:30:00+00',
	'Europe/Berlin: the skipped 02:30 fires at the change (03:00 CEST), then 02:30 CEST');
is(sql('postgres', q{SELECT string_agg(t::text, ', ') FROM mlops.next_runs('30 2 * * *', '2024-10-26 12:00+00', 2) t}),
	'2024-10-27 00:30:00+00, 2024-10-28 01:30:00+00', 'the repeated 02:30 fires once');
is(sql('postgres', q{SELECT string_agg(t::text, ', ') FROM mlops.next_runs('0 0 * * *', '2024-07-01 00:00+00', 1) t}),
	'2024-07-01 22:00:00+00', 'local midnight in summer');
my ($rc, $out, $err) = $node->psql('postgres', q{ALTER SYSTEM SET mlops.timezone = 'Mars/Olympus'});
like($err, qr/invalid value for parameter "mlops.timezone"/, 'an unknown time zone is refused');
sql('postgres', q{ALTER SYSTEM RESET mlops.timezone; SELECT pg_reload_conf()});
sleep(1);
is(sql('postgres', $scheduler_query), $scheduler_pid, 'the scheduler survives SIGHUP');

# DROP DATABASE is never blocked by the scheduler or its jobs
sql('second', q{SELECT mlops.schedule('busy', 'every 1 second', 'SELECT pg_sleep(30)')});
wait_for('postgres', q{SELECT count(*) = 1 FROM pg_stat_activity WHERE datname = 'second' AND backend_type = 'mlops job'},
	'a job runs in the second database');
my $t0 = time();
sql('postgres', 'DROP DATABASE second');
cmp_ok(time() - $t0, '<', 10, 'DROP DATABASE completes while a job runs there');
wait_for('postgres', q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'mlops scheduler'},
	'its scheduler is gone, the other one stays');

# DROP EXTENSION stops the scheduler; CREATE EXTENSION brings it back
sql('postgres', 'DROP EXTENSION mlops');
wait_for('postgres', "SELECT count(*) = 0 FROM ($scheduler_query) s", 'DROP EXTENSION stops the scheduler');
sql('postgres', 'CREATE EXTENSION mlops');
wait_for('postgres', "SELECT count(*) = 1 FROM ($scheduler_query) s", 'CREATE EXTENSION starts it again');

$node->stop;
done_testing();
