# METADATA
# title: Object is placed in the default namespace
# description: |
#   The `default` namespace is where everything lands that nobody placed on purpose.
#   Objects there share RBAC, network policies, quotas and Pod Security admission
#   labels with whatever else ends up there, and cannot be isolated from it. Put each
#   application in a namespace of its own. Reported only for an explicit
#   `metadata.namespace: default`: a manifest without a namespace is placed by the tool
#   that applies it (`kubectl -n`, Kustomize, Helm), which is the usual practice.
# related_resources:
# - https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/#not-all-objects-are-in-a-namespace
# - https://kubernetes.io/docs/concepts/security/multi-tenancy/#namespaces
# custom:
#   id: K8S036
#   severity: low
#   kinds: [kubernetes]
#   aliases: [CKV_K8S_21]
#   remediation: Create a namespace for the application and set metadata.namespace to it.
package builtin.kubernetes.default_namespace

import rego.v1

deny contains {"msg": msg, "path": ["metadata", "namespace"]} if {
	input.metadata.namespace == "default"
	not input.kind in cluster_scoped
	msg := sprintf("%s %q is in the default namespace: put it in a namespace of its own", [input.kind, object.get(input.metadata, "name", "<unnamed>")])
}

# Kinds that are not namespaced (a namespace on them is ignored by the API server).
cluster_scoped := {
	"Namespace", "Node", "PersistentVolume", "ClusterRole", "ClusterRoleBinding",
	"CustomResourceDefinition", "StorageClass", "PriorityClass", "IngressClass",
	"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "RuntimeClass",
	"APIService", "CSIDriver", "VolumeAttachment",
}
