# METADATA
# title: Container binds a host port
# description: |
#   Pod Security Standards (baseline) check hostPorts: a hostPort binds the container to
#   a port of the node's network interfaces, bypassing network policy and limiting
#   scheduling. Active only with `--pss baseline` or `--pss restricted` (data.pss.level).
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
# custom:
#   id: PSS-HOST-PORTS
#   severity: high
#   kinds: [kubernetes]
#   remediation: Remove ports[].hostPort (or set it to 0) and expose the pod through a Service.
package builtin.pss.host_ports

import data.lib.pss
import rego.v1

deny contains {"msg": msg, "path": array.concat(c.path, ["ports", i, "hostPort"])} if {
	pss.enabled
	some c in pss.containers
	some i, port in pss.as_array(c.container.ports)
	pss.present(port, "hostPort")
	port.hostPort != 0
	msg := sprintf("hostPort: container %q uses hostPort %v (PSS %s): remove hostPort and expose the pod through a Service", [pss.name(c.container), port.hostPort, pss.label])
}
