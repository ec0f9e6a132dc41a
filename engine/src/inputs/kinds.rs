//! What the engine knows about each input kind, declared by the kind's own module.
//!
//! Every kind module (`dockerfile`, `kubernetes`, `image`, `workflow`, `yaml`, `vulns`)
//! exports one [`KindSpec`]: its name and aliases, the syntax it is parsed as, how its
//! comments are written (for in-source suppressions), the editor language IDs it answers
//! to, the file name a test case of it is parsed as, and how a parsed YAML/JSON value is
//! recognised as it. [`DocumentKind`] and the registry [`KINDS`] are generated from one
//! list in `inputs/mod.rs` (`kinds!`), so that the rest of the engine (the `--kind` flag,
//! METADATA `custom.kinds`, suppressions, `policy test` cases, the language server) reads
//! the table instead of matching on kinds.
//!
//! Adding a kind: write its module with a `pub const KIND: KindSpec`, then register it
//! with `pub mod NAME;` and one line in `kinds!` (docs/architecture.md walks through it).

use serde_json::Value;

pub use super::KINDS;
use super::{DocumentKind, Format};

/// How a kind writes comments, which decides where `# policy:ignore=` suppressions are
/// read (see `eval::suppress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comments {
    /// The syntax has no comments (JSON): no in-source suppressions.
    None,
    /// YAML `#` comments, outside strings and block scalars.
    Yaml,
    /// Dockerfile comment lines, outside heredocs.
    Dockerfile,
}

/// Everything the engine knows about one input kind.
#[derive(Debug)]
pub struct KindSpec {
    /// The variant this spec describes.
    pub kind: DocumentKind,
    /// The lower-case name used in METADATA `custom.kinds`, `--kind` and JSON output.
    pub name: &'static str,
    /// Other names `--kind` and `custom.kinds` accept (`k8s`, `docker`).
    pub aliases: &'static [&'static str],
    /// The syntax an input forced to this kind (`--kind`) is parsed as.
    pub syntax: Format,
    /// How its comments are written.
    pub comments: Comments,
    /// Editor language IDs (LSP `textDocument/didOpen`) of buffers of this kind, for
    /// buffers whose file name says nothing.
    pub language_ids: &'static [&'static str],
    /// The file name a `policy test` case of this kind is parsed as when it names none.
    pub case_file: &'static str,
    /// Recognises a parsed YAML or JSON document as this kind. Kinds are tried in the
    /// order of [`KINDS`]; a document no kind claims is `yaml` or `json`. `None`: the kind
    /// is never detected from a YAML/JSON value this way (Dockerfiles have their own
    /// syntax; image metadata and scan reports are recognised and normalised by
    /// `yaml::classify_json`).
    pub detect: Option<fn(&Value) -> bool>,
}

impl DocumentKind {
    /// The lower-case name used in METADATA `custom.kinds` and `--kind`.
    pub fn as_str(self) -> &'static str {
        self.spec().name
    }

    /// Parses a kind name (accepts a few aliases such as `k8s` and `docker`).
    pub fn parse(s: &str) -> Option<DocumentKind> {
        let s = s.trim().to_ascii_lowercase();
        KINDS
            .iter()
            .find(|k| k.name == s || k.aliases.contains(&s.as_str()))
            .map(|k| k.kind)
    }

    /// Every kind's name, for messages: `dockerfile, kubernetes, … or vulnerabilities`.
    pub fn names() -> String {
        let names: Vec<&str> = KINDS.iter().map(|k| k.name).collect();
        match names.split_last() {
            Some((last, [])) => last.to_string(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        }
    }
}

/// The kind a parsed YAML or JSON value is, by the [`KindSpec::detect`] of each kind in
/// registry order; `None` when no kind claims it.
pub fn detect(value: &Value) -> Option<DocumentKind> {
    KINDS
        .iter()
        .find(|k| k.detect.is_some_and(|detect| detect(value)))
        .map(|k| k.kind)
}

/// The syntax of an editor buffer from its language ID, when one kind declares it.
pub fn syntax_of_language(language_id: &str) -> Option<Format> {
    let id = language_id.to_ascii_lowercase();
    KINDS
        .iter()
        .find(|k| k.language_ids.contains(&id.as_str()))
        .map(|k| k.syntax)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_one_spec_whose_name_is_its_serialised_name() {
        assert_eq!(KINDS.len(), DocumentKind::ALL.len());
        for (spec, kind) in KINDS.iter().zip(DocumentKind::ALL) {
            assert_eq!(spec.kind, *kind);
            assert_eq!((kind.spec().kind, kind.spec().name), (*kind, spec.name));
            assert_eq!(serde_json::to_value(kind).unwrap(), spec.name);
            assert_eq!(DocumentKind::parse(spec.name), Some(*kind));
            for alias in spec.aliases {
                assert_eq!(DocumentKind::parse(alias), Some(*kind), "{alias}");
            }
        }
    }

    #[test]
    fn names_aliases_and_language_ids() {
        assert_eq!(DocumentKind::parse(" K8S "), Some(DocumentKind::Kubernetes));
        assert_eq!(
            DocumentKind::parse("github-actions"),
            Some(DocumentKind::Workflow)
        );
        assert_eq!(DocumentKind::parse("compose"), None);
        assert_eq!(
            DocumentKind::names(),
            "dockerfile, kubernetes, image, workflow, yaml, json or vulnerabilities"
        );
        assert_eq!(syntax_of_language("Dockerfile"), Some(Format::Dockerfile));
        assert_eq!(
            syntax_of_language("github-actions-workflow"),
            Some(Format::Yaml)
        );
        assert_eq!(syntax_of_language("yml"), Some(Format::Yaml));
        assert_eq!(syntax_of_language("json"), Some(Format::Json));
        assert_eq!(syntax_of_language("python"), None);
    }

    #[test]
    fn detection_follows_the_registry_order() {
        let both = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "on": {}, "jobs": {}});
        assert_eq!(detect(&both), Some(DocumentKind::Kubernetes));
        let wf = serde_json::json!({"on": "push", "jobs": {}});
        assert_eq!(detect(&wf), Some(DocumentKind::Workflow));
        assert_eq!(detect(&serde_json::json!({"a": 1})), None);
    }
}
