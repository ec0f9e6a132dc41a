# METADATA
# title: Base image is not pinned by digest
# description: |
#   Tags are mutable: `alpine:3.20` can be re-pushed. Only a digest names exactly the
#   image you reviewed and scanned, which is what a signed, reproducible supply chain
#   needs.
# related_resources:
# - https://docs.docker.com/reference/dockerfile/#from
# custom:
#   id: DF003
#   severity: low
#   kinds: [dockerfile]
#   remediation: Append the digest to the base image (image:tag@sha256:...); let a bot such as Renovate keep it fresh.
package builtin.dockerfile.digest_pinning

import rego.v1

deny contains {"msg": msg, "path": ["stages", i, "base"]} if {
	some i, stage in input.stages
	base := stage.base
	not base.scratch
	base.stage == null
	base.digest == null
	base.tag != null
	base.tag != "latest"
	msg := sprintf("base image %q is not pinned by digest: append @sha256:<digest>", [base.image])
}
