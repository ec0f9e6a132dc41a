# METADATA
# title: Service selects no workload of the set
# description: |
#   A Service routes to the pods its `spec.selector` matches in its own namespace. When
#   no workload of the set has pod labels that include every key and value of the
#   selector, the Service has no endpoints: a typo in a label, or a workload renamed
#   without its Service. Keys that controllers add to the pods they create
#   (`statefulset.kubernetes.io/pod-name`, `pod-template-hash`, ...) are not compared.
#   Reported at the Service's `spec.selector`. A Service is only judged when the workload
#   it is evidently for is in the set: a workload (in any namespace) named as the
#   Service or as one of its selector's values. Without one, its workload may simply be
#   in files this run does not read (a sample, the files a change touched), which no
#   rule can tell from a missing one. Services without a selector (endpoints managed
#   by hand, ExternalName) are not judged either. A cross-document
#   rule, evaluated once over the whole run (`custom.input: combined`, docs/inputs.md);
#   each Service is compared with the workloads of its own namespace only.
# related_resources:
# - https://kubernetes.io/docs/concepts/services-networking/service/#defining-a-service
# custom:
#   id: K8S103
#   severity: low
#   kinds: [kubernetes]
#   input: combined
#   remediation: Make spec.selector match the pod template labels of the workload the Service is for (or remove the Service).
package builtin.kubernetes.service_selector

import data.lib.cluster
import rego.v1

services[i] := svc if {
	some i, svc in cluster.kube
	svc.kind == "Service"
	svc.apiVersion == "v1"
	is_object(svc.spec.selector)
	count(svc.spec.selector) > 0
}

selected(i) if {
	svc := services[i]
	ns := cluster.namespace(svc)
	some j in cluster.workloads_in(ns)
	labels := cluster.pod_labels(cluster.workloads[j])
	every k, v in svc.spec.selector {
		matches(labels, k, v)
	}
}

matches(labels, k, v) if labels[k] == v

# Labels that controllers put on the pods they create, which no pod template carries:
# a Service selecting one pod of a StatefulSet (`statefulset.kubernetes.io/pod-name`)
# is judged on its other keys.
matches(_, k, _) if k in controller_labels

controller_labels := {
	"statefulset.kubernetes.io/pod-name",
	"apps.kubernetes.io/pod-index",
	"controller-revision-hash",
	"pod-template-hash",
	"batch.kubernetes.io/job-name",
	"batch.kubernetes.io/controller-uid",
	"job-name",
	"controller-uid",
}

# A workload of the set that the Service is evidently for: named as the Service or as
# one of its selector's values (`app: web` for the Deployment `web`).
intended(i) if {
	svc := services[i]
	names := {svc.metadata.name} | {v | some v in svc.spec.selector}
	some w in cluster.workloads
	w.metadata.name in names
}

deny contains {"msg": msg, "path": [i, "contents", "spec", "selector"]} if {
	some i, svc in services
	intended(i)
	not selected(i)
	msg := sprintf("%s in namespace %q selects %v, which no workload of this set labels its pods with, so it has no endpoints: fix the selector or the pod template labels", [cluster.display(svc), cluster.namespace(svc), svc.spec.selector])
}
