# Deploy, promote and roll back under 16 concurrent predicting sessions
# (pgbench): no prediction fails, every prediction is served by a version of
# the deployment (1 or 2, never the third, undeployed one), and there is never
# more than one active deployment.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('deploy_concurrency');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mlops'
max_connections = 40
log_min_messages = warning
mlops.train_progress_rounds = 0
});
$node->start;

# sql runs a query and returns its output
sub sql { my ($q) = @_; return $node->safe_psql('postgres', $q); }

sql(q{
CREATE EXTENSION mlops;
CREATE TABLE rows_ AS
SELECT i AS id, (i % 17)::float8 AS visits, ((i * 7) % 13) / 3.0::float8 AS spend,
       CASE WHEN (i % 17) + ((i * 7) % 13) / 3.0 > 10 THEN 'yes' ELSE 'no' END AS churned
  FROM generate_series(1, 300) AS i;
SELECT count(*) FROM mlops.train('m', 'rows_', 'churned', features => ARRAY['visits', 'spend'], hyperparams => '{"n_estimators": 3}', test_size => 0);
SELECT count(*) FROM mlops.train('m', 'rows_', 'churned', features => ARRAY['visits', 'spend'], hyperparams => '{"n_estimators": 4}', test_size => 0);
SELECT count(*) FROM mlops.train('m', 'rows_', 'churned', features => ARRAY['visits', 'spend'], hyperparams => '{"n_estimators": 5}', test_size => 0);
SELECT mlops.deploy('m', 1, strategy => 'direct', require_validation => false);
CREATE TABLE served (v integer, variant text);
});

my $script = $node->basedir . '/predict.sql';
open(my $fh, '>', $script) or die "cannot write $script: $!";
print $fh q{\set k random(1, 1000000)
INSERT INTO served SELECT (d->>'model_version')::int, d->>'variant'
  FROM mlops.predict_detail('m', '{"visits": 3, "spend": 1}', :k::text) d;
INSERT INTO served SELECT (d->>'model_version')::int, d->>'variant'
  FROM mlops.predict_detail('m', '{"visits": 9, "spend": 4}') d;
};
close($fh);

my ($out, $err) = ('', '');
my $bench = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '16', '-j', '4', '-T', '12', '-f', $script,
	  '-h', $node->host, '-p', $node->port, 'postgres' ],
	'>', \$out, '2>', \$err);

# meanwhile: canary, promote, roll back, again and again
my $max_active = 0;
my $cycles = 0;
my $deadline = time() + 9;
while (time() < $deadline)
{
	sql(q{SELECT mlops.deploy('m', 2, canary_percent => 50, require_validation => false)});
	usleep(300_000);
	my $active = sql(q{SELECT count(*) FROM mlops.deployments WHERE state IN ('pending', 'active')});
	$max_active = $active if $active > $max_active;
	if ($cycles % 2 == 0)
	{
		sql(q{SELECT mlops.promote_deployment(id) FROM mlops.deployments WHERE state = 'active'});
		usleep(300_000);
		sql(q{SELECT mlops.rollback('m')});    # back to version 1 from the history
	}
	else
	{
		sql(q{SELECT mlops.rollback('m')});    # ends the canary
	}
	usleep(200_000);
	$cycles++;
}
$bench->finish;
my $status = $?;

is($status, 0, 'pgbench: 16 sessions finished without a failed prediction')
  or diag("pgbench stdout:\n$out\nstderr:\n$err");
like($out, qr/number of clients: 16/, 'with 16 clients');
ok($cycles >= 5, "$cycles deploy / promote / rollback cycles ran meanwhile");
cmp_ok(sql(q{SELECT count(*) FROM served}), '>', 1000, 'many predictions were served');
is(sql(q{SELECT count(*) FROM served WHERE v NOT IN (1, 2) OR v IS NULL}), '0',
	'every prediction came from a version of the deployment');
is(sql(q{SELECT string_agg(DISTINCT v::text, ',' ORDER BY v::text) FROM served}), '1,2', 'both versions served');
is(sql(q{SELECT count(*) FROM served WHERE variant = 'canary' AND v <> 2}), '0',
	'a canary answer is always version 2');
is($max_active, 1, 'never more than one active deployment');
is(sql(q{SELECT count(*) FROM mlops.deployments WHERE state IN ('pending', 'active')}), '0', 'none left active');
is(sql(q{SELECT version FROM mlops.model_versions WHERE stage = 'Production'}), '1', 'version 1 serves at the end');

$node->stop;
done_testing();
