# METADATA
# title: Pod mounts a hostPath volume
# description: |
#   A hostPath volume exposes a directory of the node to the pod: credentials, the
#   container runtime socket, kubelet state and other pods' data are one path away, and
#   a writable mount can change the node itself. Findings on system paths (/, /etc,
#   /proc, /sys, /dev, /root, /boot, /run, /var/run, /var/lib/kubelet, the container
#   runtime's directories, ...) are high severity. Always on, unlike the opt-in Pod
#   Security Standards check PSS-HOST-PATH-VOLUMES (`--pss baseline`). Overlaps: with
#   `--pss`, that check and PSS-RESTRICTED-VOLUMES report the same volume once, as
#   this rule's finding with their ID as a related rule (docs/pss.md).
# related_resources:
# - https://kubernetes.io/docs/concepts/storage/volumes/#hostpath
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
# - https://owasp.org/www-project-kubernetes-top-ten/2022/en/src/K01-insecure-workload-configurations
# custom:
#   id: K8S012
#   severity: medium
#   kinds: [kubernetes]
#   aliases: [CKV_K8S_27]
#   remediation: Replace the hostPath volume with a persistentVolumeClaim, configMap, secret, emptyDir or CSI volume; node agents that truly need it deserve a suppression with a reason.
package builtin.kubernetes.host_path

import data.lib.kubernetes as k8s
import rego.v1

sensitive_prefixes := [
	"/etc", "/proc", "/sys", "/dev", "/root", "/boot", "/home", "/run", "/var/run",
	"/var/lib/kubelet", "/var/lib/docker", "/var/lib/containerd", "/var/lib/crio",
	"/var/lib/etcd", "/usr", "/bin", "/sbin", "/lib",
]

deny contains result if {
	some i, v in volumes
	is_object(v.hostPath)
	path := object.get(v.hostPath, "path", "")
	result := finding(i, v, path)
}

volumes := vs if {
	vs := k8s.pod_spec.volumes
	is_array(vs)
} else := []

finding(i, v, path) := {
	"msg": sprintf("volume %q mounts the node's %s (hostPath), a system path: use a persistentVolumeClaim, configMap, secret or emptyDir instead", [name(v), quoted(path)]),
	"path": array.concat(k8s.pod_spec_path, ["volumes", i, "hostPath"]),
	"severity": "high",
} if {
	sensitive(path)
} else := {
	"msg": sprintf("volume %q mounts the node's %s (hostPath): use a persistentVolumeClaim, configMap, secret or emptyDir instead", [name(v), quoted(path)]),
	"path": array.concat(k8s.pod_spec_path, ["volumes", i, "hostPath"]),
}

sensitive(path) if clean(path) == "/"

sensitive(path) if {
	p := clean(path)
	some prefix in sensitive_prefixes
	prefix_of(prefix, p)
}

prefix_of(prefix, p) if p == prefix

prefix_of(prefix, p) if startswith(p, concat("", [prefix, "/"]))

# Trailing slashes and doubled slashes do not change the directory.
clean(path) := "/" if {
	is_string(path)
	trim_right(path, "/") == ""
	startswith(path, "/")
} else := regex.replace(trim_right(path, "/"), `/+`, "/") if is_string(path)

name(v) := v.name if is_string(v.name)

else := "<unnamed>"

quoted(path) := sprintf("%q", [path]) if is_string(path)

else := "directory"
