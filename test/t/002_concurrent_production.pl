# At most one Production version per model, even when two sessions promote
# different versions at the same time.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('registry');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'mlops'\n");
$node->start;
$node->safe_psql('postgres', q{
    CREATE EXTENSION mlops;
    SELECT mlops._register_model_version('m', '\x00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
      FROM generate_series(1, 3);
});

# session 1 promotes version 1 and holds its transaction open
my $s1 = $node->background_psql('postgres');
$s1->query_safe('BEGIN');
$s1->query_safe(q{SELECT mlops.transition_stage('m', 1, 'Production')});

# session 2 promotes version 2: it waits for session 1, then archives version 1
my $s2 = $node->background_psql('postgres');
$s2->query_until(qr/started/, q{\echo started
SELECT mlops.transition_stage('m', 2, 'Production');
\echo done
});
$node->poll_query_until('postgres',
    q{SELECT count(*) > 0 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%transition_stage%'})
  or die 'session 2 did not wait';
$s1->query_safe('COMMIT');
$s2->query_until(qr/done/, '');

is($node->safe_psql('postgres', q{SELECT string_agg(version || ':' || stage, ',' ORDER BY version) FROM mlops.model_versions}),
   '1:Archived,2:Production,3:None', 'the later promotion archived the earlier one');

# without archive_existing the later promotion is refused, never both
$s1->query_safe('BEGIN');
$s1->query_safe(q{SELECT mlops.transition_stage('m', 2, 'Archived')});
$s1->query_safe(q{SELECT mlops.transition_stage('m', 3, 'Production', false)});
my ($out, $err) = (q{}, q{});
my $h = IPC::Run::start([ 'psql', '-X', '-d', $node->connstr('postgres'), '-c',
    q{SELECT mlops.transition_stage('m', 1, 'Production', false)} ], '>', \$out, '2>', \$err);
$node->poll_query_until('postgres',
    q{SELECT count(*) > 0 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%transition_stage%'})
  or die 'the third session did not wait';
$s1->query_safe('COMMIT');
$h->finish;
like($err, qr/already has a Production version/, 'the concurrent promotion without archive_existing fails');
is($node->safe_psql('postgres', q{SELECT count(*) FROM mlops.model_versions WHERE stage = 'Production'}), '1',
   'exactly one Production version');

$s1->quit;
$s2->quit;
$node->stop;
done_testing();
