# METADATA
# title: ADD used where COPY suffices
# description: |
#   `ADD` does more than copy: it downloads URLs and silently extracts local tar
#   archives. For plain local files that magic is a hazard (an archive added later is
#   unpacked instead of copied) and hides intent; `COPY` does only what it says.
#   `ADD` of a local archive (`*.tar*`, `*.tgz`) to extract it is legitimate and not
#   reported, nor are sources whose name is only known at build time (`$VAR`); remote
#   sources are DF007's concern.
# related_resources:
# - https://docs.docker.com/build/building/best-practices/#add-or-copy
# - https://docs.docker.com/reference/dockerfile/#add
# - https://www.cisecurity.org/benchmark/docker
# custom:
#   id: DF006
#   severity: low
#   kinds: [dockerfile]
#   aliases: [DL3020, CKV_DOCKER_4]
#   remediation: Replace ADD with COPY for local files and directories; keep ADD only to extract a local tar archive.
package builtin.dockerfile.add_instead_of_copy

import rego.v1

deny contains {"msg": msg, "path": ["instructions", i]} if {
	some i, ins in input.instructions
	ins.cmd == "add"
	count(ins.sources) > 0
	every src in ins.sources {
		plain_local(src)
	}
	msg := sprintf("ADD copies local %s: use COPY, which only copies (ADD also downloads URLs and extracts archives)", [describe(ins.sources)])
}

plain_local(src) if {
	not regex.match(`^[A-Za-z][A-Za-z0-9+.-]*://|^git@`, src)
	not contains(src, "$")
	not regex.match(`(?i)\.(tar(\.[a-z0-9]+)?|tgz|tbz2?|txz|tzst|tlz)$`, src)
}

describe(sources) := "heredoc content" if {
	every src in sources {
		startswith(src, "<<")
	}
} else := sprintf("%q", [concat(" ", sources)])
