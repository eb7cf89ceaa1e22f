#!/usr/bin/python3
"""check_layout.py SRCDIR [PG_INCLUDEDIR_SERVER] -- the source tree's rules, as TAP.

1. Every .c/.h lives in src/mlops.c or in one subsystem folder src/<sub>/.
2. A subsystem includes only its own folder, common/common.h and xgb/xgb.h
   (common/ includes nothing but itself; xgb/ only common/).  src/mlops.c
   may include every subsystem's face header <sub>/<sub>.h and nothing else
   of ours.  Together these make the include graph acyclic.
3. A file in src/common/ never shares a name with PostgreSQL's own
   common/*.h (it would shadow it, since src/ comes first on the path).
4. No function is longer than 150 lines.
"""
import os
import re
import sys

SUBSYSTEMS = ["common", "xgb", "registry", "train", "serve", "drift", "monitor", "sched",
              "deploy", "features", "http", "report"]
MAX_FUNCTION_LINES = 150

src = sys.argv[1]
pg_common = os.path.join(sys.argv[2], "common") if len(sys.argv) > 2 else None
results = []


def ok(cond, what, detail=()):
    results.append((cond, what, list(detail)))


def allowed(sub, target):
    """allowed returns whether a file of subsystem sub may include target."""
    folder = target.split("/", 1)[0]
    if folder == sub:
        return True
    if sub == "common":
        return False
    if target == "common/common.h":
        return True
    return target == "xgb/xgb.h" and sub != "xgb"


files = []
stray = []
for dirpath, _, names in os.walk(src):
    for n in sorted(names):
        if not n.endswith((".c", ".h")):
            continue
        rel = os.path.relpath(os.path.join(dirpath, n), src)
        parts = rel.split(os.sep)
        if rel == "mlops.c" or (len(parts) == 2 and parts[0] in SUBSYSTEMS):
            files.append(rel)
        else:
            stray.append(rel)
ok(not stray, "every source file is src/mlops.c or in a subsystem folder", stray)

bad = []
for rel in files:
    text = open(os.path.join(src, rel), errors="replace").read()
    for target in re.findall(r'^\s*#\s*include\s+"([^"]+)"', text, re.M):
        folder = target.split("/", 1)[0]
        if "/" not in target or folder not in SUBSYSTEMS:
            continue            # PostgreSQL's or the system's header
        if folder == "common" and pg_common and os.path.exists(os.path.join(pg_common, target.split("/", 1)[1])) \
                and not os.path.exists(os.path.join(src, target)):
            continue            # PostgreSQL's common/*.h
        if rel == "mlops.c":
            good = target == "%s/%s.h" % (folder, folder)
        else:
            good = allowed(rel.split(os.sep)[0], target)
        if not good:
            bad.append("%s includes %s" % (rel, target))
ok(not bad, "subsystems include only their own folder, common/common.h and xgb/xgb.h", bad)

if pg_common:
    ours = sorted(os.listdir(os.path.join(src, "common")))
    shadow = [n for n in ours if n.endswith(".h") and os.path.exists(os.path.join(pg_common, n))]
    ok(not shadow, "no src/common header shadows PostgreSQL's common/*.h", shadow)

long_fns = []
for rel in files:
    if not rel.endswith(".c"):
        continue
    lines = open(os.path.join(src, rel), errors="replace").read().split("\n")
    start = None
    for i, line in enumerate(lines):
        if line == "{" and i > 0 and lines[i - 1].rstrip().endswith(")"):
            start = i
            j = i - 1
            while j > 0 and "(" not in lines[j]:
                j -= 1
            name = lines[j].split("(")[0].split()[-1] if lines[j].split("(")[0].split() else "?"
        elif line.startswith("}"):
            if start is not None and i - start > MAX_FUNCTION_LINES:
                long_fns.append("%s: %s is %d lines" % (rel, name, i - start))
            start = None
ok(not long_fns, "no function is longer than %d lines" % MAX_FUNCTION_LINES, long_fns)

print("1..%d" % len(results))
for i, (cond, what, detail) in enumerate(results, 1):
    print("%sok %d - %s" % ("" if cond else "not ", i, what))
    for d in detail[:50]:
        print("#   " + d)
sys.exit(0 if all(r[0] for r in results) else 1)
