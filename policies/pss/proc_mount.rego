# METADATA
# title: Container unmasks /proc
# description: |
#   Pod Security Standards (baseline) check procMount: procMount Unmasked exposes /proc
#   paths the runtime normally masks (kernel and host information). Only the Default proc
#   mount is allowed; from Kubernetes 1.35 on, baseline allows any procMount in pods that
#   run in a user namespace (spec.hostUsers: false). At restricted from 1.35 on,
#   PSS-PROC-MOUNT-RESTRICTED replaces this check (without the user-namespace exemption).
#   Active only with `--pss baseline` or `--pss restricted` (data.pss.level).
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
# custom:
#   id: PSS-PROC-MOUNT
#   severity: high
#   kinds: [kubernetes]
#   remediation: Remove securityContext.procMount or set it to Default.
package builtin.pss.proc_mount

import data.lib.pss
import rego.v1

overridden if {
	pss.restricted
	pss.since(35)
}

exempt if {
	pss.since(35)
	pss.user_namespaced
}

deny contains {"msg": msg, "path": array.concat(c.path, ["securityContext", "procMount"])} if {
	pss.enabled
	not overridden
	not exempt
	some c in pss.containers
	mount := pss.string_field(pss.security_context(c.container), "procMount")
	not mount in {"", "Default"}
	msg := sprintf("procMount: container %q sets procMount %q (PSS %s): remove it or set it to Default", [pss.name(c.container), mount, pss.label])
}
