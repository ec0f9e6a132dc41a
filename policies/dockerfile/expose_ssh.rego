# METADATA
# title: Image exposes the SSH port
# description: |
#   `EXPOSE 22` means an SSH server runs in the container: one more long-running
#   privileged daemon, with keys or passwords baked into the image or managed by hand,
#   and a way in that bypasses the orchestrator's access control and audit log.
#   Containers are entered with `docker exec` / `kubectl exec` or debug containers.
#   Only the final image counts (the final stage and the stages it builds on); a port
#   range that contains 22 is reported too.
# related_resources:
# - https://docs.docker.com/reference/dockerfile/#expose
# - https://www.cisecurity.org/benchmark/docker
# - https://kubernetes.io/docs/tasks/debug/debug-application/debug-running-pod/#ephemeral-container
# custom:
#   id: DF012
#   severity: medium
#   kinds: [dockerfile]
#   aliases: [CKV_DOCKER_1]
#   remediation: Do not run sshd in the container; remove `EXPOSE 22` and use `docker exec`, `kubectl exec` or `kubectl debug` to get a shell.
package builtin.dockerfile.expose_ssh

import data.lib.dockerfile as df
import rego.v1

deny contains {"msg": msg, "path": ["instructions", i, "ports", p]} if {
	some [i, ins] in df.final_instructions
	ins.cmd == "expose"
	some p, port in ins.ports
	port.protocol == "tcp"
	includes_22(port.port)
	msg := sprintf("EXPOSE %s exposes the SSH port 22: do not run sshd in a container, use docker exec or kubectl exec/debug instead", [ins.args[p]])
}

includes_22(port) if port == 22

includes_22(port) if {
	is_string(port)
	regex.match(`^[0-9]+-[0-9]+$`, port)
	parts := split(port, "-")
	to_number(parts[0]) <= 22
	to_number(parts[1]) >= 22
}
