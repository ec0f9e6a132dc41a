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

pod_spec := spec if {
	spec := object.get(input, pod_spec_path, {})
	is_object(spec)
} else := {}

# Every container (init, regular and ephemeral) with its path in the document. Malformed
# entries (null, strings) are skipped rather than failing the rule.
containers contains {"container": container, "path": array.concat(pod_spec_path, [field, i])} if {
	some field in ["initContainers", "containers", "ephemeralContainers"]
	is_array(pod_spec[field])
	some i, container in pod_spec[field]
	is_object(container)
}

# A container's name for messages.
name(container) := container.name if is_string(container.name)

else := "<unnamed>"

# The resource's name for messages.
resource_name := input.metadata.name if is_string(input.metadata.name)

else := "<unnamed>"

# The securityContext of a pod spec or container, or {} when absent or malformed.
security_context(obj) := sc if {
	sc := obj.securityContext
	is_object(sc)
} else := {}

# A security context setting: the container's, else the pod's.
container_setting(container, key) := security_context(container)[key]

container_setting(container, key) := security_context(pod_spec)[key] if {
	not has_key(security_context(container), key)
}

has_key(obj, key) if _ = obj[key]

# The capabilities list `field` (add or drop) of a container, or [] when malformed.
capabilities(container, field) := caps if {
	caps := security_context(container).capabilities[field]
	is_array(caps)
} else := []

# Registry-qualified image references.
image_has_digest(image) if {
	is_string(image)
	contains(image, "@sha256:")
}

image_tag(image) := tag if {
	is_string(image)
	not image_has_digest(image)
	parts := split(image, "/")
	last := parts[count(parts) - 1]
	contains(last, ":")
	tag := split(last, ":")[1]
}
