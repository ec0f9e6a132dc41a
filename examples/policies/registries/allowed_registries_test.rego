# Rego unit tests for allowed_registries.rego, run by `policy test examples/policies`
# (as `opa test` would): every `test_*` rule must evaluate to true. `with input as` gives
# the document, `with data.registries.allowed as` the allowlist, so the tests do not
# depend on examples/data/registries.yaml.
package org.registries_test

import rego.v1

import data.org.registries

pod(image) := {
	"apiVersion": "v1",
	"kind": "Pod",
	"metadata": {"name": "p"},
	"spec": {"containers": [{"name": "app", "image": image}]},
}

test_registry_of_defaults_to_docker_hub if {
	registries.registry_of("nginx:1.27") == "docker.io"
	registries.registry_of("library/nginx:1.27") == "docker.io"
	registries.registry_of("ghcr.io/org/app:1") == "ghcr.io"
	registries.registry_of("localhost/app:1") == "localhost"
}

test_image_from_other_registry_is_denied if {
	results := registries.deny with input as pod("quay.io/org/app:1")
		with data.registries.allowed as ["ghcr.io"]
	count(results) == 1
	some r in results
	contains(r.msg, "comes from quay.io")
	r.path == ["spec", "containers", 0, "image"]
}

test_image_from_allowed_registry_passes if {
	results := registries.deny with input as pod("ghcr.io/org/app:1")
		with data.registries.allowed as ["ghcr.io"]
	count(results) == 0
}

test_dockerfile_base_image_is_checked if {
	results := registries.deny with input as {"stages": [{"base": {
		"image": "docker.io/library/alpine:3.20",
		"registry": "docker.io",
		"stage": null,
	}}]}
		with data.registries.allowed as ["ghcr.io"]
	count(results) == 1
}
