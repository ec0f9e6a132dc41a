#!/usr/bin/env python3
"""Two (or more) builds of `policy`, side by side in one run, as ratios.

    bench/ab/ab.py [-n RUNS] NAME=BINARY NAME=BINARY ... -- ARGS...

Runs `BINARY ARGS...` for each build RUNS times (default 5), interleaved round by round
so that machine noise hits every build alike, after one warm-up round that is not
counted. For each build it reports the median wall time, CPU time (user + system of the
child, from `wait4`) and peak RSS, with the ratio to the first build, and whether every
build's standard output was byte-identical to the first build's (the point of most
comparisons: a change must not change a finding). `{out}` in ARGS is replaced by a
per-build output file, for `-o`.

The machines are shared and noisy: read the ratios, not the seconds.
"""

import os
import statistics
import sys
import tempfile
import time


def run(argv, out_path):
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 1)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 2)
        try:
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def main():
    args = sys.argv[1:]
    runs = 5
    if args[:1] == ["-n"]:
        runs = int(args[1])
        args = args[2:]
    if "--" not in args:
        print(__doc__)
        return 2
    split = args.index("--")
    builds = [b.split("=", 1) for b in args[:split]]
    rest = args[split + 1 :]
    tmp = tempfile.mkdtemp(prefix="policy-ab-")
    samples = {name: [] for name, _ in builds}
    outputs = {}
    for round_ in range(runs + 1):
        for name, binary in builds:
            out = os.path.join(tmp, f"{name}.out")
            file_arg = os.path.join(tmp, f"{name}.file")
            argv = [os.path.abspath(binary)] + [a.replace("{out}", file_arg) for a in rest]
            wall, cpu, rss, code = run(argv, out)
            if round_ > 0:
                samples[name].append((wall, cpu, rss, code))
            content = open(out, "rb").read()
            if os.path.exists(file_arg):
                content += open(file_arg, "rb").read()
            outputs[name] = content
    first = builds[0][0]
    base = {k: statistics.median(s[i] for s in samples[first]) for i, k in enumerate(("wall", "cpu", "rss"))}
    print(f"{runs} interleaved runs per build (medians); args: {' '.join(rest)}")
    print(f"  {'build':16} {'wall s':>8} {'CPU s':>8} {'RSS MiB':>8} {'exit':>5}  {'wall':>6} {'CPU':>6} {'RSS':>6}  output")
    for name, _ in builds:
        med = {k: statistics.median(s[i] for s in samples[name]) for i, k in enumerate(("wall", "cpu", "rss"))}
        codes = sorted({s[3] for s in samples[name]})
        same = "identical" if outputs[name] == outputs[first] else "DIFFERS"
        print(
            f"  {name:16} {med['wall']:8.3f} {med['cpu']:8.3f} {med['rss']:8.0f} {','.join(map(str, codes)):>5}"
            f"  {med['wall'] / base['wall']:5.2f}x {med['cpu'] / base['cpu']:5.2f}x {med['rss'] / base['rss']:5.2f}x  {same}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
