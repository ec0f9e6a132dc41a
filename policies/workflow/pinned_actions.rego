# METADATA
# title: Action is not pinned to a commit
# description: |
#   `uses: owner/action@v4` follows a mutable tag: whoever controls the action's
#   repository can change the code your workflow runs with your secrets.
# related_resources:
# - https://docs.github.com/en/actions/security-for-github-actions/security-guides/security-hardening-for-github-actions#using-third-party-actions
# custom:
#   id: WF001
#   severity: medium
#   kinds: [workflow]
#   remediation: Pin the action to a full 40-character commit SHA (keep the tag as a comment).
package builtin.workflow.pinned_actions

import rego.v1

deny contains {"msg": msg, "path": ["jobs", job, "steps", i, "uses"]} if {
	some job, spec in input.jobs
	some i, step in spec.steps
	uses := step.uses
	not startswith(uses, "./")
	not startswith(uses, "docker://")
	not pinned(uses)
	msg := sprintf("step uses %q: pin it to a full commit SHA", [uses])
}

pinned(uses) if regex.match(`@[0-9a-f]{40}$`, uses)
