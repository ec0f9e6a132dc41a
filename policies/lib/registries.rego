# METADATA
# description: |
#   The registry allowlist shared by the built-in rules (DF008, K8S014): the setting
#   `data.settings.allowed_registries` (`settings: {allowed_registries: [...]}` in
#   .policy.yaml, or any data file), and image references normalised the way Docker
#   reads them.
# scope: package
package lib.registries

import rego.v1

setting := data.settings.allowed_registries

# The allowlist, normalised; undefined (the rules stay silent) when the setting is
# absent or empty. A single string is a list of one.
allowlist := [e | some x in entries; e := normalise_entry(x)] if count(entries) > 0

entries := [x | some x in setting; is_string(x); trim_space(x) != ""] if is_array(setting)

else := [setting] if {
	is_string(setting)
	trim_space(setting) != ""
}

# For messages: the list as written.
allowlist_text := concat(", ", entries)

# `registry/repository` of an image reference, without tag or digest: the first
# component is a registry when it has a `.` or `:` or is `localhost`, otherwise the
# image is on Docker Hub (`docker.io`, with `library/` for official images).
qualified(image) := sprintf("%s/%s", [registry(image), repository(image)])

_name(image) := regex.replace(split(image, "@")[0], `:[^/:]*$`, "")

_parts(image) := split(_name(image), "/")

registry(image) := canonical_host(_parts(image)[0]) if {
	count(_parts(image)) > 1
	regex.match(`[.:]|^localhost$`, _parts(image)[0])
} else := "docker.io"

repository(image) := concat("/", array.slice(parts, 1, count(parts))) if {
	parts := _parts(image)
	count(parts) > 1
	regex.match(`[.:]|^localhost$`, parts[0])
} else := concat("/", ["library", _name(image)]) if {
	count(_parts(image)) == 1
} else := _name(image)

# Docker Hub has several names.
canonical_host(h) := "docker.io" if lower(h) in {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}

else := lower(h)

# An entry is a registry host (`ghcr.io`), a host with a path prefix
# (`ghcr.io/acme`, `docker.io/library`), or `*.` + a host suffix (`*.pkg.dev`).
normalise_entry(e) := n if {
	t := trim_suffix(trim_space(e), "/")
	parts := split(t, "/")
	rest := array.slice(parts, 1, count(parts))
	n := concat("/", array.concat([canonical_host(parts[0])], rest))
}

allowed(image) if {
	q := qualified(image)
	some e in allowlist
	matches(q, e)
}

matches(q, e) if q == e

matches(q, e) if startswith(q, concat("", [e, "/"]))

matches(q, e) if {
	startswith(e, "*.")
	not contains(e, "/")
	host := split(q, "/")[0]
	endswith(host, substring(e, 1, -1))
}
