# METADATA
# title: Workflow does not restrict GITHUB_TOKEN permissions
# description: |
#   Without a `permissions` block, every job's GITHUB_TOKEN gets the repository's or
#   organisation's default permissions, which are read-write on everything in older
#   repositories and organisations; `write-all` grants that explicitly. Any step that
#   is compromised (a hijacked action, an injected script) can then push code, create
#   releases or change packages. Least privilege is a top-level `permissions:` with
#   read access (or `{}`), and broader grants only on the jobs that need them.
#   A workflow without top-level permissions is not reported when every job sets its
#   own.
# related_resources:
# - https://docs.github.com/en/actions/security-for-github-actions/security-guides/automatic-token-authentication#modifying-the-permissions-for-the-github_token
# - https://docs.github.com/en/actions/security-for-github-actions/security-guides/security-hardening-for-github-actions
# - https://owasp.org/www-project-top-10-ci-cd-security-risks/CICD-SEC-05-Insufficient-PBAC
# custom:
#   id: WF005
#   severity: medium
#   kinds: [workflow]
#   remediation: Add a top-level `permissions` block with read access only (contents read), and grant write scopes per job where needed; never use write-all.
package builtin.workflow.permissions

import rego.v1

deny contains {"msg": msg, "path": ["permissions"]} if {
	not "permissions" in object.keys(input)
	open_jobs := [job |
		some job, spec in input.jobs
		not job_permissions(spec)
	]
	count(open_jobs) > 0
	msg := sprintf("the workflow sets no top-level permissions, so %s the default GITHUB_TOKEN permissions: add permissions with contents read (and grant more per job)", [jobs_text(open_jobs)])
}

deny contains {"msg": msg, "path": ["permissions"]} if {
	write_all(input.permissions)
	msg := "the workflow grants write-all permissions to every job: list only the scopes each job needs (contents read by default)"
}

deny contains {"msg": msg, "path": ["jobs", job, "permissions"]} if {
	some job, spec in input.jobs
	is_object(spec)
	write_all(spec.permissions)
	msg := sprintf("job %q grants write-all permissions: list only the scopes it needs", [job])
}

job_permissions(spec) if {
	is_object(spec)
	"permissions" in object.keys(spec)
}

write_all(p) if {
	is_string(p)
	lower(trim_space(p)) == "write-all"
}

jobs_text(jobs) := sprintf("job %q gets", [jobs[0]]) if count(jobs) == 1

else := sprintf("jobs %s get", [concat(", ", [sprintf("%q", [j]) | some j in sort(jobs)])])
