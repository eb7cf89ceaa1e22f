#!/usr/bin/env bash
# ab_bench.sh [seconds] [rounds] — mlops.ab_predict for an already assigned
# user against plain mlops.predict of the same version with the same features
# (the goal: ab_predict at least 0.5x predict's calls/s).  A binary classifier
# (so that ab_predict also returns the predicted class's probability) and a
# regression model (prediction only).  pgbench -M prepared, 1 client,
# [seconds] (default 10) per run; users drawn from 1,000 pre-assigned ones.
# predict and ab_predict alternate for [rounds] (default 5) pairs so that
# both see the same background load; the ratio reported is the median of
# the pairs' ratios.
# Runs against the server in the libpq environment (PGHOST, PGPORT, PGUSER)
# on which mlops is installable; creates and drops its own database.
# Prints a Markdown table for docs/benchmarks.md.
set -euo pipefail

secs=${1:-10}
rounds=${2:-5}
db=mlops_bench_ab
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; dropdb --if-exists "$db" >/dev/null 2>&1 || true' EXIT

dropdb --if-exists "$db" >/dev/null 2>&1
createdb "$db"
psql -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null <<'SQL'
CREATE EXTENSION mlops;
SET mlops.train_progress_rounds = 0;
CREATE TABLE customers AS
SELECT i AS id, 20 + i % 50 AS age, (ARRAY['basic', 'pro', 'team'])[i % 3 + 1] AS plan,
       (10 + (i % 7) * 5.5)::float8 AS monthly_fee,
       CASE WHEN (i % 7) * 5.5 - (i % 50) / 4.0 > 8 THEN 'yes' ELSE 'no' END AS churned,
       (i % 17) * 12.5 + (i % 50) AS spend
  FROM generate_series(1, 2000) AS i;
SELECT count(*) FROM mlops.train('churn', 'customers', 'churned', features => ARRAY['age', 'plan', 'monthly_fee'],
       hyperparams => '{"max_depth": 4, "n_estimators": 50}', test_size => 0);
SELECT count(*) FROM mlops.train('churn', 'customers', 'churned', features => ARRAY['age', 'plan', 'monthly_fee'],
       hyperparams => '{"max_depth": 5, "n_estimators": 50}', test_size => 0);
SELECT count(*) FROM mlops.train('spend', 'customers', 'spend', task => 'regression',
       features => ARRAY['age', 'plan', 'monthly_fee'], hyperparams => '{"n_estimators": 50}', test_size => 0);
SELECT mlops.create_ab_test('churn_ab', '[{"name": "control", "model": "churn/1", "weight": 0.5},
                                          {"name": "treatment", "model": "churn/2", "weight": 0.5}]');
SELECT mlops.create_ab_test('spend_ab', '[{"name": "control", "model": "spend/1", "weight": 1},
                                          {"name": "treatment", "model": "spend/1", "weight": 0}]');
SELECT count(mlops.ab_assign(t, 'user-' || i)) FROM generate_series(1, 1000) i, unnest(ARRAY['churn_ab', 'spend_ab']) t;
SQL

features='{"age": 35, "plan": "pro", "monthly_fee": 29.9}'
# run_pgbench NAME SCRIPT: prints "| name | calls/s | mean latency (ms) |" and sets $tps
run_pgbench() {
  local name=$1 script=$2 out lat
  printf '%s\n' "$script" >"$tmp/script.sql"
  out=$(pgbench -n -M prepared -c 1 -j 1 -T "$secs" -f "$tmp/script.sql" "$db" 2>&1) || { echo "$out" >&2; exit 1; }
  tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out")
  lat=$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' <<<"$out")
  printf '| %s | %.1f | %.3f |\n' "$name" "$tps" "$lat"
}

# pairs: predict and ab_predict run back to back, [rounds] times each, and
# the ratio is the median of the per-pair ratios, which the background load
# of a shared machine biases least
pair() {
  local label=$1 model=$2 test=$3 ratios=() p a
  for ((r = 1; r <= rounds; r++)); do
    run_pgbench "predict('$model', jsonb)" "SELECT mlops.predict('$model', '$features'::jsonb);" >>"$tmp/table"
    p=$tps
    run_pgbench "ab_predict, $label, assigned user" "\\set u random(1, 1000)
SELECT mlops.ab_predict('$test', 'user-' || :u, '$features'::jsonb);" >>"$tmp/table"
    a=$tps
    ratios+=("$(echo "$a / $p" | bc -l)")
  done
  printf '%s\n' "${ratios[@]}" | sort -g | awk -v l="$label" '{ v[NR] = $1 } END { printf "%s: median ratio ab_predict / predict %.2f (min %.2f, max %.2f, %d pairs)\n", l, v[int((NR + 1) / 2)], v[1], v[NR], NR }' >>"$tmp/ratios"
}
: >"$tmp/table"
: >"$tmp/ratios"
pair classifier churn/1 churn_ab
pair regression spend/1 spend_ab
echo "| benchmark (1 client, -M prepared) | calls/s | mean latency (ms) |"
echo "| --- | ---: | ---: |"
cat "$tmp/table"
echo
cat "$tmp/ratios"
