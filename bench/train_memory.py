"""train_memory.py - peak backend memory and time of mlops.train against
xgboost.train on the same rows already in memory (issue 15, part 3).

For each run a fresh connection trains 'bench_mem' on table bench_t (built
by train_serve.py's make_table: N rows x 20 real features, binary label)
with 50 rounds, max_depth 6, tree_method hist and --threads threads, and
samples the backend's anonymous memory (RssAnon in /proc/<pid>/status, every
5 ms; run as root or as the server's user) for its peak: private memory
only, since the peak resident set (VmHWM, also printed) counts the pages of
shared_buffers the backend touched, which depend on what is cached.  The Python side fetches the same rows into
numpy once (not timed) and times xgb.train(params, DMatrix(X, y), 50): the
in-memory yardstick of the issue, with the same parameters (the objective
binary:logistic included, which mlops.train chooses for this label).  Runs alternate, the best of --repeat is
kept.  Prints one markdown row per measure.

    /usr/bin/python3 bench/train_memory.py --rows 1000000 --repeat 2
"""
import argparse
import json
import os
import sys
import threading
import time

import numpy as np
import psycopg2
import xgboost as xgb

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_serve import FEATURES, make_table  # noqa: E402


def status_kb(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


def sql_train(params, rounds, test_size):
    conn = psycopg2.connect("")
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("SET mlops.train_progress_rounds = 0")
    cur.execute("SELECT pg_backend_pid()")
    pid = cur.fetchone()[0]
    before = status_kb(pid, "RssAnon")
    peak = [before]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], status_kb(pid, "RssAnon"))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    t0 = time.perf_counter()
    try:
        cur.execute("SELECT version FROM mlops.train('bench_mem', 'bench_t', 'label', hyperparams => %s, "
                    "features => %s, test_size => %s)",
                    (json.dumps(dict(params, n_estimators=rounds)), FEATURES, test_size))
        cur.fetchone()
    finally:
        done.set()
        sampler.join()
    secs = time.perf_counter() - t0
    hwm = status_kb(pid, "VmHWM")
    conn.close()
    return secs, before, peak[0], hwm


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--test-size", type=float, default=0)
    ap.add_argument("--no-python", action="store_true")
    ap.add_argument("--reuse-table", action="store_true")
    args = ap.parse_args()
    # the same model on both sides: mlops.train makes a two-class label a
    # binary:logistic classifier; xgboost's own default would be squared error
    params = {"max_depth": 6, "tree_method": "hist", "nthread": args.threads,
              "objective": "binary:logistic"}
    rounds = 50

    conn = psycopg2.connect("")
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("CREATE EXTENSION IF NOT EXISTS mlops")
    cur.execute("SELECT to_regclass('bench_t') IS NOT NULL")
    if args.reuse_table and cur.fetchone()[0]:
        cur.execute("SELECT count(*) FROM bench_t")
        if cur.fetchone()[0] != args.rows:
            make_table(cur, args.rows)
    else:
        make_table(cur, args.rows)
    X = y = None
    if not args.no_python:
        cur.execute("SELECT %s, label FROM bench_t" % ", ".join(FEATURES))
        data = np.array(cur.fetchall(), dtype=np.float32)
        X, y = data[:, :-1], data[:, -1]
        del data

    best_sql = best_py = None
    peak = base = hwm = None
    for _ in range(args.repeat):
        s, b, p, h = sql_train(params, rounds, args.test_size)
        best_sql = s if best_sql is None else min(best_sql, s)
        if peak is None or p - b > peak - base:
            peak, base = p, b
        hwm = h if hwm is None else max(hwm, h)
        if X is not None:
            t0 = time.perf_counter()
            xgb.train(params, xgb.DMatrix(X, label=y, nthread=args.threads), rounds)
            t = time.perf_counter() - t0
            best_py = t if best_py is None else min(best_py, t)
    cells = args.rows * len(FEATURES)
    print("| rows | mlops.train s | xgb.train in memory s | ratio | peak RssAnon MB | before MB | bytes per cell | VmHWM MB |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    print("| %d | %.2f | %s | %s | %.0f | %.0f | %.1f | %.0f |" % (
        args.rows, best_sql, "%.2f" % best_py if best_py else "-",
        "%.2f" % (best_sql / best_py) if best_py else "-",
        peak / 1024.0, base / 1024.0, (peak - base) * 1024.0 / cells, hwm / 1024.0))
    print("load average: %s" % open("/proc/loadavg").read().strip())


if __name__ == "__main__":
    main()
