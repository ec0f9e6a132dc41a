# METADATA
# title: Resource requests or limits are missing
# description: |
#   Without memory and CPU limits one container can starve the node (a noisy neighbour
#   or a denial of service); without requests the scheduler cannot place it safely.
#   One finding per container, listing every missing setting.
# related_resources:
# - https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/
# custom:
#   id: K8S006
#   severity: low
#   kinds: [kubernetes]
#   aliases: [CKV_K8S_10, CKV_K8S_12, CKV_K8S_13]
#   remediation: Set resources.requests and resources.limits for cpu and memory.
package builtin.kubernetes.resources

import data.lib.kubernetes as k8s
import rego.v1

# CPU limits are left out on purpose: they throttle latency-sensitive workloads, and
# requests already protect the node's scheduling.
required := {"requests": ["cpu", "memory"], "limits": ["memory"]}

# One finding per container, listing everything missing (one root cause: the container
# declares no complete resources).
deny contains {"msg": msg, "path": array.concat(c.path, ["resources", section])} if {
	some c in k8s.containers
	missing := [sprintf("%s.%s", [s, r]) |
		some s in ["requests", "limits"]
		some r in required[s]
		not c.container.resources[s][r]
	]
	count(missing) > 0
	section := split(missing[0], ".")[0]
	msg := sprintf("container %q has no %s: set resources.%s", [k8s.name(c.container), concat(", ", missing), concat(", resources.", missing)])
}
