# METADATA
# title: apt-get install without --no-install-recommends
# description: |
#   By default apt also installs every "recommended" package: often dozens of extra
#   packages (documentation tools, X libraries, compilers) that the image never uses
#   but that enlarge it and add vulnerabilities to patch.
#   Token-based: an `apt-get`/`apt` command with an `install` word and no
#   `--no-install-recommends` (or `-o APT::Install-Recommends=false`). A Dockerfile
#   that configures `APT::Install-Recommends` anywhere in a RUN is not checked.
# related_resources:
# - https://docs.docker.com/build/building/best-practices/#apt-get
# - https://www.cisecurity.org/benchmark/docker
# custom:
#   id: DF014
#   severity: low
#   kinds: [dockerfile]
#   aliases: [DL3015]
#   remediation: Add --no-install-recommends to apt-get install (and clean /var/lib/apt/lists in the same RUN).
package builtin.dockerfile.apt_no_recommends

import data.lib.dockerfile as df
import rego.v1

deny contains {"msg": msg, "line": ins.line, "end_line": ins.end_line} if {
	not configured
	some i, pcs in df.package_commands
	ins := input.instructions[i]
	some pc in pcs
	pc.manager in {"apt-get", "apt"}
	pc.action == "install"
	not no_recommends(pc.words)
	not simulated(pc.words)
	msg := sprintf("%s install without --no-install-recommends also installs recommended packages: add --no-install-recommends", [pc.manager])
}

no_recommends(words) if "--no-install-recommends" in words

no_recommends(words) if {
	some w in words
	contains(w, "Install-Recommends=")
	regex.match(`(?i)Install-Recommends=["']?(false|0|no|off)`, w)
}

# `apt-get install -s` only prints what it would do.
simulated(words) if {
	some w in words
	w in {"-s", "--simulate", "--dry-run", "--no-act", "--just-print", "--recon"}
}

# A Dockerfile that writes the APT setting (apt.conf.d) decides it once for all RUNs.
configured if {
	some ins in input.instructions
	ins.cmd == "run"
	some script in df.scripts(ins)
	contains(script, "Install-Recommends")
}
