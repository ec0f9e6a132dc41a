# METADATA
# title: apk add without --no-cache
# description: |
#   `apk add` keeps the downloaded package index under /var/cache/apk in the layer:
#   megabytes of dead weight in every image built from it. `apk add --no-cache` fetches
#   the index, installs, and leaves nothing behind (no separate `apk update` needed).
#   Token-based: an `apk` command with an `add` word and no `--no-cache` (or
#   `--no-network`, which installs from what is already cached). Not reported
#   when the same RUN removes /var/cache/apk or mounts a build cache there
#   (`--mount=type=cache,target=/var/cache/apk`, where keeping the cache is the point).
# related_resources:
# - https://docs.docker.com/build/building/best-practices/#run
# - https://wiki.alpinelinux.org/wiki/Alpine_Package_Keeper
# custom:
#   id: DF015
#   severity: low
#   kinds: [dockerfile]
#   aliases: [DL3019]
#   remediation: Use `apk add --no-cache <packages>` (and drop the separate `apk update`).
package builtin.dockerfile.apk_no_cache

import data.lib.dockerfile as df
import rego.v1

deny contains {"msg": msg, "line": ins.line, "end_line": ins.end_line} if {
	some i, pcs in df.package_commands
	ins := input.instructions[i]
	some pc in pcs
	pc.manager == "apk"
	pc.action == "add"
	not "--no-cache" in pc.words
	not "--no-network" in pc.words
	not cache_handled(ins)
	msg := "apk add without --no-cache leaves the package index in the image: use apk add --no-cache"
}

cache_handled(ins) if {
	some script in df.scripts(ins)
	contains(script, "/var/cache/apk")
}

cache_handled(ins) if {
	some m in ins.mounts
	m.type == "cache"
	trim_suffix(object.get(m, "target", object.get(m, "dst", object.get(m, "destination", ""))), "/") in {"/var/cache/apk", "/etc/apk/cache"}
}
