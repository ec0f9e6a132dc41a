# METADATA
# title: ADD downloads a remote file without a checksum
# description: |
#   `ADD https://…` fetches whatever the server returns at build time and puts it in the
#   image unverified: a compromised or spoofed host, or a silently replaced release
#   file, changes what you ship. `ADD --checksum=sha256:…` makes BuildKit verify the
#   download; a Git source is pinned by a full commit hash in its `#ref` (or
#   `--checksum`).
# related_resources:
# - https://docs.docker.com/reference/dockerfile/#add---checksum
# - https://docs.docker.com/build/building/best-practices/#add-or-copy
# - https://owasp.org/www-project-top-10-ci-cd-security-risks/CICD-SEC-03-Dependency-Chain-Abuse
# custom:
#   id: DF007
#   severity: medium
#   kinds: [dockerfile]
#   remediation: Add `--checksum=sha256:<digest>` to ADD of a URL (or download with curl and verify the checksum); pin Git sources to a commit hash.
package builtin.dockerfile.add_remote_checksum

import data.lib.dockerfile as df
import rego.v1

deny contains {"msg": msg, "path": ["instructions", i, "sources", k]} if {
	some i, ins in input.instructions
	ins.cmd == "add"
	not df.flag(ins, "checksum")
	some k, src in ins.sources
	remote(src)
	not git(src)
	msg := sprintf("ADD downloads %q without verifying it: add --checksum=sha256:<digest>", [src])
}

deny contains {"msg": msg, "path": ["instructions", i, "sources", k]} if {
	some i, ins in input.instructions
	ins.cmd == "add"
	not df.flag(ins, "checksum")
	some k, src in ins.sources
	git(src)
	not commit_pinned(src)
	msg := sprintf("ADD clones %q at a movable ref: pin it to a full commit hash (#<sha>) or add --checksum=<commit>", [src])
}

remote(src) if regex.match(`^[A-Za-z][A-Za-z0-9+.-]*://`, src)

git(src) if regex.match(`^(git@|git://|ssh://)`, src)

git(src) if {
	remote(src)
	regex.match(`\.git([#?].*)?$`, src)
}

commit_pinned(src) if {
	ref := split(split(src, "#")[1], ":")[0]
	regex.match(`^([0-9a-f]{40}|[0-9a-f]{64})$`, ref)
}

commit_pinned(src) if regex.match(`[?&](ref|checksum)=([0-9a-f]{40}|[0-9a-f]{64})(&|#|$)`, src)
