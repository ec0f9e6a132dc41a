# METADATA
# title: Pod shares host namespaces
# description: |
#   hostNetwork, hostPID and hostIPC give the pod the node's network stack, process
#   table or IPC: it can sniff traffic, signal host processes or read shared memory.
#   Pod Security Standards (baseline) forbid them.
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
# custom:
#   id: K8S008
#   severity: high
#   kinds: [kubernetes]
#   aliases: [CKV_K8S_17, CKV_K8S_18, CKV_K8S_19]
#   remediation: Remove hostNetwork, hostPID and hostIPC (or set them to false).
package builtin.kubernetes.host_namespaces

import data.lib.kubernetes as k8s
import rego.v1

deny contains {"msg": msg, "path": array.concat(k8s.pod_spec_path, [field])} if {
	some field in ["hostNetwork", "hostPID", "hostIPC"]
	k8s.pod_spec[field] == true
	msg := sprintf("%s %q sets %s: remove it", [input.kind, k8s.resource_name, field])
}
