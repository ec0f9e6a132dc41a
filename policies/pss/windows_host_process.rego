# METADATA
# title: Windows pod or container runs as a host process
# description: |
#   Pod Security Standards (baseline) check windowsHostProcess: a Windows HostProcess
#   container runs directly on the node with the node's privileges. Pod and container
#   securityContext.windowsOptions.hostProcess are both checked.
#   Active only with `--pss baseline` or `--pss restricted` (data.pss.level).
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
# custom:
#   id: PSS-WINDOWS-HOST-PROCESS
#   severity: high
#   kinds: [kubernetes]
#   remediation: Remove securityContext.windowsOptions.hostProcess or set it to false.
package builtin.pss.windows_host_process

import data.lib.pss
import rego.v1

deny contains {"msg": msg, "path": array.concat(pss.pod_security_context_path, ["windowsOptions", "hostProcess"])} if {
	pss.enabled
	pss.pod_security_context.windowsOptions.hostProcess == true
	msg := sprintf("hostProcess: the pod sets windowsOptions.hostProcess=true (PSS %s): remove it or set it to false", [pss.label])
}

deny contains {"msg": msg, "path": array.concat(c.path, ["securityContext", "windowsOptions", "hostProcess"])} if {
	pss.enabled
	some c in pss.containers
	pss.security_context(c.container).windowsOptions.hostProcess == true
	msg := sprintf("hostProcess: container %q sets windowsOptions.hostProcess=true (PSS %s): remove it or set it to false", [pss.name(c.container), pss.label])
}
