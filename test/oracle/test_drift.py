#!/usr/bin/python3
"""Oracle test of mlops' drift statistics against SciPy / numpy, and of
mlops' ADWIN against River's published checks and a Python port of River's
ADWIN (River is not packaged for Debian, so the port below follows River's
adwin_c.pyx step by step). Prints TAP. Connection from libpq's environment.

Tolerances (issue 4): p-values within 1e-9 absolute, statistics within 1e-9
relative (1e-12 absolute for values that are zero)."""
import json
import math
import random
import sys

import numpy as np
import psycopg2
from scipy import stats
from scipy.spatial import distance

conn = psycopg2.connect("")
conn.autocommit = True
cur = conn.cursor()
cur.execute("CREATE EXTENSION IF NOT EXISTS mlops")

n_test = 0
failed = 0


def ok(cond, what):
    global n_test, failed
    n_test += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (n_test, what))
    if not cond:
        failed += 1


def close_stat(got, want, rel=1e-9, abs_=1e-12):
    if want is None or got is None:
        return got is want
    return abs(got - want) <= abs_ or abs(got - want) <= rel * abs(want)


def close_p(got, want):
    return abs(got - want) <= 1e-9


def q1(sql, *args):
    cur.execute(sql, args)
    return cur.fetchone()


# ---------------------------------------------------------------------------
# reference implementations of the binned measures (numpy conventions the
# docs state; SciPy for KL and JS)
# ---------------------------------------------------------------------------
def shares_quantile(ref, cur_, bins):
    edges = np.quantile(ref, np.arange(1, bins) / bins)
    r = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=bins) / len(ref)
    c = np.bincount(np.searchsorted(edges, cur_, side="right"), minlength=bins) / len(cur_)
    return np.where(r == 0, 0.0001, r), np.where(c == 0, 0.0001, c)


def shares_sturges(ref, cur_):
    edges = np.histogram_bin_edges(np.concatenate([ref, cur_]), bins="sturges")
    r = np.histogram(ref, edges)[0] / len(ref)
    c = np.histogram(cur_, edges)[0] / len(cur_)
    return np.where(r == 0, 0.0001, r), np.where(c == 0, 0.0001, c)


def psi(r, c):
    return float(np.sum((c - r) * np.log(c / r)))


def cat_shares(ref, cur_):
    cats = sorted(set(ref) | set(cur_))
    r = np.array([ref.count(k) for k in cats]) / len(ref)
    c = np.array([cur_.count(k) for k in cats]) / len(cur_)
    return np.where(r == 0, 0.0001, r), np.where(c == 0, 0.0001, c)


def cat_table(ref, cur_):
    cats = sorted(set(ref) | set(cur_))
    return np.array([[ref.count(k) for k in cats], [cur_.count(k) for k in cats]])


rng = np.random.default_rng(20240601)


def sample(n, kind, shift=0.0, scale=1.0):
    if kind == "normal":
        return rng.normal(shift, scale, n)
    if kind == "ties":
        return np.round(rng.normal(shift, scale, n) * 2) / 2
    if kind == "constant":
        return np.full(n, 3.25 + shift)
    if kind == "exp":
        return rng.exponential(scale, n) + shift
    raise ValueError(kind)


# ---------------------------------------------------------------------------
# KS: both regimes, ties, one-element and constant samples
# ---------------------------------------------------------------------------
ks_cases = [
    (1, "normal", 1, "normal", 0.0), (1, "normal", 40, "normal", 0.5), (5, "normal", 7, "normal", 0.3),
    (50, "normal", 50, "normal", 0.4), (100, "normal", 80, "exp", 0.0), (400, "ties", 300, "ties", 0.2),
    (1000, "normal", 1000, "normal", 0.05), (2500, "normal", 3000, "normal", 0.08), (10000, "normal", 7, "normal", 1.0),
    (10000, "normal", 10000, "normal", 0.03), (6000, "ties", 9000, "ties", 0.0), (30, "constant", 20, "constant", 0.0),
    (30, "constant", 20, "constant", 1.0), (10001, "normal", 300, "normal", 0.1), (20000, "normal", 20000, "normal", 0.02),
    (15000, "ties", 12000, "ties", 0.05), (12000, "normal", 1, "normal", 0.0), (50000, "exp", 40000, "exp", 0.01),
    (200, "normal", 199, "normal", 2.0), (3000, "normal", 3000, "normal", 0.5),
]
for n1, k1, n2, k2, shift in ks_cases:
    a = sample(n1, k1)
    b = sample(n2, k2, shift)
    want = stats.ks_2samp(a, b)
    got = q1("SELECT statistic, p_value FROM mlops.ks_test(%s::float8[], %s::float8[])", a.tolist(), b.tolist())
    regime = "exact" if max(n1, n2) <= 10000 else "kstwo"
    ok(close_stat(got[0], want.statistic), "ks %s n=%d/%d %s/%s: statistic %r vs scipy %r" % (regime, n1, n2, k1, k2, got[0], want.statistic))
    ok(close_p(got[1], want.pvalue), "ks %s n=%d/%d %s/%s: p %r vs scipy %r" % (regime, n1, n2, k1, k2, got[1], want.pvalue))

# ---------------------------------------------------------------------------
# Wasserstein, PSI, KL, JS on several sizes and both binnings
# ---------------------------------------------------------------------------
bin_cases = [
    (1, "normal", 1, "normal", 0.0, 10), (1, "normal", 50, "normal", 0.5, 10), (20, "ties", 25, "ties", 0.0, 4),
    (500, "normal", 400, "normal", 0.4, 10), (1000, "ties", 1000, "ties", 0.5, 7), (3, "normal", 200, "normal", 1.0, 10),
    (5000, "exp", 5000, "exp", 0.2, 20), (10, "constant", 10, "constant", 0.0, 4), (10, "constant", 12, "normal", 0.0, 5),
    (20000, "normal", 15000, "normal", 0.1, 10),
]
for n1, k1, n2, k2, shift, bins in bin_cases:
    a = sample(n1, k1)
    b = sample(n2, k2, shift)
    label = "n=%d/%d %s/%s" % (n1, n2, k1, k2)
    got = q1("SELECT mlops.wasserstein(%s::float8[], %s::float8[])", a.tolist(), b.tolist())[0]
    want = stats.wasserstein_distance(a, b)
    ok(close_stat(got, want), "wasserstein %s: %r vs scipy %r" % (label, got, want))
    for binning in ("quantile", "sturges"):
        r, c = shares_quantile(a, b, bins) if binning == "quantile" else shares_sturges(a, b)
        got = q1("SELECT mlops.psi(%s::float8[], %s::float8[], %s, %s), mlops.kl_divergence(%s::float8[], %s::float8[], %s, %s),"
                 "       mlops.js_distance(%s::float8[], %s::float8[], %s, %s)",
                 *([a.tolist(), b.tolist(), bins, binning] * 3))
        ok(close_stat(got[0], psi(r, c)), "psi %s %s: %r vs numpy %r" % (binning, label, got[0], psi(r, c)))
        ok(close_stat(got[1], float(stats.entropy(r, c))), "kl %s %s: %r vs scipy.stats.entropy %r" % (binning, label, got[1], stats.entropy(r, c)))
        ok(close_stat(got[2], float(distance.jensenshannon(r, c))), "js %s %s: %r vs scipy jensenshannon %r" % (binning, label, got[2], distance.jensenshannon(r, c)))

# ---------------------------------------------------------------------------
# extreme values: samples scaled by a power of two until they reach about
# +-1.5e308, so max - min overflows.  Scaling by 2^k is exact, so SciPy and
# numpy on the samples scaled back down are the oracle: PSI, KL, JS and KS do
# not change with the scale, the Wasserstein distance scales with it.
# (Computed directly, numpy's quantiles and scipy.stats.wasserstein_distance
# overflow to infinity or NaN here; 0.1.0 returned PSI 0 and Wasserstein
# Infinity.)
# ---------------------------------------------------------------------------
extreme_cases = [
    (3, "normal", 3, "normal", 0.7, 2), (5, "normal", 4, "normal", 1.5, 3), (200, "normal", 150, "normal", 0.5, 10),
    (1000, "ties", 1200, "ties", 0.3, 7), (4000, "exp", 3000, "exp", 0.4, 20),
]
for n1, k1, n2, k2, shift, bins in extreme_cases:
    a = sample(n1, k1)
    b = sample(n2, k2, shift)
    middle = (min(np.min(a), np.min(b)) + max(np.max(a), np.max(b))) / 2
    a, b = a - middle, b - middle          # both signs, so the range is about twice the largest magnitude
    k = math.floor(math.log2(1.7e308 / max(np.max(np.abs(a)), np.max(np.abs(b)))))
    ea, eb = np.ldexp(a, k), np.ldexp(b, k)
    assert np.all(np.ldexp(ea, -k) == a) and np.all(np.ldexp(eb, -k) == b)
    with np.errstate(over="ignore"):
        overflows = math.isinf(max(np.max(ea), np.max(eb)) - min(np.min(ea), np.min(eb)))
    ok(overflows, "n=%d/%d %s/%s scaled by 2^%d: max - min of the samples overflows" % (n1, n2, k1, k2, k))
    label = "n=%d/%d %s/%s scaled by 2^%d (max %.3g)" % (n1, n2, k1, k2, k, max(np.max(np.abs(ea)), np.max(np.abs(eb))))
    for binning in ("quantile", "sturges"):
        r, c = shares_quantile(a, b, bins) if binning == "quantile" else shares_sturges(a, b)
        got = q1("SELECT mlops.psi(%s::float8[], %s::float8[], %s, %s), mlops.kl_divergence(%s::float8[], %s::float8[], %s, %s),"
                 "       mlops.js_distance(%s::float8[], %s::float8[], %s, %s)",
                 *([ea.tolist(), eb.tolist(), bins, binning] * 3))
        ok(got[0] > 0 and close_stat(got[0], psi(r, c)), "psi %s %s: %r vs numpy %r" % (binning, label, got[0], psi(r, c)))
        ok(close_stat(got[1], float(stats.entropy(r, c))), "kl %s %s: %r vs scipy %r" % (binning, label, got[1], stats.entropy(r, c)))
        ok(close_stat(got[2], float(distance.jensenshannon(r, c))), "js %s %s: %r vs scipy %r" % (binning, label, got[2], distance.jensenshannon(r, c)))
    want = stats.ks_2samp(a, b)
    got = q1("SELECT statistic, p_value FROM mlops.ks_test(%s::float8[], %s::float8[])", ea.tolist(), eb.tolist())
    ok(close_stat(got[0], want.statistic) and close_p(got[1], want.pvalue), "ks %s: %r vs scipy %r" % (label, got, (want.statistic, want.pvalue)))
    want = math.ldexp(stats.wasserstein_distance(a, b), k)
    got = q1("SELECT mlops.wasserstein(%s::float8[], %s::float8[])", ea.tolist(), eb.tolist())[0]
    ok(math.isfinite(got) and close_stat(got, want), "wasserstein %s: %r vs scipy %r" % (label, got, want))
# a distance beyond the largest float8 is an error, not Infinity
try:
    q1("SELECT mlops.wasserstein(ARRAY[-1.7e308], ARRAY[1.7e308, 1.6e308])")
    ok(False, "a wasserstein distance beyond the largest float8 is refused")
except psycopg2.Error as e:
    ok(e.pgcode == "22003", "a wasserstein distance beyond the largest float8 is refused (%s)" % e.pgcode)

# dropped elements do not count
a = sample(300, "normal")
b = sample(300, "normal", 0.3)
got = q1("SELECT statistic, p_value FROM mlops.ks_test(%s::float8[] || ARRAY[NULL, 'NaN', 'Infinity']::float8[], %s::float8[] || ARRAY['-Infinity']::float8[])",
         a.tolist(), b.tolist())
want = stats.ks_2samp(a, b)
ok(close_stat(got[0], want.statistic) and close_p(got[1], want.pvalue), "ks ignores NULL, NaN and infinite elements")

# ---------------------------------------------------------------------------
# chi-square and categorical PSI: 2x2 (Yates), larger tables, one-sided categories
# ---------------------------------------------------------------------------
py_rng = random.Random(7)
chi_cases = [
    (["a", "b"], [0.5, 0.5], 30, [0.5, 0.5], 40),
    (["a", "b"], [0.9, 0.1], 12, [0.2, 0.8], 9),
    (["a", "b"], [0.5, 0.5], 5000, [0.52, 0.48], 6000),
    (["x", "y", "z"], [0.2, 0.3, 0.5], 300, [0.25, 0.25, 0.5], 250),
    (list("abcdefghijkl"), [1 / 12] * 12, 2000, [0.1] * 5 + [0.5 / 7] * 7, 1800),
    (["p", "q", "r", "s"], [0.4, 0.4, 0.2, 0.0], 100, [0.3, 0.3, 0.2, 0.2], 100),
    (["only"], [1.0], 10, [1.0], 7),
]
for cats, pr, nr, pc, nc in chi_cases:
    ref = py_rng.choices(cats, weights=pr, k=nr)
    cur_ = py_rng.choices(cats, weights=pc, k=nc)
    table = cat_table(ref, cur_)
    label = "2x%d n=%d/%d" % (table.shape[1], nr, nc)
    want = stats.chi2_contingency(table)
    got = q1("SELECT statistic, p_value, dof FROM mlops.chi_square_test(%s::text[], %s::text[])", ref, cur_)
    ok(close_stat(got[0], float(want[0])), "chi_square %s: statistic %r vs scipy %r" % (label, got[0], want[0]))
    ok(close_p(got[1], float(want[1])), "chi_square %s: p %r vs scipy %r" % (label, got[1], want[1]))
    ok(got[2] == int(want[2]), "chi_square %s: dof %d vs scipy %d" % (label, got[2], want[2]))
    r, c = cat_shares(ref, cur_)
    got = q1("SELECT mlops.psi(%s::text[], %s::text[])", ref, cur_)[0]
    ok(close_stat(got, psi(r, c)), "psi categorical %s: %r vs numpy %r" % (label, got, psi(r, c)))


# ---------------------------------------------------------------------------
# the table forms (reference, current, column_name): the same statistics read
# straight from two tables, against SciPy/numpy on the same values
# ---------------------------------------------------------------------------
def load_column(table, values, typ):
    cur.execute("DROP TABLE IF EXISTS %s" % table)
    cur.execute("CREATE TABLE %s (v %s)" % (table, typ))
    cur.execute("INSERT INTO %s SELECT unnest(%%s::%s[])" % (table, typ), (values,))


for (k1, k2, n1, n2, shift) in [("normal", "normal", 20000, 15000, 0.05), ("normal", "exp", 3000, 4000, 0.0),
                                ("ties", "ties", 12000, 12000, 1.0)]:
    a = sample(n1, k1)
    b = sample(n2, k2, shift)
    load_column("tf_ref", a.tolist() + [None, float("nan")], "float8")
    load_column("tf_cur", b.tolist() + [float("inf")], "float8")
    label = "%s/%s n=%d/%d from tables" % (k1, k2, n1, n2)
    got = q1("SELECT statistic, p_value FROM mlops.ks_test('tf_ref', 'tf_cur', 'v')")
    want = stats.ks_2samp(a, b)
    ok(close_stat(got[0], want.statistic) and close_p(got[1], want.pvalue),
       "ks %s: %r vs scipy %r" % (label, got, (want.statistic, want.pvalue)))
    got = q1("SELECT mlops.wasserstein('tf_ref', 'tf_cur', 'v')")[0]
    want = stats.wasserstein_distance(a, b)
    ok(close_stat(got, want), "wasserstein %s: %r vs scipy %r" % (label, got, want))
    for bins, binning in [(10, "quantile"), (25, "quantile"), (10, "sturges")]:
        r, c = shares_quantile(a, b, bins) if binning == "quantile" else shares_sturges(a, b)
        got = q1("SELECT mlops.psi('tf_ref', 'tf_cur', 'v', %s, %s), mlops.kl_divergence('tf_ref', 'tf_cur', 'v', %s, %s),"
                 " mlops.js_distance('tf_ref', 'tf_cur', 'v', %s, %s)", bins, binning, bins, binning, bins, binning)
        want = (psi(r, c), float(stats.entropy(r, c)), float(distance.jensenshannon(r, c)))
        ok(all(close_stat(g, w) for g, w in zip(got, want)),
           "psi, kl, js %s, %d %s bins: %r vs numpy/scipy %r" % (label, bins, binning, got, want))
# real columns: the float4 values widened to double, as SciPy sees them after numpy's astype
a32 = sample(5000, "normal").astype(np.float32)
b32 = sample(5000, "normal", 0.1).astype(np.float32)
load_column("tf_ref", [float(x) for x in a32], "real")
load_column("tf_cur", [float(x) for x in b32], "real")
got = q1("SELECT statistic, p_value FROM mlops.ks_test('tf_ref', 'SELECT v FROM tf_cur', 'v')")
want = stats.ks_2samp(a32.astype(np.float64), b32.astype(np.float64))
ok(close_stat(got[0], want.statistic) and close_p(got[1], want.pvalue), "ks on real columns from tables: %r vs scipy %r" % (got, want))
# categories from tables
ref = py_rng.choices(["a", "b", "c"], weights=[0.5, 0.3, 0.2], k=3000)
cur_ = py_rng.choices(["a", "b", "c", "d"], weights=[0.4, 0.3, 0.2, 0.1], k=2500)
load_column("tf_ref", ref + [None], "text")
load_column("tf_cur", cur_, "text")
want = stats.chi2_contingency(cat_table(ref, cur_))
got = q1("SELECT statistic, p_value, dof FROM mlops.chi_square_test('tf_ref', 'tf_cur', 'v')")
ok(close_stat(got[0], float(want[0])) and close_p(got[1], float(want[1])) and got[2] == int(want[2]),
   "chi_square from tables: %r vs scipy %r" % (got, want[:3]))
r, c = cat_shares(ref, cur_)
got = q1("SELECT mlops.psi('tf_ref', 'tf_cur', 'v')")[0]
ok(close_stat(got, psi(r, c)), "psi over categories from tables: %r vs numpy %r" % (got, psi(r, c)))
cur.execute("DROP TABLE tf_ref, tf_cur")

# ---------------------------------------------------------------------------
# ADWIN: River's checks, then a port of River's ADWIN on longer streams
# ---------------------------------------------------------------------------
class AdwinPort:
    """River's ADWIN (river/drift/adwin.py + adwin_c.pyx), ported line by line."""

    def __init__(self, delta=0.002, clock=32, max_buckets=5, min_window_length=5, grace_period=10):
        self.delta, self.clock, self.max_buckets = delta, clock, max_buckets
        self.min_window_length, self.grace_period = min_window_length, grace_period
        self.drift_detected = False
        self._reset()

    def _reset(self):
        self.rows = [[]]          # rows[i]: list of (total, variance), oldest first
        self.total = 0.0
        self.variance = 0.0
        self.width = 0.0
        self.tick = 0

    def update(self, x):
        if self.drift_detected:
            self._reset()
        self._insert(float(x))
        self.drift_detected = self._detect()
        return self.drift_detected

    def _insert(self, value):
        self.rows[0].append((value, 0.0))
        self.width += 1
        inc = 0.0
        if self.width > 1.0:
            inc = (self.width - 1.0) * (value - self.total / (self.width - 1.0)) * (value - self.total / (self.width - 1.0)) / self.width
        self.variance += inc
        self.total += value
        idx = 0
        while idx < len(self.rows):
            row = self.rows[idx]
            if len(row) != self.max_buckets + 1:
                break
            if idx + 1 == len(self.rows):
                self.rows.append([])
            n1 = float(1 << idx)
            mu1 = row[0][0] / n1
            mu2 = row[1][0] / n1
            t12 = row[0][0] + row[1][0]
            v12 = row[0][1] + row[1][1] + n1 * 0.5 * (mu1 - mu2) * (mu1 - mu2)
            self.rows[idx + 1].append((t12, v12))
            del row[:2]
            if len(self.rows[idx + 1]) <= self.max_buckets:
                break
            idx += 1

    def _delete(self):
        r = len(self.rows) - 1
        n = float(1 << r)
        u, v = self.rows[r][0]
        mu = u / n
        self.width -= n
        self.total -= u
        muw = self.total / self.width
        self.variance -= v + n * self.width * (mu - muw) * (mu - muw) / (n + self.width)
        del self.rows[r][0]
        if not self.rows[r]:
            self.rows.pop()
        return n

    def _cut(self, n0, n1, dm):
        dp = math.log(2 * math.log(self.width) / self.delta)
        m = 1.0 / (n0 - self.min_window_length + 1) + 1.0 / (n1 - self.min_window_length + 1)
        vw = self.variance / self.width
        eps = (math.sqrt(2 * m * vw * dp) if 2 * m * vw * dp >= 0 else float("nan")) + 2.0 / 3.0 * dp * m
        return abs(dm) > eps

    def _detect(self):
        change = False
        self.tick += 1
        if self.tick % self.clock == 0 and self.width > self.grace_period:
            reduce = True
            while reduce:
                reduce = False
                done = False
                n0, n1, u0, u1 = 0.0, self.width, 0.0, self.total
                for idx in range(len(self.rows) - 1, -1, -1):
                    if done:
                        break
                    size = float(1 << idx)
                    row = self.rows[idx]
                    cnt = len(row)
                    for k in range(cnt):
                        n0 += size
                        n1 -= size
                        u0 += row[k][0]
                        u1 -= row[k][0]
                        if idx == 0 and k == cnt - 1:
                            done = True
                            break
                        dm = u0 / n0 - u1 / n1
                        if n1 >= self.min_window_length and n0 >= self.min_window_length and self._cut(n0, n1, dm):
                            reduce = True
                            change = True
                            if self.width > 0:
                                n0 -= self._delete()
                                done = True
                                break
        return change


def port_detections(stream, delta=0.002):
    a = AdwinPort(delta)
    return [i for i, v in enumerate(stream) if a.update(v)]


r1 = random.Random(12345)
s1 = r1.choices([0, 1], k=1000) + r1.choices(range(4, 8), k=1000)
r2 = random.Random(42)
s2 = r2.choices([0, 1], k=1000) + r2.choices(range(4, 8), k=1000) + r2.choices([0, 1], k=1000) + r2.choices(range(4, 8), k=1000)
for stream, want, what in ((s1, [1023], "Random(12345)"), (s2, [1023, 2015, 3007], "Random(42)")):
    got = q1("SELECT mlops.adwin(%s::float8[])", [float(v) for v in stream])[0]
    ok(got == want, "adwin %s: %r, River expects %r" % (what, got, want))
    ok(port_detections(stream) == want, "the Python port of River's ADWIN gives %r on %s" % (want, what))

prng = random.Random(99)
long_streams = []
for length, shifts, delta in ((20000, 4, 0.002), (50000, 10, 0.002), (30000, 6, 0.05), (40000, 0, 0.002), (25000, 8, 0.0001)):
    stream, level = [], 0.0
    cuts = sorted(prng.sample(range(1000, length - 1000), shifts))
    for i in range(length):
        if cuts and i == cuts[0]:
            level += prng.choice([-1, 1]) * prng.uniform(0.2, 2.0)
            cuts.pop(0)
        stream.append(prng.gauss(level, 1.0))
    long_streams.append((stream, delta))
    got = q1("SELECT mlops.adwin(%s::float8[], %s)", stream, delta)[0]
    want = port_detections(stream, delta)
    ok(got == want, "adwin on a %d-value stream with %d shifts, delta %g: %d detections match the port" % (length, shifts, delta, len(want)))

# streaming detector over a table, updated row by row, against the port
delta = 0.002
stream = [prng.gauss(0.0, 1.0) for _ in range(2500)] + [prng.gauss(1.0, 1.0) for _ in range(2000)] + [prng.gauss(-0.5, 2.0) for _ in range(1500)]
cur.execute("CREATE TABLE adwin_feed AS SELECT ord::int AS i, v FROM unnest(%s::float8[]) WITH ORDINALITY AS t(v, ord)", (stream,))
cur.execute("SELECT mlops.create_adwin('feed', %s)", (delta,))
cur.execute("SELECT array_agg(i - 1 ORDER BY i) FILTER (WHERE d) FROM (SELECT i, mlops.update_adwin('feed', v) AS d FROM (SELECT * FROM adwin_feed ORDER BY i) s) x")
got = cur.fetchone()[0] or []
port = AdwinPort(delta)
want = [i for i, v in enumerate(stream) if port.update(v)]
ok(got == want and len(want) >= 2, "update_adwin row by row detects at %r like the port (%r)" % (got, want))
w = q1("SELECT width, mean, updates, detections FROM mlops.adwin_detectors WHERE name = 'feed'")
ok(w[0] == port.width and close_stat(w[1], port.total / port.width) and w[2] == 6000 and w[3] == len(want),
   "detector state: width %r mean %r vs port %r %r" % (w[0], w[1], port.width, port.total / port.width))
cur.execute("SELECT mlops.drop_adwin('feed'); DROP TABLE adwin_feed")

# ---------------------------------------------------------------------------
# the detector end to end on tables
# ---------------------------------------------------------------------------
n_ref, n_cur = 5000, 4000
ref_x = rng.normal(50, 10, n_ref)
cur_x = rng.normal(53, 11, n_cur)
ref_c = py_rng.choices(["a", "b", "c", "d"], weights=[4, 3, 2, 1], k=n_ref)
cur_c = py_rng.choices(["a", "b", "c", "d", "e"], weights=[3, 3, 2, 1, 1], k=n_cur)
cur_x_nulls = cur_x.tolist()
cur_x_nulls[::97] = [None] * len(cur_x_nulls[::97])
cur.execute("CREATE TABLE ref_t (x float8, c text)")
cur.execute("CREATE TABLE cur_t (x float8, c text)")
cur.execute("INSERT INTO ref_t SELECT * FROM unnest(%s::float8[], %s::text[])", (ref_x.tolist(), ref_c))
cur.execute("INSERT INTO cur_t SELECT * FROM unnest(%s::float8[], %s::text[])", (cur_x_nulls, cur_c))
cur.execute("SELECT mlops.set_drift_reference('e2e', 'ref_t')")
report = q1("SELECT mlops.detect_drift('e2e', 'cur_t', ARRAY['psi','kl_divergence','js_distance','wasserstein','ks','chi_square'],"
            " NULL, '{\"wasserstein\": 1.0}')")[0]
cx = np.array([v for v in cur_x_nulls if v is not None])
r, c = shares_quantile(ref_x, cx, 10)
x = report["columns"]["x"]
ok(close_stat(x["psi"]["value"], psi(r, c)), "detect_drift psi %r vs numpy %r" % (x["psi"]["value"], psi(r, c)))
ok(close_stat(x["kl_divergence"]["value"], float(stats.entropy(r, c))), "detect_drift kl_divergence matches scipy")
ok(close_stat(x["js_distance"]["value"], float(distance.jensenshannon(r, c))), "detect_drift js_distance matches scipy")
ok(close_stat(x["wasserstein"]["value"], stats.wasserstein_distance(ref_x, cx)), "detect_drift wasserstein matches scipy")
k = stats.ks_2samp(ref_x, cx)
ok(close_stat(x["ks"]["statistic"], k.statistic) and close_p(x["ks"]["p_value"], k.pvalue), "detect_drift ks matches scipy")
ch = stats.chi2_contingency(cat_table(ref_c, cur_c))
cc = report["columns"]["c"]["chi_square"]
ok(close_stat(cc["statistic"], float(ch[0])) and close_p(cc["p_value"], float(ch[1])) and cc["dof"] == ch[2],
   "detect_drift chi_square matches scipy (%r, %r)" % (cc["statistic"], ch[0]))
rc_, cc_ = cat_shares(ref_c, cur_c)
ok(close_stat(report["columns"]["c"]["psi"]["value"], psi(rc_, cc_)), "detect_drift categorical psi matches numpy")
ok(report["counts"]["x"] == {"reference": n_ref, "current": len(cx), "dropped": n_cur - len(cx)}, "detect_drift reports the dropped NULLs")
want_drift = sorted({col for col, checks in report["columns"].items() if any(v["drift"] for v in checks.values())})
ok(report["drift_detected"] == bool(want_drift) and sorted(report["columns_with_drift"]) == want_drift,
   "drift_detected and columns_with_drift agree with the checks")
cur.execute("SELECT column_name, method, value, p_value, threshold, drift FROM mlops.drift_results WHERE reference_name = 'e2e'")
rows = {(r_[0], r_[1]): r_[2:] for r_ in cur.fetchall()}
same = len(rows) == sum(len(v) for v in report["columns"].values())
for col, checks in report["columns"].items():
    for m, v in checks.items():
        val = v.get("value", v.get("statistic"))
        st = rows.get((col, m))
        same = same and st is not None and st[0] == val and st[1] == v.get("p_value") and st[2] == v["threshold"] and st[3] == v["drift"]
ok(same, "mlops.drift_results holds every check of the report")
# binned measures alone (the current sample is then binned unsorted)
report = q1("SELECT mlops.detect_drift('e2e', 'cur_t', ARRAY['psi','kl_divergence','js_distance'], ARRAY['x'])")[0]
x = report["columns"]["x"]
ok(close_stat(x["psi"]["value"], psi(r, c)) and close_stat(x["kl_divergence"]["value"], float(stats.entropy(r, c)))
   and close_stat(x["js_distance"]["value"], float(distance.jensenshannon(r, c))),
   "detect_drift psi, kl_divergence and js_distance without ks match numpy/scipy")
cur.execute("DROP TABLE ref_t, cur_t; DROP EXTENSION mlops")

print("1..%d" % n_test)
sys.exit(1 if failed else 0)
