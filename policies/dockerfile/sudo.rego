# METADATA
# title: RUN uses sudo
# description: |
#   Build steps run as the current USER; `sudo` inside RUN means the image ships sudo
#   (a setuid-root binary and a sudoers policy: an escalation path for anyone who gets
#   a shell as the app user) and that privileges change in a way the Dockerfile does not
#   show. Switch users explicitly with `USER root` before the step and back to the
#   non-root user after it; at run time use a tool such as `gosu`/`su-exec` if the
#   entrypoint must drop privileges.
#   Token-based: a simple command (between `&&`, `;`, `|`, ...) whose first word is
#   `sudo`, in shell, exec and heredoc RUN forms.
# related_resources:
# - https://docs.docker.com/build/building/best-practices/#user
# - https://www.cisecurity.org/benchmark/docker
# custom:
#   id: DF013
#   severity: medium
#   kinds: [dockerfile]
#   aliases: [DL3004, CKV2_DOCKER_1]
#   remediation: Remove sudo; put `USER root` before the steps that need root and `USER <app user>` after them.
package builtin.dockerfile.sudo

import data.lib.dockerfile as df
import rego.v1

deny contains {"msg": msg, "line": ins.line, "end_line": ins.end_line} if {
	some i, cmds in df.run_commands
	ins := input.instructions[i]
	some words in cmds
	# Inline rather than df.program(words): a function call per command is what costs.
	words[0] in {"sudo", "/usr/bin/sudo", "/bin/sudo"}
	msg := "RUN uses sudo: use USER root before the step (and a non-root USER after it) instead of shipping sudo"
}
