# METADATA
# title: Final image is built on a compiler toolchain image
# description: |
#   Images such as `golang`, `rust`, `gcc`, `maven`, `gradle` and the .NET `sdk` exist
#   to build software: they carry a compiler, a package cache and hundreds of
#   megabytes of tools, each a CVE to patch and a tool for an attacker who gets a shell.
#   When the last stage is built on one, all of it ships. Build in a stage of its own
#   and copy the artifact into a small runtime image (distroless, `-slim`, alpine,
#   the .NET `runtime`/`aspnet` images, a JRE). Overlaps: DF011 reports toolchains
#   *installed* by RUN into the final image; DF010 full-OS bases (a toolchain image is
#   reported here only, never also as a full OS). Only images that run an application are
#   reported: the final image has a CMD or ENTRYPOINT that is not a shell. Development,
#   lint and code-generation images (no CMD, or a shell) are meant to hold a toolchain.
# related_resources:
# - https://docs.docker.com/build/building/multi-stage/
# - https://docs.docker.com/build/building/best-practices/#use-multi-stage-builds
# custom:
#   id: DF027
#   severity: low
#   kinds: [dockerfile]
#   aliases: []
#   remediation: Add a final stage on a runtime image (distroless, -slim, alpine, a JRE, dotnet/runtime) and COPY --from the build stage only the artifacts.
package builtin.dockerfile.toolchain_final

import data.lib.dockerfile as df
import rego.v1

toolchains := {
	"docker.io/library/golang": "Go",
	"docker.io/library/rust": "Rust",
	"docker.io/library/gcc": "GCC",
	"docker.io/library/maven": "Maven",
	"docker.io/library/gradle": "Gradle",
	"docker.io/library/haskell": "GHC",
	"docker.io/library/swift": "Swift",
	"mcr.microsoft.com/dotnet/sdk": ".NET SDK",
	"mcr.microsoft.com/dotnet/core/sdk": ".NET SDK",
}

deny contains {"msg": msg, "path": ["stages", root, "base"]} if {
	root := df.final_root
	base := input.stages[root].base
	is_string(base.registry)
	name := toolchains[sprintf("%s/%s", [base.registry, base.repository])]
	runs_app
	msg := sprintf("the final image is built on %q, a %s toolchain image: build in an earlier stage and COPY --from it only the artifacts into a runtime image", [base.image, name])
}

shells := {"sh", "bash", "ash", "zsh", "/bin/sh", "/bin/bash", "/bin/ash", "/usr/bin/env"}

# The last CMD or ENTRYPOINT of the final image starts something other than a shell.
runs_app if {
	cmds := [ins | some [_, ins] in df.final_instructions; ins.cmd in {"cmd", "entrypoint"}]
	count(cmds) > 0
	ins := cmds[count(cmds) - 1]
	count(ins.args) > 0
	first := split(trim_space(ins.args[0]), " ")[0]
	not first in shells
}
