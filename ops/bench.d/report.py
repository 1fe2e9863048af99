#!/usr/bin/env python3
"""Turn the guest's BENCH-RESULT lines into results.md, results.json and results.png.

Figures are medians over the repetitions; ratios compare each configuration with dm-linear
(and reads of untouched chunks with the raw base) and with dm-snapshot, as measured in the same
VM boot.
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
]


def main(guest_out, out_dir):
    runs = defaultdict(list)
    facts = {}
    for line in Path(guest_out).read_text(errors="replace").splitlines():
        f = line.split()
        if f[:1] == ["BENCH-RESULT"] and len(f) == 8:
            config, job, _rep, iops, bw_kib, p50, p99 = f[1:]
            runs[(config, job)].append(
                {"iops": float(iops), "mib_s": float(bw_kib) / 1024, "p50_us": float(p50), "p99_us": float(p99)})
        elif f[:1] == ["BENCH-FACT"] and len(f) >= 4:
            facts.setdefault(f[1], {})[f[2]] = " ".join(f[3:])
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

    results = {"configs": configs, "jobs": {}, "facts": facts}
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
        cells = ["" if row[c] is None else f"{row[c]:,.0f}" for c in configs]
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
                cells.append("" if r is None else f"{r:.2f}×")
            lines.append(f"| {title} | " + " | ".join(cells) + " |")
    for config, kv in facts.items():
        lines += ["", f"{config}: " + ", ".join(f"{k} = {v}" for k, v in kv.items())]
    out = Path(out_dir)
    (out / "results.md").write_text("\n".join(lines) + "\n")
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    chart(results, configs, out)
    print("\n".join(lines))
    print(f"\nwritten: {out / 'results.md'}, {out / 'results.json'}, {out / 'results.png'}")


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
    main(sys.argv[1], sys.argv[2])
