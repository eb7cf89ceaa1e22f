#!/usr/bin/python3
"""predict_table_cpu.py - mlops.predict_table against Booster.inplace_predict, wall clock and CPU.

Usage, after bench/train_serve.py has built bench_t and registered model 'bench' (for example
`bench/train_serve.py --rows 1000000 --scoring-only`), against the same cluster, on the server's
machine as the server's user (it reads the backend's /proc/<pid>/stat):

    REPS=5 /usr/bin/python3 bench/predict_table_cpu.py ["SELECT count(*) FROM mlops.predict_table(...)"]

Fetches bench_t once into a numpy array (cached in $PREDICT_CPU_CACHE, default
/tmp/predict_table_cpu.npy), loads the very booster mlops serves from the registry, then runs the
query and inplace_predict alternately REPS times and prints the best and median wall times, their
ratio, and the CPU time (user + system) of the backend and of this process for each call: on a
shared machine the CPU times move much less than the wall times.
"""
import os, sys, time
import numpy as np
import psycopg2
import xgboost as xgb
conn = psycopg2.connect(""); conn.autocommit = True; cur = conn.cursor()
F = ", ".join("f%d" % i for i in range(1, 21))
npy = os.environ.get("PREDICT_CPU_CACHE", "/tmp/predict_table_cpu.npy")
if not os.path.exists(npy):
    c = conn.cursor(); c.execute("SELECT %s FROM bench_t ORDER BY id" % F)
    np.save(npy, np.array(c.fetchall(), dtype=np.float32))
X = np.load(npy)
cur.execute("SELECT model_data FROM mlops.model_versions v JOIN mlops.models m USING (model_id) WHERE m.name = 'bench' ORDER BY version DESC LIMIT 1")
bst = xgb.Booster(); bst.load_model(bytearray(bytes(cur.fetchone()[0]))); bst.set_param({"nthread": 2})
cur.execute("SET mlops.predict_threads = 2")
cur.execute("SELECT pg_backend_pid()"); PID = cur.fetchone()[0]
TCK = os.sysconf("SC_CLK_TCK")
def bcpu():
    f = open("/proc/%d/stat" % PID).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TCK
def pcpu():
    t = os.times(); return t.user + t.system
sql = sys.argv[1] if len(sys.argv) > 1 else "SELECT count(*) FROM mlops.predict_table('bench', 'bench_t', 'id')"
cur.execute(sql); bst.inplace_predict(X[:1000])
ts, tp, cs, cp = [], [], [], []
for _ in range(int(os.environ.get("REPS", "5"))):
    c0 = bcpu(); t0 = time.perf_counter(); cur.execute(sql); cur.fetchone(); ts.append(time.perf_counter() - t0); cs.append(bcpu() - c0)
    c0 = pcpu(); t0 = time.perf_counter(); bst.inplace_predict(X); tp.append(time.perf_counter() - t0); cp.append(pcpu() - c0)
print("sql best %.3f med %.3f | inplace best %.3f med %.3f | ratio(best) %.2f" % (min(ts), sorted(ts)[len(ts)//2], min(tp), sorted(tp)[len(tp)//2], min(tp)/min(ts)))
print("cpu: sql best %.2f med %.2f | inplace best %.2f med %.2f" % (min(cs), sorted(cs)[len(cs)//2], min(cp), sorted(cp)[len(cp)//2]))
