# METADATA
# title: COPY --from copies a stage's whole filesystem
# description: |
#   `COPY --from=build / /` brings the build stage's compilers, package caches and
#   sources into the image that ships, undoing what the multi-stage build was for, and
#   overwrites the base image's files with the build stage's. Copy the build output
#   only. Reported for a source of exactly `/` copied, in a stage of the final image,
#   from a stage of this file that runs a build (a RUN in it or a stage it builds on).
#   Images and stages that only name an image are left alone: some are made to be
#   copied whole (`COPY --from=tonistiigi/xx / /`). Flattening (a `FROM scratch` stage that
#   copies a prepared root filesystem to `/`) is what the pattern is for and is left
#   alone.
# related_resources:
# - https://docs.docker.com/build/building/multi-stage/
# - https://github.com/hadolint/hadolint/wiki/DL3067
# custom:
#   id: DF030
#   severity: medium
#   kinds: [dockerfile]
#   aliases: [DL3067]
#   remediation: Copy only the build output, e.g. COPY --from=build /out/app /usr/local/bin/app.
package builtin.dockerfile.copy_whole_stage

import data.lib.dockerfile as df
import rego.v1

deny contains {"msg": msg, "line": ins.line, "end_line": ins.end_line} if {
	some i, ins in input.instructions
	ins.cmd == "copy"
	is_string(ins.from)
	ins.stage in df.final_chain
	builds(ins.from)
	some src in ins.sources
	trim_space(src) in {"/", "/.", "/*"}
	not flatten(ins)
	msg := sprintf("COPY --from=%s %s copies the whole filesystem of %s into the final image: copy only the build output", [ins.from, src, ins.from])
}

flatten(ins) if {
	input.stages[ins.stage].base.scratch
	trim_suffix(trim_space(ins.dest), "/") == ""
}

# The stage `--from` names runs something (it or a stage it builds on has a RUN).
builds(from) if {
	some s, stage in input.stages
	stage_named(s, stage, from)
	chain := graph.reachable(df.stage_parents, {s})
	some ins in input.instructions
	ins.cmd == "run"
	ins.stage in chain
}

stage_named(_, stage, from) if {
	is_string(stage.name)
	lower(stage.name) == lower(from)
}

stage_named(s, _, from) if from == sprintf("%d", [s])
