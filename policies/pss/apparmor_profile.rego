# METADATA
# title: Pod or container overrides the default AppArmor profile
# description: |
#   Pod Security Standards (baseline) check appArmorProfile: AppArmor confines what a
#   container may do; turning it off (unconfined) or choosing an unknown profile type
#   removes that layer. Allowed are securityContext.appArmorProfile.type RuntimeDefault or
#   Localhost (pod or container) and the annotations
#   container.apparmor.security.beta.kubernetes.io/<container> with runtime/default,
#   localhost/<profile> or an empty value (on the pod template's metadata).
#   Active only with `--pss baseline` or `--pss restricted` (data.pss.level).
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
# - https://kubernetes.io/docs/tutorials/security/apparmor/
# custom:
#   id: PSS-APPARMOR-PROFILE
#   severity: high
#   kinds: [kubernetes]
#   remediation: Set securityContext.appArmorProfile.type to RuntimeDefault or Localhost (or remove it), and use runtime/default or localhost/<profile> in AppArmor annotations.
package builtin.pss.apparmor_profile

import data.lib.pss
import rego.v1

annotation_prefix := "container.apparmor.security.beta.kubernetes.io/"

allowed_types := {"RuntimeDefault", "Localhost"}

allowed_annotation(value) if value == ""

allowed_annotation(value) if value == "runtime/default"

allowed_annotation(value) if {
	is_string(value)
	startswith(value, "localhost/")
}

deny contains {"msg": msg, "path": array.concat(pss.pod_security_context_path, ["appArmorProfile", "type"])} if {
	pss.enabled
	profile := pss.pod_security_context.appArmorProfile
	profile != null
	type := pss.string_field(profile, "type")
	not type in allowed_types
	msg := sprintf("forbidden AppArmor profile: the pod sets appArmorProfile.type %q (PSS %s): use RuntimeDefault or Localhost", [type, pss.label])
}

deny contains {"msg": msg, "path": array.concat(c.path, ["securityContext", "appArmorProfile", "type"])} if {
	pss.enabled
	some c in pss.containers
	profile := pss.security_context(c.container).appArmorProfile
	profile != null
	type := pss.string_field(profile, "type")
	not type in allowed_types
	msg := sprintf("forbidden AppArmor profile: container %q sets appArmorProfile.type %q (PSS %s): use RuntimeDefault or Localhost", [pss.name(c.container), type, pss.label])
}

deny contains {"msg": msg, "path": pss.annotation_path(key)} if {
	pss.enabled
	some key, value in pss.annotations
	startswith(key, annotation_prefix)
	not allowed_annotation(value)
	msg := sprintf("forbidden AppArmor profile: annotation %s=%v (PSS %s): use runtime/default or localhost/<profile>", [key, value, pss.label])
}
