"""Benchmark of mlops.drift_report against mlops.detect_drift (bench/report_bench.sh).

An N-row table of 20 columns (14 numeric, 6 text) is the reference, a shifted copy the current
data; drift_report (which calls mlops._detect_drift_distributions: detect_drift returning also
the counts behind its pictures, from its one read of the source), that function alone and
detect_drift run alternately on the same data, best of BENCH_REPS wall-clock runs.
The goal of issue 14: the report within 1.2x of detect_drift.
"""
import os
import time

import psycopg2

N = int(os.environ.get("BENCH_N", "1000000"))
REPS = int(os.environ.get("BENCH_REPS", "3"))

conn = psycopg2.connect("")
conn.autocommit = True
cur = conn.cursor()
cur.execute("CREATE EXTENSION IF NOT EXISTS mlops")


def table(name, shift):
    nums = ", ".join("(((i * %d) %% 1000) / 10.0 + %s * %d)::float8 AS n%d" % (7919 + 2 * k, shift, k % 3, k)
                     for k in range(14))
    cats = ", ".join("(ARRAY['a','b','c','d','e','f','g','h'])[1 + ((i + %s * (i %% 3)) * %d) %% 8] AS c%d"
                     % (shift, 31 + k, k) for k in range(6))
    cur.execute("DROP TABLE IF EXISTS %s" % name)
    cur.execute("CREATE TABLE %s AS SELECT %s, %s FROM generate_series(1::bigint, %d) i" % (name, nums, cats, N))
    cur.execute("VACUUM ANALYZE %s" % name)


t0 = time.time()
table("bench_ref", 0)
table("bench_cur", 1)
cur.execute("SELECT mlops.set_drift_reference('bench', 'bench_ref')")
print("setup: %d rows x 20 columns, %.1f s" % (N, time.time() - t0))


cur.execute("SELECT pg_backend_pid()")
BACKEND = cur.fetchone()[0]
TICK = os.sysconf("SC_CLK_TCK")


def cpu():
    """cpu returns the backend's CPU time (user + system) so far, in seconds (/proc, same host)."""
    with open("/proc/%d/stat" % BACKEND) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def timed(sql):
    """timed runs sql and returns (wall-clock seconds, backend CPU seconds)."""
    t, c = time.time(), cpu()
    cur.execute(sql)
    cur.fetchone()
    return time.time() - t, cpu() - c


detect, dist, report, report_json = [], [], [], []
for _ in range(REPS):
    detect.append(timed("SELECT mlops.detect_drift('bench', 'bench_cur')"))
    dist.append(timed("SELECT length(mlops._detect_drift_distributions('bench', 'bench_cur')::text)"))
    report.append(timed("SELECT length(mlops.drift_report('bench', 'bench_cur'))"))
    report_json.append(timed("SELECT length(mlops.drift_report('bench', 'bench_cur', format => 'json'))"))
cur.execute("SELECT length(mlops.drift_report('bench', 'bench_cur'))")
size = cur.fetchone()[0]


def best(runs):
    """best returns the least wall-clock and the least CPU time of the runs."""
    return min(r[0] for r in runs), min(r[1] for r in runs)


print("| operation (N = %d, 20 columns, best of %d) | wall-clock (s) | backend CPU (s) |" % (N, REPS))
print("| --- | ---: | ---: |")
print("| detect_drift | %.2f | %.2f |" % best(detect))
print("| _detect_drift_distributions | %.2f | %.2f |" % best(dist))
print("| drift_report (HTML, %d kB) | %.2f | %.2f |" % ((size // 1024,) + best(report)))
print("| drift_report (JSON) | %.2f | %.2f |" % best(report_json))
print("ratio drift_report (HTML) / detect_drift: wall-clock %.2f, CPU %.2f"
      % (best(report)[0] / best(detect)[0], best(report)[1] / best(detect)[1]))
