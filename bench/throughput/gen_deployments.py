#!/usr/bin/env python3
"""Generates the throughput workload of issue 14: Kubernetes Deployments of about 60
lines each, a third of them with problems, spread over multi-document YAML files.

    bench/throughput/gen_deployments.py OUT_DIR [DOCS=2000] [FILES=20]

Deterministic (no randomness): the same arguments always write the same files, so two
binaries can be compared on identical inputs. Documents vary in name, namespace, image,
replica count and container count; every third one carries one of several problems
(privileged, root, host namespaces, hostPath, a mutable tag, missing limits, added
capabilities, a plaintext secret in env) so that rules produce findings, not only passes.
"""

import os
import sys

PROBLEMS = [
    "privileged",
    "root",
    "host",
    "hostpath",
    "latest",
    "nolimits",
    "caps",
    "secret",
]


def deployment(n: int) -> str:
    name = f"svc-{n:05d}"
    ns = f"team-{n % 7}"
    problem = PROBLEMS[(n // 3) % len(PROBLEMS)] if n % 3 == 0 else None
    tag = "latest" if problem == "latest" else f"1.{n % 13}.{n % 5}"
    image = f"registry.example.com/team-{n % 7}/{name}:{tag}"
    if problem != "latest":
        image += "@sha256:" + f"{n:064x}"
    privileged = "true" if problem == "privileged" else "false"
    run_as_non_root = "false" if problem == "root" else "true"
    run_as_user = "0" if problem == "root" else str(10000 + n % 1000)
    host = "true" if problem == "host" else "false"
    caps_add = '\n                add: ["NET_ADMIN", "SYS_TIME"]' if problem == "caps" else ""
    limits = (
        ""
        if problem == "nolimits"
        else '\n            limits:\n              cpu: "500m"\n              memory: 256Mi'
    )
    env_secret = (
        '\n            - name: DB_PASSWORD\n              value: "hunter2-' + str(n) + '"'
        if problem == "secret"
        else ""
    )
    volume = (
        "\n        - name: host\n          hostPath:\n            path: /var/run"
        if problem == "hostpath"
        else ""
    )
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {ns}
  labels:
    app.kubernetes.io/name: {name}
    app.kubernetes.io/part-of: shop
    team: team-{n % 7}
spec:
  replicas: {1 + n % 4}
  selector:
    matchLabels:
      app.kubernetes.io/name: {name}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {name}
        app.kubernetes.io/part-of: shop
    spec:
      automountServiceAccountToken: false
      hostNetwork: {host}
      securityContext:
        runAsNonRoot: {run_as_non_root}
        runAsUser: {run_as_user}
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: app
          image: {image}
          ports:
            - containerPort: {8000 + n % 100}
              name: http
          env:
            - name: LOG_LEVEL
              value: info{env_secret}
          resources:
            requests:
              cpu: 100m
              memory: 128Mi{limits}
          securityContext:
            privileged: {privileged}
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
                drop: ["ALL"]{caps_add}
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
          readinessProbe:
            httpGet:
              path: /ready
              port: http
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: tmp
          emptyDir: {{}}{volume}
"""


def main() -> None:
    out = sys.argv[1]
    docs = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    files = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    os.makedirs(out, exist_ok=True)
    per_file = -(-docs // files)
    n = 0
    for f in range(files):
        count = min(per_file, docs - n)
        if count <= 0:
            break
        with open(os.path.join(out, f"deployments-{f:04d}.yaml"), "w") as fh:
            fh.write("---\n".join(deployment(n + i) for i in range(count)))
        n += count


if __name__ == "__main__":
    main()
