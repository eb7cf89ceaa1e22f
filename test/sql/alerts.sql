-- Alert rules: the condition language as SQL users meet it, check_alerts,
-- cooldowns, acknowledging and resolving.  (LISTEN on mlops_alerts is
-- tested in test/t/003_alerts_listen.pl; the language itself in
-- test/unit/test_expr.c.)
CREATE EXTENSION mlops;
\set SHOW_CONTEXT never

-- adding rules
SELECT mlops.add_alert_rule('high_latency', 'High inference latency', 'p95_latency_ms > 200');
SELECT mlops.add_alert_rule('errors', 'Error rate', 'error_rate >= 0.05 and calls > 100', 'critical', '1 hour',
                            '{"team": "ml-platform"}');
SELECT mlops.add_alert_rule('no_labels', 'Labels stopped arriving', 'missing(accuracy) or labelled_rows = 0', 'info', '0');
SELECT mlops.add_alert_rule('stage_check', 'Not in production', 'stage != ''Production'' and not drift_detected', 'info', '0');
SELECT mlops.add_alert_rule('psi_age', 'Age drifted', 'drift.age.psi > 0.2', 'warning', '0');
SELECT rule_id, name, condition, metrics, severity, cooldown, labels, enabled FROM mlops.alert_rules ORDER BY rule_id;

-- bad rules: the condition error says where and what was expected
\set VERBOSITY default
SELECT mlops.add_alert_rule('bad', 'Bad', 'p95_latency_ms > > 200');
SELECT mlops.add_alert_rule('bad', 'Bad', 'p95_latency_ms > 200 and');
SELECT mlops.add_alert_rule('bad', 'Bad', '(error_rate > 0.1');
SELECT mlops.add_alert_rule('bad', 'Bad', 'a < b < c');
SELECT mlops.add_alert_rule('bad', 'Bad', 'latency @ 3');
SELECT mlops.add_alert_rule('bad', 'Bad', 'error_rate + ''high'' > 1');
SELECT mlops.add_alert_rule('bad', 'Bad', 'p95_latency_ms * 2');
SELECT mlops.add_alert_rule('bad', 'Bad', repeat('(', 100) || 'x > 1' || repeat(')', 100));
SELECT mlops.add_alert_rule('bad', 'Bad', 'x > ' || repeat('1 + ', 2000) || '1');
SELECT mlops.add_alert_rule('bad', 'Bad', 'SELECT 1');
-- arithmetic that must fail is refused when the rule is added
SELECT mlops.add_alert_rule('bad', 'Bad', 'accuracy / 0 > 1');
SELECT mlops.add_alert_rule('bad', 'Bad', 'errors / (2 - 2) > 1');
SELECT mlops.add_alert_rule('bad', 'Bad', 'latency > 1e308 * 10');
\set VERBOSITY terse
SELECT mlops.add_alert_rule('bad', 'Bad', '');
SELECT mlops.add_alert_rule('bad', 'Bad', NULL);
SELECT mlops.add_alert_rule('high_latency', 'Again', 'x > 1');
SELECT mlops.add_alert_rule('bad id!', 'Bad', 'x > 1');
SELECT mlops.add_alert_rule(NULL, 'Bad', 'x > 1');
SELECT mlops.add_alert_rule('bad', '  ', 'x > 1');
SELECT mlops.add_alert_rule('bad', 'Bad', 'x > 1', 'fatal');
SELECT mlops.add_alert_rule('bad', 'Bad', 'x > 1', 'info', '-1 minute');
SELECT mlops.add_alert_rule('bad', 'Bad', 'x > 1', 'info', '1 minute', '[]');
SELECT count(*) FROM mlops.alert_rules;
\set VERBOSITY default

-- checking: every enabled rule whose condition holds fires, once per cooldown
SELECT rule_id, rule_name, severity, source, metrics, labels, acknowledged, resolved_at IS NULL AS open
  FROM mlops.check_alerts('{"p95_latency_ms": 250, "error_rate": 0.07, "calls": 1000,
                            "accuracy": 0.91, "labelled_rows": 50, "stage": "Production",
                            "drift_detected": false, "drift": {"age": {"psi": 0.31}}}', 'churn');
-- again: high_latency and errors are in their cooldown; psi_age has none, and
-- no_labels holds now that accuracy is missing
SELECT rule_id FROM mlops.check_alerts('{"p95_latency_ms": 250, "error_rate": 0.07, "calls": 1000,
                                         "drift.age.psi": 0.5}', 'churn');
-- another source has its own cooldown
SELECT rule_id FROM mlops.check_alerts('{"p95_latency_ms": 250}', 'fraud');
-- without a source
SELECT rule_id, source FROM mlops.check_alerts('{"p95_latency_ms": 201}');
SELECT rule_id, source FROM mlops.check_alerts('{"p95_latency_ms": 201}');
-- once the cooldown has passed, the rule fires again
UPDATE mlops.alert_cooldowns SET last_fired_at = last_fired_at - interval '16 minutes'
 WHERE rule_id = 'high_latency' AND source = 'churn';
SELECT rule_id FROM mlops.check_alerts('{"p95_latency_ms": 250}', 'churn');
-- errors has a one-hour cooldown: 16 minutes are not enough
UPDATE mlops.alert_cooldowns SET last_fired_at = last_fired_at - interval '16 minutes'
 WHERE rule_id = 'errors';
SELECT rule_id FROM mlops.check_alerts('{"error_rate": 0.5, "calls": 500}', 'churn');
-- missing metrics make comparisons false, never an error; types that do not fit are missing
SELECT rule_id FROM mlops.check_alerts('{}', 'quiet');
SELECT rule_id FROM mlops.check_alerts('{"p95_latency_ms": null, "error_rate": "high", "calls": [1],
                                         "accuracy": 0.5, "labelled_rows": 10, "stage": "Production",
                                         "drift_detected": true}', 'quiet');
-- a division by zero or an overflow while checking: the condition is not met, and a WARNING
-- says which rule and why (before, "not (x / 0 > 1)" held and fired)
SELECT mlops.add_alert_rule('error_share', 'Error share', 'not (errors / calls <= 0.1)', 'warning', '0');
SELECT mlops.add_alert_rule('huge', 'Huge', 'calls * calls > 1', 'info', '0');
\set VERBOSITY default
SELECT rule_id FROM mlops.check_alerts('{"errors": 3, "calls": 0}', 'divide');
SELECT rule_id FROM mlops.check_alerts('{"errors": 3, "calls": 1e200}', 'divide');
SELECT rule_id FROM mlops.check_alerts('{"errors": 30, "calls": 100}', 'divide');
SELECT mlops.drop_alert_rule('error_share');
SELECT mlops.drop_alert_rule('huge');
-- strings and booleans
SELECT rule_id, metrics FROM mlops.check_alerts('{"stage": "Staging", "drift_detected": false, "accuracy": 1}', 'strings');
-- disabled rules are not evaluated
SELECT mlops.set_alert_rule_enabled('no_labels', false);
SELECT rule_id FROM mlops.check_alerts('{"labelled_rows": 0}', 'other');
SELECT mlops.set_alert_rule_enabled('no_labels', true);
SELECT rule_id FROM mlops.check_alerts('{"labelled_rows": 0}', 'other');
SELECT mlops.set_alert_rule_enabled('nope', true);
SELECT mlops.set_alert_rule_enabled('no_labels', NULL);
-- bad metrics
SELECT * FROM mlops.check_alerts(NULL);
SELECT * FROM mlops.check_alerts('[1, 2]');
SELECT * FROM mlops.check_alerts('3');
SELECT * FROM mlops.check_alerts('{}', repeat('s', 257));
BEGIN;
SELECT count(*) AS long_source_ok FROM mlops.check_alerts('{}', repeat('é', 256));
ROLLBACK;

SELECT rule_id, source, severity, count(*) FROM mlops.alerts GROUP BY 1, 2, 3 ORDER BY 1, 2 NULLS FIRST;

-- acknowledging and resolving
SELECT min(alert_id) AS first_alert FROM mlops.alerts \gset
SELECT mlops.acknowledge_alert(:first_alert);
SELECT mlops.acknowledge_alert(:first_alert);	-- again: nothing changes
SELECT mlops.resolve_alert(:first_alert);
SELECT mlops.resolve_alert(:first_alert);
SELECT acknowledged, acknowledged_by = current_user AS by_me, resolved_at IS NOT NULL AS resolved,
       resolved_by = current_user AS resolved_by_me
  FROM mlops.alerts WHERE alert_id = :first_alert;
SELECT mlops.acknowledge_alert(-1);
SELECT mlops.resolve_alert(NULL);
-- mlops.alert: the stored alert, for listeners on mlops_alerts; NULL when there is none
SELECT a->>'rule_id' AS rule_id, a->>'severity' AS severity, a->>'source' AS source, a->'metrics' AS metrics,
       (a->>'acknowledged')::boolean AS acknowledged, a->>'owner' = current_user AS mine
  FROM mlops.alert(:first_alert) a;
SELECT mlops.alert(-1) IS NULL AS no_such_alert, mlops.alert(NULL) IS NULL AS null_alert;
SELECT severity, count(*) FILTER (WHERE resolved_at IS NULL) AS open FROM mlops.alerts GROUP BY 1 ORDER BY 1;

-- dropping a rule keeps its alerts and forgets its cooldowns
SELECT mlops.drop_alert_rule('high_latency');
SELECT mlops.drop_alert_rule('high_latency');
SELECT count(*) AS alerts_kept FROM mlops.alerts WHERE rule_id = 'high_latency';
SELECT count(*) AS cooldowns_left FROM mlops.alert_cooldowns WHERE rule_id = 'high_latency';
SELECT action, resource_id FROM mlops.audit_log WHERE action LIKE 'alert%' ORDER BY event_id;

-- privileges: an on-call role granted check_alerts and acknowledge_alert evaluates only the rules
-- it may change (none here) and acknowledges only alerts of such rules
CREATE ROLE oncall;
GRANT USAGE ON SCHEMA mlops TO oncall;
GRANT EXECUTE ON FUNCTION mlops.check_alerts(jsonb, text), mlops.acknowledge_alert(bigint) TO oncall;
GRANT SELECT ON mlops.alerts TO oncall;
SET ROLE oncall;
SELECT rule_id FROM mlops.check_alerts('{"labelled_rows": 0}', 'oncall');
SELECT mlops.acknowledge_alert(max(alert_id)) FROM mlops.alerts;
SELECT mlops.add_alert_rule('mine', 'Mine', 'x > 1');
SELECT * FROM mlops.alert_rules;
RESET ROLE;

-- ownership: a rule belongs to the role that added it, an alert to its rule's owner when it fired
CREATE ROLE alert_alice;
CREATE ROLE alert_bob;
CREATE ROLE alert_team;
GRANT alert_team TO alert_bob;
SELECT mlops.grant_capability(r, 'operator') FROM unnest(ARRAY['alert_alice', 'alert_bob']) r;
SET ROLE alert_alice;
SELECT mlops.add_alert_rule('alice_rule', 'Accuracy low', 'accuracy < 0.5', 'critical', '0');
RESET ROLE;
SELECT rule_id, owner, created_by FROM mlops.alert_rules WHERE rule_id = 'alice_rule';
SET ROLE alert_bob;
\set VERBOSITY default
SELECT mlops.drop_alert_rule('alice_rule');
\set VERBOSITY terse
SELECT mlops.set_alert_rule_enabled('alice_rule', false);
SELECT mlops.set_owner('alert_rule', 'alice_rule', 'alert_bob');
-- bob cannot fire alice's rule with metrics of his making
SELECT rule_id FROM mlops.check_alerts('{"accuracy": 0.1}', 'alice_model');
RESET ROLE;
SET ROLE alert_alice;
SELECT rule_id, owner FROM mlops.check_alerts('{"accuracy": 0.1}', 'alice_model');
RESET ROLE;
SELECT max(alert_id) AS alice_alert FROM mlops.alerts WHERE rule_id = 'alice_rule' \gset
SET ROLE alert_bob;
SELECT mlops.acknowledge_alert(:alice_alert);
SELECT mlops.resolve_alert(:alice_alert);
-- reading stays governed by grants: the reader bundle has mlops.alert
SELECT mlops.alert(:alice_alert) ->> 'rule_id' AS rule_id;
RESET ROLE;
-- handed to the team, bob (a member) may change the rule and fire it; its new alerts are the
-- team's, while the alert that fired for alice stays alice's
SELECT mlops.set_owner('alert_rule', 'alice_rule', 'alert_team');
SET ROLE alert_bob;
SELECT rule_id, owner FROM mlops.check_alerts('{"accuracy": 0.2}', 'alice_model');
RESET ROLE;
SELECT max(alert_id) AS team_alert FROM mlops.alerts WHERE rule_id = 'alice_rule' \gset
SET ROLE alert_bob;
SELECT mlops.acknowledge_alert(:team_alert);
SELECT mlops.resolve_alert(:team_alert);
SELECT mlops.acknowledge_alert(:alice_alert);
SELECT mlops.set_owner('alert', :'alice_alert', 'alert_bob');
SELECT mlops.set_alert_rule_enabled('alice_rule', false);
SELECT mlops.drop_alert_rule('alice_rule');
RESET ROLE;
SET ROLE alert_alice;
SELECT mlops.acknowledge_alert(:alice_alert);
SELECT mlops.resolve_alert(:alice_alert);
RESET ROLE;
SELECT rule_id, owner, acknowledged, acknowledged_by, resolved_by FROM mlops.alerts
 WHERE rule_id = 'alice_rule' ORDER BY alert_id;
SELECT action, resource_type, resource_id, user_name FROM mlops.audit_log
 WHERE action IN ('ownership.set', 'alert.acknowledge', 'alert.resolve', 'alert_rule.drop')
   AND (resource_type <> 'alert' OR resource_id = :'alice_alert' OR user_name = 'alert_bob')
 ORDER BY event_id;

DROP EXTENSION mlops;
DROP OWNED BY oncall, alert_alice, alert_bob, alert_team;
DROP ROLE oncall, alert_alice, alert_bob, alert_team;
