# METADATA
# title: Image exposes the SSH port
# description: |
#   An image that exposes port 22 runs (or invites running) an SSH server in the
#   container: one more privileged daemon, credentials managed by hand or baked into the
#   image, and a way in that bypasses the orchestrator's access control and audit log.
#   The Dockerfile counterpart is DF012.
# related_resources:
# - https://docs.docker.com/reference/dockerfile/#expose
# - https://www.cisecurity.org/benchmark/docker
# - https://kubernetes.io/docs/tasks/debug/debug-application/debug-running-pod/#ephemeral-container
# custom:
#   id: IMG003
#   severity: medium
#   kinds: [image]
#   remediation: Rebuild without sshd and `EXPOSE 22`; get a shell with `docker exec`, `kubectl exec` or `kubectl debug`.
package builtin.image.exposed_ssh

import rego.v1

deny contains {"msg": msg, "path": ["exposed_ports", i]} if {
	is_array(input.exposed_ports)
	some i, port in input.exposed_ports
	port in {"22", "22/tcp"}
	msg := sprintf("image%s exposes the SSH port (%s): do not run sshd in a container, use docker exec or kubectl exec/debug", [image_name, port])
}

image_name := sprintf(" %s", [input.name]) if is_string(input.name)

else := ""
