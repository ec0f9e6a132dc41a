# METADATA
# title: Root filesystem is writable
# description: |
#   A writable root filesystem lets an attacker drop tools and persist changes inside
#   the container. Mount writable paths explicitly (emptyDir, volumes) instead.
# related_resources:
# - https://kubernetes.io/docs/tasks/configure-pod-container/security-context/
# custom:
#   id: K8S003
#   severity: medium
#   kinds: [kubernetes]
#   aliases: [CKV_K8S_22]
#   remediation: Set securityContext.readOnlyRootFilesystem to true and mount writable volumes where the app needs them.
package builtin.kubernetes.read_only_root_fs

import data.lib.kubernetes as k8s
import rego.v1

deny contains {"msg": msg, "path": array.concat(c.path, ["securityContext", "readOnlyRootFilesystem"])} if {
	some c in k8s.containers
	not c.container.securityContext.readOnlyRootFilesystem == true
	msg := sprintf("container %q has a writable root filesystem: set securityContext.readOnlyRootFilesystem to true", [k8s.name(c.container)])
}
