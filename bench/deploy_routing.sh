#!/usr/bin/env bash
# deploy_routing.sh [seconds] [rounds] — what routing inside predict costs (docs/benchmarks.md,
# "Deployments"): one-row mlops.predict of a 20-feature model with
#   1. an explicit reference ('m/1': never routes, no routing lookup at all),
#   2. the bare name without a deployment (one hash lookup per call),
#   3. the bare name with a routing key, still without a deployment,
#   4. the bare name with an active 50% canary, calls without a routing key,
#   5. the same with a routing key (hash of key and deployment id per call).
# The two versions have the same size (same hyperparameters, another seed),
# so the canary's figures measure routing, not a costlier model.
# Each figure is the best of [rounds] (default 5) pgbench runs of [seconds]
# (default 5), 1 client, prepared statements, the four cases interleaved
# round by round (the machine is shared: the best run is the least disturbed).  Runs against the server in the libpq environment (PGHOST,
# PGPORT, PGUSER) where mlops is installable; creates and drops its database.
set -euo pipefail

secs=${1:-5}
rounds=${2:-5}
db=mlops_bench_routing
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; dropdb --if-exists "$db" >/dev/null 2>&1 || true' EXIT

dropdb --if-exists "$db" >/dev/null 2>&1
createdb "$db"
psql -X -q -v ON_ERROR_STOP=1 -d "$db" <<'SQL'
CREATE EXTENSION mlops;
SET mlops.train_progress_rounds = 0;
CREATE TABLE t AS
SELECT i AS id, random() AS f1, random() AS f2, random() AS f3, random() AS f4, random() AS f5,
       random() AS f6, random() AS f7, random() AS f8, random() AS f9, random() AS f10,
       random() AS f11, random() AS f12, random() AS f13, random() AS f14, random() AS f15,
       random() AS f16, random() AS f17, random() AS f18, random() AS f19, random() AS f20,
       (random() > 0.5)::int AS y
  FROM generate_series(1, 5000) i;
SELECT count(*) FROM mlops.train('m', 'SELECT f1, f2, f3, f4, f5, f6, f7, f8, f9, f10, f11, f12, f13, f14, f15, f16, f17, f18, f19, f20, y FROM t',
                                 'y', hyperparams => '{"n_estimators": 50, "max_depth": 4}', test_size => 0);
SELECT count(*) FROM mlops.train('m', 'SELECT f1, f2, f3, f4, f5, f6, f7, f8, f9, f10, f11, f12, f13, f14, f15, f16, f17, f18, f19, f20, y FROM t',
                                 'y', hyperparams => '{"n_estimators": 50, "max_depth": 4}', test_size => 0, seed => 7);
SELECT mlops.deploy('m', 1, strategy => 'direct', require_validation => false);
SQL

features='ARRAY[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.1, 0.2]::float8[]'

# run_pgbench SCRIPT: prints the calls per second
run_pgbench() {
  printf '%s\n' "$1" >"$tmp/script.sql"
  pgbench -n -M prepared -c 1 -j 1 -T "$secs" -f "$tmp/script.sql" "$db" 2>&1 |
    sed -n 's/^tps = \([0-9.]*\).*/\1/p'
}

best() { printf '%s\n' "$@" | sort -g | tail -1; }
e=(); b=(); bk=(); c=(); k=()
canary_id=
for ((r = 0; r < rounds; r++)); do
  e+=("$(run_pgbench "SELECT mlops.predict('m/1', $features);")")
  b+=("$(run_pgbench "SELECT mlops.predict('m', $features);")")
  bk+=("$(run_pgbench "\\set k random(1, 1000000)
SELECT mlops.predict('m', $features, :k::text);")")
  canary_id=$(psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" \
    -c "SELECT mlops.deploy('m', 2, canary_percent => 50, require_validation => false)")
  c+=("$(run_pgbench "SELECT mlops.predict('m', $features);")")
  k+=("$(run_pgbench "\\set k random(1, 1000000)
SELECT mlops.predict('m', $features, :k::text);")")
  psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c "SELECT mlops.rollback('m')" >/dev/null
done
explicit=$(best "${e[@]}"); bare=$(best "${b[@]}"); barekey=$(best "${bk[@]}")
canary=$(best "${c[@]}"); keyed=$(best "${k[@]}")

echo "| predict call | calls/s | ratio |"
echo "| --- | ---: | --- |"
printf "| explicit reference 'm/1' (never routes) | %.0f | |\n" "$explicit"
printf "| bare name 'm', no deployment | %.0f | %.3f of the explicit reference |\n" "$bare" "$(echo "$bare / $explicit" | bc -l)"
printf "| bare name with a routing key, no deployment | %.0f | |\n" "$barekey"
printf "| bare name, 50%% canary, no key | %.0f | %.3f of no deployment |\n" "$canary" "$(echo "$canary / $bare" | bc -l)"
printf "| bare name, 50%% canary, routing key | %.0f | %.3f of no deployment with a key |\n" "$keyed" "$(echo "$keyed / $barekey" | bc -l)"
