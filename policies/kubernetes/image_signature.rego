# METADATA
# title: Container image signature cannot be verified
# description: |
#   With `policy eval --verify-images`, every container image of a workload (containers,
#   init and ephemeral containers) is resolved in its registry and its cosign signatures
#   are checked against `settings.trusted_keys`, as an admission controller such as
#   Kyverno's `verifyImages` would. An image that is unsigned, signed by another key,
#   unreachable or whose signature is for another digest is reported at its `image:`
#   field. Without `--verify-images` the rule is silent. See docs/supply-chain.md.
# related_resources:
# - https://kyverno.io/docs/writing-policies/verify-images/
# - https://docs.sigstore.dev/cosign/verifying/verify/
# custom:
#   id: K8S015
#   severity: high
#   kinds: [kubernetes]
#   remediation: Deploy only images signed in CI with a key listed in settings.trusted_keys (and pin them by digest).
package builtin.kubernetes.image_signature

import data.lib.kubernetes as k8s
import rego.v1

deny contains {"msg": msg, "path": array.concat(c.path, ["image"])} if {
	some c in k8s.containers
	image := c.container.image
	is_string(image)
	v := data.image_verification[image]
	v.verified != true
	msg := sprintf("container %q image %q: signature cannot be verified (%s): deploy images signed by a trusted key", [k8s.name(c.container), image, reason(v)])
}

reason(v) := v.error if is_string(v.error)

else := "unverified"
