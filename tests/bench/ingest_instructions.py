#!/usr/bin/env python3
"""User-space instructions per event of two (or more) tenantsync builds, counted by callgrind.

This VM's timing drifts by a third within an hour (docs/BENCHMARKS.md), so a change worth a few
microseconds per event does not show in ingest_ab.py's CPU times. Instruction counts do not drift:
this runs bench-ingest once per build with the daemon under `valgrind --tool=callgrind` (through
a wrapper script in a temporary --build-dir), reads the tmpfs daemon's profile and prints, per
event it acknowledged, the inclusive instructions of each stage:

  event loop     EventLoopServer::Impl::Run (reading, the ingress below, answering)
    ingress      Ingress::HandleAsync (signature, parse, validation, queueing)
  group commit   GroupCommitter::Run (the inbox inserts and commits, the answers' hand-back)
  writer fold    Writer::ApplyDueEvents (reading due events, folding, marking applied)
  whole process  everything, start-up (migrations) and shutdown included: compare the stages

What it does not count: time in the kernel (system calls, wake-ups, page copies), cache misses,
waiting. It complements ingest_ab.py, it does not replace it. Under callgrind the threads run one
at a time, so batches differ from a native run (more events per commit). Needs valgrind
(`apt install valgrind`, with callgrind_annotate). Bounded: one bench-ingest run per build, each
bounded by --seconds (capped at 30); every daemon is on loopback. docs/BENCHMARKS.md,
"Counting instructions".
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

from ingest_ab import add_build_arguments, check_builds

STAGES = [
    # (key, label, a substring of callgrind_annotate's function name)
    ("loop", "event loop", "tenantsync::http::EventLoopServer::Impl::Run()"),
    ("ingress", "  ingress", "tenantsync::Ingress::HandleAsync(tenantsync::ServerRequest,"),
    ("commit", "group commit", "tenantsync::GroupCommitter::Run()"),
    ("writer", "writer fold", "tenantsync::Writer::ApplyDueEvents(bool*)"),
]


def inclusive_counts(profile):
    """Inclusive instruction count of each stage and the program total, from one profile."""
    run = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", profile],
                         capture_output=True, text=True, check=True)
    out = {}
    for line in run.stdout.splitlines():
        m = re.match(r"^\s*([0-9,]+) \([ 0-9.]+%\)\s+(.*)$", line)
        if not m:
            continue
        count, name = int(m.group(1).replace(",", "")), m.group(2)
        if "PROGRAM TOTALS" in name:
            out["total"] = count
            continue
        # "file:function [binary]": the function itself, not a lambda or thread wrapper naming it;
        # of its lines (one per file its code came from), the largest is the function's own.
        function = name.split(":", 1)[1] if ":" in name else name
        for key, _, pattern in STAGES:
            if function.startswith(pattern) and count > out.get(key, 0):
                out[key] = count
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_build_arguments(p)
    p.add_argument("--seconds", type=int, default=5, help="bench-ingest --seconds (default 5)")
    p.add_argument("--tmpfs-dir", default="/dev/shm",
                   help="bench-ingest --tmpfs-dir: where the tmpfs daemon's database goes")
    a = p.parse_args()
    if not 1 <= a.seconds <= 30:
        sys.exit("--seconds must be 1-30")
    for tool in ("valgrind", "callgrind_annotate"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found (apt install valgrind)")
    check_builds(a)

    results = {}
    for d in a.build_dirs:
        with tempfile.TemporaryDirectory(prefix="ingest-instructions-") as tmp:
            binary = os.path.abspath(os.path.join(d, "tenantsync"))
            wrapper = os.path.join(tmp, "tenantsync")
            with open(wrapper, "w", encoding="utf-8") as f:
                f.write("#!/bin/sh\nexec valgrind --tool=callgrind "
                        f"--callgrind-out-file={tmp}/callgrind.%p.out {binary} \"$@\"\n")
            os.chmod(wrapper, 0o755)
            # No interleaved pairs: the events counted are the long run's.
            cmd = [a.bench, "--seconds", str(a.seconds), "--slow-clients", "0", "--keep-alive", "0",
                   "--cpu-pairs", "0", "--build-dir", tmp, "--tmpfs-dir", a.tmpfs_dir]
            run = subprocess.run(cmd, capture_output=True, text=True, check=False)
            text = run.stdout + run.stderr
            acked = re.search(r"durability check daemon-tmpfs: (\d+) acknowledged 202 .*: OK", text)
            if run.returncode != 0 or not acked:
                print(text, file=sys.stderr)
                sys.exit(f"{d}: bench-ingest failed (exit {run.returncode})")
            events = int(acked.group(1))
            # The tmpfs daemon's profile: its command line names the config under the tmpfs dir.
            profile = None
            for path in glob.glob(os.path.join(tmp, "callgrind.*.out")):
                with open(path, encoding="utf-8", errors="replace") as f:
                    head = "".join(f.readline() for _ in range(20))
                tmpfs = re.escape(a.tmpfs_dir.rstrip("/"))
                if re.search(rf"^cmd:.*--config {tmpfs}/", head, re.MULTILINE):
                    profile = path
            if profile is None:
                sys.exit(f"{d}: no callgrind profile of the tmpfs daemon")
            counts = inclusive_counts(profile)
            results[d] = (events, counts)
            shown = ", ".join(f"{k} {v / events / 1000:.1f}k" for k, v in counts.items())
            print(f"{d}: {events} events; per event: {shown}", flush=True)

    print()
    print("user-space instructions per acknowledged event (thousands), callgrind:")
    for d in a.build_dirs:
        counts = results[d][1]
        if all(k in counts for k in ("loop", "commit", "writer")):
            counts["stages"] = counts["loop"] + counts["commit"] + counts["writer"]
    rows = [(key, label) for key, label, _ in STAGES] + [
        ("stages", "loop + commit + writer"), ("total", "whole process (with start-up)")]
    width = max(len(label) for _, label in rows)
    print(" " * width + "".join(f"  {d[-14:]:>14}" for d in a.build_dirs) +
          ("  last/first" if len(a.build_dirs) > 1 else ""))
    for key, label in rows:
        cells, values = [], []
        for d in a.build_dirs:
            events, counts = results[d]
            if key in counts:
                values.append(counts[key] / events / 1000)
                cells.append(f"{values[-1]:>14.1f}")
            else:
                cells.append(f"{'-':>14}")
        ratio = ""
        if len(a.build_dirs) > 1 and len(values) == len(a.build_dirs) and values[0] > 0:
            ratio = f"  {values[-1] / values[0]:>10.3f}"
        print(label.ljust(width) + "".join(f"  {c}" for c in cells) + ratio)


if __name__ == "__main__":
    main()
