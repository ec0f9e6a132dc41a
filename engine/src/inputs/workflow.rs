//! The `workflow` input kind: a GitHub Actions workflow, a YAML or JSON object with `on`
//! and `jobs`. Parsing is the YAML/JSON parser's (`yaml.rs`); this module says how a
//! document is recognised as a workflow and the rest of what the engine knows about it.

use serde_json::Value;

use super::kinds::{Comments, KindSpec};
use super::{DocumentKind, Format};

/// The `workflow` kind.
pub const KIND: KindSpec = KindSpec {
    kind: DocumentKind::Workflow,
    name: "workflow",
    aliases: &["github", "github-actions"],
    syntax: Format::Yaml,
    comments: Comments::Yaml,
    language_ids: &["github-actions-workflow"],
    case_file: ".github/workflows/ci.yml",
    detect: Some(is_workflow),
};

/// An object with `on` and `jobs` (a GitHub Actions workflow).
pub fn is_workflow(value: &Value) -> bool {
    value.is_object() && value.get("on").is_some() && value.get("jobs").is_some()
}
