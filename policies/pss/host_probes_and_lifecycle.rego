# METADATA
# title: Probe or lifecycle hook targets another host
# description: |
#   Pod Security Standards (baseline, Kubernetes 1.34 and later) check
#   hostProbesAndHostLifecycle: an httpGet or tcpSocket probe or lifecycle hook with a
#   host makes the kubelet connect to an arbitrary address from the node, which can reach
#   services the pod itself cannot. The host of liveness, readiness and startup probes
#   and of postStart and preStop hooks must be empty (the pod's IP).
#   Active only with `--pss baseline` or `--pss restricted` (data.pss.level) at 1.34 or later.
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
# custom:
#   id: PSS-HOST-PROBES-AND-LIFECYCLE
#   severity: high
#   kinds: [kubernetes]
#   remediation: Remove the host field from the probe or lifecycle handler so the kubelet connects to the pod's own IP.
package builtin.pss.host_probes_and_lifecycle

import data.lib.pss
import rego.v1

# Every probe and lifecycle handler of a container, with its path below the container.
handlers(container) := {[[probe, action], h] |
	some probe in ["livenessProbe", "readinessProbe", "startupProbe"]
	some action in ["httpGet", "tcpSocket"]
	h := container[probe][action]
} | {[["lifecycle", hook, action], h] |
	some hook in ["postStart", "preStop"]
	some action in ["httpGet", "tcpSocket"]
	h := container.lifecycle[hook][action]
}

deny contains {"msg": msg, "path": array.concat(array.concat(c.path, where), ["host"])} if {
	pss.enabled
	pss.since(34)
	some c in pss.containers
	some [where, handler] in handlers(c.container)
	is_object(handler)
	host := pss.string_field(handler, "host")
	host != ""
	msg := sprintf("probe or lifecycle host: container %q sets %s.host %q (PSS %s): remove the host so the kubelet connects to the pod", [pss.name(c.container), concat(".", where), host, pss.label])
}
