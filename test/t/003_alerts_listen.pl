# Alerts reach any libpq application that LISTENs on mlops_alerts.  PostgreSQL has no privileges on
# channels, so every role can hear and send on it: the payload carries only the alert id and its
# severity, it is sent only when the firing transaction commits, and a listener reads the alert
# itself with mlops.alert(alert_id), which shows a forged announcement for what it is.  The
# cooldown holds when two sessions check at once, and with a cooldown of 0 no check is lost when
# eight sessions check at once (0.1.0 lost 994 of 1,600).
use strict;
use warnings;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('alerts');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'mlops'\nmax_connections = 40\n");
$node->start;
$node->safe_psql('postgres', q{
    CREATE EXTENSION mlops;
    SELECT mlops.add_alert_rule('high_latency', 'High inference latency', 'p95_latency_ms > 200',
                                'critical', '15 minutes', '{"team": "ml"}');
    CREATE ROLE stranger LOGIN;
    SELECT mlops.grant_capability('stranger', 'reader');
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

# 1. a committed alert is announced by id and severity; the alert itself is read with mlops.alert
$node->safe_psql('postgres', q{SELECT count(*) FROM mlops.check_alerts('{"p95_latency_ms": 250, "calls": 9}', 'churn')});
my @got = notifications_of($listener);
is(scalar @got, 1, 'one notification for one alert');
my $note = eval { decode_json($got[0] // '') } || {};
my $row = $node->safe_psql('postgres', q{SELECT alert_id FROM mlops.alerts});
is_deeply($note, { alert_id => $row, severity => 'critical' }, 'the payload is the alert id and its severity, nothing else');
my $alert = eval {
	decode_json($node->safe_psql('postgres', "SELECT mlops.alert($note->{alert_id})", extra_params => [ '-U', 'stranger' ]))
} || {};
is($alert->{rule_id}, 'high_latency', 'a reader reads the rule with mlops.alert');
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

# 4. any role can send on the channel: a forged announcement names no stored alert
$node->safe_psql('postgres', q{NOTIFY mlops_alerts, '{"alert_id": 424242, "severity": "critical"}'},
	extra_params => [ '-U', 'stranger' ]);
@got = notifications_of($listener);
is(scalar @got, 1, 'a role with no mlops privilege can send on mlops_alerts');
my $forged = eval { decode_json($got[0] // '') } || {};
is($node->safe_psql('postgres', "SELECT mlops.alert($forged->{alert_id}) IS NULL"), 't',
   'mlops.alert shows that the announced alert does not exist');

# 5. two sessions checking at once fire once: the second waits for the first
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

# 6. big labels do not make the announcement bigger: the alert is read in full with mlops.alert
$node->safe_psql('postgres', q{
    SELECT mlops.add_alert_rule('big', 'Big labels', 'x > 0', 'info', '0',
                                jsonb_build_object('note', repeat('x', 9000)));
    SELECT count(*) FROM mlops.check_alerts('{"x": 1}', 'big');
});
@got = notifications_of($listener);
my $big = eval { decode_json($got[0] // '') } || {};
is_deeply([ sort keys %$big ], [ 'alert_id', 'severity' ], 'an alert with big labels is announced by id and severity');
is($node->safe_psql('postgres', "SELECT length(mlops.alert($big->{alert_id}) -> 'labels' ->> 'note')"), '9000',
   'and read in full with mlops.alert');

# 7. cooldown 0 under load: 8 sessions, 200 checks each, every check fires
$node->safe_psql('postgres', q{SELECT mlops.add_alert_rule('every', 'Every check', 'load > 0', 'info', '0')});
$node->pgbench(
	'--no-vacuum --client=8 --transactions=200',
	0,
	[qr{processed: 1600/1600}],
	[qr{^$}],
	'8 sessions check a rule with cooldown 0 at once',
	{ 'check_alerts' => q{SELECT count(*) FROM mlops.check_alerts('{"load": 1}', 'busy');} });
is($node->safe_psql('postgres', q{SELECT count(*) FROM mlops.alerts WHERE rule_id = 'every'}), '1600',
   'all 1,600 concurrent checks fired: no claim is lost');

$s1->quit;
$s2->quit;
$listener->quit;
$node->stop;
done_testing();
