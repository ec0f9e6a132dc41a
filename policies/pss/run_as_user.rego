# METADATA
# title: Pod or container runs as UID 0
# description: |
#   Pod Security Standards (restricted, Kubernetes 1.23 and later) check runAsUser:
#   runAsUser must not be 0 on the pod or on any container, init container or ephemeral
#   container (leaving it unset is allowed; runAsNonRoot then guards the image's user).
#   From 1.35 on, pods in a user namespace (spec.hostUsers: false) are exempt.
#   Active only with `--pss restricted` (data.pss.level).
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
# custom:
#   id: PSS-RUN-AS-USER
#   severity: medium
#   kinds: [kubernetes]
#   remediation: Set runAsUser to a non-zero UID, or remove it and rely on the image's non-root USER.
package builtin.pss.run_as_user

import data.lib.pss
import rego.v1

active if {
	pss.restricted
	pss.since(23)
	not exempt
}

exempt if {
	pss.since(35)
	pss.user_namespaced
}

deny contains {"msg": msg, "path": array.concat(pss.pod_security_context_path, ["runAsUser"])} if {
	active
	pss.pod_security_context.runAsUser == 0
	msg := sprintf("runAsUser=0: the pod runs as UID 0 (PSS %s): set spec.securityContext.runAsUser to a non-zero UID", [pss.label])
}

deny contains {"msg": msg, "path": array.concat(c.path, ["securityContext", "runAsUser"])} if {
	active
	some c in pss.containers
	pss.security_context(c.container).runAsUser == 0
	msg := sprintf("runAsUser=0: container %q runs as UID 0 (PSS %s): set securityContext.runAsUser to a non-zero UID", [pss.name(c.container), pss.label])
}
