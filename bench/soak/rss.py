"""rss.py — the memory side of bench/soak.sh.

  rss.py sample POSTMASTER_PID OUT.csv SECONDS INTERVAL
      every INTERVAL seconds for SECONDS seconds, writes one CSV row per child process of the
      postmaster: elapsed seconds, pid, process title, RssAnon in kB (from /proc/<pid>/status:
      the process's private anonymous memory, i.e. palloc'd and malloc'd memory, not shared buffers).
  rss.py report OUT.csv WARMUP END LIMIT_KB LIMIT_PCT
      prints, for every process seen, its RssAnon at the first sample after WARMUP seconds, at the
      end, its maximum, and the least-squares slope after WARMUP (kB per minute), as a Markdown
      table; then judges every process seen before WARMUP and still at END seconds (the load's
      end): it fails when its
      RssAnon grew after warm-up (end, and maximum, against the first sample after WARMUP) by more
      than LIMIT_KB plus LIMIT_PCT percent of that sample.  Exit status 1 on any such growth.
"""
import csv
import os
import sys
import time


def children(ppid):
    """children lists the pids of the processes whose parent is PPID."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
            # the comm field may contain spaces and parentheses: the ppid follows the last ')'
            if int(stat[stat.rindex(")") + 2:].split()[1]) == ppid:
                out.append(int(d))
        except (OSError, ValueError, IndexError):
            continue
    return out


def rss_anon(pid):
    """rss_anon returns (process title, RssAnon kB) of PID, or None if it is gone."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            title = f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return title, int(line.split()[1])
    except OSError:
        return None
    return None


def sample(ppid, out, seconds, interval):
    start = time.monotonic()
    with open(out, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["t", "pid", "title", "rss_anon_kb"])
        while True:
            t = time.monotonic() - start
            for pid in children(ppid):
                r = rss_anon(pid)
                if r is not None:
                    w.writerow(["%.1f" % t, pid, r[0], r[1]])
            fh.flush()
            if t >= seconds:
                return 0
            time.sleep(max(0.0, interval - (time.monotonic() - start - t)))


def slope(points):
    """slope is the least-squares slope of (t, kB) POINTS, in kB per minute."""
    n = len(points)
    if n < 2:
        return 0.0
    mt = sum(p[0] for p in points) / n
    mv = sum(p[1] for p in points) / n
    den = sum((p[0] - mt) ** 2 for p in points)
    return 0.0 if den == 0 else 60.0 * sum((p[0] - mt) * (p[1] - mv) for p in points) / den


def kind(title):
    """kind shortens a process title: 'postgres: postgres soak [local] idle' -> 'client soak'."""
    t = title[len("postgres: "):] if title.startswith("postgres: ") else title
    parts = t.split()
    if len(parts) >= 3 and (parts[2].startswith("[") or parts[2][0].isdigit()):
        return "client %s" % parts[1]
    for state in (" idle", " active", " waiting"):
        t = t.split(state)[0] if t.endswith(state) else t
    return t[:40]


def report(path, warmup, until, limit_kb, limit_pct):
    series = {}
    titles = {}
    with open(path) as fh:
        for row in csv.DictReader(fh):
            t, pid, kb = float(row["t"]), int(row["pid"]), int(row["rss_anon_kb"])
            series.setdefault(pid, []).append((t, kb))
            titles.setdefault(pid, kind(row["title"]))
    print("| process | pid | first (kB) | after warm-up (kB) | end (kB) | max (kB) | slope after warm-up (kB/min) | verdict |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    failed = 0
    judged = 0
    clients = 0
    for pid in sorted(series, key=lambda p: (titles[p], p)):
        pts = series[pid]
        after = [p for p in pts if p[0] >= warmup]
        if not after:
            continue
        base = after[0][1]
        end = pts[-1][1]
        top = max(p[1] for p in after)
        lived = pts[0][0] < warmup and pts[-1][0] >= until
        verdict = "not judged (did not live through the run)"
        if lived:
            judged += 1
            clients += titles[pid].startswith("client ")
            bound = base + limit_kb + base * limit_pct / 100.0
            if end > bound or top > bound:
                verdict = "**grew by %d kB** (bound %d kB)" % (max(end, top) - base, bound - base)
                failed += 1
            else:
                verdict = "flat (+%d kB)" % (max(end, top) - base)
        print("| %s | %d | %d | %d | %d | %d | %.1f | %s |"
              % (titles[pid], pid, pts[0][1], base, end, max(p[1] for p in pts), slope(after), verdict))
    print()
    print("%d processes judged (%d client backends), %d grew beyond %d kB + %g%% after %.0f s of warm-up"
          % (judged, clients, failed, limit_kb, limit_pct, warmup))
    return 1 if failed or clients == 0 else 0


def main():
    if len(sys.argv) == 6 and sys.argv[1] == "sample":
        return sample(int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), float(sys.argv[5]))
    if len(sys.argv) == 7 and sys.argv[1] == "report":
        return report(sys.argv[2], *[float(a) for a in sys.argv[3:7]])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
