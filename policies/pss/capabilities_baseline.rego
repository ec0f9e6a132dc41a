# METADATA
# title: Container adds a non-default capability
# description: |
#   Pod Security Standards (baseline) check capabilities_baseline: containers may add only
#   capabilities that container runtimes grant by default (AUDIT_WRITE, CHOWN,
#   DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP,
#   SETUID, SYS_CHROOT). Names are compared exactly, as the API server does (no CAP_
#   prefix, upper case). At restricted from Kubernetes 1.22 on, PSS-CAPABILITIES-RESTRICTED
#   replaces this check. Active only with `--pss` (data.pss.level).
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
# custom:
#   id: PSS-CAPABILITIES-BASELINE
#   severity: high
#   kinds: [kubernetes]
#   remediation: Remove the capability from securityContext.capabilities.add; only the runtime's default capabilities may be added.
package builtin.pss.capabilities_baseline

import data.lib.pss
import rego.v1

allowed := {
	"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
	"NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}

overridden if {
	pss.restricted
	pss.since(22)
}

deny contains {"msg": msg, "path": array.concat(c.path, ["securityContext", "capabilities", "add", i])} if {
	pss.enabled
	not overridden
	some c in pss.containers
	some i, cap in pss.as_array(pss.security_context(c.container).capabilities.add)
	not cap in allowed
	msg := sprintf("non-default capabilities: container %q adds %v (PSS %s): remove it from securityContext.capabilities.add", [pss.name(c.container), cap, pss.label])
}
