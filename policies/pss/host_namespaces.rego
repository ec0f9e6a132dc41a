# METADATA
# title: Pod shares a host namespace
# description: |
#   Pod Security Standards (baseline) check hostNamespaces: a pod with hostNetwork,
#   hostPID or hostIPC set to true shares the node's network stack, process table or IPC
#   namespace, and can observe or interfere with every other workload on the node.
#   Active only with `--pss baseline` or `--pss restricted` (data.pss.level).
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
# custom:
#   id: PSS-HOST-NAMESPACES
#   severity: high
#   kinds: [kubernetes]
#   remediation: Remove spec.hostNetwork, spec.hostPID and spec.hostIPC, or set them to false.
package builtin.pss.host_namespaces

import data.lib.pss
import rego.v1

deny contains {"msg": msg, "path": array.concat(pss.pod_spec_path, [field])} if {
	pss.enabled
	some field in ["hostNetwork", "hostPID", "hostIPC"]
	pss.pod_spec[field] == true
	msg := sprintf("host namespaces: %s=true is forbidden (PSS %s): remove spec.%s or set it to false", [field, pss.label, field])
}
