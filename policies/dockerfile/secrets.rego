# METADATA
# title: Secret baked into the image
# description: |
#   ENV and ARG values are stored in the image configuration and its history: anyone
#   who can pull the image can read them. A secret-named ARG without a default is
#   reported too when a later RUN of the same stage of the final image can see it: the
#   value given with `--build-arg` is written into that RUN's history entry.
# related_resources:
# - https://docs.docker.com/build/building/secrets/
# custom:
#   id: DF004
#   severity: high
#   kinds: [dockerfile]
#   aliases: [DL3064]
#   remediation: Pass secrets at build time with `RUN --mount=type=secret` and at run time from the orchestrator, never in ENV or ARG.
package builtin.dockerfile.secrets

import data.lib.dockerfile as df
import rego.v1

secret_words := ["password", "passwd", "secret", "token", "api_key", "apikey", "private_key", "access_key"]

deny contains {"msg": msg, "line": ins.line} if {
	some ins in input.instructions
	ins.cmd == "env"
	some pair in ins.pairs
	looks_secret(pair.key)
	pair.value != ""
	msg := sprintf("ENV %s stores a secret in the image: use a build secret or runtime injection", [pair.key])
}

deny contains {"msg": msg, "line": ins.line} if {
	some ins in input.instructions
	ins.cmd == "arg"
	looks_secret(ins.name)
	ins["default"] != null
	msg := sprintf("ARG %s has a default secret value: use RUN --mount=type=secret", [ins.name])
}

deny contains {"msg": msg, "line": ins.line} if {
	some i, ins in input.instructions
	ins.cmd == "arg"
	looks_secret(ins.name)
	ins["default"] == null
	ins.stage in df.final_chain
	some j, run in input.instructions
	j > i
	run.cmd == "run"
	run.stage == ins.stage
	msg := sprintf("ARG %s is a secret passed with --build-arg: its value is written into the image history of the RUN below it; use RUN --mount=type=secret", [ins.name])
}

looks_secret(name) if {
	some w in secret_words
	contains(lower(name), w)
}
