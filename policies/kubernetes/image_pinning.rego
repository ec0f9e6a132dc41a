# METADATA
# title: Container image is not pinned
# description: |
#   A tag such as `latest` (or no tag at all) can point at a different image tomorrow:
#   deployments stop being reproducible and a compromised registry can swap the
#   image. Pin images by digest, or at least by an immutable version tag.
# related_resources:
# - https://kubernetes.io/docs/concepts/containers/images/#image-names
# custom:
#   id: K8S009
#   severity: medium
#   kinds: [kubernetes]
#   aliases: [CKV_K8S_14]
#   remediation: Use an explicit version tag and pin by digest (image@sha256:...).
package builtin.kubernetes.image_pinning

import data.lib.kubernetes as k8s
import rego.v1

deny contains {"msg": msg, "path": array.concat(c.path, ["image"])} if {
	some c in k8s.containers
	image := c.container.image
	is_string(image)
	not k8s.image_has_digest(image)
	not k8s.image_tag(image)
	msg := sprintf("container %q uses image %q without a tag: pin a version and a digest", [k8s.name(c.container), image])
}

deny contains {"msg": msg, "path": array.concat(c.path, ["image"])} if {
	some c in k8s.containers
	image := c.container.image
	is_string(image)
	k8s.image_tag(image) == "latest"
	msg := sprintf("container %q uses image %q: pin a version and a digest instead of latest", [k8s.name(c.container), image])
}
