# METADATA
# title: Container binds a host port
# description: |
#   A hostPort binds the container to a port on every network interface of its node:
#   the port is reachable from outside the cluster network, bypasses Services and
#   NetworkPolicies, and limits scheduling to one such pod per node and port. Always
#   on, unlike the opt-in Pod Security Standards check PSS-HOST-PORTS (`--pss
#   baseline`). `hostPort: 0` means unset and is not reported. Overlaps: with `--pss`,
#   PSS-HOST-PORTS reports the same port once, as this rule's finding with its ID as a
#   related rule (docs/pss.md).
# related_resources:
# - https://kubernetes.io/docs/concepts/configuration/overview/#services
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
# - https://kubernetes.io/docs/concepts/services-networking/network-policies/
# custom:
#   id: K8S013
#   severity: medium
#   kinds: [kubernetes]
#   aliases: [CKV_K8S_26]
#   remediation: Remove ports[].hostPort and expose the pod through a Service (NodePort or LoadBalancer if it must be reachable from outside).
package builtin.kubernetes.host_port

import data.lib.kubernetes as k8s
import rego.v1

deny contains {"msg": msg, "path": array.concat(c.path, ["ports", i, "hostPort"])} if {
	some c in k8s.containers
	ports := c.container.ports
	is_array(ports)
	some i, port in ports
	is_object(port)
	host_port := port.hostPort
	host_port != null
	host_port != 0
	msg := sprintf("container %q binds host port %v: remove hostPort and expose the pod through a Service", [k8s.name(c.container), host_port])
}
