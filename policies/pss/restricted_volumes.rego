# METADATA
# title: Pod uses a volume type outside the restricted set
# description: |
#   Pod Security Standards (restricted) check restrictedVolumes: only volume types that
#   cannot reach the node or network storage directly are allowed: configMap, csi,
#   downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected and secret.
#   It replaces PSS-HOST-PATH-VOLUMES at restricted.
#   Active only with `--pss restricted` (data.pss.level).
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
# custom:
#   id: PSS-RESTRICTED-VOLUMES
#   severity: medium
#   kinds: [kubernetes]
#   remediation: Replace the volume with a persistentVolumeClaim (backed by any storage class), or a configMap, secret, emptyDir, projected, downwardAPI, csi, ephemeral or image volume.
package builtin.pss.restricted_volumes

import data.lib.pss
import rego.v1

allowed := {
	"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image",
	"persistentVolumeClaim", "projected", "secret",
}

# The other volume sources of the Kubernetes API. A volume without any source is
# defaulted to emptyDir by the API server, so it is allowed, as PSA does.
forbidden := {
	"awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", "fc",
	"flexVolume", "flocker", "gcePersistentDisk", "gitRepo", "glusterfs", "hostPath",
	"iscsi", "nfs", "photonPersistentDisk", "portworxVolume", "quobyte", "rbd",
	"scaleIO", "storageos", "vsphereVolume",
}

allowed_volume(v) if {
	some key in allowed
	pss.present(v, key)
}

deny contains {"msg": msg, "path": array.concat(pss.pod_spec_path, ["volumes", i, key])} if {
	pss.restricted
	some [i, v] in pss.volumes
	not allowed_volume(v)
	some key in forbidden
	pss.present(v, key)
	msg := sprintf("restricted volume types: volume %q is a %s volume (PSS %s): use a persistentVolumeClaim, configMap, secret, emptyDir or projected volume", [pss.name(v), key, pss.label])
}
