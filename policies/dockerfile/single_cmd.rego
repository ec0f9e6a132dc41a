# METADATA
# title: More than one CMD or ENTRYPOINT in a stage
# description: |
#   Only the last CMD and the last ENTRYPOINT of a stage take effect; earlier ones are
#   silently replaced. A second CMD is usually a command someone expected to run at
#   build time (that is RUN) or a leftover from merging Dockerfiles. Each replaced
#   instruction is reported, with the line of the one that replaces it.
# related_resources:
# - https://docs.docker.com/reference/dockerfile/#cmd
# - https://github.com/hadolint/hadolint/wiki/DL4003
# - https://github.com/hadolint/hadolint/wiki/DL4004
# custom:
#   id: DF024
#   severity: low
#   kinds: [dockerfile]
#   aliases: [DL4003, DL4004]
#   remediation: Keep one CMD and one ENTRYPOINT per stage; use RUN for commands meant to run while building.
package builtin.dockerfile.single_cmd

import rego.v1

deny contains {"msg": msg, "path": ["instructions", i]} if {
	some i, ins in input.instructions
	ins.cmd in {"cmd", "entrypoint"}
	is_number(ins.stage)
	later := [l.line | some j, l in input.instructions; j > i; l.cmd == ins.cmd; l.stage == ins.stage]
	count(later) > 0
	msg := sprintf("%s has no effect: the %s on line %d replaces it; keep one %s per stage", [upper(ins.cmd), upper(ins.cmd), min(later), upper(ins.cmd)])
}
