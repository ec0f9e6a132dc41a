# METADATA
# description: |
#   Helpers shared by the built-in RBAC rules: every policy rule of a Role or ClusterRole
#   with its path, and which verbs, resources and API groups it grants (`*` included).
# scope: package
package lib.rbac

import rego.v1

role_kinds := {"Role", "ClusterRole"}

binding_kinds := {"RoleBinding", "ClusterRoleBinding"}

# Every rule of a Role or ClusterRole: {"rule", "path", "index"}. Malformed entries are
# skipped rather than failing the rule.
rules contains {"rule": r, "path": ["rules", i], "index": i} if {
	input.kind in role_kinds
	is_array(input.rules)
	some i, r in input.rules
	is_object(r)
}

# The strings of a rule's list field, lower-cased except resources (case-sensitive in
# the API, but always lower-case in practice).
values(r, field) := {v | some v in r[field]; is_string(v)} if is_array(r[field])

else := set()

# Whether rule r grants one of `verbs` (or `*`) on one of `resources` (or `*`) in the
# core API group or `*` (`groups` lists the groups that count).
grants(r, verbs, resources, groups) if {
	some v in values(r, "verbs")
	v in (verbs | {"*"})
	some res in values(r, "resources")
	res in (resources | {"*"})
	some g in groups_of(r)
	g in (groups | {"*"})
}

# A missing apiGroups means the core group ("").
groups_of(r) := values(r, "apiGroups") if count(values(r, "apiGroups")) > 0

else := {""}

# The role's kind and name, for messages.
role_name := sprintf("%s %q", [input.kind, input.metadata.name]) if is_string(input.metadata.name)

else := input.kind
