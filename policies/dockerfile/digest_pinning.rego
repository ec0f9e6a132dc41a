# METADATA
# title: Base image is not pinned by digest
# description: |
#   Tags are mutable: `alpine:3.20` can be re-pushed. Only a digest names exactly the
#   image you reviewed and scanned, which is what a signed, reproducible supply chain
#   needs. Build stages (whose image does not ship) are reported as info: a tampered
#   builder can still change the artifact, but the final image's base matters most.
# related_resources:
# - https://docs.docker.com/reference/dockerfile/#from
# custom:
#   id: DF003
#   severity: low
#   kinds: [dockerfile]
#   remediation: Append the digest to the base image (image:tag@sha256:...); let a bot such as Renovate keep it fresh.
package builtin.dockerfile.digest_pinning

import data.lib.dockerfile as df
import rego.v1

deny contains result if {
	some i, stage in input.stages
	base := stage.base
	not base.scratch
	base.stage == null
	base.digest == null
	base.tag != null
	base.tag != "latest"
	result := finding(i, base)
}

finding(i, base) := {
	"msg": sprintf("base image %q is not pinned by digest: append @sha256:<digest>", [base.image]),
	"path": ["stages", i, "base"],
} if {
	i in df.final_chain
} else := {
	"msg": sprintf("base image %q of a build stage is not pinned by digest: append @sha256:<digest>", [base.image]),
	"path": ["stages", i, "base"],
	"severity": "info",
}
