# Streaming ADWIN detectors: concurrent updates of one detector are
# serialized (no update is lost) and the state survives a restart and a
# crash once committed.  And the drift statistics poll for interrupts: a
# statement timeout stops them long before they would finish.
use strict;
use warnings;
use Time::HiRes qw(time);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('adwin');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'mlops'\n");
$node->start;
$node->safe_psql('postgres', q{
    CREATE EXTENSION mlops;
    SELECT mlops.create_adwin('d');
    SELECT mlops.update_adwin('d', (g % 2)::float8) FROM generate_series(1, 500) g;
});

# session 1 updates inside an open transaction; session 2 must wait for it
my $s1 = $node->background_psql('postgres');
$s1->query_safe('BEGIN');
$s1->query_safe(q{SELECT mlops.update_adwin('d', 1)});
my $s2 = $node->background_psql('postgres');
$s2->query_until(qr/started/, q{\echo started
SELECT mlops.update_adwin('d', 0);
\echo done
});
$node->poll_query_until('postgres',
    q{SELECT count(*) > 0 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%update_adwin%'})
  or die 'session 2 did not wait';
$s1->query_safe('COMMIT');
$s2->query_until(qr/done/, '');
is($node->safe_psql('postgres', q{SELECT updates, width FROM mlops.adwin_detectors WHERE name = 'd'}),
   '502|502', 'the waiting update applied on top of the committed one');

# two sessions hammer the same detector at once: every update counts
my @loops;
for my $i (1 .. 2)
{
	my $s = $node->background_psql('postgres');
	$s->query_until(qr/go/, q{\echo go
SELECT count(mlops.update_adwin('d', (g % 3)::float8)) FROM generate_series(1, 400) g;
\echo finished
});
	push @loops, $s;
}
$_->query_until(qr/finished/, '') for @loops;
is($node->safe_psql('postgres', q{SELECT updates FROM mlops.adwin_detectors WHERE name = 'd'}),
   '1302', 'no update was lost between concurrent sessions');

# the state survives a clean restart and a crash
my $before = $node->safe_psql('postgres',
	q{SELECT width, mean, variance, updates, detections, md5(state) FROM mlops.adwin_detectors WHERE name = 'd'});
$node->restart;
is($node->safe_psql('postgres',
	q{SELECT width, mean, variance, updates, detections, md5(state) FROM mlops.adwin_detectors WHERE name = 'd'}),
   $before, 'state unchanged after restart');
$node->safe_psql('postgres', q{SELECT mlops.update_adwin('d', 10) FROM generate_series(1, 200)});
my $detections = $node->safe_psql('postgres', q{SELECT detections FROM mlops.adwin_detectors WHERE name = 'd'});
cmp_ok($detections, '>=', 1, 'the restarted detector still sees the jump to 10');
$before = $node->safe_psql('postgres',
	q{SELECT width, updates, detections, md5(state) FROM mlops.adwin_detectors WHERE name = 'd'});
$node->stop('immediate');
$node->start;
is($node->safe_psql('postgres',
	q{SELECT width, updates, detections, md5(state) FROM mlops.adwin_detectors WHERE name = 'd'}),
   $before, 'committed state survives a crash');

# the statistics check for interrupts in their loops over data (sorting, binning, the ECDF walk)
$node->safe_psql('postgres', q{
    CREATE TABLE big AS SELECT ARRAY(SELECT random() FROM generate_series(1, 4000000)) AS r,
                               ARRAY(SELECT random() + 0.1 FROM generate_series(1, 4000000)) AS c;
});
for my $q ('SELECT mlops.psi(r, c, 10000) FROM big', 'SELECT statistic FROM big, mlops.ks_test(r, c)',
	'SELECT mlops.wasserstein(r, c) FROM big')
{
	my $t0 = time;
	$node->safe_psql('postgres', $q);
	my $full = time - $t0;
	my $limit = int($full * 1000 / 8) + 1;
	$t0 = time;
	my ($ret, $out, $err) = $node->psql('postgres', "SET statement_timeout = '${limit}ms'; $q");
	my $stopped = time - $t0;
	like($err, qr/canceling statement due to statement timeout/, "a statement timeout cancels $q");
	cmp_ok($stopped, '<', $full * 0.6,
		sprintf('and stops it early (%.2f s of %.2f s, timeout %d ms)', $stopped, $full, $limit));
}

$s1->quit;
$s2->quit;
$_->quit for @loops;
$node->stop;
done_testing();
