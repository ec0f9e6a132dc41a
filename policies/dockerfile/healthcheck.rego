# METADATA
# title: Final stage has no HEALTHCHECK
# description: |
#   Without a HEALTHCHECK, Docker, Compose and Swarm only know whether the process is
#   running, not whether it still serves: a hung or deadlocked service stays in
#   rotation. Advisory (info): Kubernetes ignores HEALTHCHECK and uses probes, and many
#   organisations leave it out on purpose. Only services are checked: images that
#   EXPOSE a port, whose CMD or ENTRYPOINT starts a known server (gunicorn, uvicorn,
#   `node server.js`, nginx, httpd, `java -jar`, puma, ...), or that are built on a web
#   server image (nginx, httpd, caddy). CLI tools, jobs and base images have nothing to
#   probe. An explicit
#   `HEALTHCHECK NONE` is a decision and is not reported; a HEALTHCHECK or EXPOSE in a
#   stage the final stage builds on (`FROM <stage>`) counts. A HEALTHCHECK inherited
#   from an external base image cannot be seen here.
# related_resources:
# - https://docs.docker.com/reference/dockerfile/#healthcheck
# - https://www.cisecurity.org/benchmark/docker
# custom:
#   id: DF009
#   severity: info
#   kinds: [dockerfile]
#   aliases: [DL3057, CKV_DOCKER_2]
#   remediation: Add `HEALTHCHECK CMD <command that checks the service>` to the final stage, or `HEALTHCHECK NONE` to record that none is wanted.
package builtin.dockerfile.healthcheck

import data.lib.dockerfile as df
import rego.v1

deny contains {"msg": msg, "path": ["stages", df.final_index, "base"]} if {
	df.final_index >= 0
	what := service
	not has_healthcheck
	msg := sprintf("the final stage %s but has no HEALTHCHECK: add one so Docker can tell a hung service from a healthy one (or HEALTHCHECK NONE to opt out)", [what])
}

has_healthcheck if {
	some [_, ins] in df.final_instructions
	ins.cmd == "healthcheck"
}

# What makes the final image a service, for the message.
service := "EXPOSEs a port" if {
	some [_, ins] in df.final_instructions
	ins.cmd == "expose"
} else := sprintf("runs the server %s", [server]) if {
	server := command_server
} else := sprintf("is built on the web server image %q", [input.stages[df.final_root].base.image]) if {
	base := input.stages[df.final_root].base
	is_string(base.repository)
	base.repository in server_images
}

server_images := {"library/nginx", "library/httpd", "library/caddy", "nginxinc/nginx-unprivileged", "bitnami/nginx", "library/tomcat", "library/traefik"}

server_programs := {
	"gunicorn", "uvicorn", "hypercorn", "daphne", "waitress-serve", "uwsgi", "nginx",
	"httpd", "apache2-foreground", "httpd-foreground", "php-fpm", "puma", "unicorn",
	"rackup", "caddy", "traefik", "catalina.sh", "envoy", "haproxy", "redis-server",
	"mysqld", "postgres", "mongod", "memcached", "rabbitmq-server",
}

# The server the last CMD or ENTRYPOINT of the final image starts, if it is a known one.
command_server := name if {
	lines := [ins.line | some [_, ins] in df.final_instructions; ins.cmd in {"cmd", "entrypoint"}]
	count(lines) > 0
	some [_, ins] in df.final_instructions
	ins.cmd in {"cmd", "entrypoint"}
	words := command_words(ins)
	name := server_in(words)
}

command_words(ins) := [w | some a in ins.args; some w in split(a, " "); w != ""] if ins.json == true

else := [w | some w in split(concat(" ", ins.args), " "); w != ""]

server_in(words) := name if {
	some w in words
	parts := split(w, "/")
	name := parts[count(parts) - 1]
	name in server_programs
} else := "node" if {
	some i, w in words
	endswith(w, "node")
	i + 1 < count(words)
	regex.match(`^(\./)?(dist/|src/|build/)?(server|app|index|main)\.(c|m)?js$`, words[i + 1])
} else := "java -jar" if {
	some i, w in words
	endswith(w, "java")
	"-jar" in words
} else := "npm start" if {
	some i, w in words
	endswith(w, "npm")
	i + 1 < count(words)
	words[i + 1] == "start"
}
