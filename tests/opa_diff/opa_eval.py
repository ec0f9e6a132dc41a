"""Evaluates Rego cases with OPA's own Go engine, for tests/opa_diff.rs.

Reads a JSON array of cases from stdin, each {"module": str, "query": str,
"input": any (optional), "data": object (optional)}, and writes a JSON array with,
per case, {"ok": [value, ...]} (every value of the query; [] when undefined) or
{"error": "..."}. Each case runs in a fresh engine. Needs the PyPI package
opa-golib-python-bindings (OPA's Go engine as a shared library); exits 3 when it
cannot be imported, so the test can skip with that reason.
"""

import json
import sys

try:
    from opa_bindings import OpaEngine, OpaError
except Exception as e:  # pragma: no cover - reported to the caller
    print(f"cannot import opa_bindings: {e!r}", file=sys.stderr)
    sys.exit(3)

VAR = "policy_query_result"


def run(case):
    engine = OpaEngine()
    try:
        engine.add_policy("case.rego", case["module"])
        if case.get("data") is not None:
            engine.add_data(case["data"])
        rows = engine.eval_query(f"{VAR} := {case['query']}", input=case.get("input"))
        return {"ok": [row[VAR] for row in rows]}
    except OpaError as e:
        return {"error": f"{e.code}: {e.message}"}
    finally:
        engine.close()


def main():
    cases = json.load(sys.stdin)
    json.dump([run(c) for c in cases], sys.stdout)


if __name__ == "__main__":
    main()
