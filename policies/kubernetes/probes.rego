# METADATA
# title: Container has no liveness or readiness probe
# description: |
#   Without a readiness probe a pod receives traffic as soon as its process starts, and
#   keeps receiving it when it can no longer serve; without a liveness probe a hung
#   process is never restarted. Reported once per container of a long-running workload
#   (Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, bare Pod),
#   listing every probe it lacks. Init and ephemeral containers, Jobs and CronJobs do
#   not serve traffic and are not reported. Info: a probe needs knowledge of the
#   application that a policy cannot check.
# related_resources:
# - https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/
# custom:
#   id: K8S037
#   severity: info
#   kinds: [kubernetes]
#   aliases: [CKV_K8S_8, CKV_K8S_9]
#   remediation: Add a readinessProbe (when the container serves traffic) and a livenessProbe (httpGet, tcpSocket, grpc or exec) to the container.
package builtin.kubernetes.probes

import data.lib.kubernetes as k8s
import rego.v1

long_running := {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController"}

deny contains {"msg": msg, "path": c.path} if {
	input.kind in long_running
	some c in k8s.containers
	c.path[count(c.path) - 2] == "containers"
	missing := [p | some p in ["livenessProbe", "readinessProbe"]; not is_object(object.get(c.container, p, null))]
	count(missing) > 0
	msg := sprintf("container %q has no %s: add %s", [k8s.name(c.container), concat(" or ", missing), concat(" and ", missing)])
}
