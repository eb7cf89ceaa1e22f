#!/usr/bin/python3
"""test_model_fuzz.py: pushes well over 1,000 damaged XGBoost models
(truncations, bit flips, overwritten and swapped bytes; JSON and UBJSON)
through mlops.import_model and checks that the server never crashes.

libxgboost 1.7.4 itself segfaults on a good share of such UBJSON buffers, so
this is the test that mlops never lets untrusted bytes reach it.  A further
600 well-formed JSON models with one tree number changed (children,
parents, split indices, categories, tree_info, learner parameters) test the
structural checks against the XGBoost issue #7903 kind of input.  "No crash"
is checked three ways: the session's backend keeps its pid (a crashed
backend takes every connection down), the postmaster keeps its start time
(a crash makes it reinitialise), and every refusal is a proper ERROR with
one of the SQLSTATEs import_model documents (never XX000).

Mutants that pass the checks are registered like any model.  Their exported
bytes are then loaded and used for predictions, SHAP contributions and leaf
indices by python3-xgboost in a child process: if the validator let through
a model XGBoost cannot walk safely, the child (not the server) crashes and
the test fails.  Prints TAP; the connection comes from the libpq
environment.  Deterministic: the random generator is seeded.
"""
import json
import os
import random
import subprocess
import sys
import tempfile
import time

import numpy as np
import psycopg2
import xgboost as xgb

ALLOWED_SQLSTATES = {
    "22023": "invalid_parameter_value",
    "0A000": "feature_not_supported",
    "54000": "program_limit_exceeded",
    "38000": "external_routine_exception (XGBoost refused the validated model)",
}
results = []

CHILD = r"""
import sys, numpy as np, xgboost as xgb
rng = np.random.default_rng(7)
for path in sys.argv[1:]:
    b = xgb.Booster()
    b.load_model(path)
    n = b.num_features()
    X = rng.normal(size=(64, n)).astype(np.float32)
    X[::7, :] = np.nan
    X[:, 0] = rng.integers(0, 6, size=64)
    try:
        d = xgb.DMatrix(X, enable_categorical=bool(b.feature_types) and "c" in b.feature_types,
                        feature_types=b.feature_types, feature_names=b.feature_names)
        b.predict(d)
        b.predict(d, pred_contribs=True)
        b.predict(d, pred_leaf=True)
        b.get_dump()
    except xgb.core.XGBoostError:
        pass  # an orderly refusal is fine; a crash is not
    print("ok", path, flush=True)
"""


def ok(cond, what):
    """ok records and prints one TAP result."""
    results.append(bool(cond))
    print(f"{'' if cond else 'not '}ok {len(results)} - {what}")
    sys.stdout.flush()


def base_models():
    """base_models trains small models and returns (label, bytes) for each
    model in JSON and UBJSON."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 4))
    out = []
    boosters = {
        "binary": xgb.train({"objective": "binary:logistic", "max_depth": 3},
                            xgb.DMatrix(X, (X[:, 0] > 0).astype(int), feature_names=["a", "b", "c", "d"]),
                            num_boost_round=3),
        "multi": xgb.train({"objective": "multi:softprob", "num_class": 3, "max_depth": 2},
                           xgb.DMatrix(X, (X[:, 0] > 0).astype(int) + (X[:, 1] > 0).astype(int)),
                           num_boost_round=2),
        "regression": xgb.train({"objective": "reg:squarederror", "max_depth": 3},
                                xgb.DMatrix(X, X[:, 0] * 2 + X[:, 1]), num_boost_round=3),
    }
    Xc = X.copy()
    Xc[:, 0] = rng.integers(0, 5, size=200)
    boosters["categorical"] = xgb.train({"objective": "reg:squarederror", "max_depth": 2, "tree_method": "hist",
                                         "max_cat_to_onehot": 1},
                                        xgb.DMatrix(Xc, Xc[:, 0] * 3 + X[:, 1], feature_types=["c", "q", "q", "q"],
                                                    enable_categorical=True), num_boost_round=2)
    for name, b in boosters.items():
        for fmt in ("json", "ubj"):
            out.append((f"{name}.{fmt}", bytes(b.save_raw(fmt))))
    return out


def mutants(label, data, rng):
    """mutants yields (description, bytes) damaged copies of data."""
    n = len(data)
    for cut in [1, 2, n // 2, n - 1] + [rng.randrange(1, n) for _ in range(36)]:
        yield f"{label} truncated to {cut}", data[:cut]
    for _ in range(70):
        buf = bytearray(data)
        pos = rng.randrange(n)
        buf[pos] ^= 1 << rng.randrange(8)
        yield f"{label} bit flip at {pos}", bytes(buf)
    for _ in range(20):
        buf = bytearray(data)
        for _ in range(rng.randrange(2, 9)):
            buf[rng.randrange(n)] ^= 1 << rng.randrange(8)
        yield f"{label} several bit flips", bytes(buf)
    for _ in range(20):
        buf = bytearray(data)
        pos = rng.randrange(n)
        buf[pos] = rng.choice([0x00, 0x7F, 0x80, 0xFF, ord("L"), ord("["), ord("{"), ord("$"), ord("#")])
        yield f"{label} byte overwritten at {pos}", bytes(buf)
    for _ in range(30):
        buf = bytearray(data)
        i = rng.randrange(n - 1)
        j = i + 1 if rng.random() < 0.5 else rng.randrange(n)
        buf[i], buf[j] = buf[j], buf[i]
        yield f"{label} bytes {i} and {j} swapped", bytes(buf)


TREE_INT_ARRAYS = ["left_children", "right_children", "parents", "split_indices", "default_left",
                   "split_type", "categories", "categories_nodes", "categories_segments", "categories_sizes"]
PARAMS = [("learner_model_param", "num_feature"), ("learner_model_param", "num_class"),
          ("learner_model_param", "num_target")]


def semantic_mutants(label, data, rng, count):
    """semantic_mutants yields (description, bytes) copies of a JSON model in
    which one number that matters to XGBoost's tree walk (a child, parent,
    split index, category, tree_info entry or learner parameter) is replaced
    by a boundary or random value: well-formed JSON with inconsistent trees,
    the XGBoost issue #7903 kind of input."""
    model = json.loads(data)
    learner = model["learner"]
    trees = learner["gradient_booster"]["model"]["trees"]
    for _ in range(count):
        m = json.loads(data)
        ml = m["learner"]
        mtrees = ml["gradient_booster"]["model"]["trees"]
        r = rng.random()
        if r < 0.8:
            ti = rng.randrange(len(trees))
            key = rng.choice([k for k in TREE_INT_ARRAYS if mtrees[ti].get(k)])
            arr = mtrees[ti][key]
            i = rng.randrange(len(arr))
            n = len(arr)
            arr[i] = rng.choice([-2, -1, 0, 1, n - 1, n, n + 1, 2, 3, 4, 5, 2147483647, -2147483648,
                                 rng.randrange(-10, 3 * n + 10)])
            what = f"{label} trees[{ti}].{key}[{i}] = {arr[i]}"
        elif r < 0.9:
            info = ml["gradient_booster"]["model"]["tree_info"]
            i = rng.randrange(len(info))
            info[i] = rng.choice([-1, 1, 2, 3, 7, 2147483647])
            what = f"{label} tree_info[{i}] = {info[i]}"
        else:
            section, key = rng.choice(PARAMS)
            ml[section][key] = str(rng.choice([0, 1, 2, 3, 4, 100, 65536, 2147483647, -1]))
            what = f"{label} {key} = {ml[section][key]}"
        yield what, json.dumps(m, separators=(",", ":")).encode()


def main():
    started = time.time()
    conn = psycopg2.connect("")
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("CREATE EXTENSION IF NOT EXISTS mlops")
    cur.execute("SELECT pg_backend_pid(), pg_postmaster_start_time()")
    pid, postmaster_start = cur.fetchone()

    rng = random.Random(20261127)
    tried = 0
    accepted = []
    sqlstates = {}
    bad_states = []
    lost = []
    per_format = {"json": 0, "ubj": 0}
    for label, data in base_models():
        for what, buf in mutants(label, data, rng):
            if buf == data:
                continue
            tried += 1
            per_format[label.rsplit(".", 1)[1]] += 1
            try:
                cur.execute("SELECT mlops.import_model('fuzz', %s)", (psycopg2.Binary(buf),))
                accepted.append((what, cur.fetchone()[0]))
            except psycopg2.OperationalError as e:
                lost.append(f"{what}: {e}".strip())
                conn = psycopg2.connect("")
                conn.autocommit = True
                cur = conn.cursor()
            except psycopg2.Error as e:
                sqlstates[e.pgcode] = sqlstates.get(e.pgcode, 0) + 1
                if e.pgcode not in ALLOWED_SQLSTATES:
                    bad_states.append(f"{what}: {e.pgcode} {e.pgerror}")

    # well-formed JSON with inconsistent trees
    semantic = 0
    semantic_accepted = 0
    for label, data in base_models():
        if not label.endswith(".json"):
            continue
        for what, buf in semantic_mutants(label, data, rng, 150):
            semantic += 1
            try:
                cur.execute("SELECT mlops.import_model('fuzz', %s)", (psycopg2.Binary(buf),))
                accepted.append((what, cur.fetchone()[0]))
                semantic_accepted += 1
            except psycopg2.OperationalError as e:
                lost.append(f"{what}: {e}".strip())
                conn = psycopg2.connect("")
                conn.autocommit = True
                cur = conn.cursor()
            except psycopg2.Error as e:
                sqlstates[e.pgcode] = sqlstates.get(e.pgcode, 0) + 1
                if e.pgcode not in ALLOWED_SQLSTATES:
                    bad_states.append(f"{what}: {e.pgcode} {e.pgerror}")
    print(f"# {semantic} models with one tree number changed, {semantic_accepted} accepted")

    ok(tried >= 1000 and min(per_format.values()) >= 500,
       f"{tried} damaged models imported ({per_format['json']} JSON, {per_format['ubj']} UBJSON)")
    ok(not lost, f"no connection was lost ({len(lost)} lost{': ' + lost[0] if lost else ''})")
    cur.execute("SELECT pg_backend_pid(), pg_postmaster_start_time()")
    now_pid, now_start = cur.fetchone()
    ok(now_pid == pid, "the session kept its backend throughout")
    ok(now_start == postmaster_start, "the postmaster never reinitialised (no backend crashed)")
    ok(not bad_states, "every refusal has a documented SQLSTATE: " +
       ", ".join(f"{k} x{v}" for k, v in sorted(sqlstates.items())) +
       (f"; unexpected: {bad_states[0]}" if bad_states else ""))
    print(f"# {len(accepted)} mutants passed validation and were registered")

    # what passed the checks must be safe for XGBoost to walk: try it out of process
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, (what, version) in enumerate(accepted):
            cur.execute("SELECT mlops.export_model(%s)", (f"fuzz/{version}",))
            path = os.path.join(tmp, f"m{i}.json")
            with open(path, "wb") as f:
                f.write(bytes(cur.fetchone()[0]))
            paths.append(path)
        child_ok = True
        detail = "none to check"
        if paths:
            proc = subprocess.run(["/usr/bin/python3", "-c", CHILD] + paths, capture_output=True, text=True)
            done = proc.stdout.count("\nok ") + proc.stdout.startswith("ok ")
            child_ok = proc.returncode == 0 and done == len(paths)
            detail = f"exit code {proc.returncode}, {done} of {len(paths)} models walked"
            if not child_ok:
                print("# " + proc.stderr.strip().replace("\n", "\n# ")[-2000:])
        ok(child_ok, f"accepted mutants predict, explain and dump safely in python3-xgboost ({detail})")

    cur.execute("DROP EXTENSION mlops")
    conn.close()
    print(f"# {time.time() - started:.1f} s")
    print(f"1..{len(results)}")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
