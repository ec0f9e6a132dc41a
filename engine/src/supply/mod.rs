//! The ship phase: images read from registries, their cosign signatures, and policies
//! distributed as (signed) OCI artifacts.
//!
//! Everything else in the engine reads local files. This module is the one place that
//! talks to OCI registries, so that the rest of the pipeline keeps seeing ordinary
//! [`crate::inputs::Document`]s and policy directories: a registry image becomes an `image`
//! document (format `registry`, with `source` and `signatures` blocks), and a policy
//! bundle becomes a directory in the cache. See `docs/supply-chain.md`.

pub mod bundle;
pub mod client;
pub mod cosign;
pub mod image;
pub mod keys;
pub mod live;

pub use client::{Registry, RegistryError, RegistryOptions};
pub use keys::{KeyError, PublicKey, SigningKey};

/// Errors of the ship-phase operations.
#[derive(Debug, thiserror::Error)]
pub enum SupplyError {
    /// A registry operation failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A key could not be read or used.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A policy bundle is malformed, unsigned or wrongly signed.
    #[error("{0}")]
    Bundle(String),
    /// A local file could not be read or written.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
}

/// Reads `settings.trusted_keys`-style entries: each is a PEM public key, or a path to one
/// (relative paths against `base`). Returns the keys and one message per bad entry.
pub fn load_trusted_keys(
    entries: &[serde_json::Value],
    base: &std::path::Path,
) -> (Vec<PublicKey>, Vec<String>) {
    let mut keys = Vec::new();
    let mut errors = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let Some(s) = e.as_str() else {
            errors.push(format!(
                "settings.trusted_keys[{i}]: expected a PEM public key or a path to one"
            ));
            continue;
        };
        let (name, pem) = if s.trim_start().starts_with("-----BEGIN") {
            (format!("trusted_keys[{i}]"), s.to_string())
        } else {
            let path = base.join(s);
            match std::fs::read_to_string(&path) {
                Ok(t) => (s.to_string(), t),
                Err(err) => {
                    errors.push(format!(
                        "{}: cannot read trusted key: {err}",
                        path.display()
                    ));
                    continue;
                }
            }
        };
        match PublicKey::from_pem(name.clone(), &pem) {
            Ok(k) => keys.push(k),
            Err(err) => errors.push(format!("{name}: {err}")),
        }
    }
    (keys, errors)
}
