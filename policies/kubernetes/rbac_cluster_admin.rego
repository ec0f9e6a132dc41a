# METADATA
# title: RBAC binding gives cluster-admin or a default service account
# description: |
#   The `cluster-admin` ClusterRole can do anything to any object in the cluster.
#   Binding it to a user, group or service account (with a ClusterRoleBinding, or a
#   RoleBinding, which still gives full control of the namespace) hands over the
#   cluster or namespace; binding it to a `default` service account gives it to every
#   pod of the namespace that does not name another service account. Grant a role with
#   the verbs and resources the subject needs. High; critical for a `default` service
#   account or the `system:authenticated`/`system:unauthenticated` groups. Any other
#   role bound to a `default` service account is reported too (medium): every pod that
#   does not choose a service account gets it; create a dedicated service account.
# related_resources:
# - https://kubernetes.io/docs/concepts/security/rbac-good-practices/#least-privilege
# - https://kubernetes.io/docs/reference/access-authn-authz/rbac/#user-facing-roles
# custom:
#   id: K8S032
#   severity: high
#   kinds: [kubernetes]
#   aliases: [CKV_K8S_42]
#   remediation: Bind a role that grants only what the subject needs to a dedicated service account; never bind cluster-admin to a default service account or to a system group.
package builtin.kubernetes.rbac_cluster_admin

import data.lib.rbac
import rego.v1

admin_roles := {"cluster-admin"}

deny contains result if {
	input.kind in rbac.binding_kinds
	input.roleRef.name in admin_roles
	is_array(input.subjects)
	some i, s in input.subjects
	is_object(s)
	result := finding(i, s)
}

finding(i, s) := {
	"msg": sprintf("%s %q binds cluster-admin to %s, which every pod or user in it inherits: bind a role with only the permissions needed", [input.kind, name, subject(s)]),
	"path": ["subjects", i],
	"severity": "critical",
} if {
	wide(s)
} else := {
	"msg": sprintf("%s %q binds cluster-admin to %s: bind a role with only the permissions needed", [input.kind, name, subject(s)]),
	"path": ["subjects", i],
}

deny contains {"msg": msg, "path": ["subjects", i], "severity": "medium"} if {
	input.kind in rbac.binding_kinds
	not input.roleRef.name in admin_roles
	is_array(input.subjects)
	some i, s in input.subjects
	is_object(s)
	s.kind == "ServiceAccount"
	s.name == "default"
	msg := sprintf("%s %q binds %s %q to %s: every pod that names no service account gets it; bind it to a dedicated service account", [input.kind, name, object.get(input.roleRef, "kind", "role"), object.get(input.roleRef, "name", ""), subject(s)])
}

name := input.metadata.name if is_string(input.metadata.name)

else := "<unnamed>"

wide(s) if {
	s.kind == "ServiceAccount"
	s.name == "default"
}

wide(s) if {
	s.kind == "Group"
	s.name in {"system:authenticated", "system:unauthenticated", "system:serviceaccounts"}
}

subject(s) := sprintf("the default service account of namespace %q", [object.get(s, "namespace", object.get(input.metadata, "namespace", "default"))]) if {
	s.kind == "ServiceAccount"
	s.name == "default"
} else := sprintf("%s %q", [object.get(s, "kind", "subject"), object.get(s, "name", "")])
