# METADATA
# title: Seccomp profile is not RuntimeDefault
# description: |
#   Without a seccomp profile a container can call every system call the kernel
#   offers, which widens the kernel attack surface. Pod Security Standards
#   (restricted) require RuntimeDefault or Localhost.
# related_resources:
# - https://kubernetes.io/docs/tutorials/security/seccomp/
# custom:
#   id: K8S007
#   severity: medium
#   kinds: [kubernetes]
#   aliases: [CKV_K8S_31]
#   remediation: Set securityContext.seccompProfile.type to RuntimeDefault (pod or container).
package builtin.kubernetes.seccomp

import data.lib.kubernetes as k8s
import rego.v1

allowed := {"RuntimeDefault", "Localhost"}

deny contains {"msg": msg, "path": array.concat(c.path, ["securityContext", "seccompProfile", "type"])} if {
	some c in k8s.containers
	profile := k8s.container_setting(c.container, "seccompProfile")
	type := profile_type(profile)
	not type in allowed
	msg := sprintf("container %q uses seccomp profile %s: use RuntimeDefault or Localhost", [k8s.name(c.container), quoted(type)])
}

deny contains {"msg": msg, "path": array.concat(c.path, ["securityContext", "seccompProfile"])} if {
	some c in k8s.containers
	not k8s.container_setting(c.container, "seccompProfile")
	msg := sprintf("container %q has no seccomp profile: set securityContext.seccompProfile.type to RuntimeDefault", [k8s.name(c.container)])
}

profile_type(profile) := object.get(profile, "type", null) if is_object(profile)

else := profile

quoted(x) := sprintf("%q", [x]) if is_string(x)

else := sprintf("%v", [x])
