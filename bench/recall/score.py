#!/usr/bin/env python3
"""Recall and precision of policy, hadolint and checkov against hand labels.

Usage: score.py CORPORA LABELS POLICY_JSON HADOLINT_JSONL CHECKOV_JSON PARSED_DIR

Every finding of every tool is normalised to a *problem key* (file, anchor, class):

- class: the problem, named by our rule ID when one covers it (peer IDs are mapped through
  engine/src/rules/peers/*.tsv), else the peer's own ID;
- anchor: for Dockerfiles the first line of the instruction the finding is on (`-` for
  problems of the whole file: no HEALTHCHECK, no USER), for manifests the resource
  (`Kind/name`; checkov reports whole resources, not lines).

PARSED_DIR holds `policy parse FILE` output for every input, named after its path with
`/` replaced by `__`.

LABELS lists the real problems (file, anchor, class). A tool's finding is a true positive
when its key is labelled; recall is labelled keys found / labelled keys, precision is true
keys / keys reported. Lines are compared exactly: a finding on another instruction does
not count.
"""
import csv, json, os, re, sys
from collections import defaultdict

corpora, labels_path, policy_json, hadolint_jsonl, checkov_json, parsed_dir = sys.argv[1:7]
repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# peer ID -> our rule (first listed), from the coverage tables
peer_map = {}
for peer in ("hadolint", "checkov"):
    for line in open(os.path.join(repo, "engine/src/rules/peers", peer + ".tsv")):
        if not line.strip() or line.startswith("#"):
            continue
        f = line.rstrip("\n").split("\t")
        ours = f[2].strip()
        if ours != "-":
            peer_map[f[0]] = ours.split(",")[0].strip()

FILE_LEVEL = {"DF009", "DF002"}

# Checks that name a broader root cause than the rule the tables map them to: scored
# under their own ID so that they are judged on their own.
OWN_CLASS = {"CKV_K8S_29", "CKV_K8S_30"}
# Rules of ours that split one root cause in two (mutable image reference).
SAME_CLASS = {"K8S035": "K8S009"}

def cls(rule):
    c = rule if rule in OWN_CLASS else peer_map.get(rule, rule)
    return SAME_CLASS.get(c, c)

# Dockerfile instruction ranges and YAML document ranges
ins_ranges = {}
def instruction_start(path, line):
    if path not in ins_ranges:
        p = os.path.join(parsed_dir, path.replace("/", "__") + ".json")
        rs = []
        if not os.path.exists(p):
            p = None
        if p:
            d = json.load(open(p))
            v = d[0]["documents"][0]["input"]
            for i in v.get("instructions", []):
                rs.append((i["line"], i["end_line"]))
        ins_ranges[path] = rs
    for a, b in ins_ranges[path]:
        if a <= line <= b:
            return a
    return line

docs_of = {}
inputs_of = {}
def documents(path):
    """(kind, name) of every document of a manifest, from `policy parse`."""
    if path not in docs_of:
        p = os.path.join(parsed_dir, path.replace("/", "__") + ".json")
        out, ins = [], []
        if os.path.exists(p):
            for d in json.load(open(p))[0]["documents"]:
                v = d["input"] if isinstance(d["input"], dict) else {}
                md = v.get("metadata") if isinstance(v.get("metadata"), dict) else {}
                out.append((str(v.get("kind")), str(md.get("name"))))
                ins.append(v)
        docs_of[path] = out
        inputs_of[path] = ins
    return docs_of[path]

def inputs(path):
    documents(path)
    return inputs_of[path]

def get(v, *keys):
    for k in keys:
        v = v.get(k) if isinstance(v, dict) else None
    return v

def namespace(v):
    return get(v, "metadata", "namespace") or "default"

def pod_labels(v):
    """Labels of the pods a workload document runs (None when it runs none)."""
    kind = v.get("kind")
    if kind == "Pod":
        return get(v, "metadata", "labels") or {}
    if kind == "CronJob":
        t = get(v, "spec", "jobTemplate", "spec", "template")
    else:
        t = get(v, "spec", "template")
    return (get(t, "metadata", "labels") or {}) if isinstance(t, dict) else None

def selects(selector, labels):
    """Kubernetes label-selector semantics (matchLabels and matchExpressions)."""
    if not isinstance(selector, dict):
        return False
    for k, want in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != want:
            return False
    for e in selector.get("matchExpressions") or []:
        k, op, vals = e.get("key"), e.get("operator"), e.get("values") or []
        if op == "In" and labels.get(k) not in vals: return False
        if op == "NotIn" and labels.get(k) in vals: return False
        if op == "Exists" and k not in labels: return False
        if op == "DoesNotExist" and k in labels: return False
    return True

def anchor_of_doc(path, index):
    ds = documents(path)
    return "%s/%s" % ds[index] if index < len(ds) else "doc%d" % index

def anchor_of_resource(path, resource):
    kind = resource.split(".")[0]
    for k, n in documents(path):
        if k == kind and resource.endswith("." + n):
            return "%s/%s" % (k, n)
    if kind == "Pod":
        # checkov's graph checks name the pods a workload runs:
        # `Pod.<namespace>.<workload name>[.<label>-<value>...]`.
        rest = resource[len("Pod."):]
        for v, (k, n) in zip(inputs(path), documents(path)):
            if pod_labels(v) is not None and (rest == namespace(v) + "." + n or rest.startswith(namespace(v) + "." + n + ".")):
                return "%s/%s" % (k, n)
    return resource

def role_of_binding(path, anchor):
    """A RoleBinding's anchor replaced by the Role it binds, when that is in the file."""
    for v, (k, n) in zip(inputs(path), documents(path)):
        if "%s/%s" % (k, n) == anchor and k in ("RoleBinding", "ClusterRoleBinding"):
            ref = "%s/%s" % (get(v, "roleRef", "kind"), get(v, "roleRef", "name"))
            if ref in ("%s/%s" % d for d in documents(path)):
                return ref
    return anchor

def is_dockerfile(path):
    return path.endswith(".Dockerfile") or os.path.basename(path).startswith("Dockerfile")

def key(path, line, rule, doc=None, resource=None):
    c = cls(rule)
    if is_dockerfile(path):
        anchor = "-" if c in FILE_LEVEL else str(instruction_start(path, line))
    elif resource is not None:
        anchor = anchor_of_resource(path, resource)
    else:
        anchor = anchor_of_doc(path, doc)
    if c in ROLE_CLASSES:
        anchor = role_of_binding(path, anchor)
    return (path, anchor, c)

# Problems of a role's grants (reading all secrets): checkov reports them at the binding
# that gives the grant to a subject, policy at the Role. One root cause, scored at the
# Role the binding names when both are in the file.
ROLE_CLASSES = {"K8S033"}

def uncovered_pods(run_files, ns):
    """K8S102 names a namespace; checkov's CKV2_K8S_6, which the tables map to it, names
    each pod that no NetworkPolicy selects. One root cause: a K8S102 finding for
    namespace N stands for every workload of N in the run that no NetworkPolicy of N
    in the run selects (the pods a default-deny policy would cover), at that workload."""
    policies = [v for f in run_files for v in inputs(f)
                if v.get("kind") == "NetworkPolicy" and namespace(v) == ns]
    out = set()
    for f in run_files:
        for v, (k, n) in zip(inputs(f), documents(f)):
            labels = pod_labels(v)
            if labels is None or namespace(v) != ns:
                continue
            if any(selects(get(p, "spec", "podSelector"), labels) for p in policies):
                continue
            out.add((f, "%s/%s" % (k, n), "K8S102"))
    return out

tools = defaultdict(set)
# policy
policy_findings = json.load(open(policy_json))["findings"]
def rel(p):
    return os.path.relpath(p, corpora) if os.path.isabs(p) else p
# The manifests of the run (one `policy eval` over the whole sample).
run_manifests = [l.strip() for l in open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "manifests.txt")) if l.strip()]
for f in policy_findings:
    path = rel(f["file"])
    if f["rule_id"] == "K8S102":
        ns = re.search(r'namespace "([^"]*)"', f["message"]).group(1)
        pods = uncovered_pods(run_manifests, ns)
        if pods:
            tools["policy"] |= pods
            continue
    tools["policy"].add(key(path, f["start_line"], f["rule_id"], doc=f["document"]))
# hadolint
for line in open(hadolint_jsonl):
    line = line.strip()
    if not line:
        continue
    for f in json.loads(line):
        if f["code"].startswith("SC"):
            continue  # ShellCheck style notes are not in scope
        tools["hadolint"].add(key(f["file"], f["line"], f["code"]))
# checkov
for part in json.load(open(checkov_json)):
    for f in part["results"]["failed_checks"]:
        path = f["file_path"].lstrip("/")
        start = max(f["file_line_range"][0], 1)
        tools["checkov"].add(key(path, start, f["check_id"], resource=f["resource"]))

labels = set()
for row in csv.reader(open(labels_path), delimiter="\t"):
    if not row or row[0].startswith("#"):
        continue
    labels.add((row[0], row[1], row[2]))

def is_df(k):
    return k[0].endswith(".Dockerfile")

def report(name, subset):
    lab = {k for k in labels if subset(k)}
    out = []
    for tool in ("policy", "hadolint", "checkov"):
        got = {k for k in tools[tool] if subset(k)}
        tp = len(got & lab)
        rec = tp / len(lab) if lab else 0
        prec = tp / len(got) if got else 0
        out.append("%s %d/%d = %.0f%%, precision %d/%d = %.0f%%" % (tool, tp, len(lab), 100 * rec, tp, len(got), 100 * prec))
    print("%-12s " % name + " | ".join(out))

report("all", lambda k: True)
report("Dockerfile", is_df)
report("Kubernetes", lambda k: not is_df(k))
if "-v" in sys.argv:
    for tool in ("policy", "hadolint", "checkov"):
        for k in sorted(tools[tool] - labels):
            print("FP", tool, *k)
        for k in sorted(labels - tools[tool]):
            print("FN", tool, *k)
