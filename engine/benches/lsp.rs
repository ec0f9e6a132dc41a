//! Editor-loop latency: what one keystroke costs in `policy lsp` (parse the buffer,
//! evaluate the built-in set, apply suppressions, convert to UTF-16 diagnostics), next
//! to what an editor integration that shells out pays: one `policy eval` process per
//! save of the same file. Side by side in one run, so the ratio is what matters.

use std::path::PathBuf;
use std::process::Command;

use criterion::{criterion_group, criterion_main, Criterion};
use policy_engine::eval::Worker;
use policy_engine::lsp::analysis;
use policy_engine::lsp::settings::{InitOptions, Settings};
use policy_engine::session::Session;

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: app
          image: registry.example.com/web:1.4.2
          ports:
            - containerPort: 8080
          securityContext:
            privileged: true
            allowPrivilegeEscalation: true
          resources:
            requests: {cpu: 100m, memory: 128Mi}
        - name: sidecar
          image: envoyproxy/envoy:latest
          securityContext:
            capabilities:
              add: [NET_ADMIN]
";

const DOCKERFILE: &str = "# syntax=docker/dockerfile:1
ARG GO_VERSION=1.23
FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN CGO_ENABLED=0 go build -o /out/app ./cmd/app

FROM ubuntu:latest
RUN apt-get update && apt-get install -y curl ca-certificates \\
    && rm -rf /var/lib/apt/lists/*
RUN curl -fsSL https://example.com/install.sh | sh
COPY --from=build /out/app /usr/local/bin/app
ENTRYPOINT [\"/usr/local/bin/app\"]
";

fn bench(c: &mut Criterion) {
    // An empty root: no .policy.yaml, the built-in set only.
    let root = tempfile::tempdir().expect("tempdir");
    let (settings, _) = Settings::resolve(root.path(), InitOptions::default());
    let session = Session::new(settings.resolved.clone()).expect("session");
    let set = session.policies();
    let mut worker = Worker::new(&set);
    let mut group = c.benchmark_group("editor_loop");
    for (name, lang, text) in [
        ("deployment.yaml", "yaml", DEPLOYMENT),
        ("Dockerfile", "dockerfile", DOCKERFILE),
    ] {
        let path = root.path().join(name);
        let path = path.to_string_lossy().into_owned();
        let n = analysis::analyze(&session, &set, &mut worker, &settings, &path, lang, text)
            .diagnostics
            .len();
        assert!(n > 0, "{name}: the sample has findings");
        group.bench_function(format!("lsp_keystroke/{name}"), |b| {
            b.iter(|| analysis::analyze(&session, &set, &mut worker, &settings, &path, lang, text))
        });
        // The same file through a fresh `policy eval` process (what a save hook pays).
        let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../target/release/policy")
            .canonicalize()
            .ok()
            .or_else(|| {
                std::env::var_os("CARGO_TARGET_DIR")
                    .map(|d| PathBuf::from(d).join("release/policy"))
                    .filter(|p| p.is_file())
            });
        if let Some(bin) = bin {
            std::fs::write(&path, text).expect("write sample");
            group.bench_function(format!("eval_process/{name}"), |b| {
                b.iter(|| {
                    Command::new(&bin)
                        .args(["eval", "--no-config", "-f", "json", &path])
                        .output()
                        .expect("run policy")
                })
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = bench
}
criterion_main!(benches);
