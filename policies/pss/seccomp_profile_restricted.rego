# METADATA
# title: Pod or container has no seccomp profile
# description: |
#   Pod Security Standards (restricted, Kubernetes 1.19 and later) check
#   seccompProfile_restricted: seccompProfile.type must be RuntimeDefault or Localhost,
#   set on the pod (containers may then leave it unset) or on every container, init
#   container and ephemeral container. It replaces PSS-SECCOMP-PROFILE-BASELINE at
#   restricted. From 1.25 on, Windows pods (spec.os.name: windows) are exempt.
#   Active only with `--pss restricted` (data.pss.level).
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
# - https://kubernetes.io/docs/tutorials/security/seccomp/
# custom:
#   id: PSS-SECCOMP-PROFILE-RESTRICTED
#   severity: medium
#   kinds: [kubernetes]
#   remediation: Set spec.securityContext.seccompProfile.type to RuntimeDefault (or Localhost with a profile).
package builtin.pss.seccomp_profile_restricted

import data.lib.pss
import rego.v1

allowed_types := {"RuntimeDefault", "Localhost"}

active if {
	pss.restricted
	pss.since(19)
	not exempt
}

exempt if {
	pss.since(25)
	pss.windows_pod
}

pod_profile := p if {
	p := pss.pod_security_context.seccompProfile
	p != null
}

pod_valid if pss.string_field(pod_profile, "type") in allowed_types

deny contains {"msg": msg, "path": array.concat(pss.pod_security_context_path, ["seccompProfile", "type"])} if {
	active
	type := pss.string_field(pod_profile, "type")
	not type in allowed_types
	msg := sprintf("seccompProfile: the pod sets seccompProfile.type %q (PSS %s): use RuntimeDefault or Localhost", [type, pss.label])
}

deny contains {"msg": msg, "path": array.concat(c.path, ["securityContext", "seccompProfile", "type"])} if {
	active
	some c in pss.containers
	profile := pss.security_context(c.container).seccompProfile
	profile != null
	type := pss.string_field(profile, "type")
	not type in allowed_types
	msg := sprintf("seccompProfile: container %q sets seccompProfile.type %q (PSS %s): use RuntimeDefault or Localhost", [pss.name(c.container), type, pss.label])
}

deny contains {"msg": msg, "path": array.concat(c.path, ["securityContext", "seccompProfile"])} if {
	active
	not pod_valid
	some c in pss.containers
	not pss.present(pss.security_context(c.container), "seccompProfile")
	msg := sprintf("seccompProfile: container %q has no seccomp profile (PSS %s): set spec.securityContext.seccompProfile.type to RuntimeDefault", [pss.name(c.container), pss.label])
}
