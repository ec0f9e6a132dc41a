# METADATA
# title: RBAC rule lets subjects run code in pods
# description: |
#   `create` on `pods/exec`, `pods/attach` or `nodes/proxy` opens a shell in any pod in scope, with
#   that pod's service account token, mounted Secrets and host access. `create` on pods
#   or on workload controllers (Deployments, DaemonSets, Jobs, ...) starts a pod of the
#   subject's choosing, which can mount any Secret and use any service account of the
#   namespace. Either is a path to every permission held by anything in the namespace.
#   One finding per policy rule, listing what it allows; `*` grants are K8S030's.
# related_resources:
# - https://kubernetes.io/docs/concepts/security/rbac-good-practices/#workload-creation
# custom:
#   id: K8S034
#   severity: medium
#   kinds: [kubernetes]
#   aliases: [CKV2_K8S_2]
#   remediation: Grant pods/exec, pods/attach and workload creation only to operators and CI identities that need them, in the namespaces they manage.
package builtin.kubernetes.rbac_workloads

import data.lib.rbac
import rego.v1

workloads := {
	"": {"pods", "replicationcontrollers"},
	"apps": {"deployments", "daemonsets", "statefulsets", "replicasets"},
	"batch": {"jobs", "cronjobs"},
}

deny contains {"msg": msg, "path": array.concat(r.path, ["resources"])} if {
	some r in rbac.rules
	found := sort([res | some res in granted(r.rule)])
	count(found) > 0
	msg := sprintf("%s rule %d lets its subjects run code in pods: create on %s; grant it only to identities that deploy or debug workloads", [rbac.role_name, r.index, concat(", ", found)])
}

granted(r) := {res |
	"create" in rbac.values(r, "verbs")
	some g in rbac.groups_of(r)
	some res in rbac.values(r, "resources")
	creates_pods(g, res)
}

creates_pods("", res) if res in {"pods/exec", "pods/attach", "nodes/proxy"}

creates_pods(g, res) if res in workloads[g]
