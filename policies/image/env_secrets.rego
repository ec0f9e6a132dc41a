# METADATA
# title: Secret in the image environment
# description: |
#   Environment variables set when the image was built (`ENV`, `docker commit`) are
#   stored in its configuration: anyone who can pull the image reads them with `docker
#   inspect`, and they stay in every copy and cache of it. A variable whose name says it
#   holds a password, secret, token or key, with a non-empty value, is reported (the
#   value is never printed). Names ending in `_FILE`, `_PATH`, `_DIR`, `_URL` or `_URI`
#   point at a secret rather than hold one and are not reported.
# related_resources:
# - https://docs.docker.com/build/building/secrets/
# - https://cheatsheetseries.owasp.org/cheatsheets/Docker_Security_Cheat_Sheet.html
# - https://github.com/opencontainers/image-spec/blob/main/config.md
# custom:
#   id: IMG002
#   severity: high
#   kinds: [image]
#   remediation: Rotate the secret, rebuild the image without it, and inject it at run time (orchestrator secrets, a mounted file); use `RUN --mount=type=secret` for build-time secrets.
package builtin.image.env_secrets

import rego.v1

secret_words := ["password", "passwd", "secret", "token", "api_key", "apikey", "private_key", "access_key"]

reference_suffixes := ["_file", "_path", "_dir", "_url", "_uri"]

deny contains {"msg": msg, "path": ["env", name]} if {
	is_object(input.env)
	some name, value in input.env
	is_string(value)
	trim_space(value) != ""
	looks_secret(lower(name))
	msg := sprintf("image%s sets the environment variable %s to a secret, readable by anyone who can pull the image: rotate it and inject it at run time", [image_name, name])
}

looks_secret(name) if {
	some w in secret_words
	contains(name, w)
	not reference(name)
}

reference(name) if {
	some s in reference_suffixes
	endswith(name, s)
}

image_name := sprintf(" %s", [input.name]) if is_string(input.name)

else := ""
