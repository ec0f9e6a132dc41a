# METADATA
# title: Compiler toolchain installed in the final image
# description: |
#   A RUN that installs a compiler or build tool (gcc, build-essential, build-base,
#   clang, golang, rustc/cargo, maven, gradle, ...) into the stage that ships leaves it
#   in the image: hundreds of megabytes, a stream of CVEs, and a ready-made toolchain
#   for an attacker who gets a shell. A multi-stage build compiles in a builder stage
#   and copies only the artifacts into a small final stage.
#   Token-based: it reads the package list of `apt-get`/`apt`/`apk`/`yum`/`dnf`/
#   `microdnf`/`zypper` install commands in the final stage (and the stages it builds on
#   with `FROM <stage>`). An install that a later or the same RUN undoes with a package
#   removal (`apt-get purge`, `apk del`, `dnf remove`, ...) is not reported.
# related_resources:
# - https://docs.docker.com/build/building/multi-stage/
# - https://docs.docker.com/build/building/best-practices/#use-multi-stage-builds
# - https://www.cisecurity.org/benchmark/docker
# custom:
#   id: DF011
#   severity: low
#   kinds: [dockerfile]
#   remediation: Move the compilation into a builder stage (`FROM … AS build`) and `COPY --from=build` only the artifacts into the final stage; or remove the toolchain in the same RUN that uses it.
package builtin.dockerfile.build_toolchain

import data.lib.dockerfile as df
import rego.v1

deny contains {"msg": msg, "line": ins.line, "end_line": ins.end_line} if {
	some [i, ins] in df.final_instructions
	ins.cmd == "run"
	tools := toolchain(i)
	count(tools) > 0
	not removed_later(i)
	msg := sprintf("RUN installs the build toolchain %s into the final image: %s", [concat(", ", sort(tools)), advice])
}

toolchain(i) := {name |
	some pc in df.package_commands[i]
	pc.action in {"install", "add", "groupinstall", "in"}
	some p in pc.packages
	# A cheap prefix test first: most packages are not toolchains, and calling
	# df.package_name on each of them was most of this rule's time.
	toolchain_start(p)
	name := df.package_name(p)
	toolchain_package(name)
}

toolchain_start(p) if {
	some prefix in ["gcc", "g++", "clang", "build-", "go", "rust", "cargo", "maven", "gradle", "development", "@development"]
	startswith(lower(p), prefix)
}

toolchain_names := {
	"gcc", "g++", "gcc-c++", "clang", "build-essential", "build-base",
	"go", "golang", "golang-go", "rustc", "cargo", "rust", "maven", "gradle",
	"development", "development-tools", "@development-tools",
}

toolchain_package(name) if toolchain_names[name]

# Versioned packages: gcc-12, g++-12, clang-18, golang-1.22(-go).
toolchain_package(name) if {
	some prefix in ["gcc-", "g++-", "clang-", "golang-"]
	startswith(name, prefix)
	regex.match(`^(gcc|g\+\+|clang)-[0-9.]+$|^golang-[0-9.]+(-go)?$`, name)
}

removal_actions := {"remove", "purge", "autoremove", "del", "erase", "rm"}

# RUN instructions of the final image that remove packages.
removals contains j if {
	some j, pcs in df.package_commands
	input.instructions[j].stage in df.final_chain
	some pc in pcs
	pc.action in removal_actions
}

removed_later(i) if {
	some j in removals
	j >= i
}

advice := "compile in a builder stage and COPY --from it only the artifacts (multi-stage build)" if count(input.stages) == 1

else := "install it in a builder stage and COPY --from it only the artifacts"
