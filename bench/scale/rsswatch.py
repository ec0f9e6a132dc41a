#!/usr/bin/env python3
"""Runs a command and prints its resident memory once a second, to see when memory grows.

    bench/scale/rsswatch.py [-i SECONDS] COMMAND ARGS...

Peak RSS alone (what `bench/scale/scale.py` and `bench/ab/ab.py` report) does not say
which phase of a run holds the memory; a run that streams its inputs should stay flat
while it reads them. Linux only (`/proc/PID/status`). The command's standard output is
discarded; its exit code is returned.
"""

import subprocess
import sys
import time


def rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        return None
    return None


def main(argv):
    interval = 1.0
    if len(argv) > 2 and argv[0] == "-i":
        interval = float(argv[1])
        argv = argv[2:]
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    start = time.monotonic()
    peak = 0
    while child.poll() is None:
        rss = rss_mib(child.pid)
        if rss is not None:
            peak = max(peak, rss)
            print(f"{time.monotonic() - start:7.1f} s {rss:6d} MiB", flush=True)
        time.sleep(interval)
    print(f"exit {child.returncode}, highest sample {peak} MiB", flush=True)
    return child.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
