# METADATA
# title: The team label of a workload is immutable
# description: |
#   An example of a policy that only an admission webhook can enforce: it compares the
#   object with its previous version, which the webhook passes as
#   `input.review.oldObject` on UPDATE (docs/inputs.md). Replace this file with your own
#   policies; every `.rego` file of this folder is served.
# custom:
#   id: ORG001
#   severity: high
#   kinds: [kubernetes]
#   remediation: Keep the team label, or create a new object for the new team.
package org.team_label

import rego.v1

deny contains {"msg": msg, "path": ["metadata", "labels", "team"]} if {
	input.review.operation == "UPDATE"
	old := input.review.oldObject.metadata.labels.team
	input.metadata.labels.team != old
	msg := sprintf("label team changed from %q to %q: it is immutable; create a new object for the new team", [old, input.metadata.labels.team])
}
