# METADATA
# title: Final image is built on a full OS base image
# description: |
#   General-purpose distribution images (ubuntu, debian without -slim, centos, fedora,
#   amazonlinux, Red Hat UBI, ...) ship a shell, a package manager and hundreds of
#   packages the application never uses: each is scanner noise, patching work and a
#   tool for an attacker who gets in. A minimal base (distroless, a `-slim` variant,
#   alpine, Chainguard/Wolfi, UBI minimal/micro) carries only what the app needs.
#   A heuristic on the final image only: builder stages can be as large as they like,
#   and `scratch` is as minimal as it gets. Images that are themselves general
#   purpose bases (toolboxes, CI runners, dev containers) can ignore it.
# related_resources:
# - https://docs.docker.com/build/building/best-practices/#choose-the-right-base-image
# - https://github.com/GoogleContainerTools/distroless
# - https://www.cisecurity.org/benchmark/docker
# custom:
#   id: DF010
#   severity: low
#   kinds: [dockerfile]
#   remediation: Build the final stage on a minimal image (gcr.io/distroless/*, debian:*-slim, alpine, cgr.dev/chainguard/*, ubi-minimal) and copy the build output into it.
package builtin.dockerfile.minimal_base

import data.lib.dockerfile as df
import rego.v1

# Full-OS repositories, as `registry/repository`.
full_os := {
	"docker.io/library/ubuntu",
	"docker.io/library/debian",
	"docker.io/library/centos",
	"docker.io/library/fedora",
	"docker.io/library/amazonlinux",
	"docker.io/library/rockylinux",
	"docker.io/library/almalinux",
	"docker.io/library/oraclelinux",
	"docker.io/library/archlinux",
	"docker.io/library/opensuse",
	"docker.io/library/buildpack-deps",
	"docker.io/rockylinux/rockylinux",
	"docker.io/opensuse/leap",
	"docker.io/opensuse/tumbleweed",
	"docker.io/redhat/ubi8",
	"docker.io/redhat/ubi9",
	"docker.io/redhat/ubi10",
	"quay.io/centos/centos",
	"public.ecr.aws/amazonlinux/amazonlinux",
	"public.ecr.aws/ubuntu/ubuntu",
	"public.ecr.aws/debian/debian",
	"registry.access.redhat.com/ubi8",
	"registry.access.redhat.com/ubi8/ubi",
	"registry.access.redhat.com/ubi9",
	"registry.access.redhat.com/ubi9/ubi",
	"registry.access.redhat.com/ubi10",
	"registry.access.redhat.com/ubi10/ubi",
	"registry.redhat.io/ubi8",
	"registry.redhat.io/ubi8/ubi",
	"registry.redhat.io/ubi9",
	"registry.redhat.io/ubi9/ubi",
	"registry.redhat.io/ubi10/ubi",
}

deny contains {"msg": msg, "path": ["stages", root, "base"]} if {
	root := df.final_root
	base := input.stages[root].base
	not base.scratch
	is_string(base.registry)
	sprintf("%s/%s", [base.registry, base.repository]) in full_os
	# A missing tag is not a minimal one (object.get: OPA evaluates call arguments
	# outside `not`, so an undefined `base.tag` would make this line undefined).
	not minimal_tag(object.get(base, "tag", null))
	msg := sprintf("the final image is built on the full OS image %q: use a minimal base (distroless, a -slim variant, alpine, Chainguard) with only what the app needs", [base.image])
}

minimal_tag(tag) if {
	is_string(tag)
	regex.match(`(?i)slim|minimal|micro`, tag)
}
