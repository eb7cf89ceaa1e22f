"""train_serve.py - mlops training and serving against the Python stack.

Usage (libpq environment selects the database; the server must run mlops
from shared_preload_libraries):

    /usr/bin/python3 bench/train_serve.py [--rows N] [--threads T] [--seconds S]
                                          [--repeat K] [--scoring-only] [--reuse-table]

Builds table bench_t (N rows x 20 real features, binary label), then
measures, in one run on the same cluster and the same libxgboost:

  training   mlops.train end to end vs psycopg2 fetch into numpy + xgboost.train
  scoring    mlops.predict_table rows/s vs inplace_predict on a numpy array,
             and vs fetching the rows with psycopg2 and predicting
  per-row    SELECT mlops.predict(...) FROM bench_t rows/s vs the C API's
             one-row limit (bench/one_row.c)
  serving    pgbench -M prepared, 1 and 2 clients, predict one row by id vs
             the same query without the prediction, and a Python loop
  memory     backend RSS before/after loading the model, and bounded cache

Model: 50 rounds, max_depth 6, tree_method hist, the same nthread on both
sides.  Each comparison alternates the two sides --repeat times and keeps
each side's best time, so that background load does not favour one side.
--scoring-only trains the model once (untimed) and measures table scoring
only; --reuse-table keeps an existing bench_t of the right size.
Prints a Markdown report.  The default size is small (CI-safe); the
figures in docs/benchmarks.md come from --rows 1000000, run by hand.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import psycopg2
import xgboost as xgb

FEATURES = ["f%d" % i for i in range(1, 21)]
HERE = os.path.dirname(os.path.abspath(__file__))


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def best_of(k, *fns):
    """Runs the functions in turn k times (alternating, so a burst of
    background load hits both sides alike) and returns, for each, the
    shortest time and the last result."""
    best = [None] * len(fns)
    outs = [None] * len(fns)
    for _ in range(k):
        for i, fn in enumerate(fns):
            t, outs[i] = timed(fn)
            best[i] = t if best[i] is None else min(best[i], t)
    return list(zip(best, outs))


def rss_kb(cur):
    cur.execute("SELECT pg_backend_pid()")
    pid = cur.fetchone()[0]
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def make_table(cur, rows):
    cur.execute("DROP TABLE IF EXISTS bench_t")
    cur.execute("SELECT setseed(0.42)")
    cols = ", ".join("(random() * 10)::real AS %s" % f for f in FEATURES)
    cur.execute("CREATE TABLE bench_t AS SELECT i AS id, %s FROM generate_series(1, %d) i" % (cols, rows))
    # a label that depends on several features, with noise
    cur.execute("ALTER TABLE bench_t ADD COLUMN label int")
    cur.execute("UPDATE bench_t SET label = (f1 + f2 * f3 / 10 - f4 + (f5 > 5)::int * 3 "
                "+ random() * 4 > 8)::int")
    cur.execute("ALTER TABLE bench_t ADD PRIMARY KEY (id)")
    cur.execute("VACUUM ANALYZE bench_t")


def pgbench(sql, clients, seconds, rows, env):
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write("\\set id random(1, %d)\n%s;\n" % (rows, sql))
        script = f.name
    os.chmod(script, 0o644)
    out = subprocess.run(["pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", str(clients),
                          "-T", str(seconds), "-f", script],
                         capture_output=True, text=True, env=env, check=True).stdout
    os.unlink(script)
    for line in out.splitlines():
        if line.startswith("tps") and "without initial connection time" in line:
            return float(line.split()[2])
        if line.startswith("tps"):
            tps = float(line.split()[2])
    return tps


def scoring(args, cur, bst, X, python_fetch, report, final=True):
    """Measures mlops.predict_table against inplace_predict in memory and
    against psycopg2 fetch + predict, appending to report; with final,
    prints the report and returns 0."""
    n, t = args.rows, args.threads
    # table scoring ---------------------------------------------------------
    cur.execute("SET mlops.predict_threads = %d" % t)
    cur.execute("SELECT count(*) FROM mlops.predict_table('bench', 'bench_t')")  # load the model
    bst.set_param({"nthread": t})
    bst.inplace_predict(X[:1000])

    def fetch_predict():
        X2, _ = python_fetch()
        return bst.inplace_predict(X2)

    (table_s, _), (inplace_s, _), (fetchpred_s, _) = best_of(
        args.repeat,
        lambda: (cur.execute("SELECT count(*) FROM mlops.predict_table('bench', 'bench_t', 'id')"), cur.fetchone()),
        lambda: bst.inplace_predict(X),
        fetch_predict)
    report.append("\n| table scoring | rows/s |\n| --- | ---: |")
    report.append("| `mlops.predict_table` (with ids) | %.0f |" % (n / table_s))
    report.append("| Python `inplace_predict` on an in-memory numpy array | %.0f |" % (n / inplace_s))
    report.append("| Python: psycopg2 fetch + `inplace_predict` | %.0f |" % (n / fetchpred_s))
    report.append("| **ratio predict_table / in-memory** (goal >= 0.7) | **%.2f** |" % (inplace_s / table_s))
    report.append("| **ratio predict_table / fetch + predict** (goal >= 5) | **%.2f** |" % (fetchpred_s / table_s))

    if final:
        print("\n".join(report))
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=2, help="alternated runs per comparison (best kept)")
    ap.add_argument("--per-row-rows", type=int, default=0,
                    help="rows scored by per-row SQL (default: all, at most 200000)")
    ap.add_argument("--scoring-only", action="store_true",
                    help="train once without timing and measure table scoring only")
    ap.add_argument("--reuse-table", action="store_true",
                    help="keep bench_t if it already has --rows rows")
    args = ap.parse_args()
    n, t = args.rows, args.threads
    params = {"max_depth": 6, "tree_method": "hist", "nthread": t}
    rounds = 50
    report = []

    conn = psycopg2.connect("")
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("CREATE EXTENSION IF NOT EXISTS mlops")
    cur.execute("SET mlops.train_progress_rounds = 0")
    cur.execute("SELECT mlops.model_cache_reset()")
    cur.execute("SELECT to_regclass('bench_t') IS NOT NULL")
    if args.reuse_table and cur.fetchone()[0]:
        cur.execute("SELECT count(*) FROM bench_t")
        if cur.fetchone()[0] != n:
            make_table(cur, n)
    else:
        make_table(cur, n)
    report.append("Table: %d rows x 20 real features, binary label; model: %d rounds, depth 6, hist, "
                  "nthread %d; %d cores." % (n, rounds, t, os.cpu_count()))

    # training ------------------------------------------------------------
    def sql_train():
        cur.execute("SELECT run_id, version, metrics FROM mlops.train('bench', 'bench_t', 'label', "
                    "hyperparams => %s, features => %s, test_size => 0)",
                    (json.dumps(dict(params, n_estimators=rounds)), FEATURES))
        return cur.fetchone()

    def python_fetch():
        c = conn.cursor()
        c.execute("SELECT %s, label FROM bench_t" % ", ".join(FEATURES))
        data = np.array(c.fetchall(), dtype=np.float32)
        return data[:, :-1], data[:, -1]

    def python_fit():
        return xgb.train(params, xgb.DMatrix(X, label=y, nthread=t), rounds)

    X, y = python_fetch()
    if args.scoring_only:
        version = sql_train()[1]
        bst = python_fit()
        cur.execute("SELECT mlops.transition_stage('bench', %s, 'Production')", (version,))
        return scoring(args, cur, bst, X, python_fetch, report)
    (sql_train_s, row), (fetch_s, _), (fit_s, bst) = best_of(args.repeat, sql_train, python_fetch, python_fit)
    version = row[1]
    cur.execute("SELECT mlops.transition_stage('bench', %s, 'Production')", (version,))
    py_train = fetch_s + fit_s
    report.append("\n| training | seconds |\n| --- | ---: |")
    report.append("| `mlops.train` end to end (read, train, evaluate, register) | %.2f |" % sql_train_s)
    report.append("| Python: psycopg2 fetch into numpy | %.2f |" % fetch_s)
    report.append("| Python: `xgboost.train` | %.2f |" % fit_s)
    report.append("| Python total | %.2f |" % py_train)
    report.append("| **ratio mlops / Python** (goal <= 0.8) | **%.2f** |" % (sql_train_s / py_train))

    scoring(args, cur, bst, X, python_fetch, report, final=False)

    # per-row SQL --------------------------------------------------------------
    m = min(n, args.per_row_rows or 200000)
    arr = "ARRAY[%s]" % ", ".join(FEATURES)
    model_path = os.path.join(tempfile.mkdtemp(), "bench.json")
    cur.execute("SELECT model_data FROM mlops.model_versions v JOIN mlops.models m USING (model_id) "
                "WHERE m.name = 'bench' AND v.version = %s", (version,))
    with open(model_path, "wb") as f:
        f.write(bytes(cur.fetchone()[0]))      # the very booster mlops.predict uses
    one_row_bin = os.path.join(tempfile.mkdtemp(), "one_row")
    subprocess.run(["cc", "-O2", "-o", one_row_bin, os.path.join(HERE, "one_row.c"), "-lxgboost"], check=True)

    one_row_us = {"": [], "proxy": []}

    def one_row(*extra):
        us = float(subprocess.run([one_row_bin, model_path, "20", "100000"] + list(extra),
                                  capture_output=True, text=True, check=True).stdout)
        one_row_us["".join(extra)].append(us)

    (per_row_s, _), (scan_s, _), _, _ = best_of(
        args.repeat + 1,
        lambda: (cur.execute("SELECT sum(mlops.predict('bench', %s)) FROM bench_t WHERE id <= %d" % (arr, m)),
                 cur.fetchone()),
        lambda: (cur.execute("SELECT sum(array_length(%s, 1)) FROM bench_t WHERE id <= %d" % (arr, m)),
                 cur.fetchone()),
        one_row,
        lambda: one_row("proxy"))
    us, us_proxy = min(one_row_us[""]), min(one_row_us["proxy"])
    report.append("\n| per-row SQL | rows/s |\n| --- | ---: |")
    report.append("| `SELECT mlops.predict('bench', ARRAY[f1..f20]) FROM bench_t` (%d rows) | %.0f |" % (m, m / per_row_s))
    report.append("| the same scan building the arrays, without predicting | %.0f |" % (m / scan_s))
    report.append("| C API one-row calls as Python makes them, new proxy each call (`one_row.c`: %.1f us) | %.0f |" % (us, 1e6 / us))
    report.append("| C API one-row limit, reused proxy (`one_row.c proxy`: %.1f us) | %.0f |" % (us_proxy, 1e6 / us_proxy))
    report.append("| **ratio per-row SQL / C API limit** | **%.2f** |" % ((m / per_row_s) / (1e6 / us_proxy)))

    # serving: pgbench ------------------------------------------------------------
    env = dict(os.environ)
    pred_sql = "SELECT mlops.predict('bench', %s) FROM bench_t WHERE id = :id" % arr
    plain_sql = "SELECT %s FROM bench_t WHERE id = :id" % arr
    report.append("\n| serving (pgbench -M prepared, %d s) | 1 client TPS | 2 clients TPS |\n| --- | ---: | ---: |" % args.seconds)
    tps = {"predict": [0, 0], "plain": [0, 0]}
    for _ in range(args.repeat):
        for i, c in enumerate((1, 2)):
            for name, sql in (("predict", pred_sql), ("plain", plain_sql)):
                tps[name][i] = max(tps[name][i], pgbench(sql, c, args.seconds, n, env))
    report.append("| `SELECT mlops.predict('bench', ARRAY[...]) FROM bench_t WHERE id = :id` | %.0f | %.0f |" % tuple(tps["predict"]))
    report.append("| the same query without the prediction | %.0f | %.0f |" % tuple(tps["plain"]))

    bst.set_param({"nthread": 1})
    c2 = conn.cursor()
    rng = np.random.default_rng(1)
    count = 0
    t_end = time.perf_counter() + args.seconds
    t0 = time.perf_counter()
    while time.perf_counter() < t_end:
        c2.execute("SELECT %s FROM bench_t WHERE id = %%s" % ", ".join(FEATURES), (int(rng.integers(1, n + 1)),))
        r = c2.fetchone()
        bst.inplace_predict(np.array([r], dtype=np.float32))
        count += 1
    py_tps = count / (time.perf_counter() - t0)
    report.append("| Python loop: psycopg2 fetch by id + `inplace_predict` (1 client) | %.0f | |" % py_tps)
    report.append("| **ratio predict / without prediction** (goal >= 0.5) | **%.2f** | **%.2f** |"
                  % (tps["predict"][0] / tps["plain"][0], tps["predict"][1] / tps["plain"][1]))
    report.append("| **ratio predict / Python loop** (goal >= 5) | **%.2f** | |" % (tps["predict"][0] / py_tps))

    # memory ------------------------------------------------------------------
    mc = psycopg2.connect("")
    mc.autocommit = True
    mcur = mc.cursor()
    mcur.execute("SET mlops.train_progress_rounds = 0")
    before = rss_kb(mcur)
    mcur.execute("SELECT mlops.predict('bench', ARRAY[%s]::float8[])" % ", ".join(["1"] * 20))
    after = rss_kb(mcur)
    mcur.execute("SELECT size_bytes FROM mlops.model_cache()")
    counted = mcur.fetchone()[0]
    # several versions with and without a bound on the cache
    for i in range(3):
        mcur.execute("SELECT version FROM mlops.train('bench_mem', 'SELECT * FROM bench_t WHERE id <= 20000', 'label', "
                     "hyperparams => %s, features => %s, test_size => 0)",
                     (json.dumps(dict(params, n_estimators=rounds, seed=i)), FEATURES))
    for v in (1, 2, 3):
        mcur.execute("SELECT mlops.predict('bench_mem/%d', ARRAY[%s]::float8[])" % (v, ", ".join(["1"] * 20)))
    unbounded = rss_kb(mcur)
    mcur.execute("SELECT count(*), sum(size_bytes) FROM mlops.model_cache()")
    unb_n, unb_bytes = mcur.fetchone()
    mc.close()
    mc = psycopg2.connect("")
    mc.autocommit = True
    mcur = mc.cursor()
    mcur.execute("SET mlops.model_cache_mb = 1")
    for v in (1, 2, 3):
        mcur.execute("SELECT mlops.predict('bench_mem/%d', ARRAY[%s]::float8[])" % (v, ", ".join(["1"] * 20)))
    bounded = rss_kb(mcur)
    mcur.execute("SELECT count(*), sum(size_bytes) FROM mlops.model_cache()")
    b_n, b_bytes = mcur.fetchone()
    mc.close()
    report.append("\n| memory (backend RSS) | MB |\n| --- | ---: |")
    report.append("| fresh backend | %.1f |" % (before / 1024))
    report.append("| after loading the model (cache counts %.2f MB) | %.1f |" % (counted / 2**20, after / 1024))
    report.append("| 3 other versions cached, unbounded (%d models, %.2f MB counted) | %.1f |" % (unb_n, unb_bytes / 2**20, unbounded / 1024))
    report.append("| 3 versions loaded with `mlops.model_cache_mb = 1` (%d kept, %.2f MB counted) | %.1f |" % (b_n, b_bytes / 2**20, bounded / 1024))

    print("\n".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
