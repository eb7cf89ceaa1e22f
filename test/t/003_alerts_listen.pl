# Alerts reach any libpq application that LISTENs on mlops_alerts: the JSON
# payload names the alert, it is sent only when the firing transaction
# commits, and the cooldown holds even when two sessions check at once.
use strict;
use warnings;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('alerts');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'mlops'\n");
$node->start;
$node->safe_psql('postgres', q{
    CREATE EXTENSION mlops;
    SELECT mlops.add_alert_rule('high_latency', 'High inference latency', 'p95_latency_ms > 200',
                                'critical', '15 minutes', '{"team": "ml"}');
});

my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN mlops_alerts');

# notifications_of returns the payloads psql printed since the last query
sub notifications_of
{
	my ($session) = @_;
	my $out = $session->query_safe('SELECT 1');
	my @payloads;
	while ($out =~ /Asynchronous notification "mlops_alerts" with payload "(.*)" received from server process/g)
	{
		push @payloads, $1;
	}
	return @payloads;
}

# 1. a committed alert arrives as JSON
$node->safe_psql('postgres', q{SELECT count(*) FROM mlops.check_alerts('{"p95_latency_ms": 250, "calls": 9}', 'churn')});
my @got = notifications_of($listener);
is(scalar @got, 1, 'one notification for one alert');
my $alert = eval { decode_json($got[0] // '') } || {};
my $row = $node->safe_psql('postgres', q{SELECT alert_id FROM mlops.alerts});
is($alert->{alert_id}, $row, 'the payload carries the stored alert id');
is($alert->{rule_id}, 'high_latency', 'and the rule');
is($alert->{severity}, 'critical', 'and the severity');
is($alert->{source}, 'churn', 'and the source');
is_deeply($alert->{metrics}, { p95_latency_ms => 250 }, 'and the metrics that fired it');
is_deeply($alert->{labels}, { team => 'ml' }, 'and the rule labels');

# 2. within the cooldown nothing is sent
$node->safe_psql('postgres', q{SELECT count(*) FROM mlops.check_alerts('{"p95_latency_ms": 900}', 'churn')});
is(scalar(notifications_of($listener)), 0, 'nothing is sent within the cooldown');

# 3. a rolled-back check sends nothing and stores nothing
$node->safe_psql('postgres', q{
    BEGIN;
    SELECT count(*) FROM mlops.check_alerts('{"p95_latency_ms": 300}', 'fraud');
    ROLLBACK;
});
is(scalar(notifications_of($listener)), 0, 'a rolled-back alert is not sent');
is($node->safe_psql('postgres', q{SELECT count(*) FROM mlops.alerts WHERE source = 'fraud'}), '0',
   'nor stored');

# 4. two sessions checking at once fire once: the second waits for the first
my $s1 = $node->background_psql('postgres');
$s1->query_safe('BEGIN');
is($s1->query_safe(q{SELECT count(*) FROM mlops.check_alerts('{"p95_latency_ms": 300}', 'fraud')}), '1',
   'the first session fires');
my $s2 = $node->background_psql('postgres');
$s2->query_until(qr/started/, q{\echo started
SELECT 'fired:' || count(*) FROM mlops.check_alerts('{"p95_latency_ms": 300}', 'fraud');
\echo done
});
$node->poll_query_until('postgres',
	q{SELECT count(*) > 0 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%check_alerts%'})
  or die 'the second session did not wait';
is(scalar(notifications_of($listener)), 0, 'nothing is sent before the first session commits');
$s1->query_safe('COMMIT');
my $second = $s2->query_until(qr/done/, '');
like($second, qr/fired:0/, 'the second session fires nothing: the cooldown holds across sessions');
@got = notifications_of($listener);
is(scalar @got, 1, 'exactly one notification for the two checks');
is($node->safe_psql('postgres', q{SELECT count(*) FROM mlops.alerts WHERE source = 'fraud'}), '1',
   'exactly one stored alert');

# 5. a payload too large for NOTIFY is cut down to the alert's identity
$node->safe_psql('postgres', q{
    SELECT mlops.add_alert_rule('big', 'Big labels', 'x > 0', 'info', '0',
                                jsonb_build_object('note', repeat('x', 9000)));
    SELECT count(*) FROM mlops.check_alerts('{"x": 1}', 'big');
});
@got = notifications_of($listener);
my $big = eval { decode_json($got[0] // '') } || {};
ok($big->{truncated} && $big->{rule_id} eq 'big' && !exists $big->{labels},
   'an oversized alert is sent truncated, with its id');

$s1->quit;
$s2->quit;
$listener->quit;
$node->stop;
done_testing();
