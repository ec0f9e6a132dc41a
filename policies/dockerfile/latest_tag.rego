# METADATA
# title: Base image is not pinned to a version
# description: |
#   `FROM image` or `FROM image:latest` builds on whatever the registry serves that
#   day: builds stop being reproducible and a compromised or careless upstream can
#   change what you ship.
# related_resources:
# - https://docs.docker.com/build/building/best-practices/#pin-base-image-versions
# custom:
#   id: DF001
#   severity: medium
#   kinds: [dockerfile]
#   aliases: [DL3006, DL3007, CKV_DOCKER_7]
#   remediation: Pin the base image to a version tag, and preferably a digest (image:1.2.3@sha256:...).
package builtin.dockerfile.latest_tag

import data.lib.dockerfile as df
import rego.v1

deny contains {"msg": msg, "path": ["stages", i, "base"]} if {
	some i, stage in input.stages
	base := stage.base
	not base.scratch
	base.stage == null
	not df.variable_stage_reference(i)
	unpinned(base)
	msg := sprintf("base image %q is not pinned: use a version tag and a digest", [base.image])
}

unpinned(base) if base.tag == "latest"

unpinned(base) if {
	base.tag == null
	base.digest == null
}
