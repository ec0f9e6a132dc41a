# METADATA
# title: Final stage runs as root
# description: |
#   Unless the final stage sets a non-root USER, the container's process runs as
#   root. Containers share the host kernel, so root in the container is one kernel or
#   runtime bug away from root on the host.
# related_resources:
# - https://docs.docker.com/build/building/best-practices/#user
# custom:
#   id: DF002
#   severity: high
#   kinds: [dockerfile]
#   aliases: [DL3002, CKV_DOCKER_3, CKV_DOCKER_8]
#   remediation: Add `USER <non-root uid>` (for example `USER 65532`) to the final stage, after installing packages.
package builtin.dockerfile.root_user

import rego.v1

final_index := count(input.stages) - 1

final := input.stages[final_index]

users := [ins | some ins in final.instructions; ins.cmd == "user"]

deny contains {"msg": msg, "path": ["stages", final_index, "base"]} if {
	count(users) == 0
	not final.base.scratch
	msg := sprintf("final stage (FROM %s) sets no USER and runs as root: add a non-root USER", [final.base.image])
}

deny contains {"msg": msg, "line": last.line} if {
	count(users) > 0
	last := users[count(users) - 1]
	is_root(last.user)
	msg := sprintf("final stage runs as %q: switch to a non-root USER", [last.user])
}

is_root(user) if user in {"root", "0"}
