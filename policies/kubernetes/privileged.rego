# METADATA
# title: Container runs privileged
# description: |
#   A privileged container has every capability and access to the host's devices: a
#   compromise of the container is a compromise of the node. Pod Security Standards
#   (baseline) forbid it.
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
# custom:
#   id: K8S001
#   severity: high
#   kinds: [kubernetes]
#   aliases: [CKV_K8S_16]
#   remediation: Remove securityContext.privileged or set it to false.
package builtin.kubernetes.privileged

import data.lib.kubernetes as k8s
import rego.v1

deny contains {"msg": msg, "path": array.concat(c.path, ["securityContext", "privileged"])} if {
	some c in k8s.containers
	c.container.securityContext.privileged == true
	msg := sprintf("container %q runs privileged: set securityContext.privileged to false", [k8s.name(c.container)])
}
