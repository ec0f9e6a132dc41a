# METADATA
# title: Pod may run as root
# description: |
#   Pod Security Standards (restricted) check runAsNonRoot: runAsNonRoot must be true,
#   either on the pod (then containers may leave it unset) or on every container, init
#   container and ephemeral container; false is forbidden wherever it is set. From
#   Kubernetes 1.35 on, pods in a user namespace (spec.hostUsers: false) are exempt.
#   Active only with `--pss restricted` (data.pss.level).
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
# custom:
#   id: PSS-RUN-AS-NON-ROOT
#   severity: medium
#   kinds: [kubernetes]
#   remediation: Set spec.securityContext.runAsNonRoot to true (or set it to true on every container) and build the image with a non-root USER.
package builtin.pss.run_as_non_root

import data.lib.pss
import rego.v1

active if {
	pss.restricted
	not exempt
}

exempt if {
	pss.since(35)
	pss.user_namespaced
}

pod_non_root if pss.pod_security_context.runAsNonRoot == true

deny contains {"msg": msg, "path": array.concat(pss.pod_security_context_path, ["runAsNonRoot"])} if {
	active
	pss.pod_security_context.runAsNonRoot == false
	msg := sprintf("runAsNonRoot != true: the pod sets runAsNonRoot=false (PSS %s): set spec.securityContext.runAsNonRoot to true", [pss.label])
}

deny contains {"msg": msg, "path": array.concat(c.path, ["securityContext", "runAsNonRoot"])} if {
	active
	some c in pss.containers
	pss.security_context(c.container).runAsNonRoot == false
	msg := sprintf("runAsNonRoot != true: container %q sets runAsNonRoot=false (PSS %s): set securityContext.runAsNonRoot to true", [pss.name(c.container), pss.label])
}

deny contains {"msg": msg, "path": array.concat(c.path, ["securityContext", "runAsNonRoot"])} if {
	active
	not pod_non_root
	some c in pss.containers
	not pss.present(pss.security_context(c.container), "runAsNonRoot")
	msg := sprintf("runAsNonRoot != true: container %q does not set runAsNonRoot (PSS %s): set spec.securityContext.runAsNonRoot or the container's securityContext.runAsNonRoot to true", [pss.name(c.container), pss.label])
}
