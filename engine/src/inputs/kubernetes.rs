//! The `kubernetes` input kind: any YAML or JSON object with a string `apiVersion` and
//! `kind`. Parsing is the YAML/JSON parser's (`yaml.rs`); this module says how a document
//! is recognised as a Kubernetes object and the rest of what the engine knows about it.

use serde_json::Value;

use super::kinds::{Comments, KindSpec};
use super::{DocumentKind, Format};

/// The `kubernetes` kind.
pub const KIND: KindSpec = KindSpec {
    kind: DocumentKind::Kubernetes,
    name: "kubernetes",
    aliases: &["k8s"],
    syntax: Format::Yaml,
    comments: Comments::Yaml,
    language_ids: &[],
    case_file: "manifest.yaml",
    detect: Some(is_kubernetes),
};

/// An object with string `apiVersion` and `kind`.
pub fn is_kubernetes(value: &Value) -> bool {
    matches!(value.get("apiVersion"), Some(Value::String(_)))
        && matches!(value.get("kind"), Some(Value::String(_)))
}
