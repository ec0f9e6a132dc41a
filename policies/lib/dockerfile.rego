# METADATA
# description: |
#   Helpers shared by the built-in Dockerfile rules: which stages end up in the final
#   image, the shell text of RUN instructions, and a token-based split of that text into
#   simple commands and words. The split is deliberately shallow (no quoting, expansion
#   or nesting): rules built on it look for a few literal words in one command.
# scope: package
package lib.dockerfile

import rego.v1

# Index of the last stage, whose filesystem is the image that ships.
final_index := count(input.stages) - 1

# Stages whose instructions end up in the final image: the final stage and every stage
# it builds on through `FROM <stage>`, transitively.
final_chain := graph.reachable(stage_parents, {final_index}) if final_index >= 0

else := set()

stage_parents[i] := parents if {
	some i, stage in input.stages
	parents := [p | p := stage.base.stage; is_number(p)]
}

# The external base image the final image is built on: the base of the root of the
# final chain (null when that is scratch or cannot be resolved).
final_root := i if {
	some i in final_chain
	# object.get: a base without `stage` is external (an undefined argument inside
	# `not` would make the line undefined, as in OPA).
	not is_number(object.get(input.stages[i].base, "stage", null))
}

# A base named through a variable that has no value (`FROM bin-image-${TARGETOS}`,
# `FROM buildkit-$TARGETOS${DEBUG:+-debug}`) and that, with each variable standing for
# any text, names an earlier stage: a stage chosen at build time, not an image to pull.
variable_stage_reference(i) if {
	base := input.stages[i].base
	count(base.unresolved) > 0
	pieces := regex.split(`\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*`, lower(base.raw))
	pattern := concat("", ["^", concat(".*", [regex_quote(p) | some p in pieces]), "$"])
	some j, stage in input.stages
	j < i
	is_string(stage.name)
	regex.match(pattern, lower(stage.name))
}

regex_quote(text) := regex.replace(text, `[.+?^$()\[\]{}|\\*]`, `\$0`)

# Instructions of the stages in the final chain, with their index in input.instructions.
final_instructions contains [i, ins] if {
	some i, ins in input.instructions
	ins.stage in final_chain
}

# The shell text a RUN instruction executes: the shell-form command, the exec-form
# words joined by blanks, and the body of a heredoc that is the script itself
# (`RUN <<EOF`). Backslash-newline continuations inside heredocs are joined.
scripts(ins) := [concat(" ", ins.args)] if {
	ins.json == true
	count(ins.args) > 0
} else := [replace(h.content, "\\\n", " ") | some h in ins.heredocs] if {
	count(ins.args) > 0
	startswith(trim_space(ins.args[0]), "<<")
} else := [ins.args[0]] if {
	count(ins.args) > 0
} else := []

# Simple commands of a script, as arrays of words: the text between `&&`, `||`, `;`,
# `|`, `&`, newlines and parentheses, split at blanks, with surrounding quotes removed and
# leading `VAR=value` assignments and shell keywords (`then`, `do`, `!`, ...) dropped.
# Empty commands are left out. A command substitution `$(...)` (not nested) becomes the
# text `_SUBST_`, so that it stays part of the word and command around it.
# `policy.shell_commands` is this engine's builtin for that split (written in Rust for
# speed: the same split in Rego cost ~2 ms per Dockerfile); see docs/writing-policies.md.
commands(script) := policy.shell_commands(script)

# The simple commands of every RUN instruction, by its index in input.instructions
# (a rule, so it is computed once per document and shared by the rules).
run_commands[i] := [words |
	some script in scripts(ins)
	some words in commands(script)
] if {
	some i, ins in input.instructions
	ins.cmd == "run"
}

# The package-manager commands of every RUN instruction, by index (see package_command).
package_commands[i] := [pc |
	some words in cmds
	parts := split(words[0], "/")
	parts[count(parts) - 1] in {"sudo", "apt-get", "apt", "apk", "yum", "dnf", "microdnf", "zypper"}
	pc := package_command(words)
] if {
	some i, cmds in run_commands
}

# The program a command runs, without its directory (`/usr/bin/apt-get` → `apt-get`).
program(words) := name if {
	parts := split(words[0], "/")
	name := parts[count(parts) - 1]
}

# The command with a leading `sudo` (and its options) removed, so that `sudo apt-get
# install` is treated as `apt-get install`.
unwrapped(words) := rest if {
	program(words) == "sudo"
	rest := array.slice(words, first_operand(words), count(words))
	count(rest) > 0
} else := words

first_operand(words) := min(ks) if {
	ks := [k | some k, word in words; k > 0; not startswith(word, "-")]
	count(ks) > 0
} else := count(words)

# The package-manager invocation of a command: {"manager", "action", "packages", "words"},
# where action is the first non-option word after the program (apt-get -y install → install)
# and packages are the non-option words after it.
package_command(words) := {"manager": m, "action": action, "packages": pkgs, "words": cmd} if {
	cmd := unwrapped(words)
	m := program(cmd)
	m in {"apt-get", "apt", "apk", "yum", "dnf", "microdnf", "zypper"}
	operands := [k |
		some k, w in cmd
		k > 0
		not startswith(w, "-")
		not cmd[k - 1] in option_arguments
	]
	count(operands) > 0
	action := cmd[operands[0]]
	pkgs := [cmd[k] | some k in operands; k != operands[0]]
}

# `-o Key=Value` (apt) and `-t release` take the next word as their argument.
option_arguments := {"-o", "-t", "--option", "--target-release", "-c", "--config-file", "--virtual", "--repository", "-X", "--root", "-p"}

install_actions := {"install", "add", "groupinstall"}

# A package name without its version or architecture (gcc=4:12.2 → gcc, gcc:amd64 → gcc).
package_name(p) := lower(split(strings.replace_n(version_separators, p), "=")[0])

version_separators := {":": "=", "<": "=", ">": "=", "~": "="}

# The flag of an instruction, or undefined.
flag(ins, name) := f.value if {
	some f in ins.flags
	f.name == name
}
