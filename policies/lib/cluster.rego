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

# Namespace objects of the run, by name (the first one wins).
namespace_index[name] := i if {
	some name in {n | some o in kube; o.kind == "Namespace"; n := o.metadata.name; is_string(n)}
	i := min({j | some j, o in kube; o.kind == "Namespace"; o.metadata.name == name})
}

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
