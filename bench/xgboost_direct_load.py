#!/usr/bin/python3
"""xgboost_direct_load.py: what would happen without mlops' model checks.

Loads each damaged model of test/oracle/test_model_fuzz.py (same seed, same
mutants) straight into libxgboost, one forked child per model, and counts
the children killed by a signal.  This is the measurement quoted in
docs/registry.md (about 70 of 685 damaged UBJSON buffers crash it;
the count varies a little from run to run); the fuzz
test pushes the same buffers through mlops.import_model with zero crashes.

Run with Debian's /usr/bin/python3 from the top of the checkout:
    /usr/bin/python3 bench/xgboost_direct_load.py
It takes about two minutes.  The mutants are written by a separate
process first: XGBoost's OpenMP pool, started by training the base models,
does not survive fork().
"""
import glob
import importlib.util
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
FUZZ = os.path.join(HERE, "..", "test", "oracle", "test_model_fuzz.py")


def write_mutants(directory):
    """write_mutants saves every mutant of the fuzz test into directory."""
    spec = importlib.util.spec_from_file_location("fuzz", FUZZ)
    fuzz = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fuzz)
    rng = random.Random(20261127)
    i = 0
    for label, data in fuzz.base_models():
        fmt = label.rsplit(".", 1)[1]
        for _, buf in fuzz.mutants(label, data, rng):
            if buf == data:
                continue
            with open(os.path.join(directory, f"{i:05d}.{fmt}"), "wb") as f:
                f.write(buf)
            i += 1


def load_all(directory):
    """load_all loads every mutant in a forked child and prints the tally."""
    import xgboost as xgb

    counts = {fmt: {"total": 0, "crashed": 0, "hung": 0, "loaded": 0} for fmt in ("json", "ubj")}
    for path in sorted(glob.glob(os.path.join(directory, "*"))):
        fmt = path.rsplit(".", 1)[1]
        with open(path, "rb") as f:
            buf = f.read()
        counts[fmt]["total"] += 1
        pid = os.fork()
        if pid == 0:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            signal.alarm(5)
            resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
            try:
                xgb.Booster().load_model(bytearray(buf))
                os._exit(0)
            except Exception:
                os._exit(3)
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            counts[fmt]["hung" if os.WTERMSIG(status) == signal.SIGALRM else "crashed"] += 1
        elif os.WEXITSTATUS(status) == 0:
            counts[fmt]["loaded"] += 1
    for fmt, c in counts.items():
        print(f"{fmt}: {c['total']} damaged models, {c['crashed']} crashed libxgboost, "
              f"{c['hung']} ran over 5 s, {c['loaded']} loaded without error")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--write":
        write_mutants(sys.argv[2])
        return
    with tempfile.TemporaryDirectory() as directory:
        subprocess.run([sys.executable, __file__, "--write", directory], check=True)
        load_all(directory)


if __name__ == "__main__":
    main()
