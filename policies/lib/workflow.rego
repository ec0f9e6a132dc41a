# METADATA
# description: |
#   Helpers shared by the built-in GitHub Actions workflow rules: every step with its
#   path, the events that trigger the workflow, and what a step does (build or push a
#   container image, scan it, upload SARIF, sign it), read from `uses:` action names and
#   from the text of `run:` scripts.
# scope: package
package lib.workflow

import rego.v1

# Every step of every job: {"job", "index", "step", "path"}.
steps contains {"job": job, "index": i, "step": step, "path": ["jobs", job, "steps", i]} if {
	is_object(input.jobs)
	some job, spec in input.jobs
	is_object(spec)
	is_array(spec.steps)
	some i, step in spec.steps
	is_object(step)
}

# The events that trigger the workflow: `on: push`, `on: [push, pull_request]` or a map.
events contains e if {
	is_string(input.on)
	e := input.on
}

events contains e if {
	is_array(input.on)
	some e in input.on
	is_string(e)
}

events contains e if {
	is_object(input.on)
	some e, _ in input.on
}

# The action a step uses, lower-cased, without the version: `docker/build-push-action`.
action(step) := lower(split(step.uses, "@")[0]) if is_string(step.uses)

uses_any(step, prefixes) if {
	a := action(step)
	some p in prefixes
	startswith(a, p)
}

# The step's `run:` script, or "".
script(step) := step.run if is_string(step.run)

else := ""

param(step, key) := step["with"][key] if is_object(step["with"])

# A `with:` value that is on: true, "true", or an expression that may be true.
truthy(v) if v == true

truthy(v) if {
	is_string(v)
	lower(trim_space(v)) == "true"
}

truthy(v) if {
	is_string(v)
	contains(v, "${{")
}

# --- container images ---------------------------------------------------------------

build_actions := ["docker/build-push-action", "docker/bake-action", "redhat-actions/buildah-build"]

builds(step) if uses_any(step, build_actions)

builds(step) if regex.match(`(^|[\s;&|(])(docker|podman)\s+((buildx|image)\s+)?(build|bake)\b|(^|[\s;&|(])buildah\s+(bud|build)\b`, script(step))

builds(step) if pushes(step)

pushes(step) if {
	uses_any(step, ["docker/build-push-action", "docker/bake-action"])
	truthy(param(step, "push"))
}

pushes(step) if {
	uses_any(step, ["docker/build-push-action"])
	outputs := param(step, "outputs")
	is_string(outputs)
	regex.match(`type=registry|push=true`, outputs)
}

pushes(step) if uses_any(step, ["redhat-actions/push-to-registry", "akhilerm/tag-push-action"])

pushes(step) if regex.match(`(^|[\s;&|(])((docker|podman|buildah)\s+(image\s+)?push\b|docker\s+buildx\s+imagetools\s+create\b|crane\s+(push|copy|cp)\b)|(docker\s+buildx\s+(build|bake)\b|podman\s+build\b)[^\n]*\s--push\b`, script(step))

scan_actions := [
	"aquasecurity/trivy-action", "anchore/scan-action", "snyk/actions/docker",
	"docker/scout-action", "crazy-max/ghaction-container-scan", "azure/container-scan",
	"sysdiglabs/scan-action", "lacework/lw-scanner-action", "neuvector/scan-action",
	"aquasecurity/setup-trivy",
]

scans(step) if uses_any(step, scan_actions)

scans(step) if regex.match(`(^|[\s;&|(/])(trivy|grype)\s|\bsnyk\s+container\s|\bdocker\s+scout\s+(cves|quickview)\b`, script(step))

uploads_sarif(step) if uses_any(step, ["github/codeql-action/upload-sarif"])

sign_actions := [
	"sigstore/cosign-installer", "actions/attest-build-provenance", "actions/attest",
	"notaryproject/notation-action",
]

signs(step) if uses_any(step, sign_actions)

signs(step) if regex.match(`\bcosign\s+(sign|attest)\b|\bnotation\s+sign\b`, script(step))
