# METADATA
# title: Service account token is mounted automatically
# description: |
#   Unless `automountServiceAccountToken` is false, every container of the pod gets a
#   Kubernetes API token at /var/run/secrets/kubernetes.io/serviceaccount. Most
#   applications never call the API; for them the token only helps an attacker who gets
#   into the container to explore or attack the cluster.
#   Advisory (info): the token may also be switched off on the ServiceAccount object,
#   which one manifest cannot see. Only pods that run as the namespace's `default`
#   service account (no `serviceAccountName`) are checked: a pod given its own service
#   account usually has it to talk to the API. An explicit `true` is a decision and is
#   not reported.
# related_resources:
# - https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/#opt-out-of-api-credential-automounting
# - https://kubernetes.io/docs/concepts/security/service-accounts/
# - https://kubernetes.io/docs/concepts/security/rbac-good-practices/
# custom:
#   id: K8S011
#   severity: info
#   kinds: [kubernetes]
#   aliases: [CKV_K8S_38, CKV_K8S_41]
#   remediation: Set automountServiceAccountToken to false in the pod spec (or on its ServiceAccount) unless the pod calls the Kubernetes API.
package builtin.kubernetes.service_account_token

import data.lib.kubernetes as k8s
import rego.v1

deny contains {"msg": msg, "path": array.concat(k8s.pod_spec_path, ["automountServiceAccountToken"])} if {
	count(k8s.pod_spec) > 0
	# A missing field is not a boolean (object.get: OPA evaluates call arguments outside
	# `not`, so an undefined argument would make this line undefined).
	not is_boolean(object.get(k8s.pod_spec, "automountServiceAccountToken", null))
	default_account
	msg := sprintf("%s %q mounts a Kubernetes API token it probably does not need: set automountServiceAccountToken to false", [input.kind, k8s.resource_name])
}

default_account if {
	not k8s.pod_spec.serviceAccountName
	not k8s.pod_spec.serviceAccount
}

default_account if k8s.pod_spec.serviceAccountName == "default"

default_account if {
	not k8s.pod_spec.serviceAccountName
	k8s.pod_spec.serviceAccount == "default"
}
