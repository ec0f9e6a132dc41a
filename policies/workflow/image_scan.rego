# METADATA
# title: Image is built without a vulnerability scan
# description: |
#   A workflow that builds or pushes a container image but never scans it ships
#   whatever vulnerabilities its base image and dependencies carry, unnoticed until
#   someone else finds them. Scanning in the same workflow (Trivy, Grype/Anchore, Snyk,
#   Docker Scout) lets the build fail, or at least report, before the image is used.
#   Builds are `docker/build-push-action`, `docker/bake-action`, buildah actions and
#   `docker|podman build|push`, `buildah bud` in `run:` scripts. A scan in another
#   workflow (or in a reusable workflow this one calls) cannot be seen here: suppress
#   the finding with a comment that says where the scan runs.
# related_resources:
# - https://docs.github.com/en/code-security/supply-chain-security/end-to-end-supply-chain/securing-builds
# - https://github.com/aquasecurity/trivy-action
# - https://owasp.org/www-project-top-10-ci-cd-security-risks/CICD-SEC-03-Dependency-Chain-Abuse
# custom:
#   id: WF002
#   severity: medium
#   kinds: [workflow]
#   remediation: Add a scan step after the build (aquasecurity/trivy-action, anchore/scan-action, snyk/actions/docker or docker/scout-action) that fails on serious vulnerabilities.
package builtin.workflow.image_scan

import data.lib.workflow as wf
import rego.v1

deny contains {"msg": msg, "path": first.path} if {
	not scanned
	some job, _ in input.jobs
	build_steps := [s | some s in wf.steps; s.job == job; wf.builds(s.step)]
	count(build_steps) > 0
	first := min_step(build_steps)
	msg := sprintf("job %q builds a container image but the workflow never scans it: add a vulnerability scan (trivy-action, anchore/scan-action, snyk, docker scout)", [job])
}

scanned if {
	some s in wf.steps
	wf.scans(s.step)
}

min_step(ss) := s if {
	i := min([x.index | some x in ss])
	some s in ss
	s.index == i
}
