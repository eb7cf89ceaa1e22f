#!/usr/bin/python3
"""one_row_walk.py - one-row serving with mlops' own tree walk against XGBoost's C API.

Usage, on the server's machine as the server's user (it reads the backend's /proc/<pid>/stat),
against a cluster with mlops in shared_preload_libraries; pgbench must be on PATH:

    /usr/bin/python3 bench/one_row_walk.py [--rows 1000000] [--statements 20000] [--seconds 10] [--repeat 3]

Uses bench_t and the Production version of model 'bench' that bench/train_serve.py builds
(builds them the same way when missing: --rows x 20 real features, 50 rounds, depth 6, hist).
Then, alternating the three sides in each of --repeat rounds, on the same cluster:
1. backend CPU per statement (user + system of the backend, prepared statements, one per
   transaction, --statements each): the plain query `SELECT ARRAY[f1..f20] FROM bench_t WHERE
   id = $1`, the same with mlops.predict with mlops.native_tree_walk on, and with it off;
2. pgbench -M prepared, 1 client, --seconds each: the same three, the setting passed through
   PGOPTIONS.
Prints the best of each side, the ratios predict / plain (the issue 15 goal: >= 0.7 at 1
client) and the load average before and after.
"""
import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile

import psycopg2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_serve import FEATURES, make_table  # noqa: E402

ARR = "ARRAY[%s]" % ", ".join(FEATURES)
PLAIN = "SELECT %s FROM bench_t WHERE id = " % ARR
PRED = "SELECT mlops.predict('bench', %s) FROM bench_t WHERE id = " % ARR


def ensure_model(cur, rows):
    """ensure_model builds bench_t and model 'bench' (Production) when missing."""
    cur.execute("SELECT to_regclass('bench_t') IS NOT NULL")
    if not cur.fetchone()[0]:
        make_table(cur, rows)
    cur.execute("SELECT count(*) FROM mlops.model_versions v JOIN mlops.models m USING (model_id) "
                "WHERE m.name = 'bench' AND v.stage = 'Production'")
    if cur.fetchone()[0] == 0:
        cur.execute("SELECT version FROM mlops.train('bench', 'bench_t', 'label', hyperparams => "
                    "'{\"max_depth\": 6, \"tree_method\": \"hist\", \"nthread\": 2, \"n_estimators\": 50}', "
                    "features => %s, test_size => 0)", (FEATURES,))
        cur.execute("SELECT mlops.transition_stage('bench', %s, 'Production')", (cur.fetchone()[0],))
    cur.execute("SELECT max(id) FROM bench_t")
    return cur.fetchone()[0]


def backend_cpu(pid):
    """backend_cpu returns the backend's user + system CPU seconds."""
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def cpu_per_statement(cur, pid, name, n, nrows, rng):
    """cpu_per_statement runs EXECUTE name n times and returns the backend CPU per statement (us)."""
    c0 = backend_cpu(pid)
    for _ in range(n):
        cur.execute("EXECUTE %s(%d)" % (name, rng.randint(1, nrows)))
        cur.fetchone()
    return (backend_cpu(pid) - c0) / n * 1e6


def pgbench(sql, seconds, nrows, walk):
    """pgbench runs sql for seconds at 1 client with mlops.native_tree_walk = walk; returns TPS."""
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write("\\set id random(1, %d)\n%s:id;\n" % (nrows, sql))
        script = f.name
    os.chmod(script, 0o644)
    env = dict(os.environ, PGOPTIONS="-c mlops.native_tree_walk=%s" % walk)
    out = subprocess.run(["pgbench", "-n", "-M", "prepared", "-c", "1", "-j", "1", "-T", str(seconds),
                          "-f", script], capture_output=True, text=True, env=env, check=True).stdout
    os.unlink(script)
    tps = 0.0
    for line in out.splitlines():
        if line.startswith("tps"):
            tps = float(line.split()[2])
            if "without initial connection time" in line:
                break
    return tps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1000000, help="rows of bench_t when it is built")
    ap.add_argument("--statements", type=int, default=20000)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    conn = psycopg2.connect("")
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("CREATE EXTENSION IF NOT EXISTS mlops")
    cur.execute("SET mlops.train_progress_rounds = 0")
    nrows = ensure_model(cur, args.rows)
    cur.execute("SELECT pg_backend_pid()")
    pid = cur.fetchone()[0]
    cur.execute("PREPARE plain(int) AS " + PLAIN + "$1")
    cur.execute("PREPARE pred(int) AS " + PRED + "$1")
    load0 = os.getloadavg()
    rng = random.Random(1)
    cpu = {"plain": [], "walk": [], "xgboost": []}
    tps = {"plain": [], "walk": [], "xgboost": []}
    cur.execute("EXECUTE pred(1)")              # load the model
    for _ in range(args.repeat):
        for side in ("plain", "walk", "xgboost"):
            cur.execute("SET mlops.native_tree_walk = %s" % ("off" if side == "xgboost" else "on"))
            cpu[side].append(cpu_per_statement(cur, pid, "plain" if side == "plain" else "pred",
                                               args.statements, nrows, rng))
        for side in ("plain", "walk", "xgboost"):
            tps[side].append(pgbench(PLAIN if side == "plain" else PRED, args.seconds, nrows,
                                     "off" if side == "xgboost" else "on"))
    load1 = os.getloadavg()
    c = {k: min(v) for k, v in cpu.items()}
    t = {k: max(v) for k, v in tps.items()}
    med = statistics.median
    print("load average %.2f %.2f %.2f before, %.2f %.2f %.2f after" % (load0 + load1))
    print("backend CPU per statement (best of %d x %d): plain %.1f us, predict with the walk %.1f us "
          "(+%.1f), predict with XGBoost %.1f us (+%.1f)"
          % (args.repeat, args.statements, c["plain"], c["walk"], c["walk"] - c["plain"],
             c["xgboost"], c["xgboost"] - c["plain"]))
    print("  all runs (us): " + "; ".join("%s %s" % (k, ", ".join("%.1f" % x for x in v)) for k, v in cpu.items()))
    print("pgbench -M prepared, 1 client, %d s (best of %d): plain %.0f TPS, walk %.0f TPS, XGBoost %.0f TPS"
          % (args.seconds, args.repeat, t["plain"], t["walk"], t["xgboost"]))
    print("  all runs (TPS): " + "; ".join("%s %s" % (k, ", ".join("%.0f" % x for x in v)) for k, v in tps.items()))
    print("ratio predict / plain at 1 client (goal >= 0.7), best against best: walk %.2f, XGBoost %.2f; "
          "CPU ratio: walk %.2f, XGBoost %.2f"
          % (t["walk"] / t["plain"], t["xgboost"] / t["plain"], c["plain"] / c["walk"], c["plain"] / c["xgboost"]))
    rounds = range(args.repeat)
    print("median of the rounds' own ratios: TPS walk %.2f, XGBoost %.2f; CPU walk %.2f, XGBoost %.2f"
          % (med([tps["walk"][i] / tps["plain"][i] for i in rounds]),
             med([tps["xgboost"][i] / tps["plain"][i] for i in rounds]),
             med([cpu["plain"][i] / cpu["walk"][i] for i in rounds]),
             med([cpu["plain"][i] / cpu["xgboost"][i] for i in rounds])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
