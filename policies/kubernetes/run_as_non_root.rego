# METADATA
# title: Container may run as root
# description: |
#   Containers share the host kernel; a process running as UID 0 inside a container is
#   one kernel bug away from root on the node. Pod Security Standards (restricted)
#   require runAsNonRoot.
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
# custom:
#   id: K8S002
#   severity: medium
#   kinds: [kubernetes]
#   aliases: [CKV_K8S_23, CKV_K8S_29, CKV_K8S_30]
#   remediation: Set securityContext.runAsNonRoot to true (pod or container) and run as a non-zero runAsUser.
package builtin.kubernetes.run_as_non_root

import data.lib.kubernetes as k8s
import rego.v1

deny contains {"msg": msg, "path": array.concat(c.path, ["securityContext", "runAsNonRoot"])} if {
	some c in k8s.containers
	not k8s.container_setting(c.container, "runAsNonRoot") == true
	not non_root_uid(c.container)
	# runAsUser: 0 is the second rule's finding: one root cause, one finding.
	not k8s.container_setting(c.container, "runAsUser") == 0
	msg := sprintf("container %q may run as root: set securityContext.runAsNonRoot to true", [k8s.name(c.container)])
}

deny contains {"msg": msg, "path": array.concat(c.path, ["securityContext", "runAsUser"])} if {
	some c in k8s.containers
	k8s.container_setting(c.container, "runAsUser") == 0
	msg := sprintf("container %q runs as UID 0: set securityContext.runAsUser to a non-zero UID", [k8s.name(c.container)])
}

non_root_uid(container) if k8s.container_setting(container, "runAsUser") > 0
