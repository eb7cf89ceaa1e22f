#!/usr/bin/env bash
# alerts_bench.sh [seconds] — benchmarks of monitoring and alerting:
#   1. mlops.check_alerts with 1,000 enabled rules over a 60-metric object:
#      none firing, all in cooldown, and all firing (1,000 inserts and NOTIFYs);
#   2. mlops.record_prediction throughput with 1 and 2 clients;
#   3. mlops.model_metrics over windows of 1,000 and 100,000 predictions.
# Every figure is a pgbench run of [seconds] (default 10).
# Runs against the server in the libpq environment (PGHOST, PGPORT, PGUSER)
# on which mlops is installable; creates and drops its own database.
# Prints a Markdown table for docs/benchmarks.md.
set -euo pipefail

secs=${1:-10}
db=mlops_bench_alerts
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; dropdb --if-exists "$db" >/dev/null 2>&1 || true' EXIT

dropdb --if-exists "$db" >/dev/null 2>&1
createdb "$db"
psql -X -q -v ON_ERROR_STOP=1 -d "$db" <<'SQL'
CREATE EXTENSION mlops;
-- 1,000 rules of a few shapes over metrics m0..m59; none holds for the
-- "quiet" metrics below, every one holds for the "loud" ones.
SELECT count(mlops.add_alert_rule('r' || i, 'rule ' || i,
         CASE i % 4
           WHEN 0 THEN pg_catalog.format('m%s > 100', i % 60)
           WHEN 1 THEN pg_catalog.format('m%s >= 100 and m%s < 1000', i % 60, (i + 7) % 60)
           WHEN 2 THEN pg_catalog.format('(m%s + m%s) / 2 > 100 or missing(absent_%s)', i % 60, (i + 1) % 60, i)
           ELSE pg_catalog.format('not (m%s <= 100) and status = ''degraded''', i % 60)
         END, 'warning', '0'))
  FROM generate_series(1, 1000) i;
CREATE TABLE quiet AS
  SELECT jsonb_object_agg('m' || i, 10) || '{"status": "ok"}' ||
         (SELECT jsonb_object_agg('absent_' || j, 1) FROM generate_series(1, 1000) j) AS metrics
    FROM generate_series(0, 59) i;
CREATE TABLE loud AS
  SELECT jsonb_object_agg('m' || i, 500) || '{"status": "degraded"}'::jsonb AS metrics
    FROM generate_series(0, 59) i;
SELECT mlops.create_monitor('bench', 'classification', '{"accuracy": 0.9}');
SQL

# run_pgbench NAME CLIENTS SCRIPT: prints "| name | clients | tps | latency ms |"
run_pgbench() {
  local name=$1 clients=$2 script=$3 out tps lat
  printf '%s\n' "$script" >"$tmp/script.sql"
  out=$(pgbench -n -c "$clients" -j "$clients" -T "$secs" -f "$tmp/script.sql" "$db" 2>&1) || { echo "$out" >&2; exit 1; }
  tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out")
  lat=$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' <<<"$out")
  printf '| %s | %s | %.1f | %.3f |\n' "$name" "$clients" "$tps" "$lat"
}

echo "| benchmark | clients | calls/s | mean latency (ms) |"
echo "| --- | ---: | ---: | ---: |"
run_pgbench 'check_alerts, 1,000 rules, none fire' 1 \
  "SELECT count(*) FROM quiet, LATERAL mlops.check_alerts(quiet.metrics, 'bench');"
# first fill every cooldown, then measure checks that all hit the cooldown
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c "UPDATE mlops.alert_rules SET cooldown = '1 day'" \
  -c "SELECT count(*) FROM loud, LATERAL mlops.check_alerts(loud.metrics, 'bench')" >/dev/null
run_pgbench 'check_alerts, 1,000 rules, all hold but in cooldown' 1 \
  "SELECT count(*) FROM loud, LATERAL mlops.check_alerts(loud.metrics, 'bench');"
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c "UPDATE mlops.alert_rules SET cooldown = '0'" >/dev/null
run_pgbench 'check_alerts, 1,000 rules, all fire (1,000 alerts + NOTIFY)' 1 \
  "SELECT count(*) FROM loud, LATERAL mlops.check_alerts(loud.metrics, 'bench');"
run_pgbench 'record_prediction (label and actual)' 1 \
  "SELECT mlops.record_prediction('bench', (random() > 0.5)::int, (random() > 0.5)::int);"
run_pgbench 'record_prediction (label and actual)' 2 \
  "SELECT mlops.record_prediction('bench', (random() > 0.5)::int, (random() > 0.5)::int);"
# model_metrics over a window of 1,000 and of 100,000 labelled predictions
psql -X -q -v ON_ERROR_STOP=1 -d "$db" <<'SQL' >/dev/null
SELECT mlops.create_monitor('big', 'classification', '{"accuracy": 0.9}', 100000);
SELECT count(*) FROM (SELECT mlops.record_prediction('big', random(), (random() > 0.5)::int, NULL,
                                                     now() - i * interval '1 ms')
                        FROM generate_series(1, 100000) i) s;
SQL
run_pgbench 'model_metrics, window of 1,000 (binary scores, roc_auc)' 1 \
  "SELECT mlops.model_metrics('big', window_size => 1000);"
run_pgbench 'model_metrics, window of 100,000 (binary scores, roc_auc)' 1 \
  "SELECT mlops.model_metrics('big');"
