# predict_table's helper thread lives as long as its backend (src/xgb/xgb.c):
# it serves every call of the session, survives a cancelled call and an
# error in the middle of a scan, and a backend that exits (normally or
# terminated) stops it without taking the server down.  One-row serving
# sees ALTER EXTENSION and a raw change of pg_extension as the schema check
# promises (src/common/schema_version.c).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('perf_helper');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'mlops'\n");
$node->start;
$node->safe_psql('postgres', q{
    CREATE EXTENSION mlops;
    SET mlops.train_progress_rounds = 0;
    CREATE TABLE t AS
      SELECT i AS id, ((i * 37) % 101)::real AS x1, ((i * 7) % 13)::float8 AS x2,
             CASE WHEN (i * 37) % 101 + (i * 7) % 13 > 60 THEN 1 ELSE 0 END AS y
        FROM generate_series(1, 60000) i;
    SELECT version FROM mlops.train('m', 'SELECT x1, x2, y FROM t WHERE id <= 2000', 'y', test_size => 0,
                                    hyperparams => '{"n_estimators": 20, "max_depth": 4}');
    SELECT mlops.transition_stage('m', 1, 'Production');
});
my $start = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');
my $want = $node->safe_psql('postgres',
    q{SELECT sum(mlops.predict('m', ARRAY[x1, x2]::float8[])) FROM t});

# one session, several calls over more than one chunk: the same helper serves them
my $s = $node->background_psql('postgres', on_error_stop => 0);
my $pid = $s->query_safe('SELECT pg_backend_pid()');
my $sum = q{SELECT sum(prediction) FROM mlops.predict_table('m', 't', 'id')};
sub tasks { my $p = shift; return join(',', sort { $a <=> $b } map { s{.*/}{}r } glob("/proc/$p/task/*")); }
is($s->query_safe($sum), $want, 'predict_table over 60,000 rows equals the one-row predictions');
my $threads = tasks($pid);
is($s->query_safe($sum), $want, 'a second call gives the same');
is(tasks($pid), $threads, 'the second call ran on the same threads: none started, none ended');
# the backend, its OpenMP worker (the last, partial chunk) and the helper (which walks the trees
# on two threads, or runs XGBoost with its own worker on more)
cmp_ok(scalar(split(/,/, $threads)), '>=', 3, 'the backend keeps its helper thread between calls');

# a call cancelled by statement_timeout while it streams, then an error in the scan
$s->query_safe(q{SET statement_timeout = '20ms'});
my ($out, $ret) = $s->query(q{SELECT count(*) FROM mlops.predict_table('m',
    'SELECT t.* FROM t, generate_series(1, 50) g', 'id')});
like($s->{stderr}, qr/canceling statement due to statement timeout/, 'a long predict_table is cancelled');
$s->{stderr} = '';
$s->query_safe('RESET statement_timeout');
($out, $ret) = $s->query(q{SELECT count(*) FROM mlops.predict_table('m',
    'SELECT id, x1, CASE WHEN id = 40000 THEN 1 / (id - 40000) ELSE x2 END AS x2 FROM t', 'id')});
like($s->{stderr}, qr/division by zero/, 'an error in the middle of the scan is reported');
$s->{stderr} = '';
is($s->query_safe($sum), $want, 'the session predicts again after the cancel and the error');

# the backend is terminated while its helper sleeps: the server stays up
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
$s->quit;
is($node->safe_psql('postgres', $sum), $want, 'the server answers after the backend was terminated');
is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'), $start, 'no crash restart');
my $log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal|was terminated by exception/, 'no backend crashed');

# one-row serving keeps the verdict between transactions, but sees the schema change
my $r = $node->background_psql('postgres', on_error_stop => 0);
my $one = q{SELECT mlops.predict('m', ARRAY[50, 6]::float8[])};
my $p = $r->query_safe($one);
$r->query_safe($one) for 1 .. 20;
$node->safe_psql('postgres', q{UPDATE pg_catalog.pg_extension SET extversion = '9.9.9' WHERE extname = 'mlops';
                               CREATE FUNCTION public.nudge() RETURNS int LANGUAGE sql AS 'SELECT 1'});
($out, $ret) = $r->query($one);
like($r->{stderr}, qr/cannot serve the mlops 9\.9\.9 schema/,
     'after another session changed pg_extension and any catalog, the serving session refuses');
$r->{stderr} = '';
$node->safe_psql('postgres', q{UPDATE pg_catalog.pg_extension SET extversion = '0.2.0' WHERE extname = 'mlops';
                               DROP FUNCTION public.nudge()});
is($r->query_safe($one), $p, 'and serves again once it is back');
$r->quit;

$node->stop;
done_testing();
