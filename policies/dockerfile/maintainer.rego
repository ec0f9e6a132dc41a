# METADATA
# title: MAINTAINER is deprecated
# description: |
#   MAINTAINER has been deprecated since Docker 1.13: tools read the OCI annotation
#   `org.opencontainers.image.authors` (a LABEL), not the legacy author field it sets.
# related_resources:
# - https://docs.docker.com/reference/dockerfile/#maintainer-deprecated
# - https://github.com/hadolint/hadolint/wiki/DL4000
# custom:
#   id: DF026
#   severity: info
#   kinds: [dockerfile]
#   aliases: [DL4000, CKV_DOCKER_6]
#   remediation: Replace it with LABEL org.opencontainers.image.authors="…".
package builtin.dockerfile.maintainer

import rego.v1

deny contains {"msg": msg, "path": ["instructions", i]} if {
	some i, ins in input.instructions
	ins.cmd == "maintainer"
	msg := "MAINTAINER is deprecated: use LABEL org.opencontainers.image.authors=\"…\" instead"
}
