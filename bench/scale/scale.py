#!/usr/bin/env python3
"""Scale bench (issue 14): generated Deployments at several counts, as many files and as
one stream, reporting wall time, CPU and peak RSS of `policy eval`.

    bench/scale/scale.py POLICY_BINARY [COUNTS=1000,10000,100000] [WORK_DIR]

The documents come from bench/throughput/gen_deployments.py (deterministic, ~63 lines,
a third with one problem). Two layouts per count:

- files: COUNT/100 files of 100 documents each, given as one directory;
- stream: one multi-document YAML on stdin (`policy eval -`), with `--max-file-size`
  raised to the stream's size (the 16 MiB default would otherwise skip it, by design).

Peak RSS is the child's `ru_maxrss` from wait4. Findings are written as JSON to
/dev/null (the report is still built and serialised). The numbers depend on the machine's
load: compare counts with each other (is RSS flat? is time linear?), not with another run.
"""

import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
GEN = os.path.join(HERE, "..", "throughput", "gen_deployments.py")


def run(cmd, stdin=None):
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mib": usage.ru_maxrss / 1024,
        "code": os.waitstatus_to_exitcode(status),
        "err": err.strip().splitlines()[-1:] if err.strip() else [],
    }


def main():
    policy = os.path.abspath(sys.argv[1])
    counts = [int(c) for c in (sys.argv[2] if len(sys.argv) > 2 else "1000,10000,100000").split(",")]
    work = sys.argv[3] if len(sys.argv) > 3 else "/tmp/policy-scale"
    print(f"{'docs':>7} {'layout':7} {'wall s':>8} {'cpu s':>8} {'docs/s':>8} {'peak RSS MiB':>13} {'exit':>5}")
    for n in counts:
        top = os.path.join(work, str(n))
        if not os.path.isdir(top):
            subprocess.run([sys.executable, GEN, top, str(n), str(max(1, n // 100))], check=True)
        stream = os.path.join(work, f"{n}.yaml")
        if not os.path.exists(stream):
            with open(stream, "w") as out:
                first = True
                for name in sorted(os.listdir(top)):
                    with open(os.path.join(top, name)) as f:
                        if not first:
                            out.write("\n---\n")
                        out.write(f.read())
                        first = False
        cases = [
            ("files", [policy, "eval", "--no-config", "-f", "json", top], None),
            (
                "stream",
                [policy, "eval", "--no-config", "-f", "json", "--max-file-size",
                 str(os.path.getsize(stream) + 1), "--stdin-filename", "stream.yaml", "-"],
                stream,
            ),
        ]
        for layout, cmd, stdin_path in cases:
            stdin = open(stdin_path, "rb") if stdin_path else None
            try:
                r = run(cmd, stdin)
            finally:
                if stdin:
                    stdin.close()
            print(
                f"{n:7} {layout:7} {r['wall']:8.2f} {r['cpu']:8.2f} {n / r['wall']:8.0f} "
                f"{r['rss_mib']:13.0f} {r['code']:5}" + (f"  {r['err'][0][:100]}" if r["code"] not in (0, 1) else ""),
                flush=True,
            )


if __name__ == "__main__":
    main()
