# METADATA
# title: COPY --from names its own stage
# description: |
#   A stage cannot copy from itself: BuildKit reports a dependency cycle, or, when the
#   name is also an image name, copies from that image instead of the stage.
#   Overlaps: DF020 reports `--from` names that are no earlier stage; this rule the
#   current one.
# related_resources:
# - https://github.com/hadolint/hadolint/wiki/DL3023
# custom:
#   id: DF021
#   severity: medium
#   kinds: [dockerfile]
#   aliases: [DL3023]
#   remediation: Copy from an earlier stage, or use a plain COPY/RUN within the stage.
package builtin.dockerfile.copy_from_self

import rego.v1

deny contains {"msg": msg, "path": ["instructions", i, "from"]} if {
	some i, ins in input.instructions
	ins.cmd == "copy"
	is_string(ins.from)
	is_number(ins.stage)
	own(ins.from, input.stages[ins.stage])
	msg := sprintf("COPY --from=%s copies from the stage it is in: copy from an earlier stage", [ins.from])
}

own(src, st) if {
	is_string(st.name)
	lower(src) == lower(st.name)
}

own(src, st) if src == sprintf("%d", [st.index])
