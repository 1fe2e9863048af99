#!/usr/bin/env python3
"""Turn the guest's BENCH-RESULT and BENCH-FACT lines, and the daemon-alone benchmarks'
BENCH-DAEMON lines, into results.md, results.json and results.png.

Figures are medians over the repetitions; ratios compare each configuration with dm-linear
(and reads of untouched chunks with the raw base) and with dm-snapshot, as measured in the same
VM boot. The targets of issue #8 are goals: the report says which are met, it fails on none.
"""
import json
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

JOBS = [
    ("seqwrite-first", "sequential 1 MiB first writes", "MiB/s"),
    ("randwrite-first", "random 4 KiB first writes", "IOPS"),
    ("rewrite-mapped", "random 4 KiB rewrites of mapped chunks", "IOPS"),
    ("read-untouched", "random 4 KiB reads of untouched chunks", "IOPS"),
    ("read-rewritten", "random 4 KiB reads of rewritten chunks", "IOPS"),
    ("write-fsync", "4 KiB write + fsync", "IOPS"),
    ("first-write-fsync", "4 KiB first write + fsync, each to a new chunk", "IOPS"),
]


FACTS = [
    ("faults_per_gib_seqwrite", "FAULT messages per GiB, sequential first writes"),
    ("faults_per_gib_randwrite", "FAULT messages per GiB, random 4 KiB first writes"),
    ("fills_per_gib_seqwrite", "chunks filled per GiB, sequential first writes"),
    ("daemon_cpu_us_per_chunk_seqwrite", "dmcowd CPU µs per first-written chunk, sequential"),
    ("daemon_cpu_us_per_chunk_randwrite", "dmcowd CPU µs per first-written chunk, random 4 KiB"),
    ("segments", "mapped segments after the random first writes"),
    ("minimal_runs", "fewest possible (runs of adjacent mapped chunks)"),
    ("peak_rss_mib", "dmcowd peak RSS (VmHWM), MiB"),
] + [(f"daemon_cpu_ms_{job}", f"dmcowd CPU ms during {title}") for job, title, _ in JOBS]


def main(guest_out, out_dir, daemon_out=None):
    runs = defaultdict(list)
    facts = defaultdict(lambda: defaultdict(list))
    for line in Path(guest_out).read_text(errors="replace").splitlines():
        f = line.split()
        if f[:1] == ["BENCH-RESULT"] and len(f) == 8:
            config, job, _rep, iops, bw_kib, p50, p99 = f[1:]
            runs[(config, job)].append(
                {"iops": float(iops), "mib_s": float(bw_kib) / 1024, "p50_us": float(p50), "p99_us": float(p99)})
        elif f[:1] == ["BENCH-FACT"] and len(f) == 5:
            facts[f[1]][f[2]].append(float(f[4]))
    daemon = {}
    if daemon_out and Path(daemon_out).exists():
        for line in Path(daemon_out).read_text(errors="replace").splitlines():
            f = line.split()
            if f[:1] == ["BENCH-DAEMON"] and len(f) == 4:
                daemon[f[1]] = {"value": float(f[2]), "unit": f[3]}
    facts = {c: {k: statistics.median(v) for k, v in kv.items()} for c, kv in facts.items()}
    if not runs:
        sys.exit(f"report: no BENCH-RESULT lines in {guest_out}")
    configs = []
    for config, _ in runs:
        if config not in configs:
            configs.append(config)

    def median(config, job, unit):
        r = runs.get((config, job))
        if not r:
            return None
        key = "mib_s" if unit == "MiB/s" else "iops"
        return statistics.median(x[key] for x in r)

    results = {"configs": configs, "jobs": {}, "facts": facts, "daemon": daemon}
    for job, title, unit in JOBS:
        row = {c: median(c, job, unit) for c in configs}
        reps = {c: len(runs.get((c, job), [])) for c in configs}
        p99 = {c: statistics.median(x["p99_us"] for x in runs[(c, job)]) for c in configs if (c, job) in runs}
        results["jobs"][job] = {"title": title, "unit": unit, "median": row, "repetitions": reps, "p99_us": p99}

    def ratio(job, config, ref):
        row = results["jobs"][job]["median"]
        if ref == "linear" and job == "read-untouched":
            ref = "raw"
        a, b = row.get(config), row.get(ref)
        return None if a is None or not b else a / b

    lines = ["| job | unit | " + " | ".join(configs) + " |", "|---|---|" + "---:|" * len(configs)]
    for job, title, unit in JOBS:
        row = results["jobs"][job]["median"]
        cells = ["" if row[c] is None else f"{row[c]:,.0f}" if row[c] >= 10 else f"{row[c]:.2f}" for c in configs]
        lines.append(f"| {title} | {unit} | " + " | ".join(cells) + " |")
    for ref, label in (("linear", "dm-linear (raw base for untouched reads)"), ("snapshot", "dm-snapshot")):
        if ref not in configs:
            continue
        lines += ["", f"Ratio to {label}:", "",
                  "| job | " + " | ".join(configs) + " |", "|---|" + "---:|" * len(configs)]
        for job, title, _ in JOBS:
            cells = []
            for c in configs:
                r = ratio(job, c, ref)
                cells.append("" if r is None else f"{r:.2f}×" if r >= 0.1 else f"{r:.3f}×")
            lines.append(f"| {title} | " + " | ".join(cells) + " |")
    if facts:
        fc = list(facts)
        lines += ["", "Counts (medians over the repetitions):", "",
                  "| figure | " + " | ".join(fc) + " |", "|---|" + "---:|" * len(fc)]
        for key, title in FACTS:
            lines.append(f"| {title} | " + " | ".join(
                "" if key not in facts[c] else f"{facts[c][key]:,.0f}" for c in fc) + " |")
    if daemon:
        lines += ["", "The daemon alone (kernel double in its JVM, or in its own for own_process.*; memory spaces;"
                  " on the host):", "",
                  "| figure | value | unit |", "|---|---:|---|"]
        lines += [f"| {k} | {v['value']:,.1f} | {v['unit']} |" for k, v in daemon.items()]
    results["targets"] = targets(results, facts, daemon)
    if results["targets"]:
        lines += ["", "Targets (goals, not asserted):", "", "| target | figure | met |", "|---|---:|---|"]
        lines += [f"| {t['target']} | {t['figure']:,.3f} | {'yes' if t['met'] else 'no'} |"
                  for t in results["targets"]]
    out = Path(out_dir)
    (out / "results.md").write_text("\n".join(lines) + "\n")
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    chart(results, configs, out)
    print("\n".join(lines))
    print(f"\nwritten: {out / 'results.md'}, {out / 'results.json'}, {out / 'results.png'}")


def targets(results, facts, daemon):
    """Issue #8's goals against what was measured; a goal whose figures are missing is left out."""
    t = []
    jobs = results["jobs"]

    def ratio(job, config, ref):
        row = jobs[job]["median"]
        a, b = row.get(config), row.get(ref)
        return None if a is None or not b else a / b

    for c in (c for c in results["configs"] if c.startswith("cow-")):
        # issue #17's goals for the native format (qcow2: sequential first writes >= dm-snapshot)
        seq_goal = 1.0 if c.startswith("cow-qcow2") else 1.5
        for job, ref, goal, label in (
                ("rewrite-mapped", "linear", 0.97, "rewrite of mapped chunks vs dm-linear"),
                ("read-untouched", "raw", 0.98, "reads of untouched chunks vs raw"),
                ("seqwrite-first", "snapshot", seq_goal, "sequential first writes vs dm-snapshot"),
                ("seqwrite-first", "linear", 0.6, "sequential first writes vs dm-linear"),
                ("randwrite-first", "snapshot", 1.2, "random 4 KiB first writes vs dm-snapshot"),
                ("randwrite-first", "thin", 1.0, "random 4 KiB first writes vs dm-thin"),
                ("write-fsync", "snapshot", 1.0, "4 KiB write + fsync vs dm-snapshot"),
                ("first-write-fsync", "snapshot", 1.0, "4 KiB first write + fsync vs dm-snapshot"),
                ("randwrite-first", "qemu-nbd", 3.0, "random 4 KiB first writes vs qemu-nbd qcow2")):
            r = ratio(job, c, ref)
            if r is not None:
                t.append({"target": f"{c}: {label} >= {goal}x", "figure": r, "met": r >= goal})
        kv = facts.get(c, {})
        if kv.get("minimal_runs"):
            r = kv["segments"] / kv["minimal_runs"]
            t.append({"target": f"{c}: segments <= 1.2x minimal runs", "figure": r, "met": r <= 1.2})
        if "faults_per_gib_seqwrite" in kv:
            # 1 % of the 16,384 FAULTs per GiB of 64 KiB chunks that every first write cost before grants
            v = kv["faults_per_gib_seqwrite"]
            t.append({"target": f"{c}: FAULTs per GiB of sequential first writes <= 164", "figure": v,
                      "met": v <= 164})
    for key, goal, label, at_least in (
            ("faults_per_s", 500_000, "daemon: faults/s end to end >= 500k", True),
            ("at_50k_p99_us", 200, "daemon: p99 fault-to-map at 50k faults/s <= 200 us", False),
            ("own_process.faults_per_s", 500_000, "daemon in its own process: faults/s end to end >= 500k", True),
            ("own_process.at_50k_p99_us", 200,
             "daemon in its own process: p99 fault-to-map at 50k faults/s <= 200 us", False),
            ("rss_256.rss_mib", 200, "daemon: RSS with 256 volumes <= 200 MiB (default JVM options)", False),
            ("rss_256_small_heap.rss_mib", 200, "daemon: RSS with 256 volumes <= 200 MiB (96 MiB heap)", False)):
        if key in daemon:
            v = daemon[key]["value"]
            t.append({"target": label, "figure": v, "met": v >= goal if at_least else v <= goal})
    return t


def chart(results, configs, out):
    """Grouped bars: each job's median relative to dm-linear (raw for untouched reads)."""
    dat = out / "results.dat"
    with dat.open("w") as f:
        f.write("job " + " ".join(configs) + "\n")
        for job, _, _ in JOBS:
            row = results["jobs"][job]["median"]
            ref = row.get("raw" if job == "read-untouched" else "linear") or 0
            vals = [(row[c] / ref) if (row[c] is not None and ref) else 0 for c in configs]
            f.write(job + " " + " ".join(f"{v:.3f}" for v in vals) + "\n")
    plot = "\n".join([
        "set terminal png size 1100,520",
        f"set output '{out / 'results.png'}'",
        "set title 'fio medians relative to dm-linear (untouched reads: relative to the raw base)'",
        "set style data histograms", "set style histogram clustered gap 1", "set style fill solid 0.8",
        "set key outside right", "set xtics rotate by -20", "set ylabel 'ratio'", "set grid ytics",
        f"plot for [i=2:{len(configs) + 1}] '{dat}' using i:xtic(1) title columnheader(i)",
    ])
    subprocess.run(["gnuplot"], input=plot, text=True, check=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
