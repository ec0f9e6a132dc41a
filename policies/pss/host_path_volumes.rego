# METADATA
# title: Pod mounts a hostPath volume
# description: |
#   Pod Security Standards (baseline) check hostPathVolumes: a hostPath volume exposes
#   the node's filesystem to the pod (credentials, the container runtime socket, other
#   pods' data). At restricted, PSS-RESTRICTED-VOLUMES replaces this check.
#   Active only with `--pss baseline` (data.pss.level).
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
# custom:
#   id: PSS-HOST-PATH-VOLUMES
#   severity: high
#   kinds: [kubernetes]
#   remediation: Replace the hostPath volume with a persistentVolumeClaim, configMap, secret or emptyDir volume.
package builtin.pss.host_path_volumes

import data.lib.pss
import rego.v1

deny contains {"msg": msg, "path": array.concat(pss.pod_spec_path, ["volumes", i, "hostPath"])} if {
	pss.enabled
	not pss.restricted
	some [i, v] in pss.volumes
	pss.present(v, "hostPath")
	msg := sprintf("hostPath volumes: volume %q is a hostPath volume (PSS %s): use a persistentVolumeClaim, configMap, secret or emptyDir instead", [pss.name(v), pss.label])
}
