//! ABI version 1 wire types, shared by the host (engine) and guests.
//!
//! Every payload crossing the WASM boundary is UTF-8 JSON of one of these types.
//! See `sdk/ABI.md` for the calling convention.

use serde::{Deserialize, Serialize};

/// The ABI version implemented by this crate; guests export it from `policy_abi_version`.
pub const ABI_VERSION: u32 = 1;

/// Names of the exports and the import that make up ABI version 1 (see `sdk/ABI.md`).
pub mod names {
    /// `memory`: the guest's linear memory (exported).
    pub const MEMORY: &str = "memory";
    /// `policy_abi_version() -> i32`.
    pub const ABI_VERSION: &str = "policy_abi_version";
    /// `policy_alloc(len: i32) -> i32`.
    pub const ALLOC: &str = "policy_alloc";
    /// `policy_dealloc(ptr: i32, len: i32)`.
    pub const DEALLOC: &str = "policy_dealloc";
    /// `policy_metadata() -> i64` (packed pointer and length of a JSON [`super::PolicyMetadata`]).
    pub const METADATA: &str = "policy_metadata";
    /// `policy_evaluate(ptr: i32, len: i32) -> i64` (packed pointer and length of a JSON
    /// [`super::EvaluateResponse`]).
    pub const EVALUATE: &str = "policy_evaluate";
    /// Module of the only import a guest may have.
    pub const LOG_MODULE: &str = "env";
    /// `env.log(level: i32, ptr: i32, len: i32)`, optional.
    pub const LOG: &str = "log";
}

/// Packs a guest pointer and length into the `i64` returned by `policy_metadata` and
/// `policy_evaluate`: the pointer in the high 32 bits, the length in the low 32 bits.
///
/// ```
/// use policy_sdk::abi::{pack, unpack};
/// assert_eq!(unpack(pack(1024, 37)), (1024, 37));
/// assert_eq!(pack(1, 2), (1_i64 << 32) | 2);
/// ```
pub const fn pack(ptr: u32, len: u32) -> i64 {
    (((ptr as u64) << 32) | len as u64) as i64
}

/// Splits a packed reply into `(ptr, len)`; both are unsigned 32-bit guest values.
pub const fn unpack(packed: i64) -> (u32, u32) {
    let bits = packed as u64;
    ((bits >> 32) as u32, bits as u32)
}

/// Level of a message a guest sends through the optional `env.log` import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// 0: very detailed tracing.
    Trace,
    /// 1: debugging aid.
    Debug,
    /// 2: informational.
    Info,
    /// 3: something looks wrong but evaluation continues.
    Warn,
    /// 4: an error the guest could not handle.
    Error,
}

impl LogLevel {
    /// The wire value (0..=4).
    pub const fn as_i32(self) -> i32 {
        match self {
            LogLevel::Trace => 0,
            LogLevel::Debug => 1,
            LogLevel::Info => 2,
            LogLevel::Warn => 3,
            LogLevel::Error => 4,
        }
    }

    /// Decodes a wire value; values above 4 count as [`LogLevel::Error`], below 0 as trace.
    pub const fn from_i32(level: i32) -> LogLevel {
        match level {
            i32::MIN..=0 => LogLevel::Trace,
            1 => LogLevel::Debug,
            2 => LogLevel::Info,
            3 => LogLevel::Warn,
            _ => LogLevel::Error,
        }
    }

    /// Lower-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

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
    /// 1-based column (in characters) on `line` where the finding starts. With `line`, it
    /// gives the exact position and wins over `path` for the reported range; `path` then
    /// still names the node (ABI v1 addition: older hosts ignore it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    /// 1-based last line of the range (default: `line`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_line: Option<u32>,
    /// 1-based column just after the range on `end_line` (exclusive, in characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_column: Option<u32>,
    /// Override of the rule's severity for this finding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
}

impl GuestFinding {
    /// A finding of `rule` with message `msg` and no location (the host reports it at the
    /// start of the document).
    pub fn new(rule: impl Into<String>, msg: impl Into<String>) -> Self {
        GuestFinding {
            rule: rule.into(),
            msg: msg.into(),
            ..GuestFinding::default()
        }
    }

    /// A finding located at `path` inside the document (the usual way to build one).
    ///
    /// ```
    /// use policy_sdk::abi::{GuestFinding, PathSegment};
    /// let f = GuestFinding::at_path("K8S001", "set runAsNonRoot", ["spec".into(), 0.into()]);
    /// assert_eq!(f.path, Some(vec![PathSegment::Key("spec".into()), PathSegment::Index(0)]));
    /// ```
    pub fn at_path(
        rule: impl Into<String>,
        msg: impl Into<String>,
        path: impl IntoIterator<Item = PathSegment>,
    ) -> Self {
        GuestFinding::new(rule, msg).with_path(path)
    }

    /// Sets the location to `path`.
    pub fn with_path(mut self, path: impl IntoIterator<Item = PathSegment>) -> Self {
        self.path = Some(path.into_iter().collect());
        self
    }

    /// Sets the location to a 1-based source line (used when no path is set).
    pub fn with_line(mut self, line: u32) -> Self {
        self.line = Some(line);
        self
    }

    /// Sets the exact start: a 1-based line and a 1-based column in characters.
    ///
    /// ```
    /// use policy_sdk::abi::GuestFinding;
    /// let f = GuestFinding::new("DF100", "set pipefail")
    ///     .with_path(["instructions".into(), 2.into()])
    ///     .with_position(4, 9)
    ///     .with_end(4, 13);
    /// assert_eq!((f.line, f.column, f.end_line, f.end_column), (Some(4), Some(9), Some(4), Some(13)));
    /// ```
    pub fn with_position(mut self, line: u32, column: u32) -> Self {
        self.line = Some(line);
        self.column = Some(column);
        self
    }

    /// Sets the end of the range: a 1-based line and the column just after the last
    /// character.
    pub fn with_end(mut self, end_line: u32, end_column: u32) -> Self {
        self.end_line = Some(end_line);
        self.end_column = Some(end_column);
        self
    }

    /// Overrides the rule's default severity for this finding.
    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = Some(severity);
        self
    }
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
