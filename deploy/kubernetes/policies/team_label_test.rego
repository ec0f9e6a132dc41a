# Unit tests of team_label.rego: `policy test deploy/kubernetes/policies` (or `opa test`).
# Not listed in kustomization.yaml's configMapGenerator, so not served.
package org.team_label_test

import rego.v1

import data.org.team_label

update(old_team, new_team) := {
	"apiVersion": "v1",
	"kind": "Pod",
	"metadata": {"name": "web", "labels": {"team": new_team}},
	"review": {
		"operation": "UPDATE",
		"oldObject": {"metadata": {"name": "web", "labels": {"team": old_team}}},
	},
}

test_a_changed_team_is_denied if {
	denials := team_label.deny with input as update("blue", "red")
	denials == {{
		"msg": `label team changed from "blue" to "red": it is immutable; create a new object for the new team`,
		"path": ["metadata", "labels", "team"],
	}}
}

test_the_same_team_is_allowed if {
	count(team_label.deny) == 0 with input as update("blue", "blue")
}

test_create_is_allowed if {
	count(team_label.deny) == 0 with input as {
		"metadata": {"labels": {"team": "red"}},
		"review": {"operation": "CREATE"},
	}
}
