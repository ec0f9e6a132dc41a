# METADATA
# title: Service is exposed outside the cluster
# description: |
#   A Service of type `NodePort` opens its port on every node of the cluster, and one of
#   type `LoadBalancer` asks the cloud for a public (by default) load balancer. Either
#   reaches past NetworkPolicies that select the pods by namespace, and is easy to add
#   by accident. Info: many Services are meant to be public; this makes each one a
#   decision. An Ingress or Gateway gives one audited entry point with TLS.
# related_resources:
# - https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types
# custom:
#   id: K8S038
#   severity: info
#   kinds: [kubernetes]
#   aliases: []
#   remediation: Use type ClusterIP behind an Ingress or Gateway; if the Service must be exposed, restrict loadBalancerSourceRanges and suppress this finding with a reason.
package builtin.kubernetes.service_exposed

import rego.v1

deny contains {"msg": msg, "path": ["spec", "type"]} if {
	input.kind == "Service"
	input.spec.type in {"NodePort", "LoadBalancer"}
	not restricted
	msg := sprintf("Service %q is of type %s, reachable from outside the cluster: use ClusterIP behind an Ingress or Gateway, or restrict loadBalancerSourceRanges", [object.get(input.metadata, "name", "<unnamed>"), input.spec.type])
}

restricted if {
	input.spec.type == "LoadBalancer"
	is_array(input.spec.loadBalancerSourceRanges)
	count(input.spec.loadBalancerSourceRanges) > 0
	not "0.0.0.0/0" in input.spec.loadBalancerSourceRanges
}
