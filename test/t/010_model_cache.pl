# The per-backend model cache follows stage and alias changes made by other
# sessions, transactionally; training progress and prediction statistics are
# visible from other sessions; cancelling a training registers nothing.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('model_cache');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'mlops'\n");
$node->start;
$node->safe_psql('postgres', q{
    CREATE EXTENSION mlops;
    SET mlops.train_progress_rounds = 0;
    CREATE TABLE t AS
      SELECT i AS id, (i % 17)::float8 AS x1, ((i * 7) % 13)::float8 AS x2,
             CASE WHEN (i % 17) + ((i * 7) % 13) > 14 THEN 'yes' ELSE 'no' END AS y
        FROM generate_series(1, 400) i;
    SELECT version FROM mlops.train('m', 'SELECT x1, x2, y FROM t', 'y', test_size => 0,
                                    hyperparams => '{"n_estimators": 1, "max_depth": 1}');
    SELECT version FROM mlops.train('m', 'SELECT x1, x2, y FROM t', 'y', test_size => 0,
                                    hyperparams => '{"n_estimators": 30, "max_depth": 4}');
    SELECT mlops.transition_stage('m', 1, 'Production');
});

my $q = q{SELECT mlops.predict_proba('%s', ARRAY[12, 5]::float8[])::text};
my $v1 = $node->safe_psql('postgres', sprintf($q, 'm/1'));
my $v2 = $node->safe_psql('postgres', sprintf($q, 'm/2'));
isnt($v1, $v2, 'the two versions predict differently');

# the serving session keeps its cache for the whole test
my $server = $node->background_psql('postgres');
is($server->query_safe(sprintf($q, 'm')), $v1, 'Production is version 1');
is($server->query_safe(q{SELECT string_agg(model || '/' || version, ',') FROM mlops.model_cache()}),
   'm/1', 'the serving session cached version 1');

# another session promotes version 2: the next prediction uses it
$node->safe_psql('postgres', q{SELECT mlops.transition_stage('m', 2, 'Production')});
is($server->query_safe(sprintf($q, 'm')), $v2, 'after the promotion commits, Production predicts with version 2');

# an uncommitted change is invisible; its commit is seen before the next prediction
my $admin = $node->background_psql('postgres');
$admin->query_safe('BEGIN');
$admin->query_safe(q{SELECT mlops.transition_stage('m', 1, 'Production')});
is($server->query_safe(sprintf($q, 'm')), $v2, 'an uncommitted promotion does not change predictions');
$admin->query_safe('COMMIT');
is($server->query_safe(sprintf($q, 'm')), $v1, 'the committed promotion does');

# aliases too, and a rollback changes nothing
$node->safe_psql('postgres', q{SELECT mlops.set_alias('m', 'champion', 2)});
is($server->query_safe(sprintf($q, 'm@champion')), $v2, 'alias champion means version 2');
$admin->query_safe('BEGIN');
$admin->query_safe(q{SELECT mlops.set_alias('m', 'champion', 1)});
$admin->query_safe('ROLLBACK');
is($server->query_safe(sprintf($q, 'm@champion')), $v2, 'a rolled back alias change is ignored');
$node->safe_psql('postgres', q{SELECT mlops.set_alias('m', 'champion', 1)});
is($server->query_safe(sprintf($q, 'm@champion')), $v1, 'the committed alias change is followed');

# each version was deserialized once in the serving session
is($server->query_safe(q{SELECT string_agg(model || '/' || version, ',' ORDER BY version) FROM mlops.model_cache()}),
   'm/1,m/2', 'the cache holds each version once');

# prediction statistics are shared by all sessions
is($node->safe_psql('postgres', q{SELECT sum(calls) FROM mlops.prediction_stats WHERE model = 'm'}),
   '9', 'every session sees the calls of the others');

# ... but each database only its own: a model of the same name and version in
# another database is counted apart, and a reset there leaves these alone
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', q{
    CREATE EXTENSION mlops;
    CREATE TABLE t AS SELECT i::float8 AS x1, (i % 3)::float8 AS x2, (i % 2)::text AS y
                        FROM generate_series(1, 100) i;
    SELECT version FROM mlops.train('m', 'SELECT x1, x2, y FROM t', 'y', test_size => 0,
                                    hyperparams => '{"n_estimators": 2}');
    SELECT mlops.predict('m/1', ARRAY[1, 2]::float8[]);
});
is($node->safe_psql('other', q{SELECT string_agg(model || '/' || version || ':' || calls, ',') FROM mlops.prediction_stats}),
   'm/1:1', 'another database sees only its own calls');
is($node->safe_psql('other', 'SELECT mlops.prediction_stats_reset()'), '1',
   'a reset there forgets only its own version');
is($node->safe_psql('postgres', q{SELECT sum(calls) FROM mlops.prediction_stats WHERE model = 'm'}),
   '9', 'and leaves this database\'s counters alone');
$node->safe_psql('postgres', 'DROP DATABASE other WITH (FORCE)');

# training progress is visible from another session, and a cancel registers nothing
my $trainer = $node->background_psql('postgres');
my $pid = $trainer->query_safe('SELECT pg_backend_pid()');
$trainer->query_until(qr/started/, q{\echo started
SELECT * FROM mlops.train('slow', 'SELECT x1, x2, y FROM t', 'y', hyperparams => '{"n_estimators": 1000000, "max_depth": 1, "tree_method": "hist"}');
\echo finished
});
ok($node->poll_query_until('postgres',
    qq{SELECT count(*) = 1 FROM mlops.training_progress WHERE pid = $pid AND model = 'slow'
         AND total_rounds = 1000000 AND round > 0 AND last_metric LIKE 'test-logloss=%'}),
   'mlops.training_progress shows the running training');
$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
$trainer->query_until(qr/finished/, '');
ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM mlops.training_progress'),
   'the progress row is gone after the cancel');
is($node->safe_psql('postgres', q{SELECT count(*) FROM mlops.models WHERE name = 'slow'}), '0',
   'a cancelled training registers nothing');
is($node->safe_psql('postgres', q{SELECT count(*) FROM mlops.runs WHERE run_name = 'train slow'}), '0',
   'and leaves no run');

$server->quit;
$admin->quit;
$trainer->quit;
$node->stop;
done_testing();
