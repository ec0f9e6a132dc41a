# METADATA
# title: Resource requests or limits are missing
# description: |
#   Without memory and CPU limits one container can starve the node (a noisy neighbour
#   or a denial of service); without requests the scheduler cannot place it safely.
# related_resources:
# - https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/
# custom:
#   id: K8S006
#   severity: low
#   kinds: [kubernetes]
#   remediation: Set resources.requests and resources.limits for cpu and memory.
package builtin.kubernetes.resources

import data.lib.kubernetes as k8s
import rego.v1

# CPU limits are left out on purpose: they throttle latency-sensitive workloads, and
# requests already protect the node's scheduling.
required := {"requests": ["cpu", "memory"], "limits": ["memory"]}

deny contains {"msg": msg, "path": array.concat(c.path, ["resources", section, res])} if {
	some c in k8s.containers
	some section in ["requests", "limits"]
	some res in required[section]
	not c.container.resources[section][res]
	msg := sprintf("container %q has no %s.%s: set resources.%s.%s", [k8s.name(c.container), section, res, section, res])
}
