# Jobs in a copied database: CREATE DATABASE ... TEMPLATE and pg_dump/pg_restore
# copy mlops.jobs, and a copy must not run the original's jobs.  The copy's
# scheduler pauses them (enabled = false, paused_reason, a WARNING in the
# server log) while the original keeps running them; run_job refuses a paused
# job; alter_job(enabled => true) stamps it with the copy and it runs there.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep);

my $node = PostgreSQL::Test::Cluster->new('scheduler_copy');
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

# ticks returns how many times the job has written into its database
sub ticks { my ($db) = @_; return sql($db, 'SELECT count(*) FROM ticks'); }

# still_paused checks that a database's copy of the job writes nothing for three seconds
sub still_paused
{
	my ($db, $what) = @_;
	my $before = ticks($db);
	sleep(3);
	is(ticks($db), $before, $what);
}

# the original: a job every second
sql('postgres', 'CREATE DATABASE orig');
sql('orig', q{CREATE EXTENSION mlops;
  CREATE TABLE ticks (db text DEFAULT current_database(), at timestamptz DEFAULT clock_timestamp());
  SELECT mlops.schedule('tick', 'every 1 second', 'INSERT INTO ticks DEFAULT VALUES')});
wait_for('orig', 'SELECT count(*) >= 2 FROM ticks', 'the original runs its job');
is(sql('orig', q{SELECT home_database_oid = (SELECT oid FROM pg_database WHERE datname = 'orig')
  AND home_system_identifier = (SELECT system_identifier FROM pg_control_system()) AND paused_reason IS NULL
  FROM mlops.jobs WHERE job_name = 'tick'}), 't', 'the job is stamped with its database');

# CREATE DATABASE ... TEMPLATE copies the job; the copy pauses it
my $log_offset = -s $node->logfile;
sql('postgres', 'CREATE DATABASE copy TEMPLATE orig');
wait_for('copy', q{SELECT NOT enabled AND paused_reason LIKE 'the job was created in another database%'
  FROM mlops.jobs WHERE job_name = 'tick'}, 'the template copy pauses the job with a reason');
is(sql('copy', q{SELECT paused_reason FROM mlops.jobs WHERE job_name = 'tick'}),
	'the job was created in another database and this database is a copy of it (pg_dump and restore, '
	  . 'or CREATE DATABASE ... TEMPLATE); resume it here with mlops.alter_job(job_name, enabled => true)',
	'paused_reason says why and what to do');
like(slurp_file($node->logfile, $log_offset),
	qr/WARNING:  mlops paused job \d+ \("tick" of role \w+\): it was created in another database/,
	'the server log says so');
is(sql('copy', q{SELECT count(*) FROM ticks WHERE db = 'copy'}), '0', 'the copy never ran the job');
still_paused('copy', 'the paused job does not run in the copy');
my $orig_ticks = ticks('orig');
wait_for('orig', "SELECT count(*) >= $orig_ticks + 2 FROM ticks", 'the original still runs it');
is(sql('orig', q{SELECT enabled AND paused_reason IS NULL FROM mlops.jobs WHERE job_name = 'tick'}), 't',
	'and its job is not paused');

my ($rc, $out, $err) = $node->psql('copy', q{SELECT mlops.run_job('tick')});
like($err, qr/ERROR:  job "tick" is paused/, 'run_job refuses a paused job');

# alter_job(enabled => true) stamps the job with the copy, which then runs it
sql('copy', q{SELECT mlops.alter_job('tick', enabled => true)});
is(sql('copy', q{SELECT home_database_oid = (SELECT oid FROM pg_database WHERE datname = 'copy')
  AND enabled AND paused_reason IS NULL FROM mlops.jobs WHERE job_name = 'tick'}), 't',
	'alter_job(enabled => true) stamps the job with the copy');
wait_for('copy', q{SELECT count(*) >= 2 FROM ticks WHERE db = 'copy'}, 'and the copy runs it');
$orig_ticks = ticks('orig');
wait_for('orig', "SELECT count(*) >= $orig_ticks + 2 FROM ticks", 'both databases run their own job');

# pg_dump and pg_restore into another database: paused as well
my $dump = $node->basedir . '/orig.dump';
command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('orig') ], 'pg_dump succeeds');
sql('postgres', 'CREATE DATABASE restored');
$log_offset = -s $node->logfile;
command_ok([ 'pg_restore', '-d', $node->connstr('restored'), $dump ], 'pg_restore succeeds');
wait_for('restored', q{SELECT NOT enabled AND paused_reason LIKE 'the job was created in another database%'
  FROM mlops.jobs WHERE job_name = 'tick'}, 'the restored job is paused');
is(sql('restored', q{SELECT home_database_oid = (SELECT oid FROM pg_database WHERE datname = 'orig')
  FROM mlops.jobs WHERE job_name = 'tick'}), 't', 'it keeps the stamp of the database it came from');
is(sql('restored', q{SELECT count(*) FROM mlops.job_runs WHERE status IN ('scheduled', 'running')}), '0',
	'no run is left unfinished in the restored copy');
is(sql('restored', q{SELECT count(*) FROM ticks WHERE db = 'restored'}), '0', 'the restored copy never ran the job');
still_paused('restored', 'the paused job does not run after the restore');
like(slurp_file($node->logfile, $log_offset), qr/WARNING:  mlops paused job \d+ \("tick"/,
	'the server log says so');
$orig_ticks = ticks('orig');
wait_for('orig', "SELECT count(*) >= $orig_ticks + 2 FROM ticks", 'the original still runs its job');

sql('restored', q{SELECT mlops.alter_job('tick', enabled => true)});
wait_for('restored', q{SELECT count(*) >= 2 FROM ticks WHERE db = 'restored'},
	'alter_job(enabled => true) resumes it in the restored copy');
is(sql('restored', q{SELECT action FROM mlops.audit_log WHERE details->>'resumed' = 'true'}), 'job.alter',
	'the audit log records the resumption');

# a disabled job in the original stays disabled in a copy, with the reason
sql('orig', q{SELECT mlops.schedule('quiet', '@yearly', 'SELECT 1');
  SELECT mlops.alter_job('quiet', enabled => false)});
sql('postgres', 'CREATE DATABASE copy2 TEMPLATE orig');
wait_for('copy2', q{SELECT count(*) = 2 FROM mlops.jobs WHERE NOT enabled AND paused_reason IS NOT NULL},
	'every job of a copy is paused, enabled or not');

$node->stop;
done_testing();
