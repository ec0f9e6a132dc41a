# METADATA
# title: pull_request_target checks out the pull request's code
# description: |
#   `pull_request_target` runs in the context of the base repository: with its secrets
#   and a GITHUB_TOKEN that can write, even for pull requests from forks. Checking out
#   the pull request's head (`ref: ${{ github.event.pull_request.head.sha }}`,
#   `refs/pull/N/merge`, `gh pr checkout`) and then building, testing or installing it
#   runs the attacker's code with those privileges: the "pwn request". Use
#   `pull_request` to run untrusted code, and keep `pull_request_target` for jobs that
#   only label or comment, without checking out the head.
# related_resources:
# - https://securitylab.github.com/resources/github-actions-preventing-pwn-requests/
# - https://docs.github.com/en/actions/writing-workflows/choosing-when-your-workflow-runs/events-that-trigger-workflows#pull_request_target
# - https://docs.github.com/en/actions/security-for-github-actions/security-guides/security-hardening-for-github-actions
# custom:
#   id: WF006
#   severity: high
#   kinds: [workflow]
#   remediation: Trigger the job with pull_request instead; if it needs secrets, split it into an unprivileged pull_request workflow and a workflow_run workflow that handles its artifacts as untrusted data.
package builtin.workflow.pull_request_target

import data.lib.workflow as wf
import rego.v1

# Expressions that name the pull request's code.
head_pattern := `github\.event\.pull_request\.head\.(sha|ref)|github\.head_ref|github\.event\.pull_request\.merge_commit_sha|refs/pull/|github\.event\.pull_request\.head\.repo\.full_name`

deny contains {"msg": msg, "path": array.concat(s.path, ["with", key])} if {
	"pull_request_target" in wf.events
	some s in wf.steps
	wf.uses_any(s.step, ["actions/checkout"])
	key := head_key(s.step)
	msg := sprintf("job %q runs on pull_request_target and checks out the pull request's code (%s): untrusted code then runs with secrets and a write token; use pull_request instead", [s.job, key])
}

# The checkout input that names the pull request's code (one finding per step).
head_key(step) := "ref" if names_head(step, "ref")

else := "repository" if names_head(step, "repository")

names_head(step, key) if {
	value := wf.param(step, key)
	is_string(value)
	regex.match(head_pattern, value)
}

deny contains {"msg": msg, "path": array.concat(s.path, ["run"])} if {
	"pull_request_target" in wf.events
	some s in wf.steps
	regex.match(`\bgh\s+pr\s+checkout\b|\bgit\s+(fetch|checkout|switch|pull)\b[^\n]*(refs/pull/|pull/\$|github\.event\.pull_request\.head\.|github\.head_ref)`, wf.script(s.step))
	msg := sprintf("job %q runs on pull_request_target and fetches the pull request's code in a script: untrusted code then runs with secrets and a write token; use pull_request instead", [s.job])
}
