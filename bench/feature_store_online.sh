#!/usr/bin/env bash
# bench/feature_store_online.sh [SECONDS] — pgbench (prepared, 1 and 2 clients) of the online store:
# mlops.get_online_features for 1 and 100 entities, mlops.predict_entity, and plain mlops.predict on
# a float8[] with the same model, for comparison (docs/benchmarks.md).  Connection from libpq's
# environment; needs the feature set, training set and model that bench/feature_store.py --keep
# leaves (bench_fs, public.bench_fs_train); trains model bench_fs_model on it when missing.
set -euo pipefail
secs=${1:-10}
PGBENCH=${PGBENCH:-pgbench}
PSQL=${PSQL:-psql}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
$PSQL -X -q -v ON_ERROR_STOP=1 <<'SQL'
SELECT count(*) FROM mlops.train('bench_fs_model', 'public.bench_fs_train', 'label',
                                 features => ARRAY['f1', 'f2'], hyperparams => '{"num_boost_round": 20, "max_depth": 4}')
 WHERE NOT EXISTS (SELECT 1 FROM mlops.models WHERE name = 'bench_fs_model');
SELECT mlops.materialize('bench_fs') WHERE (mlops.feature_set_info('bench_fs') -> 'online' ->> 'rows') IS NULL;
SQL
n=$($PSQL -X -At -c "SELECT count(*) FROM mlops_online.bench_fs")
cat > "$dir/one.sql" <<EOF2
\set id random(0, $((n - 1)))
SELECT * FROM mlops.get_online_features('bench_fs', ARRAY[(:id)::text]);
EOF2
cat > "$dir/hundred.sql" <<EOF2
\set id random(0, $((n - 101)))
SELECT count(*) FROM mlops.get_online_features('bench_fs', ARRAY(SELECT (g)::text FROM generate_series(:id, :id + 99) g));
EOF2
cat > "$dir/entity.sql" <<EOF2
\set id random(0, $((n - 1)))
SELECT mlops.predict_entity('bench_fs_model/1', (:id)::text);
EOF2
cat > "$dir/plain.sql" <<'EOF2'
\set a random(0, 1000000)
\set b random(0, 1000000)
SELECT mlops.predict('bench_fs_model/1', ARRAY[(:a) / 1000000.0, (:b) / 1000000.0]::float8[]);
EOF2
for script in one hundred entity plain; do
  for clients in 1 2; do
    tps=$($PGBENCH -n -M prepared -T "$secs" -c "$clients" -j "$clients" -f "$dir/$script.sql" 2>&1 |
          sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    echo "$script clients=$clients tps=$tps"
  done
done
