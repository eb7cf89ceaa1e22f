# pg_dump keeps mlops' data: runs, model versions with their boosters, aliases,
# the audit log; after a restore the registry resolves, checksums verify and
# new rows continue the identity sequences.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'mlops'\n");
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('src', q{
    CREATE EXTENSION mlops;
    SELECT mlops.start_run('exp', 'r1');
    SELECT mlops.log_metrics(1, '{"auc": 0.9}');
    SELECT mlops._register_model_version('m', '\x7b7d', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
    SELECT mlops._register_model_version('m', '\x7b2231227d', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
    SELECT mlops.transition_stage('m', 2, 'Production');
    SELECT mlops.set_alias('m', 'champion', 1);
});

my $dump = $node->basedir . '/mlops.dump';
command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('src') ], 'pg_dump succeeds');
$node->safe_psql('postgres', 'CREATE DATABASE dst');
command_ok([ 'pg_restore', '-d', $node->connstr('dst'), $dump ], 'pg_restore succeeds');

my $q = q{SELECT (SELECT count(*) FROM mlops.runs) || ',' || (SELECT count(*) FROM mlops.run_metrics) || ','
          || (SELECT count(*) FROM mlops.model_versions) || ',' || (SELECT count(*) FROM mlops.model_aliases) || ','
          || (SELECT count(*) FROM mlops.audit_log)};
is($node->safe_psql('dst', $q), $node->safe_psql('src', $q), 'runs, metrics, versions, aliases and audit events are restored');
my $chain = q{SELECT (mlops.verify_audit_log() ->> 'ok') || ' ' || (mlops.verify_audit_log() ->> 'last_hash')};
like($node->safe_psql('src', $chain), qr/^true [0-9a-f]{64}$/, 'the audit log verifies before the dump');
is($node->safe_psql('dst', $chain), $node->safe_psql('src', $chain), 'the restored audit log verifies, with the same head');
is($node->safe_psql('dst', q{SELECT version FROM mlops.resolve_model('m')}), '2', 'the Production version resolves after restore');
is($node->safe_psql('dst', q{SELECT version FROM mlops.resolve_model('m@champion')}), '1', 'aliases resolve after restore');
is($node->safe_psql('dst', q{SELECT bool_and(model_sha256 = sha256(model_data)) FROM mlops.model_versions}), 't',
   'restored boosters match their checksums');
is($node->safe_psql('dst', q{SELECT mlops.start_run('exp', 'r2')}), '2', 'identity sequences continue after restore');
is($node->safe_psql('dst', q{SELECT mlops._register_model_version('m', '\x00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)}),
   '3', 'version numbering continues after restore');
is($node->safe_psql('dst', q{SELECT mlops.verify_audit_log() ->> 'ok'}), 'true', 'new events continue the restored chain');
$node->stop;
done_testing();
