# METADATA
# title: Build stage named after a reserved word
# description: |
#   `scratch` names the empty image and `context` the build context in BuildKit's named
#   contexts: a stage called `scratch` or `context` makes a later `FROM scratch` or
#   `--from=context` ambiguous to the reader, and which one the builder picks has
#   changed between builders. Reported at the stage name.
# related_resources:
# - https://docs.docker.com/reference/dockerfile/#from
# - https://github.com/hadolint/hadolint/wiki/DL3063
# custom:
#   id: DF028
#   severity: low
#   kinds: [dockerfile]
#   aliases: [DL3063]
#   remediation: Give the stage a descriptive name (build, runtime, ...).
package builtin.dockerfile.stage_name_reserved

import rego.v1

reserved := {"scratch", "context"}

deny contains {"msg": msg, "path": ["stages", i, "name"]} if {
	some i, stage in input.stages
	is_string(stage.name)
	lower(stage.name) in reserved
	msg := sprintf("stage %d is named %q, a reserved word (the empty image or the build context): rename it", [i, stage.name])
}
