"""Writes the BENCH-PROFILE lines of a bench run (ops/bench --profile) as collapsed-stack files,
one per dm-cow job, and a summary of each: samples by thread group, and the hottest frames by
self and by total samples."""
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

TOP = 30


def thread_group(frame):
    """'[pekko-dispatch-7 tid=123]' -> 'pekko-dispatch': threads of one pool count together."""
    name = re.sub(r"^\[|\s*tid=\d+\]$|\]$", "", frame)
    return re.sub(r"[-#]?\d+$", "", name)


def summarize(name, stacks, out):
    total = sum(stacks.values())
    threads, self_, incl = Counter(), Counter(), Counter()
    for stack, n in stacks.items():
        frames = stack.split(";")
        threads[thread_group(frames[0])] += n
        self_[frames[-1]] += n
        for f in set(frames[1:]):
            incl[f] += n
    out.append(f"== {name}: {total} samples (1 ms of CPU each)")
    for title, counter in (("threads", threads), ("self", self_), ("total", incl)):
        out.append(f"-- by {title}")
        for f, n in counter.most_common(TOP):
            out.append(f"{n:7d} {100 * n / total:5.1f}%  {f[:160]}")


def main(guest_out, out_dir):
    profiles = defaultdict(Counter)
    for line in Path(guest_out).read_text(errors="replace").splitlines():
        if line.startswith("BENCH-PROFILE "):
            _, config, job, rep, n, stack = line.split(" ", 5)
            profiles[f"{config}-{job}-{rep}"][stack.strip()] += int(n)
    if not profiles:
        sys.exit(f"profiles: no BENCH-PROFILE lines in {guest_out}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = []
    for name, stacks in sorted(profiles.items()):
        (out_dir / f"{name}.collapsed").write_text("".join(f"{s} {n}\n" for s, n in stacks.items()))
        summarize(name, stacks, summary)
    (out_dir / "summary.txt").write_text("\n".join(summary) + "\n")
    print(f"[bench] profiles of {len(profiles)} jobs in {out_dir}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
