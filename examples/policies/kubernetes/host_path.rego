# METADATA
# title: Pod mounts a hostPath volume
# description: |
#   hostPath volumes expose the node's filesystem to the pod; a writable one lets a
#   container plant files on the host.
# related_resources:
# - https://kubernetes.io/docs/concepts/storage/volumes/#hostpath
# custom:
#   id: ORG001
#   severity: high
#   kinds: [kubernetes]
#   remediation: Use an emptyDir, a ConfigMap or a PersistentVolumeClaim instead of hostPath.
package org.kubernetes.host_path

import rego.v1

pod_spec_path := ["spec"] if input.kind == "Pod"

pod_spec_path := ["spec", "template", "spec"] if input.kind in {"Deployment", "StatefulSet", "DaemonSet", "Job"}

deny contains {"msg": msg, "path": array.concat(pod_spec_path, ["volumes", i, "hostPath"])} if {
	spec := object.get(input, pod_spec_path, {})
	some i, volume in spec.volumes
	volume.hostPath
	msg := sprintf("volume %q mounts hostPath %s from the node: use an emptyDir or a PVC", [volume.name, volume.hostPath.path])
}
