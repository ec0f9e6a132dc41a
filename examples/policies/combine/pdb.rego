# METADATA
# title: Deployment without a PodDisruptionBudget
# description: |
#   An example of a combined package (docs/inputs.md): `input` is the whole run as
#   [{path, contents}], and `path` starts with the index of the document it points into.
# custom:
#   id: ORG-PDB
#   severity: low
#   kinds: [kubernetes]
#   input: combined
#   remediation: Add a PodDisruptionBudget whose selector matches the Deployment's pods.
package org.pdb

import rego.v1

covered(labels, namespace) if {
	some entry in input
	entry.contents.kind == "PodDisruptionBudget"
	object.get(entry.contents.metadata, "namespace", "default") == namespace
	every k, v in entry.contents.spec.selector.matchLabels {
		labels[k] == v
	}
}

deny contains {"msg": msg, "path": [i, "contents", "metadata", "name"]} if {
	some i, entry in input
	entry.contents.kind == "Deployment"
	deployment := entry.contents
	namespace := object.get(deployment.metadata, "namespace", "default")
	not covered(deployment.spec.template.metadata.labels, namespace)
	msg := sprintf("Deployment %q (%s) has no PodDisruptionBudget: add one that selects its pods", [deployment.metadata.name, entry.path])
}
