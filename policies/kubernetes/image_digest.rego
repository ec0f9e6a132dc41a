# METADATA
# title: Container image is not pinned by digest
# description: |
#   A version tag is mutable: the registry can point `nginx:1.27` at a new image at any
#   time, so two nodes (or two restarts) may run different code, and a compromised
#   registry or account can replace it. A digest (`image@sha256:…`) names exactly one
#   image. Reported for tagged images without a digest; untagged and `latest` images
#   are K8S009's (one root cause, one finding). This also covers `imagePullPolicy`: for
#   a digest-pinned image the policy no longer matters, while `Always` on a mutable tag
#   only makes nodes agree on whatever the tag points at today. Info: many teams pin
#   digests at deploy time (Kustomize `images:`, Helm, Flux/Argo image automation)
#   rather than in the manifests.
# related_resources:
# - https://kubernetes.io/docs/concepts/containers/images/#image-names
# - https://kubernetes.io/docs/concepts/containers/images/#image-pull-policy
# custom:
#   id: K8S035
#   severity: info
#   kinds: [kubernetes]
#   aliases: [CKV_K8S_15, CKV_K8S_43]
#   remediation: Pin the image by digest (image:tag@sha256:…), by hand or with your deploy tool's image pinning.
package builtin.kubernetes.image_digest

import data.lib.kubernetes as k8s
import rego.v1

deny contains {"msg": msg, "path": array.concat(c.path, ["image"])} if {
	some c in k8s.containers
	image := c.container.image
	is_string(image)
	not k8s.image_has_digest(image)
	tag := k8s.image_tag(image)
	tag != "latest"
	not contains(image, "$")
	msg := sprintf("container %q uses image %q, a mutable tag: pin it by digest (%s@sha256:…)", [k8s.name(c.container), image, image])
}
