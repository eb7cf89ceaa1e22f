-- a metric of this client's run, and an audit event
\set step random(0, 100000)
SELECT mlops.log_metrics((SELECT run_id FROM soak_runs WHERE client = :client_id), pg_catalog.jsonb_build_object('loss', pg_catalog.random(), 'auc', pg_catalog.random()), :step);
SELECT mlops.audit('soak.event', 'report', 'r' || :step, '{"rows": 1}');
