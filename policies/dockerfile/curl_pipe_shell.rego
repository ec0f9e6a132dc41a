# METADATA
# title: Remote script piped into a shell
# description: |
#   `curl … | sh` runs whatever the server returns at build time, unverified: a
#   compromised or spoofed host owns the build.
# related_resources:
# - https://docs.docker.com/build/building/best-practices/#run
# custom:
#   id: DF005
#   severity: medium
#   kinds: [dockerfile]
#   remediation: Download the file, verify its checksum or signature, then run it.
package builtin.dockerfile.curl_pipe_shell

import rego.v1

deny contains {"msg": msg, "line": ins.line, "end_line": ins.end_line} if {
	some ins in input.instructions
	ins.cmd == "run"
	some cmd in ins.args
	regex.match(`(curl|wget)[^|;&]*\|\s*(sudo\s+)?(ba|z|da)?sh\b`, cmd)
	msg := "RUN pipes a downloaded script into a shell: download, verify a checksum, then execute"
}
