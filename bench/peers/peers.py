#!/usr/bin/env python3
"""Side-by-side timing of `policy` against hadolint and checkov (issue 14), in one run.

    bench/peers.sh [POLICY_BINARY]          # installs the peers, then runs this

Two corpora, both read from ../shared/corpora (never copied into the repository):

- large: every Dockerfile of corpora/dockerfiles and every manifest of corpora/k8s;
- small: the first 20 Dockerfiles and the first 50 manifests (sorted by path), copied to a
  temporary directory, the size of a typical service repository.

Each tool checks each corpus RUNS times (default 3, env RUNS), alternating tools within a
round so that machine noise hits all of them alike; the median wall time is reported,
with the ratio peer / policy. The machines are shared: read the ratios, not the seconds.

- policy: `policy eval --no-config -f json DIR` (the full built-in set: Dockerfile,
  Kubernetes, PSS by namespace label, workflow and image rules; WASM cache warm after the
  first round, as on a developer machine or a CI runner with a cache);
- hadolint: one process over all the Dockerfiles (`hadolint --no-fail -f json FILES`);
- checkov: `checkov --skip-download --quiet --compact -o json --framework dockerfile
  kubernetes -d DIR` (no network: the Bridgecrew platform is not contacted).
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
CORPORA = os.environ.get(
    "POLICY_SHARED_CORPORA", os.path.join(ROOT, "..", "shared", "corpora")
)
RUNS = int(os.environ.get("RUNS", "3"))


def files(top, keep):
    out = []
    for d, _, names in os.walk(top):
        for n in names:
            p = os.path.join(d, n)
            if keep(n):
                out.append(p)
    return sorted(out)


def is_dockerfile(n):
    return n.endswith(".Dockerfile") or n == "Dockerfile" or n.startswith("Dockerfile.")


def is_manifest(n):
    return n.endswith((".yaml", ".yml", ".json")) and n != "INDEX.tsv"


def timed(cmd):
    start = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start, done.returncode


def main():
    policy = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target", "release", "policy"))
    if not os.path.isdir(CORPORA):
        print(f"skipped: {CORPORA} does not exist")
        return 0
    dockerfiles = files(os.path.join(CORPORA, "dockerfiles"), is_dockerfile)
    manifests = files(os.path.join(CORPORA, "k8s"), is_manifest)
    tmp = tempfile.mkdtemp(prefix="policy-peers-")
    try:
        corpora = {}
        for name, dfs, mfs in (
            ("large", dockerfiles, manifests),
            ("small", dockerfiles[:20], manifests[:50]),
        ):
            top = os.path.join(tmp, name)
            for i, f in enumerate(dfs):
                d = os.path.join(top, "docker", f"{i:04d}")
                os.makedirs(d)
                shutil.copy(f, os.path.join(d, "Dockerfile"))
            for i, f in enumerate(mfs):
                d = os.path.join(top, "k8s")
                os.makedirs(d, exist_ok=True)
                shutil.copy(f, os.path.join(d, f"{i:04d}-{os.path.basename(f)}"))
            corpora[name] = (top, files(os.path.join(top, "docker"), is_dockerfile), len(mfs))
        tools = {
            "policy": lambda top, dfs: [policy, "eval", "--no-config", "-f", "json", top],
            "policy (Dockerfiles only)": lambda top, dfs: [policy, "eval", "--no-config", "-f", "json", os.path.join(top, "docker")],
            "hadolint (Dockerfiles only)": lambda top, dfs: ["hadolint", "--no-fail", "-f", "json", *dfs],
            "checkov": lambda top, dfs: [
                "checkov", "--skip-download", "--quiet", "--compact", "-o", "json",
                "--framework", "dockerfile", "kubernetes", "-d", top,
            ],
        }
        # A warm-up round per tool (caches, page cache), not counted.
        for top, dfs, _ in corpora.values():
            for make in tools.values():
                timed(make(top, dfs))
        times = {(c, t): [] for c in corpora for t in tools}
        codes = {}
        for _ in range(RUNS):
            for c, (top, dfs, _) in corpora.items():
                for t, make in tools.items():
                    secs, code = timed(make(top, dfs))
                    times[(c, t)].append(secs)
                    codes[(c, t)] = code
        print(f"runs per cell: {RUNS} (median wall seconds); policy: {policy}")
        for c, (top, dfs, n_manifests) in corpora.items():
            print(f"\n{c}: {len(dfs)} Dockerfiles, {n_manifests} manifest files")
            base = statistics.median(times[(c, "policy")])
            base_df = statistics.median(times[(c, "policy (Dockerfiles only)")])
            print(f"  {'tool':30} {'median s':>9} {'min s':>7} {'exit':>5}  ratio")
            for t in tools:
                med = statistics.median(times[(c, t)])
                ref = base_df if "Dockerfiles only" in t else base
                ratio = f"{med / ref:6.1f}x policy{' (Dockerfiles only)' if ref is base_df else ''}"
                print(f"  {t:30} {med:9.3f} {min(times[(c, t)]):7.3f} {codes[(c, t)]:5}  {ratio}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
