#!/usr/bin/python3
"""Benchmark of the feature store's point-in-time join (docs/benchmarks.md).

    bench/feature_store.py [--entity-rows N] [--feature-rows N] [--entities N]

Generates, in the database named by libpq's environment, a feature table of
--feature-rows rows over --entities entities (two float8 features) and an
entity table of --entity-rows rows (entity, event time, label), then times:

1. mlops.create_training_set (the join runs in the server, result written
   to a new table);
2. pandas merge_asof(direction='backward', by=entity) on the same data
   already in memory (the data is fetched first, not timed);
3. psycopg2 fetch of both tables + the same merge_asof (what a client
   without mlops does), timed end to end;
4. mlops.materialize of the feature table (rows per second).

Prints one line per measurement and the two ratios the issue asks for.
Also checks that the join's result equals merge_asof's on the generated data
(row count and a checksum of the features)."""
import argparse
import time

import numpy as np
import pandas as pd
import psycopg2

ap = argparse.ArgumentParser()
ap.add_argument("--entity-rows", type=int, default=100_000)
ap.add_argument("--feature-rows", type=int, default=1_000_000)
ap.add_argument("--entities", type=int, default=10_000)
ap.add_argument("--keep", action="store_true", help="keep the generated tables")
args = ap.parse_args()

conn = psycopg2.connect("")
conn.autocommit = True
cur = conn.cursor()
cur.execute("CREATE EXTENSION IF NOT EXISTS mlops")
cur.execute("SET TimeZone = 'UTC'")
cur.execute("DROP TABLE IF EXISTS public.bench_fs_feats, public.bench_fs_events, public.bench_fs_train")
cur.execute("SELECT mlops.drop_feature_set(name) FROM mlops.feature_sets WHERE name = 'bench_fs'")

t0 = time.time()
# one year of seconds; feature rows spread evenly over the entities, each entity's k-th row at a
# random second of its k-th slot (so no two rows of an entity share a time: no ambiguous row)
per_entity = -(-args.feature_rows // args.entities)
cur.execute("""CREATE TABLE public.bench_fs_feats AS
    SELECT (g %% %d)::bigint AS entity,
           timestamptz '2024-01-01' + ((g / %d) * %d + floor(random() * %d) || ' seconds')::interval AS ts,
           random() AS f1, random() AS f2
      FROM generate_series(0, %d) g""" % (args.entities, args.entities, 31536000 // per_entity,
                                            31536000 // per_entity, args.feature_rows - 1))
cur.execute("""CREATE TABLE public.bench_fs_events AS
    SELECT g AS rid, (floor(random() * %d))::bigint AS entity,
           timestamptz '2024-01-01' + (floor(random() * 31536000) || ' seconds')::interval AS event_timestamp,
           (random() < 0.5)::integer AS label
      FROM generate_series(1, %d) g""" % (args.entities, args.entity_rows))
cur.execute("VACUUM ANALYZE public.bench_fs_feats")
cur.execute("VACUUM ANALYZE public.bench_fs_events")
print("generated %d feature rows over %d entities and %d entity rows in %.1f s"
      % (args.feature_rows, args.entities, args.entity_rows, time.time() - t0))
cur.execute("SELECT mlops.register_feature_set('bench_fs', 'public.bench_fs_feats', 'entity', 'ts')")

# 1. in the server
t0 = time.time()
cur.execute("SELECT mlops.create_training_set('public.bench_fs_train', 'public.bench_fs_events', "
            "ARRAY['bench_fs:f1', 'bench_fs:f2'])")
rows = cur.fetchone()[0]
t_mlops = time.time() - t0
print("create_training_set: %d rows in %.2f s" % (rows, t_mlops))


def fetch():
    c = conn.cursor()
    c.execute("SELECT entity, extract(epoch FROM ts)::float8, f1, f2 FROM public.bench_fs_feats")
    f = pd.DataFrame(c.fetchall(), columns=["entity", "t", "f1", "f2"])
    c.execute("SELECT rid, entity, extract(epoch FROM event_timestamp)::float8, label FROM public.bench_fs_events")
    e = pd.DataFrame(c.fetchall(), columns=["rid", "entity", "t", "label"])
    return f, e


def merge(f, e):
    f = f.sort_values("t", kind="mergesort")
    e = e.sort_values("t", kind="mergesort")
    return pd.merge_asof(e, f, on="t", by="entity", direction="backward")


# 3. psycopg2 fetch + merge, end to end
t0 = time.time()
f, e = fetch()
t_fetch = time.time() - t0
merged = merge(f, e)
t_client = time.time() - t0
print("psycopg2 fetch (%.2f s) + merge_asof: %.2f s" % (t_fetch, t_client))

# 2. merge_asof in memory (data already fetched)
t0 = time.time()
merged = merge(f, e)
t_pandas = time.time() - t0
print("pandas merge_asof in memory: %.2f s" % t_pandas)

# the same result
cur.execute("SELECT count(*), count(f1), coalesce(sum(f1), 0) + coalesce(sum(f2), 0) FROM public.bench_fs_train")
n, nf, checksum = cur.fetchone()
want = merged["f1"].sum() + merged["f2"].sum()
same = n == len(merged) and nf == merged["f1"].notna().sum() and abs(checksum - want) <= 1e-6 * max(1, abs(want))
print("same result as merge_asof: %s (%d rows, %d with features)" % (same, n, nf))

# 4. materialisation
t0 = time.time()
cur.execute("SELECT mlops.materialize('bench_fs')")
entities = cur.fetchone()[0]
t_mat = time.time() - t0
print("materialize: %d feature rows (%d entities) in %.2f s: %.0f rows/s"
      % (args.feature_rows, entities, t_mat, args.feature_rows / t_mat))

print("ratio create_training_set / pandas merge_asof in memory: %.2f (goal <= 2)" % (t_mlops / t_pandas))
print("ratio psycopg2 fetch + merge / create_training_set: %.2f (goal >= 5)" % (t_client / t_mlops))
if not args.keep:
    cur.execute("SELECT mlops.drop_feature_set('bench_fs')")
    cur.execute("DROP TABLE public.bench_fs_feats, public.bench_fs_events, public.bench_fs_train")
