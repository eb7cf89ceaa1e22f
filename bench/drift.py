#!/usr/bin/python3
"""Drift benchmark (issues 4 and 15): mlops.ks_test and mlops.psi on N vs N
values read from tables, against SciPy/numpy on the same values already in
memory; every statistic's table form (reference, current, column_name)
against NumPy/SciPy in memory plus a plain scan of the same columns
(SELECT count(col)); and mlops.detect_drift over an N-row, 20-column table. Connects through
libpq's environment to a database where mlops can be created; prints a
Markdown table. BENCH_N (default 1000000) sets the row count; every timing
is the best of BENCH_REPS (default 5) runs, wall clock; an mlops timing and
its SciPy counterpart run alternately, so that load from other processes on
a shared machine falls on both sides alike."""
import io
import os
import time

import numpy as np
import psycopg2
from scipy import stats
from scipy.spatial import distance

N = int(os.environ.get("BENCH_N", "1000000"))
REPS = int(os.environ.get("BENCH_REPS", "5"))
# BENCH_PARTS: which parts run (arrays, tables, detect; default all)
PARTS = set(os.environ.get("BENCH_PARTS", "arrays,tables,detect").split(","))
conn = psycopg2.connect("")
conn.autocommit = True
cur = conn.cursor()
cur.execute("CREATE EXTENSION IF NOT EXISTS mlops")


def timed(fn):
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def best(fn):
    """Best wall-clock time of REPS runs of fn, and fn's last result."""
    runs = [timed(fn) for _ in range(REPS)]
    return min(t for t, _ in runs), runs[-1][1]


def best_pair(fn1, fn2):
    """Best times of fn1 and fn2 run alternately REPS times, and their results."""
    runs = [(timed(fn1), timed(fn2)) for _ in range(REPS)]
    return (min(a[0] for a, _ in runs), runs[-1][0][1]), (min(b[0] for _, b in runs), runs[-1][1][1])


def load(table, columns):
    """COPY numpy columns into a new table (float8 or text by dtype)."""
    cur.execute("DROP TABLE IF EXISTS %s" % table)
    cur.execute("CREATE TABLE %s (%s)" % (table, ", ".join(
        "%s %s" % (name, "text" if col.dtype.kind in "OU" else "float8") for name, col in columns)))
    buf = io.StringIO()
    cols = [col.tolist() for _, col in columns]
    for row in zip(*cols):
        buf.write("\t".join(repr(v) if isinstance(v, float) else v for v in row))
        buf.write("\n")
    buf.seek(0)
    cur.copy_expert("COPY %s FROM STDIN" % table, buf)
    cur.execute("VACUUM ANALYZE %s" % table)


def psi_numpy(ref, cur_, bins=10):
    """PSI with quantile bins as mlops.psi documents (numpy on in-memory arrays)."""
    edges = np.quantile(ref, np.arange(1, bins) / bins)
    r = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=bins) / len(ref)
    c = np.bincount(np.searchsorted(edges, cur_, side="right"), minlength=bins) / len(cur_)
    r = np.where(r == 0, 0.0001, r)
    c = np.where(c == 0, 0.0001, c)
    return float(np.sum((c - r) * np.log(c / r)))


def psi_categorical_numpy(ref, cur_):
    cats, ref_idx = np.unique(np.concatenate([ref, cur_]), return_inverse=True)
    r = np.bincount(ref_idx[:len(ref)], minlength=len(cats)) / len(ref)
    c = np.bincount(ref_idx[len(ref):], minlength=len(cats)) / len(cur_)
    table = np.array([r * len(ref), c * len(cur_)])
    r = np.where(r == 0, 0.0001, r)
    c = np.where(c == 0, 0.0001, c)
    return float(np.sum((c - r) * np.log(c / r))), table


rng = np.random.default_rng(2024)
rows = []

a = rng.normal(0.0, 1.0, N)
b = rng.normal(0.003, 1.0, N)
table_rows = []
if "arrays" in PARTS:
    # ---- ks_test and psi, N vs N ----
    load("bench_ref", [("x", a)])
    load("bench_cur", [("x", b)])
    arrays_sql = "(SELECT array_agg(x) FROM bench_ref), (SELECT array_agg(x) FROM bench_cur)"
    (t_sql, got), (t_py, want) = best_pair(
        lambda: (cur.execute("SELECT statistic, p_value FROM mlops.ks_test(%s)" % arrays_sql), cur.fetchone())[1],
        lambda: stats.ks_2samp(a, b))
    rows.append(("ks_test, %d vs %d" % (N, N), t_sql, t_py, "D %.6g / %.6g, p %.6g / %.6g" % (got[0], want.statistic, got[1], want.pvalue)))
    (t_sql, got), (t_py, want) = best_pair(
        lambda: (cur.execute("SELECT mlops.psi(%s)" % arrays_sql), cur.fetchone())[1],
        lambda: psi_numpy(a, b))
    rows.append(("psi (10 quantile bins), %d vs %d" % (N, N), t_sql, t_py, "%.9g / %.9g" % (got[0], want)))
    # the same, from arrays already materialized (the statistics alone)
    cur.execute("DROP TABLE IF EXISTS bench_arrays")
    cur.execute("CREATE TABLE bench_arrays AS SELECT %s" % arrays_sql.replace("), (", ") AS r, (") + " AS c")
    t_sql, _ = best(lambda: (cur.execute("SELECT (mlops.ks_test(r, c)).statistic FROM bench_arrays"), cur.fetchone())[1])
    rows.append(("ks_test on stored float8[] columns", t_sql, None, ""))
    t_sql, _ = best(lambda: (cur.execute("SELECT mlops.psi(r, c) FROM bench_arrays"), cur.fetchone())[1])
    rows.append(("psi on stored float8[] columns", t_sql, None, ""))
    cur.execute("DROP TABLE bench_ref, bench_cur, bench_arrays")

if "tables" in PARTS:
    # ---- the table forms, N vs N: each statistic read straight from two tables, against
    # NumPy/SciPy on the same values in memory plus a plain scan of the same columns ----
    def best_multi(*fns):
        """Best times of fns run in turn REPS times, and their last results."""
        runs = [[timed(fn) for fn in fns] for _ in range(REPS)]
        return [(min(r[i][0] for r in runs), runs[-1][i][1]) for i in range(len(fns))]


    def shares_numpy(ref, cur_, bins=10):
        edges = np.quantile(ref, np.arange(1, bins) / bins)
        r = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=bins) / len(ref)
        c = np.bincount(np.searchsorted(edges, cur_, side="right"), minlength=bins) / len(cur_)
        return np.where(r == 0, 0.0001, r), np.where(c == 0, 0.0001, c)


    def chi_square_numpy(ref, cur_):
        _, table = psi_categorical_numpy(ref, cur_)
        return stats.chi2_contingency(table)


    def q(sql):
        cur.execute(sql)
        return cur.fetchone()


    cats = np.array(["cat%02d" % j for j in range(8)], dtype=object)
    ca = rng.choice(cats, N, p=np.arange(1, 9) / 36.0)
    cb = rng.choice(cats, N, p=np.arange(8, 0, -1) / 36.0)
    load("bench_ref", [("x", a), ("c", ca)])
    load("bench_cur", [("x", b), ("c", cb)])
    cases = [
        ("psi", "SELECT mlops.psi('bench_ref', 'bench_cur', 'x')", lambda: psi_numpy(a, b), "x",
         lambda g, w: "%.9g / %.9g" % (g[0], w)),
        ("kl_divergence", "SELECT mlops.kl_divergence('bench_ref', 'bench_cur', 'x')",
         lambda: float(stats.entropy(*shares_numpy(a, b))), "x", lambda g, w: "%.9g / %.9g" % (g[0], w)),
        ("js_distance", "SELECT mlops.js_distance('bench_ref', 'bench_cur', 'x')",
         lambda: float(distance.jensenshannon(*shares_numpy(a, b))), "x", lambda g, w: "%.9g / %.9g" % (g[0], w)),
        ("wasserstein", "SELECT mlops.wasserstein('bench_ref', 'bench_cur', 'x')",
         lambda: stats.wasserstein_distance(a, b), "x", lambda g, w: "%.9g / %.9g" % (g[0], w)),
        ("ks_test", "SELECT statistic, p_value FROM mlops.ks_test('bench_ref', 'bench_cur', 'x')",
         lambda: stats.ks_2samp(a, b), "x",
         lambda g, w: "D %.6g / %.6g, p %.6g / %.6g" % (g[0], w.statistic, g[1], w.pvalue)),
        ("psi over 8 categories", "SELECT mlops.psi('bench_ref', 'bench_cur', 'c')",
         lambda: psi_categorical_numpy(ca, cb)[0], "c", lambda g, w: "%.9g / %.9g" % (g[0], w)),
        ("chi_square_test, 8 categories", "SELECT statistic, p_value, dof FROM mlops.chi_square_test('bench_ref', 'bench_cur', 'c')",
         lambda: chi_square_numpy(ca, cb), "c", lambda g, w: "chi2 %.9g / %.9g" % (g[0], w[0])),
    ]
    for what, sql, pyfn, col, note in cases:
        scan_sql = "SELECT (SELECT count(%s) FROM bench_ref), (SELECT count(%s) FROM bench_cur)" % (col, col)
        (t_sql, got), (t_py, want), (t_scan, _) = best_multi(lambda: q(sql), pyfn, lambda: q(scan_sql))
        table_rows.append((what, t_sql, t_py, t_scan, note(got, want)))
    cur.execute("DROP TABLE bench_ref, bench_cur")

if "detect" in PARTS:
    # ---- detect_drift over an N-row, 20-column table (14 numeric, 6 categorical) ----
    def make_table(shift):
        cols = []
        for i in range(14):
            cols.append(("n%02d" % i, rng.normal(shift * (i % 3), 1.0 + 0.1 * i, N)))
        for i in range(6):
            k = 4 + 3 * i
            p = np.arange(1, k + 1, dtype=float)
            p = p / p.sum()
            if shift:
                p = np.roll(p, i % 2)
            cols.append(("c%02d" % i, rng.choice(np.array(["cat%02d" % j for j in range(k)], dtype=object), N, p=p)))
        return cols


    ref_cols = make_table(0.0)
    cur_cols = make_table(0.01)
    load("wide_ref", ref_cols)
    load("wide_cur", cur_cols)
    t_ref, _ = best(lambda: (cur.execute("SELECT mlops.set_drift_reference('wide', 'wide_ref')"), cur.fetchone())[1])
    rows.append(("set_drift_reference, %d rows x 20 columns" % N, t_ref, None, ""))


    def scipy_detect():
        out = {}
        for (name, r), (_, c) in zip(ref_cols, cur_cols):
            if r.dtype.kind == "O":
                p, table = psi_categorical_numpy(r, c)
                out[name] = (p, stats.chi2_contingency(table)[1])
            else:
                out[name] = (psi_numpy(r, c), stats.ks_2samp(r, c).pvalue)
        return out


    (t_sql, report), (t_py, want) = best_pair(
        lambda: (cur.execute("SELECT mlops.detect_drift('wide', 'wide_cur')"), cur.fetchone()[0])[1],
        scipy_detect)
    worst = max(abs(report["columns"][k]["psi"]["value"] - v[0]) for k, v in want.items())
    rows.append(("detect_drift, %d rows x 20 columns (psi+ks / psi+chi_square)" % N, t_sql, t_py,
                 "%d checks, max |psi diff| %.2g" % (sum(len(v) for v in report["columns"].values()), worst)))
    cur.execute("SELECT mlops.drop_drift_reference('wide'); DROP TABLE wide_ref, wide_cur")

print("| operation | mlops (s) | SciPy/numpy in memory (s) | results (mlops / SciPy) |")
print("| --- | ---: | ---: | --- |")
for what, t1, t2, note in rows:
    print("| %s | %.3f | %s | %s |" % (what, t1, "%.3f" % t2 if t2 is not None else "—", note))

print()
print("| statistic, table form, %d vs %d rows | mlops (s) | NumPy/SciPy in memory (s) | scan: count(col) of both tables (s) "
      "| mlops / (NumPy + scan) | scan share of mlops | results (mlops / SciPy) |" % (N, N))
print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
for what, t1, t2, t3, note in table_rows:
    print("| %s | %.3f | %.3f | %.3f | %.2f | %.0f%% | %s |" % (what, t1, t2, t3, t1 / (t2 + t3), 100.0 * t3 / t1, note))
