# METADATA
# description: |
#   Helpers shared by the built-in cross-document Kubernetes rules. Those rules are
#   combined packages (`custom.input: combined`): evaluated once per run with
#   `input = [{"path": FILE, "contents": DOCUMENT}]`, and they point at a node with
#   `path: [INDEX, "contents", ...]` (docs/inputs.md). Objects are keyed by their index
#   in `input`, never put in sets, so that no whole document is ever hashed.
# scope: package
package lib.cluster

import rego.v1

# A streamed run keeps of each document only what these helpers and K8S101-K8S104 read
# (engine/src/eval/slim.rs): a rule that reads another field must add it there. It then
# computes K8S101-K8S104 in Rust (engine/src/eval/native.rs), with these files as the
# specification: a change here must be made there too, or its differential tests fail.

# Every Kubernetes object of the run, by index in input.
kube[i] := obj if {
	some i, entry in input
	obj := entry.contents
	is_object(obj)
	is_string(obj.apiVersion)
	is_string(obj.kind)
}

# An object's namespace (none: `default`, as for `kubectl apply`).
namespace(obj) := ns if {
	ns := obj.metadata.namespace
	is_string(ns)
	ns != ""
} else := "default"

# Namespaces that belong to the control plane; whole-set rules leave them alone.
system_namespaces := {"kube-system", "kube-public", "kube-node-lease"}

# Kinds that run pods, and where their pod template lives.
pod_spec_path(obj) := ["spec"] if obj.kind == "Pod"

pod_spec_path(obj) := ["spec", "template", "spec"] if {
	obj.kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"}
}

pod_spec_path(obj) := ["spec", "jobTemplate", "spec", "template", "spec"] if obj.kind == "CronJob"

pod_meta_path(obj) := ["metadata"] if obj.kind == "Pod"

pod_meta_path(obj) := ["spec", "template", "metadata"] if {
	obj.kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"}
}

pod_meta_path(obj) := ["spec", "jobTemplate", "spec", "template", "metadata"] if obj.kind == "CronJob"

# Workloads (pod-bearing objects), by index.
workloads[i] := obj if {
	some i, obj in kube
	pod_spec_path(obj)
}

# The labels of a workload's pods.
pod_labels(obj) := l if {
	l := object.get(obj, array.concat(pod_meta_path(obj), ["labels"]), {})
	is_object(l)
} else := {}

# Every container of a workload with its path inside the document.
containers(obj) := [{"container": c, "path": array.concat(pod_spec_path(obj), [field, j])} |
	spec := object.get(obj, pod_spec_path(obj), {})
	is_object(spec)
	some field in ["initContainers", "containers", "ephemeralContainers"]
	list := object.get(spec, field, [])
	is_array(list)
	some j, c in list
	is_object(c)
]

# Grouping without quadratic work: `[key, index]` pairs sorted once, and the first
# pair of each key (runs can hold thousands of namespaces and workloads).
first_of(pairs) := {p[0]: p[1] |
	some k, p in pairs
	first_in_group(pairs, k)
}

first_in_group(_, k) if k == 0

first_in_group(pairs, k) if {
	k > 0
	pairs[k - 1][0] != pairs[k][0]
}

# Namespace objects of the run, by name: the index of the first one.
namespace_index := first_of(sort([[n, i] |
	some i, o in kube
	o.kind == "Namespace"
	n := o.metadata.name
	is_string(n)
]))

# Workloads sorted by namespace, then index; and each namespace's range in that list.
workloads_by_namespace := sort([[namespace(w), i] | some i, w in workloads])

namespace_start := first_of([[p[0], k] | some k, p in workloads_by_namespace])

namespace_end[p[0]] := k + 1 if {
	some k, p in workloads_by_namespace
	not same_as_next(k)
}

same_as_next(k) if workloads_by_namespace[k + 1][0] == workloads_by_namespace[k][0]

# The first workload of each namespace, in input order.
first_workload := first_of(workloads_by_namespace)

# The indices of the workloads of namespace `ns`.
workloads_in(ns) := [p[1] |
	some p in array.slice(workloads_by_namespace, namespace_start[ns], namespace_end[ns])
]

# A name for messages.
display(obj) := sprintf("%s %q", [obj.kind, n]) if {
	n := obj.metadata.name
	is_string(n)
} else := sprintf("%s <unnamed>", [obj.kind])

# Where a finding about an object's namespace points: its metadata.namespace, or its
# metadata when it has none.
namespace_path(i, obj) := [i, "contents", "metadata", "namespace"] if {
	is_string(obj.metadata.namespace)
} else := [i, "contents", "metadata"] if {
	is_object(obj.metadata)
} else := [i, "contents", "kind"]
