# Unit tests of the registry helpers (`policy test --builtin`, or `opa test policies/lib`).
package lib.registries_test

import data.lib.registries as reg
import rego.v1

test_qualified_names_follow_docker if {
	reg.qualified("nginx") == "docker.io/library/nginx"
	reg.qualified("nginx:1.27@sha256:abc") == "docker.io/library/nginx"
	reg.qualified("bitnami/redis:7") == "docker.io/bitnami/redis"
	reg.qualified("index.docker.io/library/alpine:3") == "docker.io/library/alpine"
	reg.qualified("ghcr.io/acme/app:1.2") == "ghcr.io/acme/app"
	reg.qualified("localhost:5000/app") == "localhost:5000/app"
	reg.qualified("localhost/app") == "localhost/app"
	reg.qualified("Registry.Example.com/team/app") == "registry.example.com/team/app"
}

test_entries_match_hosts_prefixes_and_wildcards if {
	reg.allowed("ghcr.io/acme/app:1") with data.settings.allowed_registries as ["ghcr.io"]
	reg.allowed("ghcr.io/acme/app:1") with data.settings.allowed_registries as ["ghcr.io/acme/"]
	not reg.allowed("ghcr.io/acmecorp/app:1") with data.settings.allowed_registries as ["ghcr.io/acme"]
	reg.allowed("alpine:3.20") with data.settings.allowed_registries as ["docker.io/library"]
	reg.allowed("alpine:3.20") with data.settings.allowed_registries as "index.docker.io"
	not reg.allowed("bitnami/redis") with data.settings.allowed_registries as ["docker.io/library"]
	reg.allowed("europe-docker.pkg.dev/p/r/app") with data.settings.allowed_registries as ["*.pkg.dev"]
	not reg.allowed("pkg.dev.evil.com/app") with data.settings.allowed_registries as ["*.pkg.dev"]
}

test_unset_or_empty_setting_disables_the_check if {
	not reg.allowlist with data.settings as {}
	not reg.allowlist with data.settings.allowed_registries as []
	not reg.allowlist with data.settings.allowed_registries as ""
}
