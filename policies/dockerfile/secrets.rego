# METADATA
# title: Secret baked into the image
# description: |
#   ENV and ARG values are stored in the image configuration and its history: anyone
#   who can pull the image can read them.
# related_resources:
# - https://docs.docker.com/build/building/secrets/
# custom:
#   id: DF004
#   severity: high
#   kinds: [dockerfile]
#   remediation: Pass secrets at build time with `RUN --mount=type=secret` and at run time from the orchestrator, never in ENV or ARG.
package builtin.dockerfile.secrets

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

looks_secret(name) if {
	some w in secret_words
	contains(lower(name), w)
}
