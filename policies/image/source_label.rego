# METADATA
# title: Image does not name its source repository
# description: |
#   The OCI annotation `org.opencontainers.image.source` (as an image label, or an
#   annotation on the manifest or index) links an image to the repository it was built
#   from: registries show it, scanners and dependency bots use it to find the code and
#   its owners, and incident responders use it to trace a running image back to a
#   commit. Advisory (info). Only formats that carry the image configuration are
#   checked (docker inspect, image configs, skopeo inspect, OCI layouts).
# related_resources:
# - https://github.com/opencontainers/image-spec/blob/main/annotations.md#pre-defined-annotation-keys
# - https://docs.github.com/en/packages/learn-github-packages/connecting-a-repository-to-a-package
# - https://github.com/docker/metadata-action
# custom:
#   id: IMG004
#   severity: info
#   kinds: [image]
#   remediation: Add `LABEL org.opencontainers.image.source=https://github.com/<org>/<repo>` (docker/metadata-action sets it, with revision and version, in CI).
package builtin.image.source_label

import rego.v1

key := "org.opencontainers.image.source"

deny contains {"msg": msg, "path": ["labels"]} if {
	input.format in {"docker-inspect", "oci-config", "docker-config", "skopeo-inspect", "oci-layout", "registry"}
	not has_source
	msg := sprintf("image%s has no %s label: add it so the image can be traced to its source repository", [image_name, key])
}

has_source if non_empty(object.get(input, ["labels", key], null))

has_source if non_empty(object.get(input, ["annotations", key], null))

non_empty(v) if {
	is_string(v)
	trim_space(v) != ""
}

image_name := sprintf(" %s", [input.name]) if is_string(input.name)

else := ""
