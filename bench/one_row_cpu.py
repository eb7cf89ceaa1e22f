#!/usr/bin/python3
"""one_row_cpu.py - backend CPU per one-row statement, with and without mlops.predict.

Usage, after bench/train_serve.py has built bench_t and registered model 'bench', on the
server's machine as the server's user (it reads the backend's /proc/<pid>/stat):

    /usr/bin/python3 bench/one_row_cpu.py [statements]

Runs `SELECT ARRAY[f1..f20] FROM bench_t WHERE id = $1` and the same with
mlops.predict('bench', ...) as prepared statements, one per transaction (autocommit), N times
each (default 20000), three alternated rounds, and prints the best backend CPU time (user +
system) per statement of each and what the prediction adds: the server's share of the pgbench
serving comparison, without the client's and the network's.
"""
import os, sys, psycopg2, random
conn = psycopg2.connect(""); conn.autocommit = True; cur = conn.cursor()
cur.execute("SELECT pg_backend_pid()"); pid = cur.fetchone()[0]
TCK = os.sysconf("SC_CLK_TCK")
def bcpu():
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TCK
arr = "ARRAY[%s]" % ", ".join("f%d" % i for i in range(1, 21))
cur.execute("PREPARE plain(int) AS SELECT %s FROM bench_t WHERE id = $1" % arr)
cur.execute("PREPARE pred(int) AS SELECT mlops.predict('bench', %s) FROM bench_t WHERE id = $1" % arr)
N = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
rng = random.Random(1)
res = {"plain": [], "pred": []}
for rep in range(3):
    for q in ("plain", "pred"):
        c0 = bcpu()
        for _ in range(N):
            cur.execute("EXECUTE %s(%d)" % (q, rng.randint(1, 1000000))); cur.fetchone()
        res[q].append((bcpu() - c0) / N * 1e6)
p, q = min(res["plain"]), min(res["pred"])
print("backend CPU per statement: plain %.1f us, predict %.1f us (prediction adds %.1f us); cpu ratio %.2f" % (p, q, q - p, p / q))
