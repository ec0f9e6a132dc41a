# METADATA
# title: No runtime threat detection is deployed
# description: |
#   Admission checks stop bad manifests; they do not see a container that is attacked
#   while it runs. A runtime detector (Falco, Tetragon, Tracee, KubeArmor, the Sysdig,
#   NeuVector or StackRox agents) watches system calls on every node and alerts on
#   shells in containers, unexpected network connections and writes to sensitive paths.
#
#   Only judged when the run looks like a whole environment: it declares at least one
#   Namespace and deploys at least one workload outside the system namespaces (a single
#   application's manifests are not expected to ship a node agent). A detector is
#   recognised by a container image whose repository name is one of falco, tetragon,
#   tracee, kubearmor, agent or agent-slim under sysdig, enforcer under neuvector, or
#   collector under stackrox. The finding is about the whole set, so it is anchored at
#   the `kind` of the first workload in input order (documented in docs/inputs.md).
#   A cross-document rule, evaluated once over the whole run (`custom.input: combined`).
# related_resources:
# - https://falco.org/docs/
# - https://tetragon.io/docs/
# custom:
#   id: K8S101
#   severity: low
#   kinds: [kubernetes]
#   input: combined
#   remediation: Deploy a runtime threat-detection agent as a DaemonSet on every node (for example Falco or Tetragon), or suppress this finding where another layer provides it.
package builtin.kubernetes.runtime_detection

import data.lib.cluster
import rego.v1

detector_pattern := `(^|/)(falco(-no-driver)?|tetragon|tracee|kubearmor|sysdig/agent(-slim)?|neuvector/enforcer|stackrox/collector)(:|@|$)`

detector if {
	some w in cluster.workloads
	some c in cluster.containers(w)
	is_string(c.container.image)
	regex.match(detector_pattern, c.container.image)
}

environment if {
	count(cluster.namespace_index) > 0
	some w in cluster.workloads
	not cluster.namespace(w) in cluster.system_namespaces
}

deny contains {"msg": msg, "path": [first, "contents", "kind"]} if {
	environment
	not detector
	first := min(object.keys(cluster.workloads))
	msg := "this set deploys workloads but no runtime threat-detection agent (Falco, Tetragon, Tracee, KubeArmor or the like): deploy one as a DaemonSet so that attacks on running containers are seen"
}
