#!/usr/bin/env python3
"""CPU per document of each built-in rule of a kind alone (issue 14, item 2).

    bench/throughput/per_rule.py POLICY_BINARY DIR [RUNS=3] [KIND=kubernetes]

For every rule of KIND in `POLICY rules -f json`, writes a config that turns
every other rule off, runs `POLICY eval --config CFG -j 1 -f json DIR` RUNS times
(interleaved with a run with every rule off and one with the whole set), and prints each
rule's CPU per document above the all-off run (min of the runs, from wait4). A rule
alone also pays for what it shares with others when the set runs together (the
`lib.kubernetes` values, the batch call), so the singles add up to more than the set.
DIR: for example the throughput workload (`gen_deployments.py /tmp/wl2k 2000 20`).
"""

import json
import os
import subprocess
import sys
import tempfile


def cpu(cmd):
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(proc.pid, 0)
    return usage.ru_utime + usage.ru_stime


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    binary, data = argv[0], argv[1]
    runs = int(argv[2]) if len(argv) > 2 else 3
    kind = argv[3] if len(argv) > 3 else "kubernetes"
    rules = json.loads(subprocess.run([binary, "rules", "-f", "json"], capture_output=True, check=True).stdout)
    ids = [r["id"] for r in rules]
    k8s = [r["id"] for r in rules if kind in r["kinds"]]
    docs = json.loads(
        subprocess.run([binary, "eval", "--no-config", "-f", "json", data], capture_output=True).stdout
    )["summary"]["inputs"]["documents"]
    with tempfile.TemporaryDirectory() as tmp:
        def config(name, on):
            path = os.path.join(tmp, f"{name}.yaml")
            with open(path, "w") as out:
                off = "".join(f"  {i}: off\n" for i in ids if i not in on)
                out.write("rules:\n" + off if off else "rules: {}\n")
            return path

        configs = {"none": config("none", set()), "all": config("all", set(ids))}
        configs.update({i: config(i, {i}) for i in k8s})
        times = {name: [] for name in configs}
        for _ in range(runs):
            for name, path in configs.items():
                times[name].append(cpu([binary, "eval", "--config", path, "-j", "1", "-f", "json", data]))
    base = min(times["none"])
    whole = min(times["all"])
    print(f"{docs} documents; every rule off: {base:.3f} s CPU ({base / docs * 1e6:.0f} us/doc)")
    print(f"whole set: {whole:.3f} s CPU, {(whole - base) / docs * 1e6:.0f} us/doc above it")
    rows = sorted((((min(times[i]) - base) / docs * 1e6), i) for i in k8s)
    for us, rule in reversed(rows):
        print(f"  {rule}  {us:6.1f} us/doc")
    print(f"sum of the rules alone: {sum(us for us, _ in rows):.0f} us/doc")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
