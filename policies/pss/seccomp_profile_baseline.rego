# METADATA
# title: Pod or container disables seccomp
# description: |
#   Pod Security Standards (baseline) check seccompProfile_baseline: seccomp filters the
#   system calls a container may make; Unconfined turns the filter off. From Kubernetes
#   1.19 on, a securityContext.seccompProfile (pod or container) must have type
#   RuntimeDefault or Localhost when it is set. Before 1.19 the check reads the alpha
#   annotations on the pod template's metadata
#   (seccomp.security.alpha.kubernetes.io/pod and
#   container.seccomp.security.alpha.kubernetes.io/<container>), which must be
#   runtime/default, docker/default or localhost/<profile>. At restricted from 1.19 on,
#   PSS-SECCOMP-PROFILE-RESTRICTED replaces this check.
#   Active only with `--pss baseline` or `--pss restricted` (data.pss.level).
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
# - https://kubernetes.io/docs/tutorials/security/seccomp/
# custom:
#   id: PSS-SECCOMP-PROFILE-BASELINE
#   severity: high
#   kinds: [kubernetes]
#   remediation: Set securityContext.seccompProfile.type to RuntimeDefault or Localhost, or remove it (older clusters - runtime/default in the seccomp annotations).
package builtin.pss.seccomp_profile_baseline

import data.lib.pss
import rego.v1

allowed_types := {"RuntimeDefault", "Localhost"}

pod_annotation := "seccomp.security.alpha.kubernetes.io/pod"

container_annotation_prefix := "container.seccomp.security.alpha.kubernetes.io/"

allowed_annotation(value) if value in {"runtime/default", "docker/default"}

allowed_annotation(value) if {
	is_string(value)
	startswith(value, "localhost/")
}

overridden if {
	pss.restricted
	pss.since(19)
}

# Before 1.19: the annotations.
deny contains {"msg": msg, "path": pss.annotation_path(pod_annotation)} if {
	pss.enabled
	not pss.since(19)
	value := pss.annotations[pod_annotation]
	not allowed_annotation(value)
	msg := sprintf("seccompProfile: annotation %s=%s (PSS %s): use runtime/default or localhost/<profile>", [pod_annotation, json.marshal(value), pss.label])
}

deny contains {"msg": msg, "path": pss.annotation_path(key)} if {
	pss.enabled
	not pss.since(19)
	some c in pss.containers
	key := concat("", [container_annotation_prefix, pss.name(c.container)])
	value := pss.annotations[key]
	not allowed_annotation(value)
	msg := sprintf("seccompProfile: annotation %s=%s (PSS %s): use runtime/default or localhost/<profile>", [key, json.marshal(value), pss.label])
}

# From 1.19 on: securityContext.seccompProfile.
deny contains {"msg": msg, "path": array.concat(pss.pod_security_context_path, ["seccompProfile", "type"])} if {
	pss.enabled
	pss.since(19)
	not overridden
	profile := pss.pod_security_context.seccompProfile
	profile != null
	type := pss.string_field(profile, "type")
	not type in allowed_types
	msg := sprintf("seccompProfile: the pod sets seccompProfile.type %q (PSS %s): use RuntimeDefault or Localhost", [type, pss.label])
}

deny contains {"msg": msg, "path": array.concat(c.path, ["securityContext", "seccompProfile", "type"])} if {
	pss.enabled
	pss.since(19)
	not overridden
	some c in pss.containers
	profile := pss.security_context(c.container).seccompProfile
	profile != null
	type := pss.string_field(profile, "type")
	not type in allowed_types
	msg := sprintf("seccompProfile: container %q sets seccompProfile.type %q (PSS %s): use RuntimeDefault or Localhost", [pss.name(c.container), type, pss.label])
}
