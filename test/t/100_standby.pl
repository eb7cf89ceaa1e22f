# mlops on a streaming hot standby (issue 15, part 5).
#
# A primary trains two versions of a model, promotes one, names an alias and schedules a job; a
# standby is made from its base backup with streaming replication.  Checked on the standby:
#  (a) predictions (predict, predict_proba, predict_label, predict_batch, predict_table,
#      predict_proba_table), model_info (with the data fingerprint) and the drift statistics on
#      arrays work and equal the primary's;
#  (b) a stage promotion and an alias change committed on the primary reach a session of the
#      standby that has the model cached, once replayed: the registry's relcache invalidation
#      travels in the commit record's WAL;
#  (c) writers (train, record_prediction, schedule, run_job, transition_stage) fail with SQLSTATE
#      25006 "mlops.<function> cannot run on a hot standby" and a hint to use the primary;
#  (d) no mlops launcher or scheduler runs on the standby (they start when recovery finishes);
#      after promotion the scheduler starts, runs the scheduled job, and training works.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mlops'
max_worker_processes = 16
});
$primary->start;

$primary->safe_psql('postgres', q{
CREATE EXTENSION mlops;
SET mlops.train_progress_rounds = 0;
CREATE TABLE pts AS
  SELECT i AS id, (i % 17)::float8 AS a, (i % 11)::float8 AS b, (i % 3 = 0 OR i % 17 > 12)::int AS y
    FROM generate_series(1, 2000) i;
SELECT version FROM mlops.train('m', 'SELECT a, b, y FROM pts', 'y', task => 'classification',
  hyperparams => '{"n_estimators": 3, "max_depth": 2, "tree_method": "hist"}', test_size => 0);
SELECT version FROM mlops.train('m', 'SELECT a, b, y FROM pts', 'y', task => 'classification',
  hyperparams => '{"n_estimators": 30, "max_depth": 6, "tree_method": "hist"}', test_size => 0);
SELECT mlops.transition_stage('m', 1, 'Production');
SELECT mlops.set_alias('m', 'champion', 1);
SELECT mlops.create_monitor('m', 'classification', '{"accuracy": 0.9}');
CREATE TABLE ticks (t timestamptz DEFAULT clock_timestamp());
SELECT mlops.schedule('tick', 'every 1 second', 'INSERT INTO ticks DEFAULT VALUES');
});

$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'the standby is in recovery');

# (a) reads equal the primary's
my $x = q{ARRAY[13, 4]::float8[]};
my %reads = (
	'predict'             => qq{SELECT mlops.predict('m/Production', $x)},
	'predict_proba'       => qq{SELECT mlops.predict_proba('m\@champion', $x)},
	'predict_label'       => qq{SELECT mlops.predict_label('m/2', $x)},
	'predict_batch'       => q{SELECT mlops.predict_batch('m/2', '[{"a": 13, "b": 4}, {"a": 1, "b": 2}]')},
	'predict_table'       => q{SELECT count(*) || ' ' || round(sum(prediction)::numeric, 6) FROM mlops.predict_table('m/Production', 'SELECT id, a, b FROM pts', 'id')},
	'predict_proba_table' => q{SELECT round(sum(probabilities[2])::numeric, 6) FROM mlops.predict_proba_table('m/2', 'SELECT id, a, b FROM pts', 'id')},
	'model_info'          => q{SELECT mlops.model_info('m@champion') - 'created_at' - 'stage_changed_at'},
	'psi'                 => q{SELECT mlops.psi(ARRAY[1, 2, 3, 4, 5, 6, 7, 8]::float8[], ARRAY[2, 3, 4, 5, 6, 7, 8, 9]::float8[], 4)},
	'ks_test'             => q{SELECT mlops.ks_test(ARRAY[1, 2, 3, 4, 5]::float8[], ARRAY[3, 4, 5, 6, 7]::float8[])},
);
for my $what (sort keys %reads)
{
	my ($rc, $out, $err) = $standby->psql('postgres', $reads{$what});
	is($rc, 0, "$what runs on the standby") or diag($err);
	is($out, $primary->safe_psql('postgres', $reads{$what}), "$what on the standby equals the primary");
}
like($standby->safe_psql('postgres', q{SELECT mlops.model_info('m/1') -> 'data' ->> 'sha256'}),
	qr/^[0-9a-f]{64}$/, 'model_info shows the data fingerprint on the standby');

# (b) promotions and alias changes reach a standby session's model cache when replayed
my $p1 = sub { my ($m) = @_; return qq{SELECT (mlops.predict_proba('$m', $x))[2]}; };
my $v1 = $primary->safe_psql('postgres', $p1->('m/1'));
my $v2 = $primary->safe_psql('postgres', $p1->('m/2'));
isnt($v1, $v2, 'the two versions predict differently');
my $session = $standby->background_psql('postgres');
is($session->query_safe($p1->('m/Production')), $v1, 'standby session: Production is version 1');
is($session->query_safe($p1->('m@champion')), $v1, 'standby session: champion is version 1');
is($session->query_safe(q{SELECT string_agg(model || '/' || version, ',' ORDER BY model) FROM mlops.model_cache()}),
	'm/1', 'standby session: version 1 is cached');
$primary->safe_psql('postgres', q{SELECT mlops.transition_stage('m', 2, 'Production')});
$primary->wait_for_catchup($standby);
is($session->query_safe($p1->('m/Production')), $v2,
	'after the promotion is replayed, the standby session predicts Production with version 2');
is($session->query_safe($p1->('m@champion')), $v1, 'the alias still names version 1');
$primary->safe_psql('postgres', q{SELECT mlops.set_alias('m', 'champion', 2)});
$primary->wait_for_catchup($standby);
is($session->query_safe($p1->('m@champion')), $v2,
	'after the alias change is replayed, the standby session predicts champion with version 2');
$session->quit;

# (c) writers give 25006 with a hint
my %writers = (
	'train'             => q{SELECT * FROM mlops.train('m', 'SELECT a, b, y FROM pts', 'y', task => 'classification')},
	'record_prediction' => q{SELECT mlops.record_prediction('m', 1, 1)},
	'schedule'          => q{SELECT mlops.schedule('t2', 'every 1 minute', 'SELECT 1')},
	'run_job'           => q{SELECT mlops.run_job('tick')},
	'transition_stage'  => q{SELECT mlops.transition_stage('m', 1, 'Staging')},
);
for my $what (sort keys %writers)
{
	my ($rc, $out, $err) = $standby->psql('postgres', "\\set VERBOSITY verbose\n$writers{$what}");
	isnt($rc, 0, "$what fails on the standby");
	like($err, qr/ERROR:  25006: mlops\.$what cannot run on a hot standby/, "$what: SQLSTATE 25006 naming the function")
	  or diag($err);
	like($err, qr/HINT:  Run it on the primary server/, "$what: the hint says where to run it");
}

# (d) the scheduler idles on the standby and takes over after promotion
my $workers = q{SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type IN ('mlops launcher', 'mlops scheduler'))};
ok($primary->poll_query_until('postgres', "$workers >= 2"), 'the primary runs the mlops launcher and scheduler');
is($standby->safe_psql('postgres', $workers), '0', 'no mlops launcher or scheduler runs on the standby');
$primary->stop;
$standby->promote;
ok($standby->poll_query_until('postgres', "$workers >= 2"), 'after promotion the launcher and scheduler start');
my $promoted_at = $standby->safe_psql('postgres', 'SELECT clock_timestamp()');
ok($standby->poll_query_until('postgres', qq{SELECT count(*) > 0 FROM mlops.job_runs r JOIN mlops.jobs j USING (job_id)
	WHERE j.job_name = 'tick' AND r.status = 'succeeded' AND r.started_at > '$promoted_at'}),
	'the promoted server runs the scheduled job');
is($standby->safe_psql('postgres', q{SELECT version FROM mlops.train('m', 'SELECT a, b, y FROM pts', 'y',
	task => 'classification', hyperparams => '{"n_estimators": 2}', test_size => 0)}),
	'3', 'the promoted server trains');

done_testing();
