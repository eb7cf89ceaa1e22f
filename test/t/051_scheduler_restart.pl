# The scheduler across restarts and crashes, and on a hot standby: a run cut
# short by an immediate shutdown is marked failed after restart and the job
# runs again; an overdue job runs once, not once per missed slot; a standby
# schedules nothing.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('primary');
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mlops'
max_worker_processes = 32
log_min_messages = warning
});
$node->start;

# sql runs a query on a node and returns its output
sub sql { my ($n, $q) = @_; return $n->safe_psql('postgres', $q); }

$node->safe_psql('postgres', 'CREATE EXTENSION mlops');

# an immediate shutdown during a long run
sql($node, q{SELECT mlops.schedule('long', 'every 2 seconds', 'SELECT pg_sleep(600)')});
ok($node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM mlops.job_runs WHERE status = 'running'}),
	'the long run is running');
my $cut = sql($node, q{SELECT run_id FROM mlops.job_runs WHERE status = 'running'});
$node->stop('immediate');
$node->start;
ok($node->poll_query_until('postgres', qq{SELECT status = 'failed' FROM mlops.job_runs WHERE run_id = $cut}),
	'after restart the interrupted run is marked failed');
is(sql($node, qq{SELECT message FROM mlops.job_runs WHERE run_id = $cut}),
	'server restarted before the run finished', 'with the reason');
ok($node->poll_query_until('postgres', qq{SELECT count(*) >= 1 FROM mlops.job_runs WHERE run_id > $cut AND status = 'running'}),
	'and the job runs again');
sql($node, q{SELECT mlops.unschedule('long')});

# after downtime an overdue job runs once, not once per missed slot
sql($node, q{CREATE TABLE ticks (at timestamptz DEFAULT clock_timestamp());
  SELECT mlops.schedule('tick', 'every 1 second', 'INSERT INTO ticks DEFAULT VALUES')});
ok($node->poll_query_until('postgres', q{SELECT count(*) >= 1 FROM ticks}), 'the interval job runs');
# a finished run older than mlops.job_history_days (30) is trimmed by the next scheduler
sql($node, q{INSERT INTO mlops.job_runs (job_id, owner, status, due_at, scheduled_at, finished_at, command, job_name)
  SELECT job_id, owner, 'succeeded', now() - interval '40 days', now() - interval '40 days',
         now() - interval '40 days', command, job_name FROM mlops.jobs WHERE job_name = 'tick'});
my $before = sql($node, 'SELECT count(*) FROM mlops.job_runs');
$node->stop('fast');
sleep(6);
$node->start;
ok($node->poll_query_until('postgres', "SELECT count(*) > $before FROM mlops.job_runs"), 'it runs after the restart');
sleep(2);
is(sql($node, q{SELECT count(*) FROM mlops.job_runs r JOIN mlops.jobs j USING (job_id)
   WHERE j.job_name = 'tick' AND r.scheduled_at > pg_postmaster_start_time()
     AND r.due_at < pg_postmaster_start_time()}), '1', 'the missed slots run once, not one by one');

is(sql($node, q{SELECT count(*) FROM mlops.job_runs WHERE finished_at < now() - interval '30 days'}), '0',
	'history older than mlops.job_history_days is trimmed');

# a hot standby's scheduler stays idle
$node->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($node, 'b', has_streaming => 1);
$standby->start;
$node->wait_for_catchup($standby);
sleep(2);
is($standby->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'mlops%'}), '0',
	'a hot standby runs no launcher, scheduler or job');
my $jobs_on_primary = sql($node, q{SELECT count(*) FROM mlops.job_runs});
ok($jobs_on_primary > 0, 'while the primary keeps running jobs');
# after promotion the standby schedules
$standby->promote;
ok($standby->poll_query_until('postgres', q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'mlops scheduler'}),
	'a promoted standby starts its scheduler');

$standby->stop;
$node->stop;
done_testing();
