# The library loads through shared_preload_libraries, registers its settings
# with a reserved prefix, and the extension installs with and without preload.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('preload');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'mlops'\n");
$node->start;

is($node->safe_psql('postgres', 'SHOW mlops.model_cache_mb'), '256MB', 'settings are registered at preload');
is($node->safe_psql('postgres', 'SHOW mlops.timezone'), 'UTC', 'schedules default to UTC');
my ($rc, $out, $err) = $node->psql('postgres', 'SET mlops.no_such_setting = 1');
isnt($rc, 0, 'an unknown mlops.* setting is an error');
like($err, qr/invalid configuration parameter name "mlops.no_such_setting"/, 'the mlops prefix is reserved');

$node->safe_psql('postgres', 'CREATE EXTENSION mlops');
is($node->safe_psql('postgres', "SELECT mlops.start_run('t') > 0"), 't', 'tracking works when preloaded');
is($node->safe_psql('postgres', "SELECT extversion FROM pg_extension WHERE extname = 'mlops'"), '0.2.0', 'version 0.2.0');

# an error inside a trampoline leaves no stale actor behind
$node->safe_psql('postgres', 'CREATE ROLE someone');
is($node->safe_psql('postgres', q{
    DO $$ BEGIN PERFORM mlops.log_params(-1, '{}'); EXCEPTION WHEN undefined_object THEN NULL; END $$;
    SELECT mlops.current_actor() = current_user}), 't', 'the actor is reset after a caught error');

# restart keeps everything
$node->restart;
is($node->safe_psql('postgres', 'SELECT count(*) FROM mlops.runs'), '1', 'runs survive a restart');
$node->stop;

# without preload the extension still installs, and tracking works
my $plain = PostgreSQL::Test::Cluster->new('plain');
$plain->init;
$plain->start;
$plain->safe_psql('postgres', 'CREATE EXTENSION mlops');
is($plain->safe_psql('postgres', "SELECT mlops.create_experiment('e') > 0"), 't', 'tracking works without preload');
$plain->stop;

done_testing();
