# METADATA
# title: Secret written in plain text in a manifest
# description: |
#   A password, token or key written as a container's `env[].value` or in a ConfigMap
#   is stored in plain text in the manifest, in version control, in the object (readable
#   by anyone who can read pods or ConfigMaps, a much wider group than Secret readers)
#   and in `kubectl describe` output. Reported when the variable or key name says
#   secret (`PASSWORD`, `TOKEN`, `API_KEY`, `SECRET`, `PRIVATE_KEY`, ...) and the value
#   is a literal. Names of files, paths, URLs and IDs (`DB_PASSWORD_FILE`,
#   `TOKEN_URL`, `ACCESS_KEY_ID`), references (`$(OTHER)`), booleans and numbers are
#   not secrets; `valueFrom.secretKeyRef` is the fix, never reported.
# related_resources:
# - https://kubernetes.io/docs/concepts/configuration/secret/
# - https://kubernetes.io/docs/tasks/inject-data-application/distribute-credentials-secure/
# custom:
#   id: K8S040
#   severity: high
#   kinds: [kubernetes]
#   aliases: []
#   remediation: Move the value into a Secret and reference it with env[].valueFrom.secretKeyRef (or envFrom.secretRef, or a mounted secret volume).
package builtin.kubernetes.plaintext_secrets

import data.lib.kubernetes as k8s
import rego.v1

deny contains {"msg": msg, "path": array.concat(c.path, ["env", i, "value"])} if {
	some c in k8s.containers
	is_array(c.container.env)
	some i, e in c.container.env
	is_object(e)
	is_string(e.name)
	looks_secret(e.name)
	literal(e.value)
	msg := sprintf("container %q sets %s to a literal value: move it into a Secret and use valueFrom.secretKeyRef", [k8s.name(c.container), e.name])
}

deny contains {"msg": msg, "path": ["data", key]} if {
	input.kind == "ConfigMap"
	is_object(input.data)
	some key, value in input.data
	looks_secret(key)
	literal(value)
	msg := sprintf("ConfigMap %q holds %s in plain text: move it into a Secret", [k8s.resource_name, key])
}

secret_words := ["password", "passwd", "secret", "token", "api_key", "apikey", "api-key", "private_key", "privatekey", "access_key", "client_secret", "credential"]

# Names that refer to a secret rather than hold one.
not_secret_suffixes := ["_file", "_path", "_url", "_uri", "_name", "_dir", "_id", "_endpoint", "_host", "_ref", "_enabled", "_ttl", "_timeout", "_expiry", "_length", "_type", ".file", "-file", "-path", "-name"]

looks_secret(name) if {
	n := lower(name)
	some w in secret_words
	contains(n, w)
	not secret_reference(n)
}

secret_reference(n) if {
	some s in not_secret_suffixes
	endswith(n, s)
}

literal(v) if {
	is_string(v)
	t := trim_space(v)
	count(t) >= 4
	not startswith(t, "$(")
	not startswith(t, "${")
	not startswith(t, "/")
	not lower(t) in {"true", "false", "yes", "no", "null", "none", "changeme-in-secret"}
	not regex.match(`^[0-9]+[smhd]?$`, t)
	# Placeholders to be replaced before use.
	not regex.match(`^(INSERT|REPLACE|CHANGE|YOUR|SET)_[A-Z0-9_]*$|^<.*>$`, t)
}
