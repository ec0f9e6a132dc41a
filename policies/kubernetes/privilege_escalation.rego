# METADATA
# title: Privilege escalation is allowed
# description: |
#   Unless allowPrivilegeEscalation is false, a process can gain more privileges than
#   its parent (setuid binaries, file capabilities). Pod Security Standards
#   (restricted) require it to be false.
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
# custom:
#   id: K8S005
#   severity: medium
#   kinds: [kubernetes]
#   aliases: [CKV_K8S_20, CKV_K8S_29, CKV_K8S_30]
#   remediation: Set securityContext.allowPrivilegeEscalation to false.
package builtin.kubernetes.privilege_escalation

import data.lib.kubernetes as k8s
import rego.v1

deny contains {"msg": msg, "path": array.concat(c.path, ["securityContext", "allowPrivilegeEscalation"])} if {
	some c in k8s.containers
	not c.container.securityContext.allowPrivilegeEscalation == false
	msg := sprintf("container %q allows privilege escalation: set securityContext.allowPrivilegeEscalation to false", [k8s.name(c.container)])
}
