# METADATA
# title: Pod or container sets custom SELinux options
# description: |
#   Pod Security Standards (baseline) check seLinuxOptions: a custom SELinux user or role,
#   or a type other than the container types, can lift the confinement SELinux gives
#   containers. Allowed types are empty, container_t, container_init_t, container_kvm_t
#   and, from Kubernetes 1.31 on, container_engine_t; user and role must be empty. Pod
#   and container security contexts are both checked.
#   Active only with `--pss baseline` or `--pss restricted` (data.pss.level).
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
# custom:
#   id: PSS-SELINUX-OPTIONS
#   severity: high
#   kinds: [kubernetes]
#   remediation: Remove seLinuxOptions.user and seLinuxOptions.role, and use one of the container SELinux types (container_t, container_init_t, container_kvm_t, container_engine_t from 1.31) or none.
package builtin.pss.selinux_options

import data.lib.pss
import rego.v1

allowed_types contains t if some t in {"", "container_t", "container_init_t", "container_kvm_t"}

allowed_types contains "container_engine_t" if pss.since(31)

# Every seLinuxOptions object with its path and who sets it.
options contains {"who": "the pod", "path": array.concat(pss.pod_security_context_path, ["seLinuxOptions"]), "opts": opts} if {
	opts := pss.pod_security_context.seLinuxOptions
	is_object(opts)
}

options contains {"who": sprintf("container %q", [pss.name(c.container)]), "path": array.concat(c.path, ["securityContext", "seLinuxOptions"]), "opts": opts} if {
	some c in pss.containers
	opts := pss.security_context(c.container).seLinuxOptions
	is_object(opts)
}

deny contains {"msg": msg, "path": array.concat(o.path, ["type"])} if {
	pss.enabled
	some o in options
	type := pss.string_field(o.opts, "type")
	not type in allowed_types
	msg := sprintf("seLinuxOptions: %s sets seLinuxOptions.type %q (PSS %s): use container_t or remove it", [o.who, type, pss.label])
}

deny contains {"msg": msg, "path": array.concat(o.path, [field])} if {
	pss.enabled
	some o in options
	some field in ["user", "role"]
	value := pss.string_field(o.opts, field)
	value != ""
	msg := sprintf("seLinuxOptions: %s sets seLinuxOptions.%s %q (PSS %s): remove it", [o.who, field, value, pss.label])
}
