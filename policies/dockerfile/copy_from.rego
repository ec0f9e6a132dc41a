# METADATA
# title: COPY --from names no earlier stage
# description: |
#   `COPY --from=NAME` copies from the stage called NAME; when no stage has that name,
#   BuildKit does not fail: it pulls an *image* called NAME (`docker.io/library/NAME:latest`)
#   and copies from that. A typo in a stage name, or a stage defined further down (a
#   stage can only copy from the stages before it), silently builds from an unpinned
#   image of a stranger. Also reported: a numeric `--from` that is not the index of an
#   earlier stage. Image references with a registry, path, tag or digest
#   (`--from=nginx:1.27`, `--from=ghcr.io/o/x@sha256:…`) are deliberate and not
#   reported; copying from the stage itself is DF021. If NAME is a named build context
#   (`docker buildx build --build-context NAME=…`), suppress the finding with that reason.
# related_resources:
# - https://docs.docker.com/reference/dockerfile/#copy---from
# - https://github.com/hadolint/hadolint/wiki/DL3022
# custom:
#   id: DF020
#   severity: medium
#   kinds: [dockerfile]
#   aliases: [DL3022]
#   remediation: Name an earlier stage (`FROM … AS NAME` above this line), or give a full, pinned image reference.
package builtin.dockerfile.copy_from

import rego.v1

deny contains {"msg": msg, "path": ["instructions", i, "from"]} if {
	some i, ins in input.instructions
	ins.cmd == "copy"
	src := ins.from
	is_string(src)
	not contains(src, "$")
	is_number(ins.stage)
	msg := problem(src, ins.stage)
}

# A stage defined later (or the index of one).
problem(src, cur) := sprintf("COPY --from=%s names stage %d (line %d), which comes later: a stage can only copy from the stages above it", [src, later, stage_line(later)]) if {
	later := stage_index(src)
	later > cur
}

# No stage of that name, and not an image reference.
else := sprintf("COPY --from=%s names no stage of this file: BuildKit pulls the image %s:latest from Docker Hub instead; fix the stage name or give a pinned image", [src, src]) if {
	not stage_index(src)
	not regex.match(`^[0-9]+$`, src)
	not regex.match(`[/:@.]`, src)
}

else := sprintf("COPY --from=%s is not the index of an earlier stage (the file has %d)", [src, count(input.stages)]) if {
	regex.match(`^[0-9]+$`, src)
	to_number(src) >= count(input.stages)
}

stage_index(src) := n if {
	regex.match(`^[0-9]+$`, src)
	n := to_number(src)
	n < count(input.stages)
}

stage_index(src) := min(js) if {
	not regex.match(`^[0-9]+$`, src)
	js := {k | some k, st in input.stages; is_string(st.name); lower(st.name) == lower(src)}
	count(js) > 0
}

stage_line(k) := input.stages[k].line
