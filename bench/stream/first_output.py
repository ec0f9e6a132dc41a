#!/usr/bin/env python3
"""Streamed output bench (issue 14, item 1): when does `policy eval`'s first output
arrive, and how much memory does the run take, side by side for several binaries?

    bench/stream/first_output.py [-n RUNS] [-f FORMAT] NAME=BINARY... -- EVAL ARGS...

Each run starts `BINARY eval -f FORMAT EVAL_ARGS...` with stdout on a pipe, reads it
to the end, and records the time from start to the first byte, to half the bytes (does
the output come as the run goes, or in a burst?), to the end, the CPU time
and the peak RSS (the child's `ru_maxrss` from wait4). The binaries alternate, run after
run, so that the machine's load falls on each alike; the medians are printed, with each
binary's ratio to the first. Compare ratios, not absolute times: the machines are noisy.
"""

import os
import statistics
import subprocess
import sys
import time


def one(binary, fmt, args):
    start = time.perf_counter()
    proc = subprocess.Popen([binary, "eval", "-f", fmt, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    first = None
    size = 0
    arrivals = []
    while True:
        chunk = proc.stdout.read1(1 << 16)
        if not chunk:
            break
        now = time.perf_counter() - start
        if first is None:
            first = now
        size += len(chunk)
        arrivals.append((now, size))
    half = next((t for t, n in arrivals if n * 2 >= size), None)
    _, status, usage = os.wait4(proc.pid, 0)
    end = time.perf_counter() - start
    return {
        "first": first if first is not None else end,
        "half": half if half is not None else end,
        "end": end,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss": usage.ru_maxrss / 1024,
        "bytes": size,
        "code": os.waitstatus_to_exitcode(status),
    }


def main():
    argv = sys.argv[1:]
    if "--" not in argv:
        sys.exit(__doc__)
    split = argv.index("--")
    own, rest = argv[:split], argv[split + 1:]
    runs_n, fmt, binaries = 3, "text", []
    while own:
        arg = own.pop(0)
        if arg == "-n":
            runs_n = int(own.pop(0))
        elif arg in ("-f", "--format"):
            fmt = own.pop(0)
        else:
            binaries.append(arg)
    named = [b.split("=", 1) for b in binaries]
    runs = {name: [] for name, _ in named}
    for _ in range(runs_n):
        for name, binary in named:
            runs[name].append(one(binary, fmt, rest))
    base = None
    print(f"{'binary':12} {'first s':>8} {'half s':>8} {'end s':>8} {'cpu s':>8} {'RSS MiB':>8} {'bytes':>10} exit")
    for name, _ in named:
        r = runs[name]
        med = {k: statistics.median(x[k] for x in r) for k in ("first", "half", "end", "cpu", "rss")}
        base = base or med
        print(f"{name:12} {med['first']:8.2f} {med['half']:8.2f} {med['end']:8.2f} {med['cpu']:8.2f} {med['rss']:8.0f}"
              f" {r[0]['bytes']:10} {sorted(set(x['code'] for x in r))}"
              f"   ratios: first {med['first'] / base['first']:.2f}x, end {med['end'] / base['end']:.2f}x,"
              f" RSS {med['rss'] / base['rss']:.2f}x")


if __name__ == "__main__":
    main()
