#!/usr/bin/python3
"""scaling.py - how mlops' cost grows with the data, beside the Python stack (issue 15).

Usage (libpq environment selects the database; the server must run mlops from
shared_preload_libraries and this script must run on the server's machine as the
server's user, since it reads and resets the backends' /proc/<pid>/status):

    /usr/bin/python3 bench/scaling.py [--sizes 10000,100000,1000000,5000000] [--threads 2]
                                     [--per-row-rows 100000] [--python-per-row-rows 20000]

For each size N it builds table scale_t (N rows x 20 real features and a binary
label) and scale_cur (N rows, the features shifted), with a formula numpy
evaluates too, so the Python side holds exactly the same values in memory
without fetching them. Then, one run each:

  train          mlops.train (read, train 50 rounds depth 6 hist, register; no held-out
                 rows, no per-round evaluation)  vs  xgboost.DMatrix + xgboost.train on
                 the numpy array
  predict_table  SELECT count(*) FROM mlops.predict_table(model, 'scale_t', 'id')
                 vs  Booster.inplace_predict on the numpy array
  per-row        SELECT sum(mlops.predict(model, ARRAY[f1..f20])) over min(N,
                 --per-row-rows) rows  vs  a Python loop of one-row inplace_predict over
                 min(N, --python-per-row-rows) rows; reported as rows/s and the time
                 that rate gives for N rows
  detect_drift   mlops.detect_drift(reference of scale_t, 'scale_cur'): psi and ks on
                 the 20 columns (set_drift_reference is timed apart)  vs  numpy PSI and
                 scipy.stats.ks_2samp on the same 20 pairs of arrays
  memory         peak RSS (VmHWM) of the backend during each mlops operation, and of
                 the Python process during its counterpart; both peaks are reset
                 before each operation (write 5 to /proc/<pid>/clear_refs), each mlops
                 operation runs in a fresh connection.  A backend's RSS counts the
                 pages of shared_buffers it touched; the sampled peak of RssAnon (its
                 private memory: palloc, malloc, libxgboost) is shown beside it.

Prints one Markdown table per measure and the settings. The Python side uses the same
libxgboost (python3-xgboost), the same parameters and threads; it is warmed up once
(a tiny model) before the first size, while each mlops operation starts in a fresh
backend (which loads libxgboost before its peak is reset, but starts XGBoost's threads
in the operation).
"""
import argparse
import json
import os
import threading
import time

import numpy as np
import psycopg2
import xgboost as xgb
from scipy import stats

FEATURES = ["f%d" % i for i in range(1, 21)]
M = 1000003                      # a prime: the features are (i * a + b) mod M, scaled
MULT = [7919 + 104729 * k for k in range(22)]
ADD = [31 + 977 * k for k in range(22)]


def feature_sql(j, shift):
    """SQL of feature j (0-based) of row i, as float8 then real, exactly as numpy computes it."""
    return "((((i::bigint * %d + %d) %% %d)::float8 / %d * 10 + %s)::real)" % (MULT[j], ADD[j], M, M, shift)


def make_tables(cur, n):
    """scale_t: N rows, features and label; scale_cur: N rows, features shifted by 0.1."""
    for table, shift in (("scale_t", "0"), ("scale_cur", "0.1")):
        cur.execute("DROP TABLE IF EXISTS %s" % table)
        cols = ", ".join("%s AS %s" % (feature_sql(j, shift), FEATURES[j]) for j in range(20))
        cur.execute("CREATE TABLE %s AS SELECT i AS id, %s FROM generate_series(1, %d) i" % (table, cols, n))
    noise = "(((id::bigint * %d + %d) %% %d)::float8 / %d * 4)" % (MULT[20], ADD[20], M, M)
    cur.execute("ALTER TABLE scale_t ADD COLUMN label integer")
    cur.execute("UPDATE scale_t SET label = (f1::float8 + f2::float8 * f3::float8 / 10 - f4::float8 "
                "+ (f5 > 5)::int * 3 + %s > 8)::int" % noise)
    cur.execute("VACUUM ANALYZE scale_t")
    cur.execute("VACUUM ANALYZE scale_cur")


def make_arrays(n, shift):
    """The same features (and labels) in numpy."""
    i = np.arange(1, n + 1, dtype=np.int64)
    X = np.empty((n, 20), dtype=np.float32)
    for j in range(20):
        X[:, j] = (((i * MULT[j] + ADD[j]) % M).astype(np.float64) / M * 10 + shift).astype(np.float32)
    noise = ((i * MULT[20] + ADD[20]) % M).astype(np.float64) / M * 4
    f = X.astype(np.float64)
    y = ((f[:, 0] + f[:, 1] * f[:, 2] / 10 - f[:, 3] + (X[:, 4] > 5) * 3 + noise) > 8).astype(np.float32)
    return X, y


def status_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def reset_peak(pid):
    with open("/proc/%d/clear_refs" % pid, "w") as f:
        f.write("5")


class Peak:
    """Resets pid's VmHWM, samples its RssAnon every 20 ms while the block runs, and
    keeps the peaks (MB)."""

    def __init__(self, pid):
        self.pid, self.anon, self.stop = pid, 0, False

    def __enter__(self):
        reset_peak(self.pid)
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()
        return self

    def sample(self):
        while not self.stop:
            self.anon = max(self.anon, status_kb(self.pid, "RssAnon"))
            time.sleep(0.02)

    def __exit__(self, *exc):
        self.stop = True
        self.thread.join()
        self.anon = max(self.anon, status_kb(self.pid, "RssAnon")) / 1024.0
        self.hwm = status_kb(self.pid, "VmHWM") / 1024.0
        return False


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def mlops_op(sql, args=None, setup=()):
    """Runs sql in a fresh connection: (seconds, peak VmHWM MB, peak RssAnon MB, first row)."""
    conn = psycopg2.connect("")
    conn.autocommit = True
    cur = conn.cursor()
    for s in setup:
        cur.execute(s)
    cur.execute("SELECT mlops.version()")       # loads libxgboost before the peak is reset
    cur.execute("SELECT pg_backend_pid()")
    pid = cur.fetchone()[0]
    with Peak(pid) as peak:
        t, row = timed(lambda: (cur.execute(sql, args), cur.fetchone())[1])
    conn.close()
    return t, peak.hwm, peak.anon, row


def python_op(fn):
    with Peak(os.getpid()) as peak:
        t, out = timed(fn)
    return t, peak.hwm, peak.anon, out


def psi_numpy(ref, cur_, bins=10):
    edges = np.quantile(ref, np.arange(1, bins) / bins)
    r = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=bins) / len(ref)
    c = np.bincount(np.searchsorted(edges, cur_, side="right"), minlength=bins) / len(cur_)
    r = np.where(r == 0, 0.0001, r)
    c = np.where(c == 0, 0.0001, c)
    return float(np.sum((c - r) * np.log(c / r)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000,1000000,5000000")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--per-row-rows", type=int, default=100000)
    ap.add_argument("--python-per-row-rows", type=int, default=20000)
    args = ap.parse_args()
    t = args.threads
    params = {"max_depth": 6, "tree_method": "hist", "nthread": t, "objective": "binary:logistic"}
    rounds = 50
    setup = ("SET mlops.train_progress_rounds = 0", "SET mlops.predict_threads = %d" % t)

    conn = psycopg2.connect("")
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("CREATE EXTENSION IF NOT EXISTS mlops")
    cur.execute("SHOW shared_buffers")
    shared_buffers = cur.fetchone()[0]
    results = []
    warm = np.random.default_rng(0).random((200, 20), dtype=np.float32)
    xgb.train(params, xgb.DMatrix(warm, label=(warm[:, 0] > 0.5), nthread=t), 2).inplace_predict(warm)
    for n in [int(s) for s in args.sizes.split(",")]:
        r = {"n": n}
        t0 = time.perf_counter()
        make_tables(cur, n)
        X, y = make_arrays(n, 0.0)
        Xc, _ = make_arrays(n, 0.1)
        cur.execute("SELECT pg_total_relation_size('scale_t')")
        r["table_mb"] = cur.fetchone()[0] / 2 ** 20
        r["load_s"] = time.perf_counter() - t0
        model = "scale_%d" % n
        cur.execute("SELECT count(*) FROM mlops.models WHERE name = %s", (model,))
        if cur.fetchone()[0]:
            cur.execute("SELECT mlops.drop_model_version(%s, version) FROM mlops.model_versions v "
                        "JOIN mlops.models m USING (model_id) WHERE m.name = %s", (model, model))

        # train
        hp = json.dumps({"max_depth": 6, "tree_method": "hist", "nthread": t, "n_estimators": rounds})
        r["train"] = mlops_op("SELECT version FROM mlops.train(%s, 'scale_t', 'label', hyperparams => %s, "
                              "features => %s, test_size => 0)", (model, hp, FEATURES), setup)
        version = r["train"][3][0]
        ref = "%s/%d" % (model, version)
        r["train_py"] = python_op(lambda: xgb.train(params, xgb.DMatrix(X, label=y, nthread=t), rounds))
        bst = r["train_py"][3]

        # table scoring
        r["table"] = mlops_op("SELECT count(*) FROM mlops.predict_table(%s, 'scale_t', 'id')", (ref,), setup)
        r["table_py"] = python_op(lambda: bst.inplace_predict(X))

        # per-row predictions
        m = min(n, args.per_row_rows)
        arr = "ARRAY[%s]" % ", ".join(FEATURES)
        r["row_m"] = m
        r["row"] = mlops_op("SELECT sum(mlops.predict(%%s, %s)) FROM scale_t WHERE id <= %d" % (arr, m), (ref,), setup)
        mp = min(n, args.python_per_row_rows)
        r["row_mp"] = mp
        bst.set_param({"nthread": 1})

        def py_rows():
            s = 0.0
            for k in range(mp):
                s += float(bst.inplace_predict(X[k:k + 1])[0])
            return s

        r["row_py"] = python_op(py_rows)
        bst.set_param({"nthread": t})

        # drift
        cur.execute("SELECT count(*) FROM mlops.drift_references WHERE name = 'scale_ref'")
        if cur.fetchone()[0]:
            cur.execute("SELECT mlops.drop_drift_reference('scale_ref')")
        r["ref"] = mlops_op("SELECT mlops.set_drift_reference('scale_ref', 'scale_t', %s) IS NOT NULL",
                            (FEATURES,), setup)
        r["drift"] = mlops_op("SELECT mlops.detect_drift('scale_ref', 'scale_cur') ->> 'drift_detected'", None, setup)

        def py_drift():
            return [(psi_numpy(X[:, j], Xc[:, j]), stats.ks_2samp(X[:, j], Xc[:, j]).pvalue) for j in range(20)]

        r["drift_py"] = python_op(py_drift)
        cur.execute("SELECT mlops.drop_drift_reference('scale_ref')")
        cur.execute("SELECT mlops.drop_model_version(%s, %s)", (model, version))
        results.append(r)
        del X, y, Xc, bst
        print("size %d done in %.0f s" % (n, time.perf_counter() - t0), flush=True)
    cur.execute("DROP TABLE scale_t, scale_cur")

    print("\nMachine: %d CPUs; shared_buffers = %s; threads %d on both sides; model: %d rounds, depth 6, hist.\n"
          % (os.cpu_count(), shared_buffers, t, rounds))
    print("| rows x 20 | table (MB) | train mlops (s) | train Python (s) | ratio | predict_table (s) | "
          "inplace_predict (s) | ratio | per-row SQL (rows/s) | per-row Python (rows/s) | ratio | "
          "detect_drift (s) | SciPy/numpy (s) | ratio | set_drift_reference (s) |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        row_rate = r["row_m"] / r["row"][0]
        py_rate = r["row_mp"] / r["row_py"][0]
        print("| %s | %.0f | %.2f | %.2f | %.2f | %.3f | %.3f | %.2f | %.0f | %.0f | %.1f | %.2f | %.2f | %.2f | %.2f |" % (
            format(r["n"], ","), r["table_mb"],
            r["train"][0], r["train_py"][0], r["train"][0] / r["train_py"][0],
            r["table"][0], r["table_py"][0], r["table_py"][0] / r["table"][0],
            row_rate, py_rate, row_rate / py_rate,
            r["drift"][0], r["drift_py"][0], r["drift"][0] / r["drift_py"][0], r["ref"][0]))
    print("\nRatios: train and detect_drift mlops / Python (lower is better); predict_table in-memory / mlops "
          "and per-row mlops / Python (higher is better).\n")
    print("| rows x 20 | peak RSS (VmHWM) / private (RssAnon), MB: train | Python train | predict_table | "
          "Python inplace_predict | per-row scan | set_drift_reference | detect_drift | Python drift |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        cell = lambda k: "%.0f / %.0f" % (r[k][1], r[k][2])
        print("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            format(r["n"], ","), cell("train"), cell("train_py"), cell("table"), cell("table_py"),
            cell("row"), cell("ref"), cell("drift"), cell("drift_py")))


if __name__ == "__main__":
    main()
