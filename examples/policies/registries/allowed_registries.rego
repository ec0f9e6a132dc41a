# METADATA
# title: Image comes from a registry that is not allowed
# description: |
#   Only images from the organisation's trusted registries may run or be built on.
#   The allowlist comes from `data.registries.allowed` (see examples/data/registries.yaml).
# custom:
#   id: ORG002
#   severity: high
#   kinds: [kubernetes, dockerfile]
#   remediation: Mirror the image into an allowed registry and reference it from there.
package org.registries

import rego.v1

allowed := data.registries.allowed

registry_of(image) := r if {
	parts := split(image, "/")
	count(parts) > 1
	first := parts[0]
	regex.match(`[.:]|^localhost$`, first)
	r := first
} else := "docker.io"

deny contains {"msg": msg, "path": array.concat(path, ["image"])} if {
	input.kind
	walk(input, [path, value])
	is_object(value)
	is_string(value.image)
	count(path) > 1
	path[count(path) - 2] in {"containers", "initContainers"}
	reg := registry_of(value.image)
	not reg in allowed
	msg := sprintf("image %q comes from %s, which is not in the allowed registries %v", [value.image, reg, allowed])
}

deny contains {"msg": msg, "path": ["stages", i, "base"]} if {
	some i, stage in input.stages
	stage.base.stage == null
	not stage.base.scratch
	not stage.base.registry in allowed
	msg := sprintf("base image %q comes from %s, which is not in the allowed registries %v", [stage.base.image, stage.base.registry, allowed])
}
