# METADATA
# title: Container image comes from a registry that is not allowed
# description: |
#   Organisations often allow images only from registries they mirror, scan and
#   control (and enforce it at admission): an image pulled straight from a public
#   registry bypasses that review, and a typo-squatted or hijacked repository ends up
#   running in the cluster. Init and ephemeral containers are checked too.
#   The rule is silent unless `data.settings.allowed_registries` is set (in
#   `.policy.yaml`: `settings: {allowed_registries: [ghcr.io/acme, docker.io/library]}`);
#   see docs/configuration.md for the entry syntax.
# related_resources:
# - https://kubernetes.io/docs/concepts/containers/images/#image-names
# - https://kubernetes.io/docs/concepts/security/security-checklist/#images
# - https://owasp.org/www-project-kubernetes-top-ten/2022/en/src/K02-supply-chain-vulnerabilities
# custom:
#   id: K8S014
#   severity: high
#   kinds: [kubernetes]
#   remediation: Mirror the image into an allowed registry and reference it from there, or extend settings.allowed_registries.
package builtin.kubernetes.allowed_registries

import data.lib.kubernetes as k8s
import data.lib.registries as reg
import rego.v1

deny contains {"msg": msg, "path": array.concat(c.path, ["image"])} if {
	reg.allowlist
	some c in k8s.containers
	image := c.container.image
	is_string(image)
	trim_space(image) != ""
	not contains(image, "$")
	not reg.allowed(image)
	msg := sprintf("container %q uses image %q from %s, which is not an allowed registry (%s): mirror it into an allowed registry", [k8s.name(c.container), image, reg.registry(image), reg.allowlist_text])
}
