# METADATA
# title: Pod sets an unsafe sysctl
# description: |
#   Pod Security Standards (baseline) check sysctls: sysctls outside the namespaced "safe"
#   set can change the whole node's kernel behaviour. The safe set grows with the
#   Kubernetes version: kernel.shm_rmid_forced, net.ipv4.ip_local_port_range,
#   net.ipv4.tcp_syncookies, net.ipv4.ping_group_range, net.ipv4.ip_unprivileged_port_start;
#   net.ipv4.ip_local_reserved_ports from 1.27; net.ipv4.tcp_keepalive_time,
#   tcp_fin_timeout, tcp_keepalive_intvl and tcp_keepalive_probes from 1.29;
#   net.ipv4.tcp_rmem and tcp_wmem from 1.32; net.ipv4.tcp_slow_start_after_idle and
#   tcp_notsent_lowat from 1.37.
#   Active only with `--pss baseline` or `--pss restricted` (data.pss.level).
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
# - https://kubernetes.io/docs/tasks/administer-cluster/sysctl-cluster/
# custom:
#   id: PSS-SYSCTLS
#   severity: high
#   kinds: [kubernetes]
#   remediation: Remove the sysctl from spec.securityContext.sysctls, or set it on the node instead.
package builtin.pss.sysctls

import data.lib.pss
import rego.v1

safe contains name if {
	some name in {
		"kernel.shm_rmid_forced",
		"net.ipv4.ip_local_port_range",
		"net.ipv4.tcp_syncookies",
		"net.ipv4.ping_group_range",
		"net.ipv4.ip_unprivileged_port_start",
	}
}

safe contains "net.ipv4.ip_local_reserved_ports" if pss.since(27)

safe contains name if {
	pss.since(29)
	some name in {
		"net.ipv4.tcp_keepalive_time",
		"net.ipv4.tcp_fin_timeout",
		"net.ipv4.tcp_keepalive_intvl",
		"net.ipv4.tcp_keepalive_probes",
	}
}

safe contains name if {
	pss.since(32)
	some name in {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}
}

safe contains name if {
	pss.since(37)
	some name in {"net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat"}
}

deny contains {"msg": msg, "path": array.concat(pss.pod_security_context_path, ["sysctls", i, "name"])} if {
	pss.enabled
	some i, sysctl in pss.as_array(pss.pod_security_context.sysctls)
	name := pss.string_field(sysctl, "name")
	not name in safe
	msg := sprintf("forbidden sysctls: %q is not a safe sysctl (PSS %s): remove it from spec.securityContext.sysctls", [name, pss.label])
}
