#!/usr/bin/python3
"""Benchmark of the feature store's point-in-time join (docs/benchmarks.md).

    bench/feature_store.py [--entity-rows N] [--feature-rows N] [--entities N] [--repeat N] [--keep] [--reuse]

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

1-3 run --repeat rounds (default 3), alternating, the order rotating from
round to round; the ratios are those of the medians, and the load average is
printed before and after, since the machine may be shared.  --reuse times
the tables a --keep run left, without generating them again.

Prints one line per measurement and the two ratios the issue asks for.
Also checks that the join's result equals merge_asof's on the generated data
(row count and a checksum of the features)."""
import argparse
import os
import statistics
import time

import numpy as np
import pandas as pd
import psycopg2

ap = argparse.ArgumentParser()
ap.add_argument("--entity-rows", type=int, default=100_000)
ap.add_argument("--feature-rows", type=int, default=1_000_000)
ap.add_argument("--entities", type=int, default=10_000)
ap.add_argument("--keep", action="store_true", help="keep the generated tables")
ap.add_argument("--repeat", type=int, default=3,
                help="rounds of the three timings, alternating; the medians and per-round ratios are printed")
ap.add_argument("--reuse", action="store_true", help="reuse the tables a --keep run left (no generation)")
args = ap.parse_args()

conn = psycopg2.connect("")
conn.autocommit = True
cur = conn.cursor()
cur.execute("CREATE EXTENSION IF NOT EXISTS mlops")
cur.execute("SET TimeZone = 'UTC'")
if not args.reuse:
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
cur.execute("SELECT count(*) FROM public.bench_fs_feats")
args.feature_rows = cur.fetchone()[0]
print("load average before: %.2f %.2f %.2f" % os.getloadavg())


def in_server():
    cur.execute("DROP TABLE IF EXISTS public.bench_fs_train")
    t0 = time.time()
    cur.execute("SELECT mlops.create_training_set('public.bench_fs_train', 'public.bench_fs_events', "
                "ARRAY['bench_fs:f1', 'bench_fs:f2'])")
    rows = cur.fetchone()[0]
    return time.time() - t0, rows


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


# the three timings, alternating, --repeat rounds (the order within a round rotates)
t_mlops, t_client, t_pandas = [], [], []
f = e = merged = None
for rnd in range(args.repeat):
    order = ["server", "client", "pandas"]
    order = order[rnd % 3:] + order[:rnd % 3]
    if f is None and order[0] == "pandas":
        order = ["client", "pandas", "server"]
    for what in order:
        if what == "server":
            t, rows = in_server()
            t_mlops.append(t)
            print("round %d: create_training_set: %d rows in %.2f s" % (rnd + 1, rows, t))
        elif what == "client":
            # psycopg2 fetch + merge, end to end
            f = e = merged = None
            t0 = time.time()
            f, e = fetch()
            t_fetch = time.time() - t0
            merged = merge(f, e)
            t_client.append(time.time() - t0)
            print("round %d: psycopg2 fetch (%.2f s) + merge_asof: %.2f s" % (rnd + 1, t_fetch, t_client[-1]))
        elif f is not None:
            # merge_asof in memory (data already fetched)
            t0 = time.time()
            merged = merge(f, e)
            t_pandas.append(time.time() - t0)
            print("round %d: pandas merge_asof in memory: %.2f s" % (rnd + 1, t_pandas[-1]))
print("load average after: %.2f %.2f %.2f" % os.getloadavg())
t_mlops_m, t_client_m, t_pandas_m = (statistics.median(x) for x in (t_mlops, t_client, t_pandas))
print("medians: create_training_set %.2f s, pandas merge_asof in memory %.2f s, psycopg2 fetch + merge_asof %.2f s"
      % (t_mlops_m, t_pandas_m, t_client_m))

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

print("ratio create_training_set / pandas merge_asof in memory (medians): %.2f (goal <= 2)" % (t_mlops_m / t_pandas_m))
print("ratio psycopg2 fetch + merge / create_training_set (medians): %.2f (goal >= 5)" % (t_client_m / t_mlops_m))
if not args.keep:
    cur.execute("SELECT mlops.drop_feature_set('bench_fs')")
    cur.execute("DROP TABLE public.bench_fs_feats, public.bench_fs_events, public.bench_fs_train")
