# METADATA
# title: Fixable high or critical vulnerability
# description: |
#   A scanner (trivy, grype, or any scanner writing SARIF) found a vulnerability of high
#   or critical severity in a package for which a fixed version exists: upgrading fixes
#   it, so it should not ship. Feed the scan report to `policy eval` (trivy
#   `-f json`, grype `-o json`, or SARIF) and this rule becomes the gate. The severities
#   that fail are `settings.vulnerabilities.severities` (default `[CRITICAL, HIGH]`);
#   with `settings.vulnerabilities.fixable_only: false`, unfixed ones are reported too.
# related_resources:
# - https://trivy.dev/latest/docs/configuration/reporting/
# - https://github.com/anchore/grype#output-formats
# custom:
#   id: VULN001
#   severity: high
#   kinds: [vulnerabilities]
#   remediation: Upgrade the package to the fixed version (rebuild the image on a patched base), or record an exception with a reason.
package builtin.vulnerabilities.fixable

import rego.v1

default severities := {"CRITICAL", "HIGH"}

severities := {upper(s) | some s in data.settings.vulnerabilities.severities} if {
	is_array(data.settings.vulnerabilities.severities)
}

default fixable_only := true

fixable_only := false if data.settings.vulnerabilities.fixable_only == false

deny contains {"msg": msg, "path": ["vulnerabilities", i]} if {
	some i, v in input.vulnerabilities
	v.severity in severities
	fixed_ok(v)
	msg := sprintf("%s %s in %s %s%s: %s", [v.severity, id(v), pkg(v), version(v), target(v), advice(v)])
}

fixed_ok(v) if is_string(v.fixed_version)

fixed_ok(_) if not fixable_only

advice(v) := sprintf("upgrade to %s", [v.fixed_version]) if is_string(v.fixed_version)

else := "no fixed version yet; mitigate or record an exception"

id(v) := v.id if is_string(v.id)

else := "vulnerability"

pkg(v) := v.package if is_string(v.package)

else := "a package"

version(v) := v.version if is_string(v.version)

else := ""

target(v) := sprintf(" (%s)", [v.target]) if is_string(v.target)

else := ""
