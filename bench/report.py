#!/usr/bin/python3
"""Turns the raw results of one bench run into the table and results.json.

Usage: /usr/bin/python3 bench/report.py RAW_DIR OUT_JSON

RAW_DIR holds CASE.RUN.json files (one JSON object each, as printed by the
bench programs) and machine.json.  A case with several runs is reported by
the median of its runs' p50 and p99, with the spread (min..max of the runs'
p50) beside it.  Nothing here asserts: a missed target is printed as
"MISSED", a case that could not run as "not measured" with the reason.
"""
import glob
import json
import os
import statistics
import sys


def load(raw, case):
    """The runs of a case, in run order; [] when it did not run."""
    runs = []
    for path in sorted(glob.glob(os.path.join(raw, f"{case}.*.json")),
                       key=lambda p: int(p.rsplit(".", 2)[1])):
        with open(path) as f:
            text = f.read().strip()
        if text:
            runs.append(norm(json.loads(text)))
    return runs


def norm(x):
    """Whole-process timings (hyperfine's export, or run.sh's own loop:
    seconds) as the latency summary the C programs print."""
    if "results" in x:
        x = {"times": x["results"][0]["times"], "tool": "hyperfine"}
    if "times" not in x:
        return x
    t = sorted(v * 1e6 for v in x["times"])
    return {"n": len(t), "p50_us": t[len(t) // 2],
            "p99_us": t[min(len(t) - 1, int(0.99 * len(t)))],
            "min_us": t[0], "max_us": t[-1],
            "mean_us": sum(t) / len(t), "tool": x.get("tool", "?")}


# The load case's leak check: the daemon's RSS after the run (and after a
# settle) against before.  Generous: a leak per request would pass it by far.
RSS_GROWTH_KIB = 32 * 1024


def read_text(raw, name):
    """A small side file run.sh wrote (RAW/NAME), stripped; None if none."""
    path = os.path.join(raw, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return f.read().strip() or None


def skipped(raw, case):
    path = os.path.join(raw, f"{case}.skip")
    if os.path.exists(path):
        with open(path) as f:
            return f.read().strip() or "not measured"
    return None


def agg(runs, key=None):
    """Median p50/p99 of latency summaries, and the spread of the p50s."""
    xs = [r[key] if key else r for r in runs]
    p50s = [x["p50_us"] for x in xs]
    return {"p50_us": statistics.median(p50s),
            "p99_us": statistics.median(x["p99_us"] for x in xs),
            "runs": len(xs), "n_per_run": xs[0]["n"],
            "p50_spread_us": [min(p50s), max(p50s)]}


def us(v):
    if v >= 100000:
        return f"{v / 1000:.0f} ms"
    return f"{v / 1000:.2f} ms" if v >= 1000 else f"{v:.0f} µs"


def lat(a):
    return f"p50 {us(a['p50_us'])}, p99 {us(a['p99_us'])}"


def spread(a):
    lo, hi = a["p50_spread_us"]
    return f"{us(lo)}–{us(hi)}"


class Report:
    def __init__(self, raw):
        self.raw = raw
        self.rows = []
        self.cases = []

    def add(self, case, measured, baseline, ratio, target, met, note,
            data):
        self.rows.append((case, measured, baseline, ratio, target,
                          "n/a" if met is None else
                          ("yes" if met else "MISSED"), note))
        self.cases.append({"case": case, "measured": measured,
                           "baseline": baseline, "ratio": ratio,
                           "target": target, "met": met, "note": note,
                           "data": data})

    def missing(self, case, target, why):
        self.add(case, "not measured", "—", "—", target, None, why, None)

    # --- the cases ---------------------------------------------------------

    def floor(self):
        runs = load(self.raw, "floor")
        if not runs:
            return self.missing("floor", "≤ 2×", skipped(self.raw, "floor"))
        m, b = agg(runs, "b"), agg(runs, "a")
        r = m["p50_us"] / b["p50_us"]
        self.add("floor", "status " + lat(m), "echo " + lat(b),
                 f"{r:.2f}×", "≤ 2×", r <= 2,
                 f"p50 spread {spread(m)} vs {spread(b)}",
                 {"daemon": m, "echo": b})

    def proxy(self, case, what, direct, target_fn, target):
        runs = load(self.raw, case)
        if not runs:
            return self.missing(case, target, skipped(self.raw, case))
        m, b = agg(runs, "daemon"), agg(runs, "direct")
        over = m["p50_us"] - b["p50_us"]
        r = m["p50_us"] / b["p50_us"]
        self.add(case, f"{what} " + lat(m), f"{direct} " + lat(b),
                 f"{r:.2f}× (+{over:.0f} µs)", target, target_fn(r, over),
                 f"p50 spread {spread(m)} vs {spread(b)}",
                 {"daemon": m, "direct": b, "overhead_p50_us": over})

    def short_task(self):
        m, b = load(self.raw, "short-sbctl"), load(self.raw, "short-sdk")
        if not m or not b:
            return self.missing("short task", "≥ 10× faster",
                                skipped(self.raw, "short"))
        ma, ba = agg(m), agg(b)
        r = ba["p50_us"] / ma["p50_us"]
        mode = ""
        if os.path.exists(os.path.join(self.raw, "short.mode")):
            with open(os.path.join(self.raw, "short.mode")) as f:
                mode = f.read().strip()
        mode = f" {mode}" if mode else ""
        self.add("short task", f"sbctl run -- true{mode}: " + lat(ma),
                 "Python grpcio process " + lat(ba), f"{r:.1f}× faster",
                 "≥ 10× faster", r >= 10,
                 f"p50 spread {spread(ma)} vs {spread(ba)}; "
                 f"timed by {m[0].get('tool', '?')}",
                 {"sbctl": ma, "sdk": ba})

    def throughput(self):
        m, b = load(self.raw, "tput-daemon"), load(self.raw, "tput-direct")
        if not m or not b:
            return self.missing("throughput", "≥ 80%",
                                skipped(self.raw, "tput"))
        mo = statistics.median(x["ops_s"] for x in m)
        bo = statistics.median(x["ops_s"] for x in b)
        r = mo / bo
        fails = sum(x["failed"] for x in m + b)
        self.add("throughput",
                 f"{mo:.0f} exec/s (32 clients via daemon)",
                 f"{bo:.0f} exec/s (32 direct gRPC clients)",
                 f"{100 * r:.0f}%", "≥ 80%", r >= 0.8,
                 f"runs {min(x['ops_s'] for x in m):.0f}–"
                 f"{max(x['ops_s'] for x in m):.0f} vs "
                 f"{min(x['ops_s'] for x in b):.0f}–"
                 f"{max(x['ops_s'] for x in b):.0f} exec/s"
                 + (f"; {fails} failed calls" if fails else ""),
                 {"daemon_ops_s": mo, "direct_ops_s": bo, "daemon": m,
                  "direct": b})

    def warm_lease(self):
        m, b = load(self.raw, "warm"), load(self.raw, "cold")
        if not m or not b:
            return self.missing("warm lease", "≥ 1000× faster; p50 ≤ 200 µs",
                                skipped(self.raw, "warm"))
        ma, ba = agg(m), agg(b)
        r = ba["p50_us"] / ma["p50_us"]
        empty = sum(x.get("pool_empty", 0) for x in m)
        self.add("warm lease", "acquire+release " + lat(ma),
                 "cold Start+poll " + lat(ba), f"{r:.0f}× faster",
                 "≥ 1000× faster; p50 ≤ 200 µs",
                 r >= 1000 and ma["p50_us"] <= 200,
                 f"acquire alone p50 {us(agg(m, 'acquire')['p50_us'])}; "
                 f"p50 spread {spread(ma)}; pool found empty {empty}× "
                 f"(waited 20 ms for refill, not counted)",
                 {"warm": ma, "cold": ba})

    def streaming(self):
        m, b = load(self.raw, "stream-daemon"), load(self.raw, "stream-direct")
        if not m or not b:
            return self.missing("streaming", "≥ 70% (≥ 300 MB/s)",
                                skipped(self.raw, "stream"))
        frames = statistics.median(x["frames"] for x in b)
        fb_m = statistics.median(x["first_byte_us"] for x in m)
        fb_b = statistics.median(x["first_byte_us"] for x in b)
        mo = statistics.median(x["mb_s"] for x in m)
        bo = statistics.median(x["mb_s"] for x in b)
        r = mo / bo
        self.add("streaming", f"{mo:.0f} MB/s via daemon",
                 f"{bo:.0f} MB/s direct StreamExec", f"{100 * r:.0f}%",
                 "≥ 70% (≥ 300 MB/s)", r >= 0.7 and mo >= 300,
                 f"runs {min(x['mb_s'] for x in m):.0f}–"
                 f"{max(x['mb_s'] for x in m):.0f} vs "
                 f"{min(x['mb_s'] for x in b):.0f}–"
                 f"{max(x['mb_s'] for x in b):.0f} MB/s; "
                 f"{b[0]['bytes'] / frames / 1024:.1f} KiB per gateway "
                 f"frame; first byte {us(fb_m)} vs {us(fb_b)}",
                 {"daemon_mb_s": mo, "direct_mb_s": bo, "daemon": m,
                  "direct": b})

    def tail(self):
        runs = load(self.raw, "tail")
        if not runs:
            return self.missing("tail fan-out", "report (issue 6)",
                                skipped(self.raw, "tail"))
        med = statistics.median(x["reader_mb_s_median"] for x in runs)
        lo = min(x["reader_mb_s_min"] for x in runs)
        hi = max(x["reader_mb_s_median"] for x in runs)
        direct = statistics.median(x["direct_mb_s"] for x in runs)
        cpu = statistics.median(x["daemon_cpu_s"] for x in runs)
        pct = statistics.median(x["daemon_cpu_pct"] for x in runs)
        n = runs[0]["readers"]
        mib = runs[0]["bytes"] / (1 << 20)
        per_mib = cpu / (n * mib)
        self.add("tail fan-out", f"{med:.1f} MB/s per reader "
                 f"({n} tails via daemon, {n * med:.0f} MB/s in all)",
                 f"{direct:.0f} MB/s one direct StreamLogs",
                 f"{100 * med / direct:.0f}% per reader, "
                 f"{100 * n * med / direct:.0f}% in all",
                 "report (issue 6)", None,
                 f"{mib:.0f} MiB log; slowest reader {lo:.1f}, runs' "
                 f"medians up to {hi:.1f} MB/s; daemon CPU {cpu:.2f} s "
                 f"({pct:.0f}% of a core, {1000 * per_mib:.1f} ms per "
                 f"MiB delivered); "
                 f"{statistics.median(x['notifications'] for x in runs) / n:.0f}"
                 f" notifications per reader",
                 {"reader_mb_s": med, "direct_mb_s": direct,
                  "daemon_cpu_s": cpu, "runs": runs})

    def memory(self):
        runs = load(self.raw, "memory")
        if not runs:
            self.missing("memory idle", "≤ 16 MiB", skipped(self.raw,
                                                             "memory"))
            return self.missing("memory per lease", "≤ 2 KiB",
                                skipped(self.raw, "memory"))
        x = runs[-1]
        idle = x["idle_rss_kib"] / 1024
        self.add("memory idle", f"RSS {idle:.1f} MiB "
                 f"(anon {x['idle_anon_kib'] / 1024:.1f} MiB)", "—", "—",
                 "≤ 16 MiB", idle <= 16,
                 "after start-up and 100 status calls", x)
        if "per_lease_kib" not in x:
            return self.missing("memory per lease", "≤ 2 KiB",
                                x.get("error", "leases not acquired"))
        per = x["per_lease_kib"]
        at10k = (x["idle_rss_kib"] + 10000 * per) / 1024
        self.add("memory per lease", f"{per:.2f} KiB/lease",
                 "—", "—", "≤ 2 KiB", per <= 2,
                 f"fresh daemon, {x['leases']} real leases (slope "
                 f"{x['half']}→{x['leases']}: {x['half_kib'] / 1024:.1f}→"
                 f"{x['full_kib'] / 1024:.1f} MiB), extrapolated: "
                 f"~{at10k:.0f} MiB at 10 000", x)

    def startup(self):
        runs = load(self.raw, "startup")
        if not runs:
            return self.missing("start-up", "≤ 100 ms",
                                skipped(self.raw, "startup"))
        x = runs[-1]
        r, s = x["ready"], x["status"]
        self.add("start-up", "to READY=1 " + lat(r), "—", "—", "≤ 100 ms",
                 r["p50_us"] <= 100000,
                 f"to first status p50 {us(s['p50_us'])}; "
                 f"{r['n']} starts, range {us(r['min_us'])}–"
                 f"{us(r['max_us'])}", x)

    def load(self):
        runs = load(self.raw, "load")
        target = "all answered; no fd leak; RSS growth < 32 MiB"
        if not runs:
            return self.missing("load", target, skipped(self.raw, "load"))
        x = runs[-1]
        growth = x["rss_after_kib"] - x["rss_before_kib"]
        mid = x.get("rss_after_wave1_kib", x["rss_before_kib"])
        ok = (x["failed"] == 0 and x["fds_after"] <= x["fds_before"] and
              x["rss_before_kib"] > 0 and growth < RSS_GROWTH_KIB)
        pm = x["per_method"]
        warm = read_text(self.raw, "load.warm")
        pool = (f"{warm} of {x['clients']} sandboxes warm at the start; "
                "a released sandbox is stopped, so later rounds wait on "
                "the refill" if warm else "pool size not recorded")
        self.add("load", f"{x['clients']} clients, {x['requests']} requests "
                 f"({x['ops_s']:.0f}/s): " + lat(x), "—", "—", target, ok,
                 f"{x['failed']} failed ({x.get('timed_out', 0)} timed "
                 f"out); exec {lat(pm['exec'])} (the daemon's own path), "
                 f"release {lat(pm['release'])}, acquire "
                 f"{lat(pm['acquire'])} (includes any wait for the pool: "
                 f"{pool}); daemon fds {x['fds_before']}→{x['fds_after']}, "
                 f"RSS {x['rss_before_kib'] / 1024:.1f}→"
                 f"{mid / 1024:.1f}→{x['rss_after_kib'] / 1024:.1f} MiB "
                 f"(before, after the first and the second of two equal "
                 f"waves: the first sets the high-water mark for "
                 f"{x['clients']} clients, the second adds "
                 f"{(x['rss_after_kib'] - mid) / 1024:+.1f} MiB)", x)

    # --- output ------------------------------------------------------------

    def table(self):
        head = ("case", "measured", "baseline (same run)", "ratio",
                "target", "met?", "spread / notes")
        lines = ["| " + " | ".join(head) + " |",
                 "|" + "|".join(" --- " for _ in head) + "|"]
        for row in self.rows:
            lines.append("| " + " | ".join(str(c) for c in row) + " |")
        return "\n".join(lines)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: report.py RAW_DIR OUT_JSON")
    raw, out = sys.argv[1], sys.argv[2]
    rep = Report(raw)
    # Only the cases run.sh ran (BENCH_CASES), else every one.
    ran = (read_text(raw, "cases") or "").split()
    table = (("floor", rep.floor), ("warm_lease", rep.warm_lease),
             ("proxy", lambda: rep.proxy(
                 "exec proxy", "exec true", "gRPC Exec",
                 lambda r, over: over <= 100, "p50 overhead ≤ 100 µs")),
             ("proxy", lambda: rep.proxy(
                 "status proxy", "lease.get", "gRPC Get",
                 lambda r, over: r <= 1.5, "≤ 1.5×")),
             ("short_task", rep.short_task), ("throughput", rep.throughput),
             ("streaming", rep.streaming), ("tail", rep.tail),
             ("memory", rep.memory), ("startup", rep.startup),
             ("load", rep.load))
    for name, case in table:
        if not ran or name in ran:
            case()
    with open(os.path.join(raw, "machine.json")) as f:
        machine = json.load(f)
    print(f"machine: {machine['cpu']}, {machine['nproc']} cores, "
          f"kernel {machine['kernel']}; load average at start "
          f"{machine['loadavg_at_start']}; gateway isolation "
          f"{machine['isolation']}, start delay 0")
    print(rep.table())
    missed = [r[0] for r in rep.rows if r[5] == "MISSED"]
    unmeasured = [r[0] for r in rep.rows if r[1] == "not measured"]
    if missed:
        print("targets missed: " + ", ".join(missed))
    if unmeasured:
        print("not measured: " + ", ".join(unmeasured))
    with open(out, "w") as f:
        json.dump({"machine": machine, "cases": rep.cases}, f, indent=1,
                  ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
