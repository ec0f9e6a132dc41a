//! Rule metadata: what a rule is called, how severe it is, which document kinds it
//! applies to and what to do about it.
//!
//! Both runtimes produce the same [`RuleMeta`]: Rego from `# METADATA` comment blocks
//! ([`metadata`]), WASM from the module's metadata call. Reporters, `policy rules` and
//! (later) LSP hover all render from it.

pub mod metadata;
pub mod peers;

use serde::{Deserialize, Serialize};

use crate::inputs::DocumentKind;
use crate::Severity;

/// Which runtime a rule runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeKind {
    /// A Rego module evaluated by regorus.
    Rego,
    /// A WASM module evaluated by wasmtime.
    Wasm,
}

/// The extensions of policy files: one per runtime, its [`RuntimeKind::as_str`]. Loading,
/// hot reload, `policy watch`, the language server and bundles all read this list.
pub const POLICY_EXTENSIONS: &[&str] = &["rego", "wasm"];

impl RuntimeKind {
    /// Every runtime, in the order of [`POLICY_EXTENSIONS`].
    pub const ALL: &'static [RuntimeKind] = &[RuntimeKind::Rego, RuntimeKind::Wasm];

    /// The runtime of a policy file extension (lower case).
    pub fn from_extension(ext: &str) -> Option<RuntimeKind> {
        RuntimeKind::ALL.iter().copied().find(|r| r.as_str() == ext)
    }

    /// The OCI layer media type of its policy files in a bundle (`policy push`).
    pub fn media_type(self) -> &'static str {
        match self {
            RuntimeKind::Rego => "application/vnd.policy.rego.v1",
            RuntimeKind::Wasm => "application/vnd.policy.wasm.v1",
        }
    }

    /// The lower-case name, as in the JSON output's `policy.runtime`, and the extension
    /// of its policy files.
    pub fn as_str(self) -> &'static str {
        match self {
            RuntimeKind::Rego => "rego",
            RuntimeKind::Wasm => "wasm",
        }
    }

    /// The name people read, as in the rule catalog.
    pub fn label(self) -> &'static str {
        match self {
            RuntimeKind::Rego => "Rego",
            RuntimeKind::Wasm => "WASM",
        }
    }
}

/// Where a rule came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RuleOrigin {
    /// Built into the binary (true) or loaded from a user policy path (false).
    pub builtin: bool,
    /// The runtime.
    pub runtime: RuntimeKind,
    /// The policy file (for built-ins, its path inside `policies/`).
    pub file: String,
    /// The Rego package (`data.foo.bar`), when Rego.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
}

/// Everything known about a rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleMeta {
    /// Stable ID (`custom.id`), or `package.rule` when the policy has no metadata.
    pub id: String,
    /// One-line title.
    pub title: String,
    /// Longer description.
    #[serde(default)]
    pub description: String,
    /// Default severity.
    pub severity: Severity,
    /// Kinds the rule applies to; empty means all kinds.
    #[serde(default)]
    pub kinds: Vec<DocumentKind>,
    /// What to do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<String>,
    /// Reference URLs (`related_resources`).
    #[serde(default)]
    pub references: Vec<String>,
    /// IDs of other tools' checks this rule covers (hadolint `DL3008`, checkov
    /// `CKV_K8S_43`): `custom.aliases`, or for built-in WASM rules the coverage tables
    /// ([`peers`]). Inline ignores written for those tools apply to this rule.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Where the rule came from.
    pub origin: RuleOrigin,
}

impl RuleMeta {
    /// Whether the rule applies to documents of `kind`.
    pub fn applies_to(&self, kind: DocumentKind) -> bool {
        self.kinds.is_empty() || self.kinds.contains(&kind)
    }

    /// Whether the rule's ID is one of `ids`, compared the way rule IDs are compared
    /// everywhere (in `.policy.yaml`, suppressions, `--explain`): ignoring ASCII case.
    ///
    /// ```
    /// # use policy_engine::rules::{RuleMeta, RuleOrigin, RuntimeKind};
    /// # let meta = RuleMeta { id: "DF001".into(), title: String::new(), description: String::new(),
    /// #     severity: policy_engine::Severity::Low, kinds: vec![], remediation: None, references: vec![], aliases: vec![],
    /// #     origin: RuleOrigin { builtin: true, runtime: RuntimeKind::Rego, file: String::new(), package: None } };
    /// assert!(meta.is_one_of(&["df001".to_string()]));
    /// assert!(!meta.is_one_of(&["DF002".to_string()]));
    /// ```
    pub fn is_one_of(&self, ids: &[String]) -> bool {
        ids.iter().any(|id| id.eq_ignore_ascii_case(&self.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_runtime_has_its_extension_in_policy_extensions() {
        let names: Vec<&str> = RuntimeKind::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names, POLICY_EXTENSIONS);
        for &r in RuntimeKind::ALL {
            assert_eq!(RuntimeKind::from_extension(r.as_str()), Some(r));
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
            assert!(r.media_type().contains(r.as_str()));
        }
        assert_eq!(RuntimeKind::from_extension("yaml"), None);
    }
}
