# METADATA
# title: CMD or ENTRYPOINT in shell form
# description: |
#   The shell form (`CMD node server.js`) runs the command as `/bin/sh -c "…"`: the
#   shell is PID 1, so `docker stop` and Kubernetes send SIGTERM to the shell, which
#   does not pass it on, and the process is killed after the grace period instead of
#   shutting down cleanly. A shell-form ENTRYPOINT also ignores CMD and `docker run`
#   arguments. Use the exec (JSON) form. Reported in the final stage and the stages it
#   builds on; build stages never run their CMD.
# related_resources:
# - https://docs.docker.com/reference/dockerfile/#shell-and-exec-form
# - https://github.com/hadolint/hadolint/wiki/DL3025
# custom:
#   id: DF023
#   severity: low
#   kinds: [dockerfile]
#   aliases: [DL3025]
#   remediation: Write the command as a JSON array, e.g. CMD ["node", "server.js"]; if a shell is needed, end the script with `exec` so the program becomes PID 1.
package builtin.dockerfile.exec_form

import data.lib.dockerfile as df
import rego.v1

deny contains {"msg": msg, "path": ["instructions", i, "args", 0]} if {
	some [i, ins] in df.final_instructions
	ins.cmd in {"cmd", "entrypoint"}
	ins.json == false
	count(ins.args) > 0
	trim_space(ins.args[0]) != ""
	msg := sprintf("%s in shell form runs under /bin/sh -c, which does not forward signals: write it as a JSON array (%s [\"…\", \"…\"])", [upper(ins.cmd), upper(ins.cmd)])
}
