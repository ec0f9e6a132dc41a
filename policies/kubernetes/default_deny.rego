# METADATA
# title: Namespace runs workloads without a default-deny NetworkPolicy
# description: |
#   Without a NetworkPolicy that selects every pod of a namespace, all traffic to its
#   pods is allowed: one compromised pod anywhere in the cluster can reach them. A
#   default-deny policy (`podSelector: {}`, `policyTypes: [Ingress]` or no policyTypes,
#   no `ingress` rules) closes that, and narrower policies then open what is needed.
#   Only judged when the run looks like an environment: it declares at least one
#   Namespace (one application's manifests are not expected to ship the namespace's
#   NetworkPolicies; K8S101 uses the same test). Reported once per namespace that runs
#   workloads in this set: at the Namespace's
#   `metadata.name` when the Namespace is in the run, else at the `metadata.namespace` of
#   the namespace's first workload in input order (its `metadata` when it has none, in
#   `default`). kube-system, kube-public and kube-node-lease are left alone. A
#   cross-document rule, evaluated once over the whole run (`custom.input: combined`,
#   docs/inputs.md).
# related_resources:
# - https://kubernetes.io/docs/concepts/services-networking/network-policies/#default-deny-all-ingress-traffic
# custom:
#   id: K8S102
#   severity: medium
#   kinds: [kubernetes]
#   input: combined
#   aliases: [CKV2_K8S_6]
#   remediation: Add a NetworkPolicy with podSelector {} and policyTypes [Ingress] (and Egress) to the namespace, then allow the traffic each workload needs.
package builtin.kubernetes.default_deny

import data.lib.cluster
import rego.v1

workload_namespaces := {ns | some w in cluster.workloads; ns := cluster.namespace(w)} - cluster.system_namespaces

empty_selector(sel) if {
	is_object(sel)
	count(object.get(sel, "matchLabels", {})) == 0
	count(object.get(sel, "matchExpressions", [])) == 0
}

denies_ingress(spec) if {
	types := object.get(spec, "policyTypes", ["Ingress"])
	is_array(types)
	"Ingress" in types
	count(object.get(spec, "ingress", [])) == 0
}

# Namespaces with a default-deny policy, in one pass over the run.
default_deny := {cluster.namespace(np) |
	some np in cluster.kube
	np.kind == "NetworkPolicy"
	empty_selector(np.spec.podSelector)
	denies_ingress(np.spec)
}

anchor(ns) := [i, "contents", "metadata", "name"] if {
	i := cluster.namespace_index[ns]
} else := cluster.namespace_path(i, cluster.workloads[i]) if {
	i := cluster.first_workload[ns]
}

deny contains {"msg": msg, "path": anchor(ns)} if {
	count(cluster.namespace_index) > 0
	some ns in workload_namespaces - default_deny
	msg := sprintf("namespace %q runs workloads but no NetworkPolicy of this set denies ingress to all its pods by default: add one with podSelector {} and policyTypes [Ingress], then allow what each workload needs", [ns])
}
