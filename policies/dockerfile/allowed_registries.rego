# METADATA
# title: Base image comes from a registry that is not allowed
# description: |
#   Organisations often allow images only from registries they mirror, scan and
#   control: a base image pulled straight from a public registry bypasses that review,
#   and a typo-squatted or hijacked repository ends up in the build. Every stage is
#   checked, builder stages included, since their code runs during the build.
#   The rule is silent unless `data.settings.allowed_registries` is set (in
#   `.policy.yaml`: `settings: {allowed_registries: [ghcr.io/acme, docker.io/library]}`);
#   see docs/configuration.md for the entry syntax.
# related_resources:
# - https://docs.docker.com/docker-hub/image-library/mirror/
# - https://www.cisecurity.org/benchmark/docker
# - https://owasp.org/www-project-top-10-ci-cd-security-risks/CICD-SEC-03-Dependency-Chain-Abuse
# custom:
#   id: DF008
#   severity: high
#   kinds: [dockerfile]
#   aliases: [DL3026]
#   remediation: Mirror the base image into an allowed registry and reference it from there, or extend settings.allowed_registries.
package builtin.dockerfile.allowed_registries

import data.lib.registries as reg
import rego.v1

deny contains {"msg": msg, "path": ["stages", i, "base"]} if {
	reg.allowlist
	some i, stage in input.stages
	base := stage.base
	not base.scratch
	base.stage == null
	is_string(base.registry)
	count(base.unresolved) == 0
	not reg.allowed(base.image)
	msg := sprintf("base image %q comes from %s, which is not an allowed registry (%s): mirror it into an allowed registry", [base.image, reg.registry(base.image), reg.allowlist_text])
}
