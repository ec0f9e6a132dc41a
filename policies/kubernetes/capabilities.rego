# METADATA
# title: Capabilities are not dropped
# description: |
#   Container runtimes grant a default set of Linux capabilities (CHOWN, SETUID,
#   NET_RAW, ...). Drop them all and add back only what the process needs; the only
#   one Pod Security Standards (restricted) allows adding is NET_BIND_SERVICE.
#   One finding per container: the capabilities it adds (high severity, which also
#   covers SYS_ADMIN and NET_RAW), or else the missing `drop: [ALL]`. Overlaps: the
#   opt-in PSS-CAPABILITIES-BASELINE/RESTRICTED checks report the same settings by
#   Pod Security Standards level.
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
# custom:
#   id: K8S004
#   severity: medium
#   kinds: [kubernetes]
#   aliases: [CKV_K8S_25, CKV_K8S_28, CKV_K8S_37, CKV_K8S_39]
#   remediation: Set securityContext.capabilities.drop to ["ALL"] and add at most NET_BIND_SERVICE.
package builtin.kubernetes.capabilities

import data.lib.kubernetes as k8s
import rego.v1

# One finding per container: the capabilities it adds (high, at the first one) and,
# in the same message, whether it also keeps the default set.
deny contains {"msg": msg, "path": array.concat(c.path, ["securityContext", "capabilities", "drop"])} if {
	some c in k8s.containers
	not drops_all(c.container)
	count(added(c.container)) == 0
	msg := sprintf("container %q does not drop ALL capabilities: set securityContext.capabilities.drop to [\"ALL\"]", [k8s.name(c.container)])
}

deny contains {"msg": msg, "path": array.concat(c.path, ["securityContext", "capabilities", "add", first]), "severity": "high"} if {
	some c in k8s.containers
	adds := added(c.container)
	count(adds) > 0
	first := min([i | some i, _ in adds])
	names := [cap | some _, cap in adds]
	msg := sprintf("container %q adds capabilit%s %s%s: remove %s (only NET_BIND_SERVICE may be added)", [k8s.name(c.container), plural(names), concat(", ", names), also_drop(c.container), pronoun(names)])
}

# Added capabilities other than NET_BIND_SERVICE, by index in the add list.
added(container) := {i: cap |
	some i, cap in k8s.capabilities(container, "add")
	is_string(cap)
	upper(cap) != "NET_BIND_SERVICE"
}

plural(names) := "ies" if count(names) > 1

else := "y"

pronoun(names) := "them" if count(names) > 1

else := "it"

also_drop(container) := " and does not drop ALL" if not drops_all(container)

else := ""

drops_all(container) if {
	some cap in k8s.capabilities(container, "drop")
	is_string(cap)
	upper(cap) == "ALL"
}
