//! Container image references (`registry/repository:tag@digest`), normalised the way
//! Docker does: `alpine` → `docker.io/library/alpine`.
//!
//! Used by the Dockerfile input for `FROM`, and by image metadata and rules that need to
//! compare registries, repositories, tags and digests.

use serde::Serialize;

/// The default registry of unqualified references.
pub const DEFAULT_REGISTRY: &str = "docker.io";

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageRef {
    /// Registry host (with port), `docker.io` when none is given.
    pub registry: String,
    /// Repository path; official images get the `library/` prefix on Docker Hub.
    pub repository: String,
    /// Tag, when one is given.
    pub tag: Option<String>,
    /// Digest (`sha256:...`), when one is given.
    pub digest: Option<String>,
}

impl ImageRef {
    /// `registry/repository`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
}

/// Parses an image reference. The first path component is a registry when it contains
/// `.` or `:` or is `localhost` (and more components follow); `index.docker.io` and
/// `registry-1.docker.io` are normalised to `docker.io`. Never fails: odd input gives an
/// odd but total result.
pub fn parse_image_ref(s: &str) -> ImageRef {
    let s = s.trim();
    let (name, digest) = match s.split_once('@') {
        Some((n, d)) => (n, Some(d.to_string())),
        None => (s, None),
    };
    let (registry, remainder) = match name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (first.to_string(), rest)
        }
        _ => (DEFAULT_REGISTRY.to_string(), name),
    };
    let registry = match registry.as_str() {
        "index.docker.io" | "registry-1.docker.io" => DEFAULT_REGISTRY.to_string(),
        _ => registry,
    };
    let last_slash = remainder.rfind('/').map(|i| i + 1).unwrap_or(0);
    let (repository, tag) = match remainder[last_slash..].rfind(':') {
        Some(i) => (
            &remainder[..last_slash + i],
            Some(remainder[last_slash + i + 1..].to_string()),
        ),
        None => (remainder, None),
    };
    let repository = if registry == DEFAULT_REGISTRY && !repository.contains('/') {
        format!("library/{repository}")
    } else {
        repository.to_string()
    };
    ImageRef {
        registry,
        repository,
        tag,
        digest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(reg: &str, repo: &str, tag: Option<&str>, digest: Option<&str>) -> ImageRef {
        ImageRef {
            registry: reg.into(),
            repository: repo.into(),
            tag: tag.map(Into::into),
            digest: digest.map(Into::into),
        }
    }

    #[test]
    fn normalises_docker_hub() {
        assert_eq!(
            parse_image_ref("alpine"),
            r("docker.io", "library/alpine", None, None)
        );
        assert_eq!(
            parse_image_ref("alpine:3.20"),
            r("docker.io", "library/alpine", Some("3.20"), None)
        );
        assert_eq!(
            parse_image_ref("bitnami/redis:7"),
            r("docker.io", "bitnami/redis", Some("7"), None)
        );
        assert_eq!(
            parse_image_ref("index.docker.io/library/node"),
            r("docker.io", "library/node", None, None)
        );
    }

    #[test]
    fn detects_registries_ports_and_digests() {
        assert_eq!(
            parse_image_ref("localhost:5000/team/app:v1@sha256:abc"),
            r("localhost:5000", "team/app", Some("v1"), Some("sha256:abc"))
        );
        assert_eq!(
            parse_image_ref("gcr.io/distroless/static@sha256:0123"),
            r("gcr.io", "distroless/static", None, Some("sha256:0123"))
        );
        assert_eq!(
            parse_image_ref("localhost/app"),
            r("localhost", "app", None, None)
        );
        assert_eq!(parse_image_ref("ghcr.io/o/r").name(), "ghcr.io/o/r");
    }
}
