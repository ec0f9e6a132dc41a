//! A blocking, bounded session with OCI registries.
//!
//! The CLI and the evaluator are synchronous; `oci-client` is async. This module owns one
//! current-thread tokio runtime and one `oci-client` client per registry, and exposes the
//! handful of operations the ship phase needs (fetch a manifest, fetch a small blob, push a
//! blob or a manifest), each with a deadline and a size cap, so that a slow, hostile or
//! broken registry gives a [`RegistryError`] naming what failed instead of a hang, an OOM
//! or a panic.
//!
//! Transport rules follow Docker's: HTTPS everywhere, except that a registry on
//! `localhost`, `127.0.0.1` or `[::1]` may answer plain HTTP, and so may hosts named in
//! [`RegistryOptions::insecure`] (`--insecure-registry HOST`). Credentials come from the
//! Docker `config.json` (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`,
//! `auths` entries with `auth` or `username`/`password`); registries that answer with a
//! bearer challenge get a token exchange (with those credentials, or anonymously).
//!
//! Manifests are fetched with the client's auth token through the same HTTP stack but read
//! chunk by chunk with a cap: `oci-client` reads a manifest body whole, which would let a
//! registry hand us 100 MB (or more) of "manifest".

use std::collections::HashMap;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine as _;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::manifest::OciDescriptor;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};
use sha2::{Digest, Sha256};

/// The largest manifest or index we read (distribution's own limit is 4 MiB).
pub const MAX_MANIFEST_BYTES: usize = 4 << 20;

/// Manifest media types we ask for.
pub const MANIFEST_ACCEPT: &[&str] = &[
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

/// What went wrong talking to a registry. The messages say which reference and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// The reference does not parse.
    #[error("invalid image reference `{0}`: {1}")]
    BadReference(String, String),
    /// The registry refused our credentials (or wants some).
    #[error("{0}: access denied (HTTP {1}): log in with `docker login` (credentials are read from the Docker config.json)")]
    Unauthorized(String, u16),
    /// No such repository, tag or digest.
    #[error("{0}: not found in the registry (HTTP 404)")]
    NotFound(String),
    /// Any other HTTP status.
    #[error("{0}: the registry answered HTTP {1}")]
    Status(String, u16),
    /// Connection refused, DNS, TLS and similar.
    #[error("{0}: cannot reach the registry: {1}")]
    Network(String, String),
    /// The deadline passed.
    #[error("{0}: the registry did not answer within {1} s")]
    Timeout(String, u64),
    /// The response is larger than the cap.
    #[error("{0}: the {1} is larger than the {2}-byte limit; refusing to read it")]
    TooLarge(String, &'static str, usize),
    /// The content does not match its digest.
    #[error("{0}: content digest {1} does not match the expected {2}")]
    DigestMismatch(String, String, String),
    /// The manifest, blob or payload is not what it should be.
    #[error("{0}: malformed {1}")]
    Malformed(String, String),
    /// Anything else the client reported.
    #[error("{0}: {1}")]
    Other(String, String),
}

/// How to reach registries.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// Hosts (`host` or `host:port`) that may use plain HTTP besides loopback.
    pub insecure: Vec<String>,
    /// The deadline of one request (connect + answer).
    pub timeout: Duration,
    /// The Docker config file with credentials (default: `$DOCKER_CONFIG/config.json`,
    /// else `~/.docker/config.json`).
    pub docker_config: Option<PathBuf>,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            insecure: Vec::new(),
            timeout: Duration::from_secs(30),
            docker_config: None,
        }
    }
}

/// A fetched manifest (or index).
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Its bytes, as served.
    pub bytes: Vec<u8>,
    /// `sha256:<hex>` of the bytes.
    pub digest: String,
    /// The `Content-Type` the registry gave, if any.
    pub media_type: Option<String>,
}

/// A session with registries: one runtime, one client per registry host.
pub struct Registry {
    rt: tokio::runtime::Runtime,
    opts: RegistryOptions,
    clients: HashMap<String, Client>,
    http: reqwest::Client,
    auths: serde_json::Map<String, serde_json::Value>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("opts", &self.opts)
            .finish()
    }
}

/// Parses an image reference (`host[:port]/repo[:tag][@digest]`; no host means docker.io).
pub fn parse_reference(s: &str) -> Result<Reference, RegistryError> {
    s.trim()
        .parse::<Reference>()
        .map_err(|e| RegistryError::BadReference(s.to_string(), e.to_string()))
}

/// Whether a registry host is on the loopback interface (plain HTTP allowed, as in Docker).
pub fn is_loopback(registry: &str) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        registry.split(':').next().unwrap_or("")
    };
    matches!(host, "localhost" | "127.0.0.1" | "::1")
}

/// `sha256:<hex>` of some bytes.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// An `AsyncWrite` into memory that fails once more than `cap` bytes arrive.
struct CappedBuf {
    buf: Vec<u8>,
    cap: usize,
    /// Set when a write would have gone past `cap`.
    over: bool,
}

impl tokio::io::AsyncWrite for CappedBuf {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.buf.len() + data.len() > self.cap {
            self.over = true;
            return Poll::Ready(Err(std::io::Error::other("blob over the size limit")));
        }
        self.buf.extend_from_slice(data);
        Poll::Ready(Ok(data.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl Registry {
    /// A new session. Fails only if the runtime or the HTTP client cannot be created.
    pub fn new(opts: RegistryOptions) -> Result<Registry, RegistryError> {
        // reqwest is built without a bundled crypto provider: use ring's (idempotent).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| RegistryError::Other("registry client".into(), e.to_string()))?;
        let http = reqwest::Client::builder()
            .connect_timeout(opts.timeout)
            .timeout(opts.timeout)
            .user_agent(concat!("policy/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| RegistryError::Other("registry client".into(), e.to_string()))?;
        let auths = read_docker_auths(opts.docker_config.clone());
        Ok(Registry {
            rt,
            opts,
            clients: HashMap::new(),
            http,
            auths,
        })
    }

    /// Whether `registry` is reached over plain HTTP.
    pub fn plain_http(&self, registry: &str) -> bool {
        is_loopback(registry)
            || self
                .opts
                .insecure
                .iter()
                .any(|h| h == registry || registry.split(':').next() == Some(h.as_str()))
    }

    fn scheme(&self, registry: &str) -> &'static str {
        if self.plain_http(registry) {
            "http"
        } else {
            "https"
        }
    }

    fn client(&mut self, registry: &str) -> Client {
        if let Some(c) = self.clients.get(registry) {
            return c.clone();
        }
        let config = ClientConfig {
            protocol: if self.plain_http(registry) {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            read_timeout: Some(self.opts.timeout),
            connect_timeout: Some(self.opts.timeout),
            platform_resolver: None,
            ..ClientConfig::default()
        };
        let c = Client::new(config);
        self.clients.insert(registry.to_string(), c.clone());
        c
    }

    /// The credentials for a registry from the Docker config, else anonymous.
    pub fn auth_for(&self, registry: &str) -> RegistryAuth {
        let candidates = [
            registry.to_string(),
            format!("https://{registry}"),
            format!("http://{registry}"),
        ];
        let docker_hub = matches!(
            registry,
            "index.docker.io" | "registry-1.docker.io" | "docker.io"
        );
        let entry = self.auths.iter().find_map(|(k, v)| {
            let host = k
                .trim_start_matches("https://")
                .trim_start_matches("http://")
                .split('/')
                .next()
                .unwrap_or("");
            let hit = candidates.contains(k)
                || host == registry
                || (docker_hub && matches!(host, "index.docker.io" | "docker.io"));
            hit.then_some(v)
        });
        let Some(entry) = entry else {
            return RegistryAuth::Anonymous;
        };
        if let Some(auth) = entry.get("auth").and_then(|a| a.as_str()) {
            if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(auth.trim()) {
                if let Ok(text) = String::from_utf8(bytes) {
                    if let Some((u, p)) = text.split_once(':') {
                        return RegistryAuth::Basic(u.to_string(), p.to_string());
                    }
                }
            }
        }
        match (
            entry.get("username").and_then(|v| v.as_str()),
            entry.get("password").and_then(|v| v.as_str()),
        ) {
            (Some(u), Some(p)) => RegistryAuth::Basic(u.to_string(), p.to_string()),
            _ => match entry.get("registrytoken").and_then(|v| v.as_str()) {
                Some(t) => RegistryAuth::Bearer(t.to_string()),
                None => RegistryAuth::Anonymous,
            },
        }
    }

    fn deadline<T>(
        &self,
        what: &str,
        fut: impl std::future::Future<Output = Result<T, RegistryError>>,
    ) -> Result<T, RegistryError> {
        let limit = self.opts.timeout.saturating_mul(2);
        self.rt
            .block_on(async { tokio::time::timeout(limit, fut).await })
            .unwrap_or_else(|_| Err(RegistryError::Timeout(what.to_string(), limit.as_secs())))
    }

    /// Fetches the manifest or index `reference` names (its tag or digest), capped at
    /// [`MAX_MANIFEST_BYTES`]; checks its digest when the reference pins one.
    pub fn manifest(&mut self, reference: &Reference) -> Result<Manifest, RegistryError> {
        let url = format!(
            "{}://{}/v2/{}/manifests/{}",
            self.scheme(reference.resolve_registry()),
            reference.resolve_registry(),
            reference.repository(),
            reference.digest().or(reference.tag()).unwrap_or("latest")
        );
        self.get_manifest(
            reference,
            url,
            &MANIFEST_ACCEPT.join(", "),
            reference.whole(),
        )
    }

    /// The OCI 1.1 referrers of `digest` in `reference`'s repository, as the image index
    /// the registry answers (`artifact_type` filters, where the registry supports it).
    /// `Ok(None)` when the registry has no referrers API (404, 400, 405, 501): then only
    /// the tag schemes can be looked at.
    pub fn referrers(
        &mut self,
        reference: &Reference,
        digest: &str,
        artifact_type: Option<&str>,
    ) -> Result<Option<Manifest>, RegistryError> {
        let registry = reference.resolve_registry();
        let mut url = format!(
            "{}://{}/v2/{}/referrers/{digest}",
            self.scheme(registry),
            registry,
            reference.repository(),
        );
        if let Some(t) = artifact_type {
            url.push_str("?artifactType=");
            url.push_str(&t.replace('+', "%2B"));
        }
        let what = format!(
            "{}/{}@{digest} (referrers)",
            registry,
            reference.repository()
        );
        // The answer is an index named by no digest of ours: fetched with the image's
        // reference, whose digest pin (if any) is not the index's.
        let plain = Reference::with_tag(
            reference.registry().to_string(),
            reference.repository().to_string(),
            "referrers".to_string(),
        );
        match self.get_manifest(&plain, url, "application/vnd.oci.image.index.v1+json", what) {
            Ok(m) => Ok(Some(m)),
            Err(RegistryError::NotFound(_)) => Ok(None),
            Err(RegistryError::Status(_, 400 | 405 | 501)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// GETs a manifest-like document at `url` with `reference`'s credentials, capped at
    /// [`MAX_MANIFEST_BYTES`] while streaming.
    fn get_manifest(
        &mut self,
        reference: &Reference,
        url: String,
        accept: &str,
        what: String,
    ) -> Result<Manifest, RegistryError> {
        let registry = reference.resolve_registry().to_string();
        let client = self.client(&registry);
        let auth = self.auth_for(&registry);
        let accept = accept.to_string();
        let name = what.clone();
        let http = self.http.clone();
        let timeout = self.opts.timeout;
        let fut = async move {
            let token = client
                .auth(reference, &auth, RegistryOperation::Pull)
                .await
                .map_err(|e| map_client_error(&what, e, timeout))?;
            let mut req = http.get(&url).header(reqwest::header::ACCEPT, accept);
            req = match (token, &auth) {
                (Some(t), _) => req.bearer_auth(t),
                (None, RegistryAuth::Basic(u, p)) => req.basic_auth(u, Some(p)),
                (None, RegistryAuth::Bearer(t)) => req.bearer_auth(t),
                (None, RegistryAuth::Anonymous) => req,
            };
            let mut resp = req
                .send()
                .await
                .map_err(|e| map_reqwest_error(&what, &e, timeout))?;
            check_status(&what, resp.status().as_u16())?;
            if resp
                .content_length()
                .is_some_and(|n| n > MAX_MANIFEST_BYTES as u64)
            {
                return Err(RegistryError::TooLarge(
                    what,
                    "manifest",
                    MAX_MANIFEST_BYTES,
                ));
            }
            let media_type = resp
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.split(';').next().unwrap_or(s).trim().to_string());
            let mut bytes = Vec::new();
            while let Some(chunk) = resp
                .chunk()
                .await
                .map_err(|e| map_reqwest_error(&what, &e, timeout))?
            {
                if bytes.len() + chunk.len() > MAX_MANIFEST_BYTES {
                    return Err(RegistryError::TooLarge(
                        what,
                        "manifest",
                        MAX_MANIFEST_BYTES,
                    ));
                }
                bytes.extend_from_slice(&chunk);
            }
            let digest = sha256_digest(&bytes);
            if let Some(want) = reference.digest() {
                if want != digest {
                    return Err(RegistryError::DigestMismatch(
                        what,
                        digest,
                        want.to_string(),
                    ));
                }
            }
            Ok(Manifest {
                bytes,
                digest,
                media_type,
            })
        };
        self.deadline(&name, fut)
    }

    /// Fetches the blob `digest` from `reference`'s repository, refusing more than `cap`
    /// bytes; the client checks the content against the digest.
    pub fn blob(
        &mut self,
        reference: &Reference,
        digest: &str,
        size: Option<i64>,
        cap: usize,
        what: &'static str,
    ) -> Result<Vec<u8>, RegistryError> {
        let name = format!("{}@{digest}", reference.whole());
        if size.is_some_and(|s| s < 0 || s as u64 > cap as u64) {
            return Err(RegistryError::TooLarge(name, what, cap));
        }
        let registry = reference.resolve_registry().to_string();
        let client = self.client(&registry);
        let auth = self.auth_for(&registry);
        let timeout = self.opts.timeout;
        let desc = OciDescriptor {
            digest: digest.to_string(),
            size: size.unwrap_or(0),
            ..OciDescriptor::default()
        };
        let name2 = name.clone();
        let fut = async move {
            client.store_auth_if_needed(&registry, &auth).await;
            let mut out = CappedBuf {
                buf: Vec::new(),
                cap,
                over: false,
            };
            match client.pull_blob(reference, &desc, &mut out).await {
                Ok(()) => Ok(out.buf),
                Err(_) if out.over => Err(RegistryError::TooLarge(name2, what, cap)),
                Err(e) => Err(map_client_error(&name2, e, timeout)),
            }
        };
        self.deadline(&name, fut)
    }

    /// Uploads a blob (skipped when the registry already has it); returns its digest.
    pub fn push_blob(
        &mut self,
        reference: &Reference,
        bytes: Vec<u8>,
    ) -> Result<String, RegistryError> {
        let digest = sha256_digest(&bytes);
        let registry = reference.resolve_registry().to_string();
        let client = self.client(&registry);
        let auth = self.auth_for(&registry);
        let what = reference.whole();
        let timeout = self.opts.timeout;
        let d = digest.clone();
        let fut = async move {
            client
                .auth(reference, &auth, RegistryOperation::Push)
                .await
                .map_err(|e| map_client_error(&what, e, timeout))?;
            if client.blob_exists(reference, &d).await.unwrap_or(false) {
                return Ok(());
            }
            client
                .push_blob(reference, bytes, &d)
                .await
                .map(|_| ())
                .map_err(|e| map_client_error(&what, e, timeout))
        };
        self.deadline(&reference.whole(), fut)?;
        Ok(digest)
    }

    /// Uploads a manifest under `reference`'s tag (or digest); returns its digest.
    pub fn push_manifest(
        &mut self,
        reference: &Reference,
        bytes: Vec<u8>,
        media_type: &str,
    ) -> Result<String, RegistryError> {
        let digest = sha256_digest(&bytes);
        let registry = reference.resolve_registry().to_string();
        let client = self.client(&registry);
        let auth = self.auth_for(&registry);
        let what = reference.whole();
        let timeout = self.opts.timeout;
        let content_type = reqwest::header::HeaderValue::from_str(media_type)
            .map_err(|e| RegistryError::Other(what.clone(), e.to_string()))?;
        let fut = async move {
            client
                .auth(reference, &auth, RegistryOperation::Push)
                .await
                .map_err(|e| map_client_error(&what, e, timeout))?;
            client
                .push_manifest_raw(reference, bytes, content_type)
                .await
                .map(|_| ())
                .map_err(|e| map_client_error(&what, e, timeout))
        };
        self.deadline(&reference.whole(), fut)?;
        Ok(digest)
    }
}

fn check_status(what: &str, status: u16) -> Result<(), RegistryError> {
    match status {
        200..=299 => Ok(()),
        401 | 403 => Err(RegistryError::Unauthorized(what.to_string(), status)),
        404 => Err(RegistryError::NotFound(what.to_string())),
        s => Err(RegistryError::Status(what.to_string(), s)),
    }
}

fn map_reqwest_error(what: &str, e: &reqwest::Error, timeout: Duration) -> RegistryError {
    if e.is_timeout() {
        return RegistryError::Timeout(what.to_string(), timeout.as_secs());
    }
    if let Some(s) = e.status() {
        if let Err(err) = check_status(what, s.as_u16()) {
            return err;
        }
    }
    // The chain of sources says what actually failed (refused, DNS, TLS).
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
        src = s.source();
    }
    RegistryError::Network(what.to_string(), msg)
}

fn map_client_error(
    what: &str,
    e: oci_client::errors::OciDistributionError,
    timeout: Duration,
) -> RegistryError {
    use oci_client::errors::OciDistributionError as E;
    match e {
        E::RequestError(r) => map_reqwest_error(what, &r, timeout),
        E::AuthenticationFailure(_) => RegistryError::Unauthorized(what.to_string(), 401),
        E::ServerError { code, .. } => check_status(what, code)
            .err()
            .unwrap_or_else(|| RegistryError::Status(what.to_string(), code)),
        E::RegistryError { envelope, .. } => {
            let codes: Vec<String> = envelope
                .errors
                .iter()
                .map(|e| format!("{:?}", e.code))
                .collect();
            let joined = codes.join(", ");
            if joined.contains("Unauthorized") || joined.contains("Denied") {
                RegistryError::Unauthorized(what.to_string(), 401)
            } else if joined.contains("Unknown") {
                RegistryError::NotFound(what.to_string())
            } else {
                RegistryError::Other(what.to_string(), format!("registry error: {joined}"))
            }
        }
        E::DigestError(d) => RegistryError::Malformed(what.to_string(), format!("content: {d}")),
        other => RegistryError::Other(what.to_string(), other.to_string()),
    }
}

/// The `auths` map of the Docker config file (empty when there is none or it is unreadable:
/// anonymous access is then tried, and a registry that needs credentials says so).
fn read_docker_auths(path: Option<PathBuf>) -> serde_json::Map<String, serde_json::Value> {
    let path = path.or_else(|| {
        std::env::var_os("DOCKER_CONFIG")
            .map(|d| PathBuf::from(d).join("config.json"))
            .or_else(|| {
                std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker/config.json"))
            })
    });
    let Some(path) = path else {
        return serde_json::Map::new();
    };
    let Ok(meta) = std::fs::metadata(&path) else {
        return serde_json::Map::new();
    };
    if meta.len() > 1 << 20 {
        return serde_json::Map::new();
    }
    std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v.get("auths").and_then(|a| a.as_object()).cloned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("localhost"));
        assert!(is_loopback("[::1]:5000"));
        assert!(!is_loopback("registry.example.com"));
        assert!(!is_loopback("127.0.0.2:5000"));
    }

    #[test]
    fn docker_config_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.json");
        std::fs::write(
            &file,
            r#"{"auths": {"https://reg.example:5000": {"auth": "dXNlcjpwYXNz"}, "other.example": {"username": "a", "password": "b"}}}"#,
        )
        .unwrap();
        let r = Registry::new(RegistryOptions {
            docker_config: Some(file),
            ..RegistryOptions::default()
        })
        .unwrap();
        assert!(
            matches!(r.auth_for("reg.example:5000"), RegistryAuth::Basic(u, p) if u == "user" && p == "pass")
        );
        assert!(matches!(r.auth_for("other.example"), RegistryAuth::Basic(u, _) if u == "a"));
        assert!(matches!(
            r.auth_for("third.example"),
            RegistryAuth::Anonymous
        ));
    }
}
