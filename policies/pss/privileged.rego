# METADATA
# title: Container runs privileged
# description: |
#   Pod Security Standards (baseline) check privileged: a privileged container has every
#   capability and the host's devices, so a compromise of the container is a compromise
#   of the node. Applies to containers, init containers and ephemeral containers.
#   Active only with `--pss baseline` or `--pss restricted` (data.pss.level).
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
# custom:
#   id: PSS-PRIVILEGED
#   severity: high
#   kinds: [kubernetes]
#   remediation: Remove securityContext.privileged or set it to false.
package builtin.pss.privileged

import data.lib.pss
import rego.v1

deny contains {"msg": msg, "path": array.concat(c.path, ["securityContext", "privileged"])} if {
	pss.enabled
	some c in pss.containers
	pss.security_context(c.container).privileged == true
	msg := sprintf("privileged: container %q sets privileged=true (PSS %s): remove securityContext.privileged or set it to false", [pss.name(c.container), pss.label])
}
