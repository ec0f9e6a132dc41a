//! Typed, tolerant view of image metadata (the engine's normalised form of `docker inspect`
//! output, OCI image configs and manifests).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::input::null_default;

/// Image metadata.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct Image {
    /// Which format the metadata came from (`docker-inspect`, `oci-config`, ...).
    pub format: Option<String>,
    /// The configured user (`""`/absent means root).
    pub user: Option<String>,
    /// Exposed ports, as the engine reports them (list or map).
    #[serde(deserialize_with = "null_default")]
    pub exposed_ports: Value,
    /// Environment, as the engine reports it (list of `K=V` or map).
    #[serde(deserialize_with = "null_default")]
    pub env: Value,
    /// Labels.
    #[serde(deserialize_with = "null_default")]
    pub labels: BTreeMap<String, Value>,
    /// Entrypoint.
    #[serde(deserialize_with = "null_default")]
    pub entrypoint: Value,
    /// Cmd.
    #[serde(deserialize_with = "null_default")]
    pub cmd: Value,
    /// History entries.
    #[serde(deserialize_with = "null_default")]
    pub history: Vec<Value>,
    /// Layers.
    #[serde(deserialize_with = "null_default")]
    pub layers: Vec<Value>,
    /// Operating system.
    pub os: Option<String>,
    /// CPU architecture.
    pub architecture: Option<String>,
    /// Creation time.
    pub created: Option<String>,
    /// Image digest.
    pub digest: Option<String>,
    /// The original document.
    #[serde(deserialize_with = "null_default")]
    pub raw: Value,
}

impl Image {
    /// Whether the image runs as root: no user, `root`, or UID 0 (with or without a group).
    pub fn runs_as_root(&self) -> bool {
        match self.user.as_deref().map(str::trim) {
            None | Some("") => true,
            Some(u) => crate::dockerfile::is_root_user(u),
        }
    }
}
