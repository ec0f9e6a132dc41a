# METADATA
# title: Two stages have the same name
# description: |
#   Stage names are compared case-insensitively, and `FROM <name>` and `COPY --from=<name>`
#   resolve to the *first* stage of that name (BuildKit rejects the file outright in
#   recent versions). The second stage is dead code, or the first one is used where the
#   second was meant.
# related_resources:
# - https://github.com/hadolint/hadolint/wiki/DL3024
# custom:
#   id: DF022
#   severity: medium
#   kinds: [dockerfile]
#   aliases: [DL3024, CKV_DOCKER_11]
#   remediation: Give every stage a unique name.
package builtin.dockerfile.stage_name_unique

import rego.v1

deny contains {"msg": msg, "path": ["stages", j, "name"]} if {
	some j, st in input.stages
	is_string(st.name)
	some k, earlier in input.stages
	k < j
	is_string(earlier.name)
	lower(earlier.name) == lower(st.name)
	not earlier_duplicate(j, k, st.name)
	msg := sprintf("stage name %q is already used by the stage on line %d: give every stage a unique name", [st.name, earlier.line])
}

# Report against the first earlier stage of that name only.
earlier_duplicate(j, k, name) if {
	some m, other in input.stages
	m < k
	is_string(other.name)
	lower(other.name) == lower(name)
}
