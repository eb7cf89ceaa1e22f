"""Oracle test of A/B tests.

mlops.ab_results is compared, within 1e-9, with statsmodels (proportions_ztest
against the control, proportion_confint(method='wilson'), multipletests(
method='holm')) and SciPy (ttest_ind(equal_var=False) on the per-user values)
on random data sets: small counts, large counts, unequal variances, several
conversions per user, three variants, another alpha.  mlops.ab_test_health's
sample-ratio check is compared with scipy.stats.chisquare, also after rows are
deleted behind its back (a broken randomisation).  100,000 user ids split
within 1% of the weights, and a weight change moves none of them while new
users follow the new weights.  Prints TAP; reads the connection from the libpq
environment.
"""
import math
import sys
import warnings

import numpy as np
import psycopg2
from psycopg2.extras import Json
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

results = []


def ok(cond, what, diag=None):
    results.append(bool(cond))
    print(("ok" if cond else "not ok") + " %d - %s" % (len(results), what))
    if not cond and diag is not None:
        for line in str(diag).splitlines():
            print("# " + line)
    sys.stdout.flush()


def close(got, want, tol=1e-9):
    if want is None or (isinstance(want, float) and math.isnan(want)):
        return got is None
    return got is not None and math.isclose(got, want, rel_tol=tol, abs_tol=tol)


conn = psycopg2.connect("")
conn.autocommit = True
cur = conn.cursor()
cur.execute("CREATE EXTENSION IF NOT EXISTS mlops")
cur.execute("SET mlops.train_progress_rounds = 0")
cur.execute("CREATE TABLE ab_oracle_data AS SELECT i AS x, (i % 3 = 0) AS y FROM generate_series(1, 60) i")
cur.execute("SELECT mlops.train('ab_oracle_m', 'ab_oracle_data', 'y', hyperparams => '{\"n_estimators\": 2}',"
            " test_size => 0)")
cur.execute("SELECT mlops.train('ab_oracle_m', 'ab_oracle_data', 'y', hyperparams => '{\"n_estimators\": 3}',"
            " test_size => 0)")
rng = np.random.default_rng(20261128)


def create(name, weights):
    variants = [{"name": n, "model": "ab_oracle_m/%d" % (1 + i % 2), "weight": w}
                for i, (n, w) in enumerate(weights)]
    cur.execute("SELECT mlops.create_ab_test(%s, %s)", (name, Json(variants)))


def assign(name, users):
    cur.execute("SELECT u, mlops.ab_assign(%s, u) FROM unnest(%s::text[]) u", (name, users))
    return dict(cur.fetchall())


def convert(name, events):
    """events: list of (user, value)."""
    if events:
        cur.execute("SELECT count(mlops.record_conversion(%s, u, v)) FROM unnest(%s::text[], %s::float8[]) t(u, v)",
                    (name, [e[0] for e in events], [e[1] for e in events]))


def check_results(name, assigned, events, alpha, label):
    cur.execute("SELECT variants FROM mlops.ab_tests WHERE name = %s", (name,))
    order = [v["name"] for v in cur.fetchone()[0]]
    per_user = {u: 0.0 for u in assigned}
    converted = set()
    for u, v in events:
        per_user[u] += v
        converted.add(u)
    groups = {}
    for n in order:
        users = [u for u in assigned if assigned[u] == n]
        groups[n] = (len(users), sum(1 for u in users if u in converted), np.array([per_user[u] for u in users]))
    cur.execute("SELECT * FROM mlops.ab_results(%s, %s)", (name, alpha))
    rows = cur.fetchall()
    ok([r[0] for r in rows] == order, "%s: one row per variant in the test's order" % label, rows)
    c_n, c_x, c_vals = groups["control"]
    pvals, others = [], []
    for n in order:
        if n != "control":
            x, nn = groups[n][1], groups[n][0]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                z, p = proportions_ztest([x, c_x], [nn, c_n]) if nn and c_n else (np.nan, np.nan)
            pvals.append(float(p))
            others.append(n)
    finite = [i for i, p in enumerate(pvals) if not math.isnan(p)]
    adj = [float("nan")] * len(pvals)
    if finite:
        a = multipletests([pvals[i] for i in finite], method="holm")[1]
        for k, i in enumerate(finite):
            adj[i] = float(a[k])
    bad = []
    for r in rows:
        n = r[0]
        nn, x, vals = groups[n]
        if r[1] != nn or r[2] != x:
            bad.append(("counts", n, r[1:3], (nn, x)))
        if nn:
            lo, hi = proportion_confint(x, nn, alpha=alpha, method="wilson")
            if not (close(r[3], x / nn) and close(r[4], lo) and close(r[5], hi)):
                bad.append(("rate/wilson", n, r[3:6], (x / nn, lo, hi)))
            if not close(r[10], float(np.mean(vals))):
                bad.append(("mean", n, r[10], np.mean(vals)))
        elif any(v is not None for v in (r[3], r[4], r[5], r[10])):
            bad.append(("empty variant not NULL", n, r))
        if n == "control":
            if any(v is not None for v in (r[6], r[7], r[8], r[9], r[11])):
                bad.append(("control compares", r))
            continue
        k = others.index(n)
        lift = (x / nn) / (c_x / c_n) - 1 if nn and c_n and c_x else None
        if not close(r[6], lift):
            bad.append(("lift", n, r[6], lift))
        if not close(r[7], pvals[k]) or not close(r[8], adj[k]):
            bad.append(("p", n, r[7:9], (pvals[k], adj[k])))
        if (r[9] is None) != math.isnan(adj[k]) or (r[9] is not None and r[9] != (adj[k] < alpha)):
            bad.append(("significant", n, r[9], adj[k]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = stats.ttest_ind(vals, c_vals, equal_var=False) if nn >= 2 and c_n >= 2 else None
        want = float(t.pvalue) if t is not None and not math.isnan(t.pvalue) else None
        if not close(r[11], want):
            bad.append(("welch", n, r[11], want))
    ok(not bad, "%s: ab_results equals statsmodels and SciPy within 1e-9" % label, bad)


def scenario(name, weights, n_users, rates, value_fn, alpha=0.05, repeat=0.0):
    create(name, weights)
    users = ["%s-%d" % (name, i) for i in range(n_users)]
    assigned = assign(name, users)
    events = []
    for u, v in assigned.items():
        if rng.random() < rates[v]:
            events.append((u, value_fn(v)))
            if rng.random() < repeat:
                events.append((u, value_fn(v)))
    convert(name, events)
    check_results(name, assigned, events, alpha, name)
    return assigned


# several data sets
scenario("small", [("control", 0.5), ("treatment", 0.5)], 23, {"control": 0.2, "treatment": 0.4},
         lambda v: 1.0)
scenario("large", [("control", 0.5), ("treatment", 0.5)], 6000, {"control": 0.10, "treatment": 0.12},
         lambda v: float(rng.exponential(20 if v == "control" else 25)), repeat=0.3)
scenario("unequal", [("control", 0.3), ("treatment", 0.7)], 800, {"control": 0.5, "treatment": 0.5},
         lambda v: float(rng.normal(5, 1) if v == "control" else rng.normal(5.3, 9)))
scenario("three", [("control", 0.4), ("b", 0.3), ("c", 0.3)], 3000, {"control": 0.05, "b": 0.05, "c": 0.08},
         lambda v: float(rng.lognormal(3, 1)), alpha=0.1, repeat=0.5)
scenario("negative", [("control", 0.5), ("b", 0.25), ("c", 0.25)], 400, {"control": 0.3, "b": 0.3, "c": 0.0},
         lambda v: float(rng.normal(-2, 3)), alpha=0.01)
scenario("tiny", [("control", 0.5), ("treatment", 0.5)], 3, {"control": 1.0, "treatment": 1.0},
         lambda v: 2.0)

# the sample-ratio check = scipy.stats.chisquare on the current weights' users
cur.execute("SELECT mlops.ab_test_health('three')")
h = cur.fetchone()[0]
obs = [v["users_current_weights"] for v in h["variants"]]
w = np.array([v["weight"] for v in h["variants"]])
chi = stats.chisquare(obs, w / w.sum() * sum(obs))
ok(close(h["srm_statistic"], float(chi.statistic)) and close(h["srm_p_value"], float(chi.pvalue))
   and h["srm_dof"] == 2 and h["status"] == ("ok" if chi.pvalue >= 0.001 else "sample_ratio_mismatch"),
   "health: chi-square goodness of fit equals scipy.stats.chisquare", (h, chi))
# broken randomisation: a third of the treatment rows vanish
cur.execute("DELETE FROM mlops.ab_assignments a USING mlops.ab_tests t WHERE t.id = a.test_id AND t.name = 'large'"
            " AND a.variant = 'treatment' AND hashtext(a.user_id) % 3 = 0")
cur.execute("SELECT mlops.ab_test_health('large')")
h = cur.fetchone()[0]
obs = [v["users_current_weights"] for v in h["variants"]]
chi = stats.chisquare(obs)
ok(h["status"] == "sample_ratio_mismatch" and h["sample_ratio_mismatch"] is True
   and close(h["srm_p_value"], float(chi.pvalue)) and close(h["srm_statistic"], float(chi.statistic)),
   "health: a lost third of one variant is a sample ratio mismatch", (h, chi))

# 100,000 users split within 1% of the weights; a weight change moves nobody
weights = [("control", 0.2), ("b", 0.3), ("c", 0.5)]
create("split", weights)
cur.execute("SELECT v, count(*) FROM (SELECT mlops.ab_assign('split', 'user' || i) v"
            " FROM generate_series(1, 100000) i) s GROUP BY v")
counts = dict(cur.fetchall())
ok(all(abs(counts.get(n, 0) / 100000 - wt) < 0.01 for n, wt in weights),
   "100,000 users split within 1% of the weights", counts)
h = None
cur.execute("SELECT mlops.ab_test_health('split')")
h = cur.fetchone()[0]
ok(h["status"] == "ok", "no sample ratio mismatch on 100,000 users", h)
cur.execute("CREATE TEMP TABLE split_before AS SELECT a.user_id, a.variant FROM mlops.ab_assignments a"
            " JOIN mlops.ab_tests t ON t.id = a.test_id WHERE t.name = 'split'")
cur.execute("SELECT mlops.set_ab_weights('split', '{\"control\": 0.6, \"b\": 0.1, \"c\": 0.3}')")
cur.execute("SELECT count(*) FILTER (WHERE mlops.ab_assign('split', user_id) <> variant), count(*) FROM split_before")
moved, total = cur.fetchone()
ok(moved == 0 and total == 100000, "after a weight change, all 100,000 assigned users keep their variant",
   (moved, total))
cur.execute("SELECT v, count(*) FROM (SELECT mlops.ab_assign('split', 'later' || i) v"
            " FROM generate_series(1, 50000) i) s GROUP BY v")
counts = dict(cur.fetchall())
ok(all(abs(counts.get(n, 0) / 50000 - wt) < 0.01 for n, wt in [("control", 0.6), ("b", 0.1), ("c", 0.3)]),
   "new users follow the new weights within 1%", counts)
cur.execute("SELECT mlops.ab_test_health('split')")
h = cur.fetchone()[0]
ok(h["status"] == "ok" and h["weights_epoch"] == 2 and sum(v["users_current_weights"] for v in h["variants"]) == 50000,
   "the sample-ratio check counts only the users of the current weights", h)

cur.execute("DROP TABLE ab_oracle_data")
cur.execute("DROP EXTENSION mlops")
print("1..%d" % len(results))
sys.exit(0 if all(results) else 1)
