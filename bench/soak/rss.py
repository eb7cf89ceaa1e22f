"""rss.py — the memory side of bench/soak.sh.

  rss.py sample POSTMASTER_PID OUT.csv SECONDS INTERVAL
      every INTERVAL seconds for SECONDS seconds, writes one CSV row per child process of the
      postmaster: elapsed seconds, pid, process title, RssAnon in kB (from /proc/<pid>/status:
      the process's private anonymous memory, i.e. palloc'd and malloc'd memory, not shared buffers).
  rss.py report OUT.csv WARMUP END LIMIT_KB LIMIT_PCT
      prints, for every process seen, its RssAnon at the first sample, its peak in the first third
      of the measured window [WARMUP, END] (END: the load's end) and in the last third, its
      maximum, and the least-squares slope over the window (kB per minute), as a Markdown table.
      Then it judges every process seen before WARMUP and still at END: it fails when its late peak
      exceeds its early peak by more than LIMIT_KB plus LIMIT_PCT percent of the early peak.  Peaks
      rather than single samples, because a backend's RssAnon saws up and down with the size of
      what it is doing (a predict_table chunk, a helper thread's stack): a leak raises the peaks,
      a sawtooth does not.  Exit status 1 when a process grew, or when no client backend was judged.
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
    print("| process | pid | first (kB) | early peak (kB) | late peak (kB) | max (kB) | slope (kB/min) | verdict |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    failed = 0
    judged = 0
    clients = 0
    third = (until - warmup) / 3.0
    for pid in sorted(series, key=lambda p: (titles[p], p)):
        pts = series[pid]
        window = [p for p in pts if warmup <= p[0] <= until]
        early = [p[1] for p in window if p[0] <= warmup + third]
        late = [p[1] for p in window if p[0] >= until - third]
        if not window:
            continue
        lived = pts[0][0] < warmup and pts[-1][0] >= until and early and late
        verdict = "not judged (did not live through the run)"
        e = max(early) if early else 0
        la = max(late) if late else 0
        if lived:
            judged += 1
            clients += titles[pid].startswith("client ")
            bound = limit_kb + e * limit_pct / 100.0
            if la - e > bound:
                verdict = "**grew by %d kB** (bound %d kB)" % (la - e, bound)
                failed += 1
            else:
                verdict = "flat (%+d kB)" % (la - e)
        print("| %s | %d | %d | %s | %s | %d | %.1f | %s |"
              % (titles[pid], pid, pts[0][1], e or "-", la or "-", max(p[1] for p in pts), slope(window), verdict))
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
