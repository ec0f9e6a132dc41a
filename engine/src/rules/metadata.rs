//! Rego `# METADATA` blocks and rule heads, read from the policy text.
//!
//! regorus drops comments while lexing, so the METADATA annotations that OPA defines
//! (<https://www.openpolicyagent.org/docs/policy-language#metadata>) are read here: a
//! comment block that starts with `# METADATA` holds YAML and annotates the package or
//! rule that follows it. The same scan finds the rule heads (`deny`, `warn_foo`, ...)
//! that the engine evaluates, so no rule is ever evaluated blindly.

use serde::Deserialize;

use crate::inputs::DocumentKind;
use crate::Severity;

/// Errors in a METADATA block.
#[derive(Debug, thiserror::Error)]
#[error("{line}:{column}: invalid METADATA block: {message}")]
pub struct MetadataError {
    /// 1-based line of the offending block.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// What is wrong.
    pub message: String,
}

/// A related resource: a plain URL or `{ref, description}`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum RelatedResource {
    /// `- https://...`
    Url(String),
    /// `- ref: https://...`
    Ref {
        /// The URL.
        #[serde(rename = "ref")]
        reference: String,
        /// Optional description.
        #[serde(default)]
        description: Option<String>,
    },
}

impl RelatedResource {
    /// The URL.
    pub fn url(&self) -> &str {
        match self {
            RelatedResource::Url(u) => u,
            RelatedResource::Ref { reference, .. } => reference,
        }
    }
}

/// The `custom:` section, with this project's keys.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Custom {
    /// Stable rule ID.
    pub id: Option<String>,
    /// critical / high / medium / low / info.
    pub severity: Option<String>,
    /// Document kinds the rule applies to (a list, or one string).
    pub kinds: Option<KindsField>,
    /// What to do about a finding.
    pub remediation: Option<String>,
    /// The input shape for Dockerfiles: `native` (default) or `conftest`.
    pub input: Option<String>,
    /// The checks of other tools this rule covers (`[DL3008, CKV_K8S_43]`).
    pub aliases: Option<Vec<String>>,
}

/// `kinds: dockerfile` or `kinds: [dockerfile, image]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum KindsField {
    /// One kind.
    One(String),
    /// Several kinds.
    Many(Vec<String>),
}

/// One parsed METADATA block.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Annotations {
    /// `package`, `rule`, `document` or `subpackages`.
    pub scope: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Related resources.
    pub related_resources: Vec<RelatedResource>,
    /// Custom fields.
    pub custom: Custom,
}

impl Annotations {
    /// The severity, validated.
    pub fn severity(&self) -> Result<Option<Severity>, String> {
        match &self.custom.severity {
            None => Ok(None),
            Some(s) => Severity::parse(s).map(Some).ok_or_else(|| {
                format!("unknown severity {s:?}: use critical, high, medium, low or info")
            }),
        }
    }

    /// The kinds, validated.
    pub fn kinds(&self) -> Result<Vec<DocumentKind>, String> {
        let names: Vec<&str> = match &self.custom.kinds {
            None => return Ok(Vec::new()),
            Some(KindsField::One(s)) => vec![s.as_str()],
            Some(KindsField::Many(v)) => v.iter().map(String::as_str).collect(),
        };
        names
            .into_iter()
            .map(|n| {
                DocumentKind::parse(n)
                    .ok_or_else(|| format!("unknown kind {n:?}: use {}", DocumentKind::names()))
            })
            .collect()
    }
}

/// A rule head found in the policy text.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleHead {
    /// The rule name (`deny`, `warn_latest`, ...).
    pub name: String,
    /// 1-based line of the head.
    pub line: u32,
    /// The METADATA block directly above it, if any.
    pub annotations: Option<Annotations>,
}

/// What a scan of one Rego file found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RegoScan {
    /// The package path (`main`, `kubernetes.pss`), without `data.`.
    pub package: Option<String>,
    /// 1-based line of the package statement.
    pub package_line: u32,
    /// Package-scoped METADATA.
    pub package_annotations: Option<Annotations>,
    /// Rule heads in file order (a rule defined several times appears several times).
    pub rules: Vec<RuleHead>,
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Reads the name of a rule head at the start of `line`, if the line starts one.
fn rule_head_name(line: &str) -> Option<&str> {
    let line = line.strip_prefix("default ").unwrap_or(line);
    let end = line.find(|c: char| !is_ident_char(c)).unwrap_or(line.len());
    if end == 0 || line.as_bytes()[0].is_ascii_digit() {
        return None;
    }
    let name = &line[..end];
    if matches!(
        name,
        "package" | "import" | "not" | "some" | "every" | "with" | "else"
    ) {
        return None;
    }
    let rest = line[end..].trim_start();
    let starts_head = rest.is_empty()
        || rest.starts_with('[')
        || rest.starts_with('{')
        || rest.starts_with('(')
        || rest.starts_with(":=")
        || (rest.starts_with('=') && !rest.starts_with("=="))
        || rest.starts_with("contains ")
        || rest.starts_with("if ")
        || rest.starts_with("if{")
        || rest == "if";
    starts_head.then_some(name)
}

/// Scans a Rego file for its package, METADATA blocks and rule heads.
pub fn scan(text: &str) -> Result<RegoScan, MetadataError> {
    let mut scan = RegoScan::default();
    let mut pending: Option<(u32, Annotations)> = None;
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let raw = lines[i];
        let line_no = i as u32 + 1;
        let trimmed = raw.trim_start();
        if trimmed.starts_with('#') {
            if trimmed.trim_end() == "# METADATA" || trimmed.trim_end() == "#METADATA" {
                let indent = raw.len() - trimmed.len();
                let mut yaml = String::new();
                let mut j = i + 1;
                while j < lines.len() && lines[j].trim_start().starts_with('#') {
                    let body = lines[j].trim_start().trim_start_matches('#');
                    yaml.push_str(body.strip_prefix(' ').unwrap_or(body));
                    yaml.push('\n');
                    j += 1;
                }
                let ann: Annotations = if yaml.trim().is_empty() {
                    Annotations::default()
                } else {
                    yaml_serde::from_str(&yaml).map_err(|e| MetadataError {
                        line: e
                            .location()
                            .map(|l| line_no + l.line() as u32)
                            .unwrap_or(line_no),
                        column: e.location().map(|l| l.column() as u32 + 3).unwrap_or(1)
                            + indent as u32,
                        message: e.to_string(),
                    })?
                };
                if let Err(message) = ann.severity().and_then(|_| ann.kinds()) {
                    return Err(MetadataError {
                        line: line_no,
                        column: indent as u32 + 1,
                        message,
                    });
                }
                pending = Some((line_no, ann));
                i = j;
                continue;
            }
            i += 1;
            continue;
        }
        if trimmed.is_empty() {
            i += 1;
            continue;
        }
        if let Some(rest) = raw.strip_prefix("package ") {
            let name = rest.split('#').next().unwrap_or("").trim().to_string();
            scan.package = Some(name);
            scan.package_line = line_no;
            if let Some((_, ann)) = pending.take() {
                scan.package_annotations = Some(ann);
            }
        } else if !raw.starts_with(char::is_whitespace) {
            if let Some(name) = rule_head_name(raw) {
                let annotations = pending.take().map(|(_, a)| a);
                let package_scoped = annotations
                    .as_ref()
                    .and_then(|a| a.scope.as_deref())
                    .is_some_and(|s| s == "package" || s == "subpackages");
                if package_scoped {
                    scan.package_annotations = annotations;
                    scan.rules.push(RuleHead {
                        name: name.to_string(),
                        line: line_no,
                        annotations: None,
                    });
                } else {
                    scan.rules.push(RuleHead {
                        name: name.to_string(),
                        line: line_no,
                        annotations,
                    });
                }
            } else {
                pending = None;
            }
        }
        i += 1;
    }
    Ok(scan)
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"# METADATA
# title: Containers must not run privileged
# description: Privileged containers can take over the host.
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/
# - ref: https://example.com/x
#   description: more
# custom:
#   id: K8S001
#   severity: high
#   kinds: [kubernetes]
#   remediation: Set securityContext.privileged to false.
package k8s.privileged

import rego.v1

deny contains msg if {
  msg := "x"
}

# METADATA
# title: warn rule
# custom:
#   id: K8S002
#   severity: low
warn_latest contains msg if {
  true
}

helper(x) := x

default allow := false
"#;

    #[test]
    fn scans_package_rules_and_metadata() {
        let s = scan(POLICY).unwrap();
        assert_eq!(s.package.as_deref(), Some("k8s.privileged"));
        assert_eq!(s.package_line, 13);
        let pkg = s.package_annotations.unwrap();
        assert_eq!(pkg.custom.id.as_deref(), Some("K8S001"));
        assert_eq!(pkg.severity().unwrap(), Some(Severity::High));
        assert_eq!(pkg.kinds().unwrap(), vec![DocumentKind::Kubernetes]);
        assert_eq!(pkg.related_resources[1].url(), "https://example.com/x");
        let names: Vec<_> = s.rules.iter().map(|r| (r.name.as_str(), r.line)).collect();
        assert_eq!(
            names,
            vec![
                ("deny", 17),
                ("warn_latest", 26),
                ("helper", 30),
                ("allow", 32)
            ]
        );
        let warn = s.rules[1].annotations.as_ref().unwrap();
        assert_eq!(warn.custom.id.as_deref(), Some("K8S002"));
    }

    #[test]
    fn bad_severity_is_an_error_with_line() {
        let err = scan("# METADATA\n# custom:\n#   severity: urgent\npackage x\n").unwrap_err();
        assert_eq!(err.line, 1);
        assert!(err.message.contains("unknown severity"), "{}", err.message);
    }

    #[test]
    fn v0_heads() {
        let s = scan(
            "package main\ndeny[msg] {\n  msg := \"a\"\n}\nviolation[{\"msg\": m}] {\n m := 1\n}\n",
        )
        .unwrap();
        let names: Vec<_> = s.rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, vec!["deny", "violation"]);
    }

    #[test]
    fn more_v0_heads() {
        let s = scan(
            r#"package main

import data.lib
import future.keywords.in

# METADATA
# custom:
#   id: V0W
warn_x[msg] {
  msg := "a"
}

deny_bool {
  input.x
}

default allow = false

violation_y[{"msg": m, "details": {}}]{
  m := 1
} else = x {
  x := 2
}

exception[rules] {
  rules = ["x"]
}

helper(x) = y {
  y := x
}

deny[msg] { msg := "one line" }
"#,
        )
        .unwrap();
        let names: Vec<_> = s.rules.iter().map(|r| (r.name.as_str(), r.line)).collect();
        assert_eq!(
            names,
            vec![
                ("warn_x", 9),
                ("deny_bool", 13),
                ("allow", 17),
                ("violation_y", 19),
                ("exception", 25),
                ("helper", 29),
                ("deny", 33),
            ]
        );
        let warn = s.rules[0].annotations.as_ref().unwrap();
        assert_eq!(warn.custom.id.as_deref(), Some("V0W"));
    }
}
