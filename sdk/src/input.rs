//! [`Input`]: the document a policy is asked about, with typed views per kind, and the
//! policy-side [`Error`] type.

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::abi::EvaluateRequest;
use crate::dockerfile::Dockerfile;
use crate::image::Image;
use crate::kubernetes::KubeObject;

/// Why a policy could not evaluate a document. It travels to the host as
/// `{"error": "..."}` and becomes a rule error for that policy and document (the run goes on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl Error {
    /// An error with this message.
    pub fn new(msg: impl Into<String>) -> Self {
        Error(msg.into())
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<String> for Error {
    fn from(s: String) -> Self {
        Error(s)
    }
}
impl From<&str> for Error {
    fn from(s: &str) -> Self {
        Error(s.to_owned())
    }
}
impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error(format!("cannot decode document: {e}"))
    }
}

/// One document plus the policy's settings, as received by `policy_evaluate`.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    /// The raw request.
    pub request: EvaluateRequest,
}

impl Input {
    /// Wraps a request.
    pub fn new(request: EvaluateRequest) -> Self {
        Input { request }
    }

    /// The document kind (`dockerfile`, `kubernetes`, `image`, ...).
    pub fn kind(&self) -> &str {
        &self.request.kind
    }

    /// Path of the file the document came from.
    pub fn path(&self) -> &str {
        &self.request.path
    }

    /// The document as JSON.
    pub fn document(&self) -> &serde_json::Value {
        &self.request.document
    }

    /// The policy's settings as JSON (`null` when none).
    pub fn settings_value(&self) -> &serde_json::Value {
        &self.request.settings
    }

    /// The settings decoded into `T`; `null` settings decode as `T::default()`.
    pub fn settings<T: DeserializeOwned + Default>(&self) -> Result<T, Error> {
        if self.request.settings.is_null() {
            return Ok(T::default());
        }
        T::deserialize(&self.request.settings).map_err(|e| Error(format!("invalid settings: {e}")))
    }

    /// The document as a Dockerfile view, or `None` when it is another kind.
    pub fn dockerfile(&self) -> Result<Option<Dockerfile>, Error> {
        self.view("dockerfile")
    }

    /// The document as a Kubernetes object view, or `None` when it is another kind.
    pub fn kubernetes(&self) -> Result<Option<KubeObject>, Error> {
        self.view("kubernetes")
    }

    /// The document as an image metadata view, or `None` when it is another kind.
    pub fn image(&self) -> Result<Option<Image>, Error> {
        self.view("image")
    }

    fn view<T: DeserializeOwned>(&self, kind: &str) -> Result<Option<T>, Error> {
        if self.request.kind != kind {
            return Ok(None);
        }
        T::deserialize(&self.request.document)
            .map(Some)
            .map_err(|e| Error(format!("cannot read {kind} document: {e}")))
    }
}

/// Deserializes a view, treating `null` as the default value.
pub(crate) fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}
