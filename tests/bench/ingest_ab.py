#!/usr/bin/env python3
"""Before/after CPU per event of two (or more) tenantsync builds, measured in one sitting.

Runs bench-ingest against each build's `tenantsync` in turn (--build-dir), alternating the order
every round (A B, B A, A B, ...) so a machine that slows down during the sitting weighs on every
build alike, and prints each run's figures, then the median and range per build of: the daemon's
CPU per accepted event until idle (tmpfs database), its receive path and writer parts, the no-op
server's CPU per request in the same run, the daemon/no-op ratio the benchmark prints (from the
long runs, and the median of its interleaved pairs of short runs, --cpu-pairs), and the disk
daemon's CPU and throughput. docs/BENCHMARKS.md, "Comparing two builds".

Bounded: rounds x builds runs of bench-ingest, each bounded by its own --seconds (capped at 60).
"""
import argparse
import os
import re
import statistics
import subprocess
import sys

FIGURES = [
    # (key, label, regex over bench-ingest's output)
    ("daemon", "daemon, tmpfs db, until idle (us/event)",
     r"until idle \(tmpfs db\): daemon ([0-9.]+) us/event"),
    ("receive", "  receive path (ts-in-*, ts-commit)",
     r"receive path \(ts-in-\*, ts-commit\) ([0-9.]+)"),
    ("writer", "  writer (ts-writer*)", r"writer folding events \(ts-writer\*\) ([0-9.]+)"),
    ("noop", "no-op server (us/request)", r"until idle \(tmpfs db\):.*; no-op ([0-9.]+);"),
    ("ratio", "daemon / no-op (timed run)", r"ratio ([0-9.]+) \[goal"),
    ("pairs", "daemon / no-op, interleaved pairs (median)",
     r"interleaved ratio median ([0-9.]+)"),
    ("disk", "daemon, disk db, during the run (us/event)", r"daemon on disk ([0-9.]+) us"),
    ("written", "file bytes written per event, tmpfs db",
     r"file bytes per event until idle \(tmpfs db\): written ([0-9.]+)"),
    ("tmpfs_rate", "accepted/s, tmpfs db", r"^daemon-tmpfs\s+\d+\s+[0-9.]+\s+\d+\s+(\d+)"),
    ("disk_rate", "accepted/s, disk db", r"^daemon-disk\s+\d+\s+[0-9.]+\s+\d+\s+(\d+)"),
    ("tmpfs_batch", "events per commit, tmpfs db",
     r"^daemon-tmpfs [^\n]*\n(?:[^\n]*\n){0,2}?\s+group commits: \d+, ([0-9.]+) events per"),
    ("disk_batch", "events per commit, disk db",
     r"^daemon-disk [^\n]*\n(?:[^\n]*\n){0,2}?\s+group commits: \d+, ([0-9.]+) events per"),
]


def parse(text):
    out = {}
    for key, _, pattern in FIGURES:
        m = re.search(pattern, text, re.MULTILINE)
        if m:
            out[key] = float(m.group(1))
    return out


def add_build_arguments(p):
    """The builds to compare and the bench-ingest that drives them (shared with
    ingest_instructions.py)."""
    p.add_argument("build_dirs", nargs="+", help="directories each holding a tenantsync binary")
    p.add_argument("--bench", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                   "..", "..", "build", "bench", "bench-ingest"),
                   help="the bench-ingest executable (default: build/bench/bench-ingest)")


def check_builds(a):
    """Exits naming the first build directory or bench-ingest that cannot be run."""
    for d in a.build_dirs:
        if not os.access(os.path.join(d, "tenantsync"), os.X_OK):
            sys.exit(f"{d}: no executable tenantsync there")
    if not os.access(a.bench, os.X_OK):
        sys.exit(f"{a.bench}: not an executable (build bench-ingest first)")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_build_arguments(p)
    p.add_argument("--rounds", type=int, default=3, help="rounds (1-10, default 3)")
    p.add_argument("--seconds", type=int, default=8, help="bench-ingest --seconds (default 8)")
    p.add_argument("--log-dir", default="", help="keep each run's full output here")
    p.add_argument("--ids", default="random", choices=["random", "sequential"],
                   help="bench-ingest --ids: the events' ids (default random, as UUIDs)")
    a = p.parse_args()
    if not 1 <= a.rounds <= 10:
        sys.exit("--rounds must be 1-10")
    if not 1 <= a.seconds <= 60:
        sys.exit("--seconds must be 1-60")
    check_builds(a)
    results = {d: [] for d in a.build_dirs}
    for r in range(a.rounds):
        order = a.build_dirs if r % 2 == 0 else list(reversed(a.build_dirs))
        for d in order:
            cmd = [a.bench, "--seconds", str(a.seconds), "--slow-clients", "0", "--keep-alive", "0",
                   "--ids", a.ids, "--build-dir", d]
            run = subprocess.run(cmd, capture_output=True, text=True, check=False)
            text = run.stdout + run.stderr
            if a.log_dir:
                os.makedirs(a.log_dir, exist_ok=True)
                name = f"{os.path.basename(os.path.normpath(d))}.{r + 1}.log"
                with open(os.path.join(a.log_dir, name), "w", encoding="utf-8") as f:
                    f.write(text)
            figures = parse(text)
            if run.returncode != 0 or "daemon" not in figures:
                print(text, file=sys.stderr)
                sys.exit(f"round {r + 1}, {d}: bench-ingest failed (exit {run.returncode})")
            results[d].append(figures)
            shown = ", ".join(f"{k} {v:g}" for k, v in figures.items())
            print(f"round {r + 1} {d}: {shown}", flush=True)
    print()
    print(f"medians of {a.rounds} (range), build order alternating each round:")
    width = max(len(label) for _, label, _ in FIGURES)
    print(" " * width + "".join(f"  {d[-24:]:>26}" for d in a.build_dirs))
    for key, label, _ in FIGURES:
        cells = []
        for d in a.build_dirs:
            values = [f[key] for f in results[d] if key in f]
            if not values:
                cells.append(f"{'-':>26}")
                continue
            cells.append(f"{statistics.median(values):>10g} ({min(values):g}-{max(values):g})"
                         .rjust(26))
        print(label.ljust(width) + "".join(f"  {c}" for c in cells))


if __name__ == "__main__":
    main()
