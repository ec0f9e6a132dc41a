# METADATA
# description: |
#   Helpers shared by the Pod Security Standards rules (policies/pss): the level and
#   Kubernetes version chosen in data.pss (set by `--pss LEVEL[@VERSION]`), where the pod
#   metadata of every pod-bearing kind lives, and the pod-wide exemptions (Windows pods,
#   user namespaces) that some checks grant from a given version on.
# scope: package
package lib.pss

import rego.v1

# Where the level and version come from (docs/pss.md, "Namespace labels"):
# 1. the `pod-security.kubernetes.io/<mode>` label (and `<mode>-version`) of the
#    workload's Namespace, when that Namespace is in the run (data.inventory);
# 2. else, for the enforce mode only, data.pss (`--pss`, `pss:` in .policy.yaml).
# `mode` is "enforce" unless the engine evaluates the warn or audit labels
# (data.pss_mode). An unknown label value is judged as restricted, and an unknown
# version as latest, as Pod Security Admission does.
mode := m if {
	m := data.pss_mode
	m in {"enforce", "warn", "audit"}
} else := "enforce"

# The workload's namespace (no namespace: `default`).
namespace := ns if {
	ns := input.metadata.namespace
	is_string(ns)
	ns != ""
} else := "default"

namespace_labels := l if {
	l := data.inventory.cluster.v1.Namespace[namespace].metadata.labels
	is_object(l)
}

label_level := v if {
	raw := namespace_labels[concat("", ["pod-security.kubernetes.io/", mode])]
	v := valid_level(raw)
}

valid_level(raw) := raw if raw in {"privileged", "baseline", "restricted"}

else := "restricted"

label_version := v if {
	raw := namespace_labels[concat("", ["pod-security.kubernetes.io/", mode, "-version"])]
	is_string(raw)
	regex.match(`^(latest|v?1\.[0-9]{1,6})$`, raw)
	v := raw
} else := "latest"

# The setting that applies to this document.
setting := {"level": label_level, "version": label_version, "source": "namespace"} if {
	label_level
} else := {"level": data.pss.level, "version": object.get(data, ["pss", "version"], "latest"), "source": "flag"} if {
	mode == "enforce"
	is_string(data.pss.level)
}

# The level: "baseline" or "restricted". Undefined (every PSS rule is silent) otherwise,
# which includes workloads in a namespace labelled privileged.
level := setting.level if setting.level in {"baseline", "restricted"}

# Any level runs the baseline checks.
enabled if level

# Only restricted runs the restricted checks and their overrides.
restricted if level == "restricted"

raw_version := setting.version

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
label := sprintf("%s, Kubernetes %s", [level, raw_version]) if setting.source == "flag"

else := sprintf("%s, Kubernetes %s, %s label of Namespace %q", [level, raw_version, mode, namespace])

# Where the pod spec of every pod-bearing kind lives (as in lib.kubernetes, kept separate
# so that malformed input that trips other rules never affects these).
pod_spec_path := ["spec"] if input.kind == "Pod"

pod_spec_path := ["spec", "template", "spec"] if {
	input.kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"}
}

pod_spec_path := ["spec", "jobTemplate", "spec", "template", "spec"] if input.kind == "CronJob"

pod_spec_path := ["template", "spec"] if input.kind == "PodTemplate"

# The pod spec, when it is an object (malformed documents are skipped, not errors).
pod_spec := s if {
	s := object.get(input, pod_spec_path, null)
	is_object(s)
}

# Where the pod's metadata lives: annotations there are the pod's annotations.
pod_meta_path := ["metadata"] if input.kind == "Pod"

pod_meta_path := ["spec", "template", "metadata"] if {
	input.kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"}
}

pod_meta_path := ["spec", "jobTemplate", "spec", "template", "metadata"] if input.kind == "CronJob"

pod_meta_path := ["template", "metadata"] if input.kind == "PodTemplate"

annotations := as_object(object.get(input, array.concat(pod_meta_path, ["annotations"]), null))

annotation_path(key) := array.concat(pod_meta_path, ["annotations", key])

# Every container (init, regular, ephemeral) with its path.
containers contains {"container": container, "path": array.concat(pod_spec_path, [field, i])} if {
	some field in ["initContainers", "containers", "ephemeralContainers"]
	some i, container in as_array(pod_spec[field])
	is_object(container)
}

# Every volume (objects only) with its index.
volumes contains [i, v] if {
	some i, v in as_array(pod_spec.volumes)
	is_object(v)
}

pod_security_context := as_object(pod_spec.securityContext)

pod_security_context_path := array.concat(pod_spec_path, ["securityContext"])

# A container's own securityContext (never the pod's).
security_context(container) := as_object(container.securityContext)

# Input values of the wrong type (null, a string where a list belongs) read as empty,
# so iterating them is never an error.
as_array(x) := x if is_array(x) else := []

as_object(x) := x if is_object(x) else := {}

# A value that is present and not null (a non-nil pointer in the Kubernetes API).
present(obj, key) if {
	is_object(obj)
	obj[key] != null
}

# Pods that declare spec.os.name: windows.
windows_pod if pod_spec.os.name == "windows"

# Pods in a user namespace (spec.hostUsers: false).
user_namespaced if pod_spec.hostUsers == false

# A container's name for messages (unnamed containers still get findings).
name(obj) := sprintf("%v", [n]) if {
	n := obj.name
} else := ""

# A string field of an API object: missing and null read as "" (Go's zero value); a
# value of another type reads as its JSON text, so it never matches an allowed value.
string_field(obj, key) := v if {
	is_object(obj)
	v := obj[key]
	is_string(v)
} else := json.marshal(v) if {
	is_object(obj)
	v := obj[key]
	v != null
} else := ""
