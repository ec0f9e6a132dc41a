# METADATA
# title: RBAC rule grants a wildcard
# description: |
#   A `*` in `verbs`, `resources` or `apiGroups` grants everything of that kind, today
#   and in the future: every new resource type or subresource (`pods/exec`,
#   `secrets`, custom resources) and every verb (`escalate`, `impersonate`) becomes
#   part of the role without anyone reviewing it. `*` verbs on `*` resources is
#   cluster-admin under another name. List the verbs, resources and groups the
#   subject needs. One finding per policy rule, naming every wildcard field in it.
#   Overlaps: none (K8S031-K8S034 report specific dangerous grants spelled out without `*`).
# related_resources:
# - https://kubernetes.io/docs/concepts/security/rbac-good-practices/#least-privilege
# custom:
#   id: K8S030
#   severity: high
#   kinds: [kubernetes]
#   aliases: [CKV_K8S_49]
#   remediation: Replace `*` with the explicit verbs, resources and apiGroups the subject needs.
package builtin.kubernetes.rbac_wildcard

import data.lib.rbac
import rego.v1

deny contains {"msg": msg, "path": array.concat(r.path, [field])} if {
	some r in rbac.rules
	fields := [f | some f in ["verbs", "resources", "apiGroups"]; "*" in rbac.values(r.rule, f)]
	count(fields) > 0
	field := fields[0]
	msg := sprintf("%s rule %d grants `*` in %s: list the %s the subject needs instead", [rbac.role_name, r.index, concat(", ", fields), concat(", ", fields)])
}
