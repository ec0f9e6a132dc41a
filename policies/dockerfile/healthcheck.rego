# METADATA
# title: Final stage has no HEALTHCHECK
# description: |
#   Without a HEALTHCHECK, Docker, Compose and Swarm only know whether the process is
#   running, not whether it still serves: a hung or deadlocked service stays in
#   rotation. Advisory (info): Kubernetes ignores HEALTHCHECK and uses probes, and many
#   organisations leave it out on purpose. Only images that EXPOSE a port (services)
#   are checked: CLI tools, jobs and base images have nothing to probe. An explicit
#   `HEALTHCHECK NONE` is a decision and is not reported; a HEALTHCHECK or EXPOSE in a
#   stage the final stage builds on (`FROM <stage>`) counts. A HEALTHCHECK inherited
#   from an external base image cannot be seen here.
# related_resources:
# - https://docs.docker.com/reference/dockerfile/#healthcheck
# - https://www.cisecurity.org/benchmark/docker
# custom:
#   id: DF009
#   severity: info
#   kinds: [dockerfile]
#   remediation: Add `HEALTHCHECK CMD <command that checks the service>` to the final stage, or `HEALTHCHECK NONE` to record that none is wanted.
package builtin.dockerfile.healthcheck

import data.lib.dockerfile as df
import rego.v1

deny contains {"msg": msg, "path": ["stages", df.final_index, "base"]} if {
	df.final_index >= 0
	service
	not has_healthcheck
	msg := "the final stage EXPOSEs a port but has no HEALTHCHECK: add one so Docker can tell a hung service from a healthy one (or HEALTHCHECK NONE to opt out)"
}

has_healthcheck if {
	some [_, ins] in df.final_instructions
	ins.cmd == "healthcheck"
}

service if {
	some [_, ins] in df.final_instructions
	ins.cmd == "expose"
}
