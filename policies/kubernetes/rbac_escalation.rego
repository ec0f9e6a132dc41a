# METADATA
# title: RBAC rule grants privilege escalation
# description: |
#   Some permissions let a subject give itself more permissions than it has:
#   `escalate` on roles (write a role with rights it does not hold), `bind` on
#   (cluster)role bindings (bind any role to itself), `impersonate` on users, groups or
#   service accounts (act as someone else), `approve` on certificate signing requests
#   (mint client certificates for any identity), and write access to admission webhook
#   configurations (intercept or rewrite every object sent to the API server). Each is
#   as good as cluster-admin to an attacker who holds it. One finding per policy rule,
#   listing every escalation it grants spelled out (a `*` grant is K8S030's).
# related_resources:
# - https://kubernetes.io/docs/concepts/security/rbac-good-practices/#escalate-verb
# - https://kubernetes.io/docs/reference/access-authn-authz/rbac/#privilege-escalation-prevention-and-bootstrapping
# custom:
#   id: K8S031
#   severity: high
#   kinds: [kubernetes]
#   aliases: [CKV_K8S_155, CKV_K8S_156, CKV_K8S_157, CKV_K8S_158, CKV2_K8S_3]
#   remediation: Remove the escalate, bind, impersonate and approve verbs and webhook-configuration writes from the role; grant them only to cluster administrators.
package builtin.kubernetes.rbac_escalation

import data.lib.rbac
import rego.v1

deny contains {"msg": msg, "path": array.concat(r.path, ["verbs"])} if {
	some r in rbac.rules
	found := sort([what | some [verbs, resources, groups, what] in escalations; explicit(r.rule, verbs, resources, groups)])
	count(found) > 0
	msg := sprintf("%s rule %d lets its subjects escalate their privileges: %s; remove these grants", [rbac.role_name, r.index, concat("; ", found)])
}

write_verbs := {"create", "update", "patch"}

escalations := [
	[{"escalate"}, {"roles", "clusterroles"}, {"rbac.authorization.k8s.io"}, "`escalate` on roles"],
	[{"bind"}, {"roles", "clusterroles"}, {"rbac.authorization.k8s.io"}, "`bind` on roles"],
	[{"impersonate"}, {"users", "groups", "serviceaccounts", "userextras/scopes", "uids"}, {"", "authentication.k8s.io"}, "`impersonate`"],
	[{"approve"}, {"signers"}, {"certificates.k8s.io"}, "`approve` on certificate signers"],
	[{"update", "patch"}, {"certificatesigningrequests/approval"}, {"certificates.k8s.io"}, "writes to certificatesigningrequests/approval"],
	[write_verbs, {"mutatingwebhookconfigurations", "validatingwebhookconfigurations"}, {"admissionregistration.k8s.io"}, "writes to admission webhook configurations"],
]

# Granted by name, not through a `*` (K8S030 reports wildcards).
explicit(r, verbs, resources, groups) if {
	some v in rbac.values(r, "verbs")
	v in verbs
	some res in rbac.values(r, "resources")
	res in resources
	some g in rbac.groups_of(r)
	g in groups
}
