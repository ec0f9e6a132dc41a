# METADATA
# title: Container unmasks /proc
# description: |
#   `procMount: Unmasked` turns off the masking of sensitive `/proc` paths
#   (`/proc/kcore`, `/proc/sysrq-trigger`, ...) that container runtimes apply by
#   default: the container can read kernel memory information and trigger host actions.
#   It is only meant for nested container runtimes in user-namespaced pods. Always on,
#   unlike the opt-in Pod Security Standards check PSS-PROC-MOUNT (`--pss baseline`).
#   Overlaps: with `--pss`, PSS-PROC-MOUNT and PSS-PROC-MOUNT-RESTRICTED report the same
#   field once, as this rule's finding with their ID as a related rule (docs/pss.md).
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
# custom:
#   id: K8S039
#   severity: high
#   kinds: [kubernetes]
#   aliases: []
#   remediation: Remove securityContext.procMount or set it to Default.
package builtin.kubernetes.proc_mount

import data.lib.kubernetes as k8s
import rego.v1

deny contains {"msg": msg, "path": array.concat(c.path, ["securityContext", "procMount"])} if {
	some c in k8s.containers
	pm := k8s.security_context(c.container).procMount
	is_string(pm)
	pm != "Default"
	msg := sprintf("container %q sets procMount: %s, which unmasks /proc: remove it or set it to Default", [k8s.name(c.container), pm])
}
