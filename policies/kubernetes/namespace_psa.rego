# METADATA
# title: Namespace does not enforce a Pod Security Standard
# description: |
#   Pod Security Admission enforces a Pod Security Standard per namespace through the
#   label `pod-security.kubernetes.io/enforce`. Without it the cluster default applies,
#   which is `privileged` (nothing enforced) unless the admission configuration says
#   otherwise; `warn` and `audit` labels only report. An explicit `enforce: privileged`
#   switches enforcement off for the namespace and is reported separately: it may be
#   needed for system components, and then deserves a suppression with a reason.
#
#   When the run declares Namespaces, a workload whose namespace is not among them is
#   reported too, at its `metadata.namespace` (at `metadata` when it has none and runs
#   in `default`): nothing in the run says which standard its namespace enforces. Runs
#   without any Namespace object are not judged this way (the namespaces are managed
#   elsewhere). This reads `data.inventory` (docs/inputs.md).
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-admission/
# - https://kubernetes.io/docs/tasks/configure-pod-container/enforce-standards-namespace-labels/
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/
# custom:
#   id: K8S010
#   severity: medium
#   kinds: [kubernetes]
#   remediation: Label the namespace with pod-security.kubernetes.io/enforce=restricted (or baseline), and pin the version with pod-security.kubernetes.io/enforce-version.
package builtin.kubernetes.namespace_psa

import rego.v1

enforce := "pod-security.kubernetes.io/enforce"

labels := l if {
	l := input.metadata.labels
	is_object(l)
} else := {}

name := input.metadata.name if is_string(input.metadata.name)

else := "<unnamed>"

deny contains {"msg": msg, "path": ["metadata", "labels", enforce]} if {
	input.kind == "Namespace"
	# A missing label is not a string (object.get: an undefined argument inside `not`
	# would make this line undefined, as in OPA).
	not is_string(object.get(labels, enforce, null))
	msg := sprintf("Namespace %q has no %s label, so no Pod Security Standard is enforced: label it restricted or baseline", [name, enforce])
}

deny contains {"msg": msg, "path": ["metadata", "labels", enforce]} if {
	input.kind == "Namespace"
	labels[enforce] == "privileged"
	msg := sprintf("Namespace %q enforces the privileged Pod Security Standard, which allows everything: enforce restricted or baseline", [name])
}

pod_kinds := {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob"}

namespaces := object.get(data, ["inventory", "cluster", "v1", "Namespace"], {})

workload_namespace := ns if {
	ns := input.metadata.namespace
	is_string(ns)
	ns != ""
} else := "default"

namespace_path := ["metadata", "namespace"] if is_string(input.metadata.namespace)

else := ["metadata"]

deny contains {"msg": msg, "path": namespace_path} if {
	input.kind in pod_kinds
	count(namespaces) > 0
	not namespaces[workload_namespace]
	msg := sprintf("%s %q runs in namespace %q, which is not declared in this set, so nothing here says which Pod Security Standard it enforces: add the Namespace with pod-security.kubernetes.io/enforce=restricted (or baseline)", [input.kind, name, workload_namespace])
}
