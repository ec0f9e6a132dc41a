# METADATA
# title: Container allows privilege escalation
# description: |
#   Pod Security Standards (restricted, Kubernetes 1.8 and later) check
#   allowPrivilegeEscalation: every container, init container and ephemeral container
#   must set securityContext.allowPrivilegeEscalation to false, so setuid binaries and
#   file capabilities cannot gain more privileges than the process started with. From
#   1.25 on, Windows pods (spec.os.name: windows) are exempt.
#   Active only with `--pss restricted` (data.pss.level).
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
# custom:
#   id: PSS-ALLOW-PRIVILEGE-ESCALATION
#   severity: medium
#   kinds: [kubernetes]
#   remediation: Set securityContext.allowPrivilegeEscalation to false on every container.
package builtin.pss.allow_privilege_escalation

import data.lib.pss
import rego.v1

exempt if {
	pss.since(25)
	pss.windows_pod
}

deny contains {"msg": msg, "path": array.concat(c.path, ["securityContext", "allowPrivilegeEscalation"])} if {
	pss.restricted
	pss.since(8)
	not exempt
	some c in pss.containers
	not pss.security_context(c.container).allowPrivilegeEscalation == false
	msg := sprintf("allowPrivilegeEscalation != false: container %q does not set allowPrivilegeEscalation=false (PSS %s): set securityContext.allowPrivilegeEscalation to false", [pss.name(c.container), pss.label])
}
