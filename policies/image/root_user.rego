# METADATA
# title: Image runs as root
# description: |
#   The image configuration sets no user (or root), so containers started from it run
#   as UID 0 unless the orchestrator overrides it.
# related_resources:
# - https://github.com/opencontainers/image-spec/blob/main/config.md
# custom:
#   id: IMG001
#   severity: medium
#   kinds: [image]
#   remediation: Rebuild the image with a non-root USER in its final stage.
package builtin.image.root_user

import rego.v1

runs_as_root if input.user == null

runs_as_root if input.user == ""

runs_as_root if {
	is_string(input.user)
	split(input.user, ":")[0] in {"root", "0"}
}

deny contains {"msg": msg, "path": ["user"]} if {
	input.format in {"docker-inspect", "oci-config", "docker-config", "skopeo-inspect", "oci-layout", "registry"}
	runs_as_root
	msg := sprintf("image%s runs as root (%s): set a non-root USER when building it", [name, user_text])
}

user_text := sprintf("user %q", [input.user]) if is_string(input.user)

else := "no user set"

name := sprintf(" %s", [input.name]) if is_string(input.name)

else := sprintf(" %s", [input.digest]) if is_string(input.digest)

else := ""
