# METADATA
# description: |
#   Helpers shared by the Pod Security Standards rules (policies/pss): the level and
#   Kubernetes version chosen in data.pss (set by `--pss LEVEL[@VERSION]`), where the pod
#   metadata of every pod-bearing kind lives, and the pod-wide exemptions (Windows pods,
#   user namespaces) that some checks grant from a given version on.
# scope: package
package lib.pss

import data.lib.kubernetes as k8s
import rego.v1

# The level: "baseline" or "restricted". Undefined (every PSS rule is silent) otherwise.
level := data.pss.level if data.pss.level in {"baseline", "restricted"}

# Any level runs the baseline checks.
enabled if level

# Only restricted runs the restricted checks and their overrides.
restricted if level == "restricted"

raw_version := object.get(data, ["pss", "version"], "latest")

# The Kubernetes minor version (1.<minor>) whose checks apply; "latest" is newer than
# every listed version.
minor := 1000000 if raw_version in {"latest", null}

minor := to_number(parts[1]) if {
	is_string(raw_version)
	regex.match(`^v?1\.[0-9]{1,6}$`, raw_version)
	parts := split(trim_prefix(raw_version, "v"), ".")
}

# Checks that exist from Kubernetes 1.<n> on.
since(n) if minor >= n

# The level and version, for messages.
label := sprintf("%s, Kubernetes %s", [level, raw_version])

pod_spec_path := k8s.pod_spec_path

pod_spec := k8s.pod_spec

# Where the pod's metadata lives: annotations there are the pod's annotations.
pod_meta_path := ["metadata"] if input.kind == "Pod"

pod_meta_path := ["spec", "template", "metadata"] if {
	input.kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"}
}

pod_meta_path := ["spec", "jobTemplate", "spec", "template", "metadata"] if input.kind == "CronJob"

pod_meta_path := ["template", "metadata"] if input.kind == "PodTemplate"

annotations := object.get(input, array.concat(pod_meta_path, ["annotations"]), {})

annotation_path(key) := array.concat(pod_meta_path, ["annotations", key])

# Every container (init, regular, ephemeral) with its path.
containers := k8s.containers

pod_security_context := object.get(pod_spec, "securityContext", {})

pod_security_context_path := array.concat(pod_spec_path, ["securityContext"])

# A container's own securityContext (never the pod's).
security_context(container) := sc if {
	sc := container.securityContext
	is_object(sc)
} else := {}

# A value that is present and not null (a non-nil pointer in the Kubernetes API).
present(obj, key) if obj[key] != null

# Pods that declare spec.os.name: windows.
windows_pod if pod_spec.os.name == "windows"

# Pods in a user namespace (spec.hostUsers: false).
user_namespaced if pod_spec.hostUsers == false

# A container's name for messages (unnamed containers still get findings).
name(obj) := sprintf("%v", [n]) if {
	n := obj.name
} else := ""

# A string field of an API object: missing and null read as "" (Go's zero value).
string_field(obj, key) := v if {
	v := obj[key]
	v != null
} else := ""
