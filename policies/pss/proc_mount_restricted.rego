# METADATA
# title: Container unmasks /proc (restricted)
# description: |
#   Pod Security Standards (restricted, Kubernetes 1.35 and later) check
#   procMount_restricted: it replaces PSS-PROC-MOUNT and keeps its strict form at
#   restricted: only the Default proc mount is allowed, even in pods that run in a user
#   namespace (spec.hostUsers: false).
#   Active only with `--pss restricted` (data.pss.level) at version 1.35 or later.
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
# custom:
#   id: PSS-PROC-MOUNT-RESTRICTED
#   severity: medium
#   kinds: [kubernetes]
#   remediation: Remove securityContext.procMount or set it to Default.
package builtin.pss.proc_mount_restricted

import data.lib.pss
import rego.v1

deny contains {"msg": msg, "path": array.concat(c.path, ["securityContext", "procMount"])} if {
	pss.restricted
	pss.since(35)
	some c in pss.containers
	mount := pss.string_field(pss.security_context(c.container), "procMount")
	not mount in {"", "Default"}
	msg := sprintf("procMount: container %q sets procMount %q (PSS %s): remove it or set it to Default", [pss.name(c.container), mount, pss.label])
}
