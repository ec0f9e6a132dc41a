# METADATA
# title: Two workloads claim the same host port
# description: |
#   A hostPort can be bound by one pod per node. When two workloads of the set claim the
#   same port and protocol (on the same host IP, or both on all addresses), their pods
#   can never share a node: the scheduler leaves one Pending, or a DaemonSet fails on
#   every node. Each claim is reported at its own `hostPort`, so either file can be
#   changed. A cross-document rule: it is evaluated once over the whole run
#   (`custom.input: combined`, docs/inputs.md). `hostPort: 0` means unset.
# related_resources:
# - https://kubernetes.io/docs/concepts/configuration/overview/#services
# custom:
#   id: K8S104
#   severity: medium
#   kinds: [kubernetes]
#   input: combined
#   remediation: Give each workload its own hostPort, or better, drop hostPort and expose the pods through a Service.
package builtin.kubernetes.host_port_conflict

import data.lib.cluster
import rego.v1

claims contains {"i": i, "port": port.hostPort, "protocol": protocol, "ip": ip, "path": path, "owner": cluster.display(obj)} if {
	some i, obj in cluster.workloads
	some c in cluster.containers(obj)
	ports := object.get(c.container, "ports", [])
	is_array(ports)
	some j, port in ports
	is_object(port)
	is_number(port.hostPort)
	port.hostPort != 0
	protocol := object.get(port, "protocol", "TCP")
	ip := object.get(port, "hostIP", "")
	path := array.concat([i, "contents"], array.concat(c.path, ["ports", j, "hostPort"]))
}

clash(a, b) if {
	a.port == b.port
	a.protocol == b.protocol
	a.path != b.path
	{a.ip, b.ip} & {"", "0.0.0.0", "::"} != set()
}

clash(a, b) if {
	a.port == b.port
	a.protocol == b.protocol
	a.path != b.path
	a.ip == b.ip
}

deny contains {"msg": msg, "path": a.path} if {
	some a in claims
	some b in claims
	clash(a, b)
	msg := sprintf("%s claims host port %v/%s, which %s claims too, so their pods can never run on the same node: give one of them another hostPort or use a Service", [a.owner, a.port, a.protocol, b.owner])
}
