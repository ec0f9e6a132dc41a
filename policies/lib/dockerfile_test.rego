# Unit tests of the Dockerfile helpers (`policy test --builtin`, or `opa test policies/lib`).
package lib.dockerfile_test

import data.lib.dockerfile as df
import rego.v1

test_commands_split_on_operators_and_drop_assignments if {
	df.commands("DEBIAN_FRONTEND=noninteractive apt-get install -y 'curl' && rm -rf /x; if true; then echo ok; fi") == [
		["apt-get", "install", "-y", "curl"],
		["rm", "-rf", "/x"],
		["true"],
		["echo", "ok"],
		["fi"],
	]
}

test_command_substitution_stays_in_its_command if {
	df.commands(`case "$a" in x86|arm) apk add -X "https://e.org/v$(cut -d. -f1 /etc/alpine-release)/main" --no-cache x ;; esac`) == [
		["case", "$a", "in", "x86"],
		["arm"],
		["apk", "add", "-X", "https://e.org/v_SUBST_/main", "--no-cache", "x"],
		["esac"],
	]
}

test_scripts_of_shell_exec_and_heredoc_forms if {
	df.scripts({"json": false, "args": ["apk add x"], "heredocs": []}) == ["apk add x"]
	df.scripts({"json": true, "args": ["sh", "-c", "apk add x"], "heredocs": []}) == ["sh -c apk add x"]
	df.scripts({"json": false, "args": ["<<EOF"], "heredocs": [{"content": "apk add \\\n  x\n"}]}) == ["apk add    x\n"]
	df.scripts({"json": false, "args": [], "heredocs": []}) == []
}

test_package_command_skips_options_and_sudo if {
	pc := df.package_command(["sudo", "-E", "apt-get", "-o", "Acquire::Retries=3", "-y", "install", "gcc=4:12", "make"])
	pc.manager == "apt-get"
	pc.action == "install"
	pc.packages == ["gcc=4:12", "make"]
	df.package_name("gcc=4:12") == "gcc"
	df.package_name("libc6:amd64") == "libc6"
}

test_package_command_apk_virtual if {
	pc := df.package_command(["apk", "add", "--no-cache", "--virtual", ".build-deps", "gcc", "musl-dev"])
	pc.action == "add"
	pc.packages == ["gcc", "musl-dev"]
}

test_final_chain_follows_stage_references if {
	chain := df.final_chain with input as {"stages": [
		{"base": {"stage": null}},
		{"base": {"stage": null}},
		{"base": {"stage": 0}},
	]}
	chain == {0, 2}
}
