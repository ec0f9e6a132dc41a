# METADATA
# description: |
#   Helpers shared by the built-in Kubernetes rules: where the pod spec of every
#   pod-bearing kind lives, and every container with its JSON path.
# scope: package
package lib.kubernetes

import rego.v1

pod_spec_path := ["spec"] if input.kind == "Pod"

pod_spec_path := ["spec", "template", "spec"] if {
	input.kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"}
}

pod_spec_path := ["spec", "jobTemplate", "spec", "template", "spec"] if input.kind == "CronJob"

pod_spec_path := ["template", "spec"] if input.kind == "PodTemplate"

pod_spec := object.get(input, pod_spec_path, {})

# Every container (init, regular and ephemeral) with its path in the document.
containers contains {"container": container, "path": array.concat(pod_spec_path, [field, i])} if {
	some field in ["initContainers", "containers", "ephemeralContainers"]
	some i, container in pod_spec[field]
}

# A security context setting: the container's, else the pod's, else null.
container_setting(container, key) := container.securityContext[key]

container_setting(container, key) := pod_spec.securityContext[key] if {
	not has_key(object.get(container, "securityContext", {}), key)
}

has_key(obj, key) if _ = obj[key]

# Registry-qualified image references.
image_has_digest(image) if contains(image, "@sha256:")

image_tag(image) := tag if {
	not image_has_digest(image)
	parts := split(image, "/")
	last := parts[count(parts) - 1]
	contains(last, ":")
	tag := split(last, ":")[1]
}
