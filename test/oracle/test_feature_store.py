#!/usr/bin/python3
"""Oracle test of the feature store's point-in-time join
(mlops.create_training_set and mlops.historical_features_sql) against two
independent implementations on random data: a brute-force Python join written
from the definition, and pandas merge_asof(direction='backward',
tolerance=ttl, by=entity).  The data has ties on the timestamp (broken by the
created column, NULL created first), rows exactly at and one second past the
ttl, event times equal to feature times, entities with no feature row, late
rows (inserted out of time order), NULL entities and NULL timestamps on both
sides.  Every row must be equal.  Also: an exact duplicate (entity, timestamp,
created) that the join would choose raises 21000.  Prints TAP; connection from
libpq's environment."""
import datetime
import math
import random
import sys

import pandas as pd
import psycopg2

conn = psycopg2.connect("")
conn.autocommit = True
cur = conn.cursor()
cur.execute("CREATE EXTENSION IF NOT EXISTS mlops")
cur.execute("SET TimeZone = 'UTC'")

n_test = 0
failed = 0


def ok(cond, what):
    global n_test, failed
    n_test += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (n_test, what))
    if not cond:
        failed += 1


BASE = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
TTL = 3600  # seconds, the first set's ttl


def ts(sec):
    return None if sec is None else BASE + datetime.timedelta(seconds=sec)


def make_data(seed):
    rnd = random.Random(seed)
    feats = []  # (entity, ts_sec, created, spend, visits)
    seen = set()
    for _ in range(400):
        e = rnd.randint(1, 25)
        t = rnd.randint(0, 40) * 1800  # coarse grid: many ties
        c = rnd.choice([None, 1, 2, 3, 4, 5])
        if (e, t, c) in seen:
            continue
        seen.add((e, t, c))
        spend = rnd.choice([None, round(rnd.uniform(-100, 100), 3)])
        feats.append([e, t, c, spend, rnd.randint(0, 1000)])
    # NULL entities and timestamps are never matched
    feats += [[None, 600, 1, 1.0, 1], [3, None, 1, 2.0, 2], [None, None, None, 3.0, 3]]
    rnd.shuffle(feats)  # late rows: insertion order is not time order
    events = []  # (rid, entity, ts_sec, label)
    rid = 0
    for _ in range(500):
        rid += 1
        events.append([rid, rnd.randint(1, 30), rnd.randint(-600, 75000), rnd.randint(0, 1)])
    # exact matches and the ttl edge: at a feature time, at +ttl, at +ttl+1
    for f in rnd.sample([f for f in feats if f[0] is not None and f[1] is not None], 60):
        for off in (0, TTL, TTL + 1, 1):
            rid += 1
            events.append([rid, f[0], f[1] + off, 1])
    for e, t in ((None, 1000), (5, None), (None, None)):
        rid += 1
        events.append([rid, e, t, 0])
    rnd.shuffle(events)
    return feats, events


def created_key(c):
    return -math.inf if c is None else c


def brute_force(feats, events, ttl):
    """The definition: the feature row of the entity with the greatest
    (ts, created) such that ts <= event time; NULL when none, when older
    than ttl, or when the entity or the event time is NULL."""
    out = {}
    for rid, e, t, _ in events:
        best = None
        if e is not None and t is not None:
            for f in feats:
                if f[0] == e and f[1] is not None and f[1] <= t:
                    if best is None or (f[1], created_key(f[2])) > (best[1], created_key(best[2])):
                        best = f
        if best is not None and ttl is not None and t - best[1] > ttl:
            best = None
        out[rid] = (None, None) if best is None else (best[3], best[4])
    return out


def with_pandas(feats, events, ttl):
    left = pd.DataFrame(events, columns=["rid", "entity", "t", "label"])
    right = pd.DataFrame(feats, columns=["entity", "t", "created", "spend", "visits"])
    usable_left = left.dropna(subset=["entity", "t"]).copy()
    right = right.dropna(subset=["entity", "t"]).copy()
    for df in (usable_left, right):
        df["entity"] = df["entity"].astype("int64")
        df["t"] = pd.to_datetime(df["t"].astype("int64"), unit="s", utc=True)
    # ties: the last row among equal times wins, so sort by created (NULL first)
    right["ckey"] = right["created"].fillna(-1e18)
    right = right.sort_values(["t", "ckey"], kind="mergesort")
    usable_left = usable_left.sort_values("t", kind="mergesort")
    merged = pd.merge_asof(usable_left, right[["entity", "t", "spend", "visits"]], on="t", by="entity",
                           direction="backward", allow_exact_matches=True,
                           tolerance=None if ttl is None else pd.Timedelta(seconds=ttl))
    out = {rid: (None, None) for rid in left["rid"]}
    for r in merged.itertuples():
        spend = None if pd.isna(r.spend) else float(r.spend)
        visits = None if pd.isna(r.visits) else int(r.visits)
        out[r.rid] = (spend, visits)
    return out


def load(feats, events):
    cur.execute("DROP TABLE IF EXISTS public.oracle_feats, public.oracle_events, public.oracle_train, "
                "public.oracle_train2 CASCADE")
    cur.execute("CREATE TABLE public.oracle_feats (entity integer, ts timestamptz, created integer, "
                "spend float8, visits integer)")
    cur.execute("CREATE TABLE public.oracle_events (rid integer, entity integer, event_timestamp timestamptz, "
                "label integer)")
    cur.executemany("INSERT INTO public.oracle_feats VALUES (%s, %s, %s, %s, %s)",
                    [(f[0], ts(f[1]), f[2], f[3], f[4]) for f in feats])
    cur.executemany("INSERT INTO public.oracle_events VALUES (%s, %s, %s, %s)",
                    [(e[0], e[1], ts(e[2]), e[3]) for e in events])
    cur.execute("CREATE OR REPLACE VIEW public.oracle_feats_nottl AS "
                "SELECT entity, ts, created, spend AS spend2, visits AS visits2 FROM public.oracle_feats")


def same(a, b):
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= 1e-12 * max(1.0, abs(b))


def compare(got, want, what):
    bad = [rid for rid in want if not (same(got[rid][0], want[rid][0]) and same(got[rid][1], want[rid][1]))]
    ok(len(got) == len(want) and not bad,
       "%s: %d rows equal%s" % (what, len(want), "" if not bad else " (first differing rid %d: %r vs %r)"
                                % (bad[0], got[bad[0]], want[bad[0]])))


for seed in (1, 2, 3):
    feats, events = make_data(seed)
    load(feats, events)
    cur.execute("SELECT mlops.drop_feature_set(name) FROM mlops.feature_sets WHERE name IN ('oracle', 'oracle_nottl')")
    cur.execute("SELECT mlops.register_feature_set('oracle', 'public.oracle_feats', 'entity', 'ts', "
                "ARRAY['spend', 'visits'], ttl => '1 hour', created_column => 'created')")
    cur.execute("SELECT mlops.register_feature_set('oracle_nottl', 'public.oracle_feats_nottl', 'entity', 'ts', "
                "ARRAY['spend2', 'visits2'], created_column => 'created')")
    want = {"ttl": brute_force(feats, events, TTL), "nottl": brute_force(feats, events, None)}
    want_pd = {"ttl": with_pandas(feats, events, TTL), "nottl": with_pandas(feats, events, None)}
    # the in-memory join (default mlops.training_set_memory_mb), then the bounded SQL path that a
    # memory cap below the join's size switches to (0 MB: never in memory), in the same session
    for cap, path in (("DEFAULT", "in memory"), ("0", "memory cap 0, SQL executor")):
        cur.execute("SET mlops.training_set_memory_mb = " + cap)
        cur.execute("DROP TABLE IF EXISTS public.oracle_train")
        del conn.notices[:]
        cur.execute("SELECT mlops.create_training_set('public.oracle_train', 'public.oracle_events', "
                    "ARRAY['oracle:*', 'oracle_nottl:spend2', 'oracle_nottl:visits2'])")
        n = cur.fetchone()[0]
        fell_back = any("joined by the SQL executor" in m for m in conn.notices)
        ok(n == len(events) and fell_back == (cap == "0"),
           "seed %d, %s: create_training_set returns the row count %d (SQL path notice: %s)"
           % (seed, path, len(events), fell_back))
        cur.execute("SELECT rid, spend, visits, spend2, visits2 FROM public.oracle_train")
        rows = cur.fetchall()
        got_ttl = {r[0]: (r[1], r[2]) for r in rows}
        got_nottl = {r[0]: (r[3], r[4]) for r in rows}
        compare(got_ttl, want["ttl"], "seed %d, %s, ttl 1 hour, brute force" % (seed, path))
        compare(got_ttl, want_pd["ttl"], "seed %d, %s, ttl 1 hour, pandas merge_asof" % (seed, path))
        compare(got_nottl, want["nottl"], "seed %d, %s, no ttl, brute force" % (seed, path))
        compare(got_nottl, want_pd["nottl"], "seed %d, %s, no ttl, pandas merge_asof" % (seed, path))
        cur.execute("SELECT (SELECT array_agg(rid) FROM public.oracle_train) = "
                    "(SELECT array_agg(rid) FROM public.oracle_events)")
        ok(cur.fetchone()[0], "seed %d, %s: rows keep the entity source's order" % (seed, path))
    cur.execute("RESET mlops.training_set_memory_mb")
    # the data exercises what it should: matches, ttl cuts, ties at one time
    expired = sum(1 for r in got_ttl if got_ttl[r][1] is None and got_nottl[r][1] is not None)
    matched = sum(1 for r in got_ttl if got_ttl[r][1] is not None)
    ties = len(feats) - len({(f[0], f[1]) for f in feats})
    ok(expired > 20 and matched > 100 and ties > 20,
       "seed %d: %d rows matched, %d cut by the ttl, %d tied feature rows" % (seed, matched, expired, ties))
    # historical_features_sql is the same join
    cur.execute("SELECT mlops.historical_features_sql('public.oracle_events', "
                "ARRAY['oracle:*', 'oracle_nottl:spend2', 'oracle_nottl:visits2'])")
    cur.execute("SELECT count(*) FROM ((%s) EXCEPT ALL TABLE public.oracle_train) d" % cur.fetchone()[0])
    ok(cur.fetchone()[0] == 0, "seed %d: historical_features_sql gives the same rows" % seed)

# an exact duplicate that the join would choose is an error, not a coin toss
feats, events = make_data(4)
load(feats, events)
dup = next(f for f in feats if f[0] is not None and f[1] is not None and f[2] is not None
           and not any(g[0] == f[0] and g[1] == f[1] and created_key(g[2]) > f[2] for g in feats))
cur.execute("INSERT INTO public.oracle_feats VALUES (%s, %s, %s, %s, %s)", (dup[0], ts(dup[1]), dup[2], 0.5, 7))
cur.execute("INSERT INTO public.oracle_events VALUES (999999, %s, %s, 1)", (dup[0], ts(dup[1])))
cur.execute("SELECT mlops.drop_feature_set(name) FROM mlops.feature_sets WHERE name IN ('oracle', 'oracle_nottl')")
cur.execute("SELECT mlops.register_feature_set('oracle', 'public.oracle_feats', 'entity', 'ts', "
            "ARRAY['spend', 'visits'], created_column => 'created')")
# the event at the duplicate's time chooses it (no later row of that entity and time)
try:
    cur.execute("SELECT mlops.create_training_set('public.oracle_train2', 'public.oracle_events', ARRAY['oracle:*'])")
    ok(False, "a chosen duplicate raises 21000 (no error)")
except psycopg2.Error as e:
    ok(e.pgcode == "21000", "a chosen duplicate raises 21000 (%s)" % e.pgcode)
cur.execute("SET mlops.training_set_memory_mb = 0")
try:
    cur.execute("SELECT mlops.create_training_set('public.oracle_train2', 'public.oracle_events', ARRAY['oracle:*'])")
    ok(False, "memory cap 0: a chosen duplicate raises 21000 (no error)")
except psycopg2.Error as e:
    ok(e.pgcode == "21000", "memory cap 0: a chosen duplicate raises 21000 (%s)" % e.pgcode)
cur.execute("RESET mlops.training_set_memory_mb")
# an event before the duplicate's time never chooses it: no error
cur.execute("DELETE FROM public.oracle_events WHERE entity = %s AND event_timestamp >= %s", (dup[0], ts(dup[1])))
cur.execute("SELECT mlops.create_training_set('public.oracle_train2', 'public.oracle_events', ARRAY['oracle:*'])")
ok(cur.fetchone()[0] > 0, "a duplicate that is never chosen is no error")

cur.execute("SELECT mlops.drop_feature_set(name) FROM mlops.feature_sets WHERE name IN ('oracle', 'oracle_nottl')")
cur.execute("DROP TABLE IF EXISTS public.oracle_feats, public.oracle_events, public.oracle_train, "
            "public.oracle_train2 CASCADE")
print("1..%d" % n_test)
sys.exit(1 if failed else 0)
