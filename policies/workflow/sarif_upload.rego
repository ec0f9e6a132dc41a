# METADATA
# title: Scan results are not uploaded to code scanning
# description: |
#   A scanner whose report only lives in the job log is read once, if at all. Uploading
#   its SARIF output with `github/codeql-action/upload-sarif` puts the findings in the
#   repository's Security tab (code scanning alerts): tracked, deduplicated across runs,
#   visible on pull requests and dismissable with a reason. Low severity: a scan that
#   gates the build already does its main job.
# related_resources:
# - https://docs.github.com/en/code-security/code-scanning/integrating-with-code-scanning/uploading-a-sarif-file-to-github
# - https://github.com/aquasecurity/trivy-action#using-trivy-with-github-code-scanning
# custom:
#   id: WF003
#   severity: low
#   kinds: [workflow]
#   remediation: Have the scanner write SARIF (for trivy-action, format sarif and an output file), then add a github/codeql-action/upload-sarif step with that sarif_file (under if always()) and the security-events write permission.
package builtin.workflow.sarif_upload

import data.lib.workflow as wf
import rego.v1

deny contains {"msg": msg, "path": s.path} if {
	not uploaded
	some s in wf.steps
	wf.scans(s.step)
	msg := sprintf("job %q scans but the workflow never uploads SARIF: add github/codeql-action/upload-sarif so the results reach code scanning", [s.job])
}

uploaded if {
	some s in wf.steps
	wf.uploads_sarif(s.step)
}
