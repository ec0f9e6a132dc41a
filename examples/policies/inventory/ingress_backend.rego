# METADATA
# title: Ingress routes to a Service that is not in the set
# description: |
#   An example of a cross-document rule on data.inventory (docs/inputs.md): evaluated
#   on each Ingress, it looks the backend Service up in the Ingress's namespace and
#   points at the backend's service name.
# custom:
#   id: ORG-INGRESS-BACKEND
#   severity: medium
#   kinds: [kubernetes]
#   remediation: Point the backend at an existing Service, or add the Service.
package org.ingress_backend

import rego.v1

namespace := object.get(input.metadata, "namespace", "default")

deny contains {"msg": msg, "path": ["spec", "rules", i, "http", "paths", j, "backend", "service", "name"]} if {
	input.kind == "Ingress"
	some i, rule in input.spec.rules
	some j, path in rule.http.paths
	service := path.backend.service.name
	not data.inventory.namespace[namespace].v1.Service[service]
	msg := sprintf("Ingress %q routes to Service %q, which is not in namespace %q: add the Service or fix the backend", [input.metadata.name, service, namespace])
}
