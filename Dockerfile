# syntax=docker/dockerfile:1
#
# The `policy` CLI as a container image, built the way its own rules ask:
# two stages (a Rust toolchain to build, a distroless runtime with no shell or package
# manager to ship), base images pinned by tag and digest, a numeric non-root USER, no
# secrets, and a --locked build. `policy eval Dockerfile` checks this file in CI
# (engine/tests/integrations.rs) and must find nothing.
#
#   docker build -t policy .
#   docker run --rm -v "$PWD:/src" -w /src policy eval .
#
# Pinning: each FROM names a tag (what a human reads) and the digest that tag pointed to
# when it was pinned (what is actually pulled). To move to a newer build of the same tag,
# read its digest and replace the one below, e.g.
#   docker buildx imagetools inspect rust:1.95-slim-bookworm --format '{{json .Manifest.Digest}}'
# or let Renovate's `dockerfile` manager open that pull request. The builder and the
# runtime are both Debian 12 (bookworm), so the binary's glibc matches the runtime's.

FROM rust:1.95-slim-bookworm@sha256:d7482085ff5b415f84dba5647ae71606650bdef00db7aeb69f4b3d170c3e4082 AS build
WORKDIR /build
# Only the workspace (see .dockerignore): manifests, the lockfile, the crates and the
# built-in policies the engine embeds at build time.
COPY Cargo.toml Cargo.lock ./
COPY engine engine
COPY sdk sdk
COPY tests tests
COPY policies policies
# --locked: exactly the dependency versions in Cargo.lock, or fail. The registry and the
# target directory are build caches, not layers; the binary is copied out of the cache.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/build/target \
    cargo build --locked --release -p policy-engine --bin policy \
    && install -D -m 0755 target/release/policy /out/policy

FROM gcr.io/distroless/cc-debian12:nonroot@sha256:9dac0a79194e45a7da0158a9c6da57b217585af0786db3845d1f0ec1a0dd182f
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="policy" \
      org.opencontainers.image.description="Policy-as-code for container security: Rego and WASM policies over Dockerfiles, Kubernetes manifests, image metadata and GitHub workflows" \
      org.opencontainers.image.source="https://example.invalid/policy" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="gcr.io/distroless/cc-debian12:nonroot"
COPY --from=build /out/policy /usr/local/bin/policy
# The distroless `nonroot` user, by number so that `runAsNonRoot` can verify it.
USER 65532:65532
WORKDIR /src
# A command-line tool, not a service: there is nothing to probe.
HEALTHCHECK NONE
ENTRYPOINT ["/usr/local/bin/policy"]
CMD ["--help"]
