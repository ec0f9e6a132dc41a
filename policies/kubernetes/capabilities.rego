# METADATA
# title: Capabilities are not dropped
# description: |
#   Container runtimes grant a default set of Linux capabilities (CHOWN, SETUID,
#   NET_RAW, ...). Drop them all and add back only what the process needs; the only
#   one Pod Security Standards (restricted) allows adding is NET_BIND_SERVICE.
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
# custom:
#   id: K8S004
#   severity: medium
#   kinds: [kubernetes]
#   remediation: Set securityContext.capabilities.drop to ["ALL"] and add at most NET_BIND_SERVICE.
package builtin.kubernetes.capabilities

import data.lib.kubernetes as k8s
import rego.v1

deny contains {"msg": msg, "path": array.concat(c.path, ["securityContext", "capabilities", "drop"])} if {
	some c in k8s.containers
	not drops_all(c.container)
	msg := sprintf("container %q does not drop ALL capabilities: set securityContext.capabilities.drop to [\"ALL\"]", [k8s.name(c.container)])
}

deny contains {"msg": msg, "path": array.concat(c.path, ["securityContext", "capabilities", "add", i]), "severity": "high"} if {
	some c in k8s.containers
	some i, cap in k8s.capabilities(c.container, "add")
	is_string(cap)
	upper(cap) != "NET_BIND_SERVICE"
	msg := sprintf("container %q adds capability %s: remove it (only NET_BIND_SERVICE may be added)", [k8s.name(c.container), cap])
}

drops_all(container) if {
	some cap in k8s.capabilities(container, "drop")
	is_string(cap)
	upper(cap) == "ALL"
}
