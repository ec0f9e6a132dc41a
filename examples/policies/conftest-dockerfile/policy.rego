# A conftest-style Dockerfile policy, unchanged from how conftest users write it:
# `input` is conftest's flat command array (Cmd, Flags, Value, JSON, SubCmd, Stage).
# Run it with `--dockerfile-input conftest` (or declare `custom.input: conftest` in a
# package METADATA block).
package main

import rego.v1

denylist := ["openjdk"]

deny contains msg if {
	some cmd in input
	cmd.Cmd == "from"
	some image in cmd.Value
	some bad in denylist
	contains(image, bad)
	msg := sprintf("unallowed image found %v", [cmd.Value])
}

warn_apt_upgrade contains msg if {
	some cmd in input
	cmd.Cmd == "run"
	contains(cmd.Value[0], "apt-get upgrade")
	msg := sprintf("avoid apt-get upgrade in images: %s", [cmd.Value[0]])
}
