# METADATA
# title: WORKDIR is a relative path
# description: |
#   A relative WORKDIR is resolved against the WORKDIR of the base image, which the
#   Dockerfile does not show and which changes when the base image does (`/`, `/app`,
#   `/usr/src/app`, `/home/node`...). Reported when no earlier WORKDIR of the stage (or
#   of the stages it builds on) set an absolute path; after one, a relative path is
#   well defined.
# related_resources:
# - https://docs.docker.com/reference/dockerfile/#workdir
# - https://github.com/hadolint/hadolint/wiki/DL3000
# custom:
#   id: DF025
#   severity: low
#   kinds: [dockerfile]
#   aliases: [DL3000, CKV_DOCKER_10]
#   remediation: Use an absolute path, e.g. WORKDIR /app.
package builtin.dockerfile.workdir_absolute

import data.lib.dockerfile as df
import rego.v1

deny contains {"msg": msg, "path": ["instructions", i, "path"]} if {
	some i, ins in input.instructions
	ins.cmd == "workdir"
	is_number(ins.stage)
	p := trim_space(ins.path)
	not absolute(p)
	not anchored(i, ins.stage)
	msg := sprintf("WORKDIR %s is relative to the base image's working directory: use an absolute path", [p])
}

absolute(p) if startswith(p, "/")

absolute(p) if startswith(p, "$")

absolute(p) if startswith(p, "\\")

absolute(p) if regex.match(`^[A-Za-z]:`, p)

absolute(p) if startswith(p, "\"/")

# An earlier absolute WORKDIR in the stage or a stage it builds on.
anchored(i, stage) if {
	chain := graph.reachable(df.stage_parents, {stage})
	some j, w in input.instructions
	j < i
	w.cmd == "workdir"
	w.stage in chain
	absolute(trim_space(w.path))
}
