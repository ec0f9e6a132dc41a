//! ABI version 1 wire types, shared by the host (engine) and guests.
//!
//! Every payload crossing the WASM boundary is UTF-8 JSON of one of these types.
//! See `sdk/ABI.md` for the calling convention.

use serde::{Deserialize, Serialize};

/// The ABI version implemented by this crate; guests export it from `policy_abi_version`.
pub const ABI_VERSION: u32 = 1;

/// How serious a finding is. Ordered from least to most severe.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational only.
    Info,
    /// Low severity.
    Low,
    /// Medium severity (the default when a rule says nothing).
    #[default]
    Medium,
    /// High severity.
    High,
    /// Critical severity.
    Critical,
}

impl Severity {
    /// All severities, least severe first.
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The lower-case name, as written in METADATA and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parses a lower-case (or any-case) severity name.
    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL
            .into_iter()
            .find(|sev| sev.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One step of a path into a JSON document: an object key or an array index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PathSegment {
    /// An array index.
    Index(usize),
    /// An object key.
    Key(String),
}

impl From<&str> for PathSegment {
    fn from(s: &str) -> Self {
        PathSegment::Key(s.to_owned())
    }
}
impl From<String> for PathSegment {
    fn from(s: String) -> Self {
        PathSegment::Key(s)
    }
}
impl From<usize> for PathSegment {
    fn from(i: usize) -> Self {
        PathSegment::Index(i)
    }
}

/// Metadata of one rule, with the same fields as a Rego `# METADATA` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RuleMetadata {
    /// Stable rule ID, for example `DF001`.
    pub id: String,
    /// One-line title.
    pub title: String,
    /// Longer description (Markdown).
    #[serde(default)]
    pub description: String,
    /// Default severity.
    #[serde(default)]
    pub severity: Severity,
    /// Document kinds the rule applies to (`dockerfile`, `kubernetes`, `image`, `workflow`,
    /// `yaml`, `json`). Empty means every kind.
    #[serde(default)]
    pub kinds: Vec<String>,
    /// What to do about a finding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<String>,
    /// Reference URLs.
    #[serde(default)]
    pub references: Vec<String>,
}

/// Reply of the metadata call: the policy's rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct PolicyMetadata {
    /// Policy name, for display.
    #[serde(default)]
    pub name: String,
    /// The rules this module implements.
    pub rules: Vec<RuleMetadata>,
}

/// Request of the evaluate call: one document plus the policy's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluateRequest {
    /// Document kind (`dockerfile`, `kubernetes`, ...).
    pub kind: String,
    /// Path of the file the document came from.
    pub path: String,
    /// The document's JSON value, exactly as Rego policies see it as `input`.
    pub document: serde_json::Value,
    /// The policy's settings (from `data`), or `null`.
    #[serde(default)]
    pub settings: serde_json::Value,
}

/// One finding returned by a guest, in the same shape Rego rules return.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct GuestFinding {
    /// ID of the rule (must be one declared in the metadata).
    pub rule: String,
    /// The message shown to the user.
    pub msg: String,
    /// Location as a path into the document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<Vec<PathSegment>>,
    /// Location as a 1-based line of the source file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// Override of the rule's severity for this finding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
}

/// Reply of the evaluate call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EvaluateResponse {
    /// Success: the findings (possibly none).
    Findings {
        /// The findings.
        findings: Vec<GuestFinding>,
    },
    /// The guest could not evaluate the document.
    Error {
        /// Why.
        error: String,
    },
}
