# METADATA
# title: Final USER is a name, not a numeric UID
# description: |
#   Kubernetes cannot check `runAsNonRoot: true` (K8S002, the Pod Security Standards)
#   against a user name: the kubelet refuses to start the container ("image has
#   non-numeric user, cannot verify user is non-root") unless the pod also sets
#   `runAsUser`. A name also depends on the image's /etc/passwd. Reported for the
#   final stage's last USER when its user part is a literal name other than root
#   (root is DF002); variables are left alone, and so are Windows images, whose users
#   have names and no UIDs (`ContainerUser`).
# related_resources:
# - https://kubernetes.io/docs/tasks/configure-pod-container/security-context/
# - https://github.com/hadolint/hadolint/wiki/DL3066
# custom:
#   id: DF029
#   severity: low
#   kinds: [dockerfile]
#   aliases: [DL3066]
#   remediation: Use the numeric UID (and GID), e.g. USER 65532:65532, or create the user with a fixed UID and name that.
package builtin.dockerfile.user_numeric

import data.lib.dockerfile as df
import rego.v1

users := [ins | some ins in input.instructions; ins.cmd == "user"; ins.stage == df.final_index]

deny contains {"msg": msg, "path": ["instructions", i, "user"]} if {
	count(users) > 0
	last := users[count(users) - 1]
	some i, ins in input.instructions
	ins.line == last.line
	ins.cmd == "user"
	name := trim_space(last.user)
	not regex.match(`^[0-9]+$`, name)
	not contains(name, "$")
	not lower(name) in {"root", ""}
	not windows
	msg := sprintf("the final USER %q is a name: Kubernetes cannot verify runAsNonRoot against it; use the numeric UID", [name])
}

# The final image is a Windows one: its chain starts from a Windows base image or
# the final stage names a Windows platform.
windows if {
	some i in df.final_chain
	img := lower(object.get(input.stages[i].base, "image", ""))
	some w in ["windows", "nanoserver", "servercore"]
	contains(img, w)
}

windows if {
	p := input.stages[df.final_index].platform
	is_string(p)
	contains(lower(p), "windows")
}
