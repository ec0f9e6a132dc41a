# METADATA
# title: Container keeps capabilities it does not need
# description: |
#   Pod Security Standards (restricted, Kubernetes 1.22 and later) check
#   capabilities_restricted: every container, init container and ephemeral container
#   must drop ALL capabilities and may add back only NET_BIND_SERVICE. It replaces
#   PSS-CAPABILITIES-BASELINE at restricted. From 1.25 on, Windows pods
#   (spec.os.name: windows) are exempt.
#   Active only with `--pss restricted` (data.pss.level).
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
# custom:
#   id: PSS-CAPABILITIES-RESTRICTED
#   severity: medium
#   kinds: [kubernetes]
#   remediation: Set securityContext.capabilities.drop to ["ALL"] and add at most NET_BIND_SERVICE.
package builtin.pss.capabilities_restricted

import data.lib.pss
import rego.v1

active if {
	pss.restricted
	pss.since(22)
	not exempt
}

exempt if {
	pss.since(25)
	pss.windows_pod
}

capabilities(container) := pss.as_object(pss.security_context(container).capabilities)

drops_all(container) if {
	some cap in pss.as_array(capabilities(container).drop)
	cap == "ALL"
}

deny contains {"msg": msg, "path": array.concat(c.path, ["securityContext", "capabilities", "drop"])} if {
	active
	some c in pss.containers
	not drops_all(c.container)
	msg := sprintf("unrestricted capabilities: container %q does not drop ALL capabilities (PSS %s): set securityContext.capabilities.drop to [\"ALL\"]", [pss.name(c.container), pss.label])
}

deny contains {"msg": msg, "path": array.concat(c.path, ["securityContext", "capabilities", "add", i])} if {
	active
	some c in pss.containers
	some i, cap in pss.as_array(capabilities(c.container).add)
	cap != "NET_BIND_SERVICE"
	msg := sprintf("unrestricted capabilities: container %q adds %v (PSS %s): remove it; only NET_BIND_SERVICE may be added", [pss.name(c.container), cap, pss.label])
}
