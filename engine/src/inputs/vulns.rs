//! Vulnerability scan reports as `vulnerabilities` documents.
//!
//! The guide's scan step only becomes a gate when its results can be checked like any
//! other input. This module recognises the JSON reports of trivy (`trivy image -f json`),
//! grype (`grype -o json`) and SARIF 2.1.0 from any scanner, and normalises them into one
//! shape (documented in `docs/inputs.md`):
//!
//! ```json
//! {"format": "trivy", "artifact": "app:1",
//!  "vulnerabilities": [{"id": "CVE-…", "package": "openssl", "version": "3.0.1",
//!                       "fixed_version": "3.0.2", "severity": "HIGH", "title": "…",
//!                       "target": "debian 12"}],
//!  "raw": {…}}
//! ```
//!
//! Each `/vulnerabilities/N` entry (and its fields) maps to the span of the package entry
//! it came from in the report, so findings point at that entry.

use serde_json::{json, Map, Value};

use super::kinds::{Comments, KindSpec};
use super::yaml::Spans;
use super::{DocumentKind, Format};
use crate::source::Span;

/// The recognised report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VulnFormat {
    /// `trivy … -f json`: `SchemaVersion` and `Results[].Vulnerabilities[]`.
    Trivy,
    /// `grype -o json`: `matches[]` with `vulnerability` and `artifact`.
    Grype,
    /// SARIF 2.1.0: `runs[].results[]`.
    Sarif,
}

impl VulnFormat {
    /// The `format` string.
    pub fn as_str(self) -> &'static str {
        match self {
            VulnFormat::Trivy => "trivy",
            VulnFormat::Grype => "grype",
            VulnFormat::Sarif => "sarif",
        }
    }
}

/// The `vulnerabilities` kind: a scan report in JSON. Recognised and normalised by
/// `yaml::classify_json` with [`detect`] and [`normalise`].
pub const KIND: KindSpec = KindSpec {
    kind: DocumentKind::Vulnerabilities,
    name: "vulnerabilities",
    aliases: &["vulns", "scan"],
    syntax: Format::Json,
    comments: Comments::None,
    language_ids: &[],
    case_file: "scan.json",
    detect: None,
};

/// Recognises a vulnerability report.
pub fn detect(value: &Value) -> Option<VulnFormat> {
    let o = value.as_object()?;
    if o.contains_key("SchemaVersion") && o.get("Results").is_some_and(Value::is_array) {
        return Some(VulnFormat::Trivy);
    }
    if o.get("matches").is_some_and(Value::is_array)
        && (o.contains_key("descriptor") || o.contains_key("source"))
    {
        return Some(VulnFormat::Grype);
    }
    let schema = o.get("$schema").and_then(Value::as_str).unwrap_or("");
    if o.get("runs").is_some_and(Value::is_array)
        && (schema.contains("sarif") || o.get("version").and_then(Value::as_str) == Some("2.1.0"))
    {
        return Some(VulnFormat::Sarif);
    }
    None
}

/// Upper-case severity names; SARIF levels and CVSS scores are mapped onto them.
fn severity_name(s: &str) -> String {
    match s.to_ascii_uppercase().as_str() {
        "CRITICAL" => "CRITICAL",
        "HIGH" | "ERROR" => "HIGH",
        "MEDIUM" | "MODERATE" | "WARNING" => "MEDIUM",
        "LOW" | "NOTE" | "NEGLIGIBLE" => "LOW",
        _ => "UNKNOWN",
    }
    .to_string()
}

fn score_severity(score: f64) -> &'static str {
    if score >= 9.0 {
        "CRITICAL"
    } else if score >= 7.0 {
        "HIGH"
    } else if score >= 4.0 {
        "MEDIUM"
    } else if score > 0.0 {
        "LOW"
    } else {
        "UNKNOWN"
    }
}

struct Out<'a> {
    raw_spans: &'a Spans,
    doc_span: Span,
    items: Vec<Value>,
    spans: Spans,
}

impl Out<'_> {
    fn span_of(&self, ptr: &str) -> Span {
        let mut p = ptr;
        loop {
            if let Some(s) = self.raw_spans.values.get(p) {
                return *s;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return self.doc_span,
            }
        }
    }

    /// Adds one entry, mapped to the raw entry at `ptr` (and the key of that entry's
    /// package name, when there is one, for the start).
    fn push(&mut self, entry: Value, ptr: &str) {
        let i = self.items.len();
        let span = self.span_of(ptr);
        self.spans
            .values
            .insert(format!("/vulnerabilities/{i}"), span);
        if let Value::Object(m) = &entry {
            for k in m.keys() {
                self.spans
                    .values
                    .insert(format!("/vulnerabilities/{i}/{k}"), span);
            }
        }
        self.items.push(entry);
    }
}

fn s(v: &Value, ptr: &str) -> Value {
    match v.pointer(ptr) {
        Some(Value::String(x)) if !x.is_empty() => Value::String(x.clone()),
        _ => Value::Null,
    }
}

/// Builds the normalised shape and its spans.
pub(crate) fn normalise(
    format: VulnFormat,
    raw: &Value,
    raw_spans: &Spans,
    doc_span: Span,
) -> (Value, Spans) {
    let mut out = Out {
        raw_spans,
        doc_span,
        items: Vec::new(),
        spans: Spans::default(),
    };
    let artifact = match format {
        VulnFormat::Trivy => {
            for (r, result) in raw["Results"].as_array().into_iter().flatten().enumerate() {
                for (i, v) in result["Vulnerabilities"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    let entry = json!({
                        "id": s(v, "/VulnerabilityID"),
                        "package": s(v, "/PkgName"),
                        "version": s(v, "/InstalledVersion"),
                        "fixed_version": s(v, "/FixedVersion"),
                        "severity": severity_name(v["Severity"].as_str().unwrap_or("")),
                        "title": s(v, "/Title"),
                        "target": s(result, "/Target"),
                    });
                    out.push(entry, &format!("/Results/{r}/Vulnerabilities/{i}"));
                }
            }
            s(raw, "/ArtifactName")
        }
        VulnFormat::Grype => {
            for (i, m) in raw["matches"].as_array().into_iter().flatten().enumerate() {
                let fixed = m
                    .pointer("/vulnerability/fix/versions")
                    .and_then(Value::as_array)
                    .and_then(|v| v.first())
                    .cloned()
                    .filter(|_| {
                        m.pointer("/vulnerability/fix/state")
                            .and_then(Value::as_str)
                            == Some("fixed")
                    })
                    .unwrap_or(Value::Null);
                let entry = json!({
                    "id": s(m, "/vulnerability/id"),
                    "package": s(m, "/artifact/name"),
                    "version": s(m, "/artifact/version"),
                    "fixed_version": fixed,
                    "severity": severity_name(m.pointer("/vulnerability/severity").and_then(Value::as_str).unwrap_or("")),
                    "title": s(m, "/vulnerability/description"),
                    "target": s(m, "/artifact/type"),
                });
                out.push(entry, &format!("/matches/{i}"));
            }
            s(raw, "/source/target/userInput")
        }
        VulnFormat::Sarif => {
            for (r, run) in raw["runs"].as_array().into_iter().flatten().enumerate() {
                let rules: Map<String, Value> = run
                    .pointer("/tool/driver/rules")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|rule| Some((rule.get("id")?.as_str()?.to_string(), rule.clone())))
                    .collect();
                for (i, res) in run["results"].as_array().into_iter().flatten().enumerate() {
                    let rule_id = res["ruleId"].as_str().unwrap_or("");
                    let rule = rules.get(rule_id).cloned().unwrap_or(Value::Null);
                    let text = res
                        .pointer("/message/text")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    let field = |name: &str| -> Value {
                        text.lines()
                            .find_map(|l| l.trim().strip_prefix(name))
                            .map(|v| v.trim().to_string())
                            .filter(|v| !v.is_empty())
                            .map_or(Value::Null, Value::String)
                    };
                    let score = rule.pointer("/properties/security-severity").and_then(|v| {
                        v.as_str()
                            .and_then(|s| s.parse::<f64>().ok())
                            .or_else(|| v.as_f64())
                    });
                    let severity = match score {
                        Some(x) => score_severity(x).to_string(),
                        None => severity_name(
                            res["level"]
                                .as_str()
                                .or_else(|| {
                                    rule.pointer("/defaultConfiguration/level")
                                        .and_then(Value::as_str)
                                })
                                .unwrap_or("warning"),
                        ),
                    };
                    let package = res
                        .pointer("/properties/packageName")
                        .cloned()
                        .filter(Value::is_string)
                        .unwrap_or_else(|| field("Package:"));
                    let fixed = res
                        .pointer("/properties/fixedVersion")
                        .cloned()
                        .filter(Value::is_string)
                        .unwrap_or_else(|| field("Fixed Version:"));
                    let rule_id_value = match rule_id {
                        "" => Value::Null,
                        id => Value::String(id.to_string()),
                    };
                    let entry = json!({
                        "id": rule_id_value,
                        "package": package,
                        "version": field("Installed Version:"),
                        "fixed_version": fixed,
                        "severity": severity,
                        "title": s(&rule, "/shortDescription/text"),
                        "target": s(res, "/locations/0/physicalLocation/artifactLocation/uri"),
                    });
                    out.push(entry, &format!("/runs/{r}/results/{i}"));
                }
            }
            Value::Null
        }
    };
    let value = json!({
        "format": format.as_str(),
        "artifact": artifact,
        "vulnerabilities": out.items,
        "raw": raw,
    });
    let mut spans = out.spans;
    let moved = raw_spans.rebase("", "/raw");
    spans.values.extend(moved.values);
    spans.keys.extend(moved.keys);
    spans.values.insert(String::new(), doc_span);
    (value, spans)
}
