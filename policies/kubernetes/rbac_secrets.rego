# METADATA
# title: RBAC rule lets subjects read Secrets
# description: |
#   `get`, `list` or `watch` on `secrets` gives the subject every Secret in scope:
#   service account tokens, registry credentials, TLS keys and database passwords. `list`
#   and `watch` return the values too, not only the names. A Role limits it to a
#   namespace; a ClusterRole to every namespace. Grant `get` on named Secrets
#   (`resourceNames`) if the subject really needs one, or mount the Secret into the pod.
#   Rules limited to `resourceNames` are not reported; `*` grants are K8S030's.
# related_resources:
# - https://kubernetes.io/docs/concepts/security/rbac-good-practices/#listing-secrets
# custom:
#   id: K8S033
#   severity: medium
#   kinds: [kubernetes]
#   aliases: [CKV2_K8S_5]
#   remediation: Remove get/list/watch on secrets, or restrict it to the Secrets the subject needs with resourceNames.
package builtin.kubernetes.rbac_secrets

import data.lib.rbac
import rego.v1

deny contains {"msg": msg, "path": array.concat(r.path, ["resources"])} if {
	some r in rbac.rules
	"secrets" in rbac.values(r.rule, "resources")
	"" in rbac.groups_of(r.rule)
	verbs := sort([v | some v in rbac.values(r.rule, "verbs"); v in {"get", "list", "watch"}])
	count(verbs) > 0
	count(rbac.values(r.rule, "resourceNames")) == 0
	msg := sprintf("%s rule %d lets its subjects read every Secret%s (%s): remove it or name the Secrets in resourceNames", [rbac.role_name, r.index, scope, concat(", ", verbs)])
}

scope := " in the cluster" if input.kind == "ClusterRole"

else := " in the namespace"
