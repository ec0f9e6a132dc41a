//! The `sarif` format: SARIF 2.1.0 for GitHub code scanning and other SARIF consumers.
//!
//! The structs below are the subset of the SARIF object model we write; the test
//! validates the output against the official OASIS schema.
//!
//! * `tool.driver.rules[]` holds one entry per rule: every loaded rule
//!   ([`Report::rules`]), every rule that produced a finding without being in the catalog,
//!   then the reserved `POL000`…`POL003` entries of the error kinds that occurred. Each
//!   has `shortDescription` (title), `fullDescription` (description, or the title),
//!   `help` (remediation and references, text and Markdown), `helpUri` (first reference),
//!   `defaultConfiguration.level`, and `properties.security-severity`, the number GitHub
//!   grades alerts by (critical 9.5, high 8.0, medium 5.5, low 3.0, info 0.0).
//! * One `result` per finding. `level` is `error` for critical and high, `warning` for
//!   medium and low, `note` for info; results of `warn` rules are at most `warning`.
//!   Locations are URIs relative to `%SRCROOT%` (absolute paths become `file://` URIs) and
//!   regions count Unicode characters (`run.columnKind` is `unicodeCodePoints`), with an
//!   exclusive `endColumn`. An empty span is written as a start position only.
//!   `partialFingerprints["policy/v1"]` hashes rule, file, document, JSON path and message
//!   (not the line), so an alert survives edits elsewhere in the file.
//! * Error records appear twice: as `invocations[0].toolExecutionNotifications` (what
//!   SARIF intends for tool failures; `executionSuccessful` is then `false`, each
//!   `descriptor` points into `tool.driver.notifications[]` and `associatedRule` names the
//!   rule that failed, if any) and as `error`-level results of their `POL00x` rule,
//!   because code scanning hides notifications and a file that could not be checked must
//!   not look clean.
//! * Suppressed findings are results with `suppressions[0]`: `kind` `external` (an
//!   exception of the configuration file) or `inSource` (a `# policy:ignore=` comment or a
//!   `policy.dev/ignore` annotation, whose position is the suppression's `location`), and
//!   the reason as `justification`.
//! * Warnings ([`Report::warnings`]) are `invocations[0].toolConfigurationNotifications`
//!   of level `warning`; they do not make the execution unsuccessful.
//! * `invocations[0].properties` holds `failOn` (the `--fail-on` severity) and
//!   `failOnWarn`, so that `policy merge` can grade merged logs as one run would.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{
    error_kind_description, error_kind_title, is_absolute_uri, uri_path, Region, ReportOptions,
    Reporter, SourceLines, Sources, ERROR_KINDS, TOOL_NAME,
};
use crate::diagnostics::{ErrorKind, ErrorRecord, Finding, Level, Report, SuppressionSource};
use crate::rules::RuleMeta;
use crate::source::{json_pointer, Position, Span};
use crate::Severity;

/// `$schema` of the log.
pub const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";
/// The base URI ID locations are relative to.
pub const SRCROOT: &str = "%SRCROOT%";
/// The key of our entry in `partialFingerprints`.
pub const FINGERPRINT_KEY: &str = "policy/v1";

/// Writes SARIF 2.1.0.
#[derive(Debug, Clone)]
pub struct SarifReporter {
    opts: ReportOptions,
}

impl SarifReporter {
    /// A SARIF reporter; `opts.tool_version` goes into `tool.driver.version`.
    pub fn new(opts: ReportOptions) -> Self {
        SarifReporter { opts }
    }

    /// The SARIF log as a JSON value (what [`Reporter::write`] prints).
    pub fn to_value(&self, report: &Report) -> serde_json::Value {
        let excepted = excepted(report);
        serde_json::to_value(build(report, &excepted, &self.opts))
            .unwrap_or(serde_json::Value::Null)
    }
}

impl Reporter for SarifReporter {
    fn write(&self, report: &Report, out: &mut dyn io::Write) -> io::Result<()> {
        let excepted = excepted(report);
        let log = build(report, &excepted, &self.opts);
        serde_json::to_writer_pretty(&mut *out, &log).map_err(io::Error::from)?;
        writeln!(out)
    }
}

/// The `security-severity` GitHub grades alerts by.
pub fn security_severity(sev: Severity) -> &'static str {
    match sev {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "0.0",
    }
}

/// The SARIF `level` of a severity.
pub fn sarif_level(sev: Severity) -> &'static str {
    match sev {
        Severity::Critical | Severity::High => "error",
        Severity::Medium | Severity::Low => "warning",
        Severity::Info => "note",
    }
}

fn result_level(f: &Finding) -> &'static str {
    match (f.level, sarif_level(f.severity)) {
        (Level::Warn, "error") => "warning",
        (_, level) => level,
    }
}

// ---------------------------------------------------------------------------------------
// Object model (SARIF 2.1.0 §3).

#[derive(Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Run<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    tool: Tool<'a>,
    invocations: Vec<Invocation<'a>>,
    results: Vec<SarifResult<'a>>,
    column_kind: &'static str,
}

#[derive(Serialize)]
struct Tool<'a> {
    driver: Driver<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver<'a> {
    name: &'static str,
    version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    semantic_version: Option<&'a str>,
    rules: Vec<Rule>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    notifications: Vec<NotificationDescriptor>,
}

/// `tool.driver.notifications[]`: what a notification's `descriptor` refers to.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NotificationDescriptor {
    id: &'static str,
    name: &'static str,
    short_description: Text,
    default_configuration: Configuration,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: String,
    name: String,
    short_description: Text,
    full_description: Text,
    help: Help,
    #[serde(skip_serializing_if = "Option::is_none")]
    help_uri: Option<String>,
    default_configuration: Configuration,
    properties: RuleProperties,
}

#[derive(Serialize)]
struct Text {
    text: String,
}

#[derive(Serialize)]
struct Help {
    text: String,
    markdown: String,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
struct RuleProperties {
    #[serde(rename = "security-severity", skip_serializing_if = "Option::is_none")]
    security_severity: Option<&'static str>,
    tags: Vec<String>,
    /// The hadolint/checkov checks the rule covers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    aliases: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: &'a str,
    rule_index: usize,
    level: &'static str,
    message: MessageRef<'a>,
    locations: Vec<Location>,
    partial_fingerprints: BTreeMap<&'static str, String>,
    /// Present (non-empty) only for suppressed findings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    suppressions: Vec<Suppression<'a>>,
    properties: ResultProperties,
}

/// A SARIF `suppression`: code scanning shows the result as dismissed, with the reason.
/// `kind` is `external` for a configuration exception and `inSource` for a comment or
/// annotation, whose position is the suppression's `location`.
#[derive(Serialize)]
struct Suppression<'a> {
    kind: &'static str,
    justification: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<Location>,
}

#[derive(Serialize)]
struct MessageRef<'a> {
    text: &'a str,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct ResultProperties {
    #[serde(skip_serializing_if = "Option::is_none")]
    severity: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule_level: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    document: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    json_pointer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_kind: Option<&'static str>,
    /// Rules merged into this finding (same root cause, same place).
    #[serde(rename = "relatedRules", skip_serializing_if = "Vec::is_empty")]
    related_rules: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    physical_location: PhysicalLocation,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    region: SarifRegion,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    uri_base_id: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifRegion {
    start_line: u32,
    start_column: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_column: Option<u32>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Invocation<'a> {
    execution_successful: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_execution_notifications: Vec<Notification<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_configuration_notifications: Vec<WarningNotification<'a>>,
    /// How the run was graded (`failOn`, `failOnWarn`): `policy merge` reads it.
    properties: InvocationProperties,
}

/// `invocations[0].properties`: the `--fail-on` threshold and `--fail-on-warn`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InvocationProperties {
    fail_on: &'static str,
    fail_on_warn: bool,
}

/// A warning about how the tool was configured by the inputs (a suppression that names an
/// unknown rule, suppresses nothing, ...): `invocations[0].toolConfigurationNotifications`.
#[derive(Serialize)]
struct WarningNotification<'a> {
    level: &'static str,
    message: MessageRef<'a>,
    locations: Vec<Location>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Notification<'a> {
    level: &'static str,
    message: MessageRef<'a>,
    locations: Vec<Location>,
    descriptor: DescriptorRef<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    associated_rule: Option<DescriptorRef<'a>>,
}

#[derive(Serialize)]
struct DescriptorRef<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<usize>,
}

// ---------------------------------------------------------------------------------------
// Building.

/// The conftest exceptions of `report` as findings of their rules, with their query.
fn excepted(report: &Report) -> Vec<(Finding, String)> {
    report
        .exceptions
        .iter()
        .map(|e| (e.as_finding(), e.query()))
        .collect()
}

fn build<'a>(
    report: &'a Report,
    excepted: &'a [(Finding, String)],
    opts: &'a ReportOptions,
) -> Log<'a> {
    let catalog = Catalog::new(report);
    let sources = Sources::new(report);
    let mut results: Vec<SarifResult<'a>> = report
        .findings
        .iter()
        .map(|f| finding_result(&sources, &catalog, f))
        .collect();
    // Suppressed findings stay in the log, marked as suppressed (SARIF 2.1.0 §3.27.23),
    // so reviewers see what was accepted, why, and where that was decided.
    results.extend(report.suppressed.iter().map(|s| {
        let mut r = finding_result(&sources, &catalog, &s.finding);
        r.suppressions.push(match &s.source {
            SuppressionSource::Config => Suppression {
                kind: "external",
                justification: &s.reason,
                location: None,
            },
            SuppressionSource::InSource { file, line, column } => {
                let source = sources.get(file);
                let at = Span::point(Position::new(*line, *column));
                Suppression {
                    kind: "inSource",
                    justification: &s.reason,
                    location: Some(location(uri_path(file), at, source.as_deref())),
                }
            }
        });
        r
    }));
    // conftest exceptions: the rule was not checked on that document, by the policy's
    // own decision; listed like a suppression decided outside the input.
    for (f, query) in excepted {
        let mut r = finding_result(&sources, &catalog, f);
        r.suppressions.push(Suppression {
            kind: "external",
            justification: query,
            location: None,
        });
        results.push(r);
    }
    results.extend(
        report
            .errors
            .iter()
            .map(|e| error_result(&sources, &catalog, e)),
    );

    let kinds: Vec<ErrorKind> = ERROR_KINDS
        .into_iter()
        .filter(|k| report.errors.iter().any(|e| e.kind == *k))
        .collect();
    let notifications = report
        .errors
        .iter()
        .map(|e| Notification {
            level: "error",
            message: MessageRef { text: &e.message },
            locations: vec![error_location(&sources, e)],
            descriptor: DescriptorRef {
                id: e.kind.id(),
                index: kinds.iter().position(|k| *k == e.kind),
            },
            associated_rule: e.rule.as_deref().map(|id| DescriptorRef {
                id,
                index: catalog.index(id),
            }),
        })
        .collect();

    Log {
        schema: SCHEMA_URI,
        version: "2.1.0",
        runs: vec![Run {
            tool: Tool {
                driver: Driver {
                    name: TOOL_NAME,
                    version: &opts.tool_version,
                    semantic_version: is_semver(&opts.tool_version)
                        .then_some(opts.tool_version.as_str()),
                    rules: catalog.rules,
                    notifications: kinds
                        .iter()
                        .map(|k| NotificationDescriptor {
                            id: k.id(),
                            name: k.name(),
                            short_description: Text {
                                text: error_kind_title(*k).to_owned(),
                            },
                            default_configuration: Configuration { level: "error" },
                        })
                        .collect(),
                },
            },
            invocations: vec![Invocation {
                execution_successful: report.errors.is_empty(),
                tool_execution_notifications: notifications,
                tool_configuration_notifications: report
                    .warnings
                    .iter()
                    .map(|w| {
                        let source = sources.get(&w.file);
                        let at = Span::point(Position::new(w.line, w.column));
                        WarningNotification {
                            level: "warning",
                            message: MessageRef { text: &w.message },
                            locations: vec![location(uri_path(&w.file), at, source.as_deref())],
                        }
                    })
                    .collect(),
                properties: InvocationProperties {
                    fail_on: opts.fail_on.as_str(),
                    fail_on_warn: opts.fail_on_warn,
                },
            }],
            results,
            column_kind: "unicodeCodePoints",
        }],
    }
}

/// `tool.driver.rules[]` and the index of each rule ID in it.
struct Catalog {
    rules: Vec<Rule>,
    index: HashMap<String, usize>,
}

impl Catalog {
    fn new(report: &Report) -> Self {
        let mut catalog = Catalog {
            rules: Vec::new(),
            index: HashMap::new(),
        };
        for rule in &report.rules {
            catalog.add_rule(rule);
        }
        for f in report
            .findings
            .iter()
            .chain(report.suppressed.iter().map(|s| &s.finding))
        {
            catalog.add_rule(&f.rule);
        }
        for kind in ERROR_KINDS {
            if report.errors.iter().any(|e| e.kind == kind) {
                catalog.add(error_rule(kind));
            }
        }
        catalog
    }

    fn add_rule(&mut self, rule: &Arc<RuleMeta>) {
        if !self.index.contains_key(&rule.id) {
            self.add(meta_rule(rule));
        }
    }

    fn add(&mut self, rule: Rule) {
        self.index.insert(rule.id.clone(), self.rules.len());
        self.rules.push(rule);
    }

    fn index(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }
}

fn meta_rule(rule: &RuleMeta) -> Rule {
    let full = if rule.description.trim().is_empty() {
        rule.title.clone()
    } else {
        rule.description.clone()
    };
    let summary = rule.remediation.clone().unwrap_or_else(|| full.clone());
    let mut text = summary.clone();
    let mut markdown = summary;
    if !rule.references.is_empty() {
        text.push_str("\n\nReferences:");
        markdown.push_str("\n\n**References**\n");
        for r in &rule.references {
            text.push_str(&format!("\n- {r}"));
            markdown.push_str(&format!("\n- <{r}>"));
        }
    }
    let mut tags = vec!["security".to_owned()];
    tags.extend(rule.kinds.iter().map(|k| k.as_str().to_owned()));
    Rule {
        id: rule.id.clone(),
        name: kebab(&rule.title).unwrap_or_else(|| rule.id.clone()),
        short_description: Text {
            text: rule.title.clone(),
        },
        full_description: Text { text: full },
        help: Help { text, markdown },
        help_uri: rule.references.first().cloned(),
        default_configuration: Configuration {
            level: sarif_level(rule.severity),
        },
        properties: RuleProperties {
            security_severity: Some(security_severity(rule.severity)),
            tags,
            aliases: rule.aliases.clone(),
        },
    }
}

fn error_rule(kind: ErrorKind) -> Rule {
    let text = format!(
        "{} See the message for the cause; fix the file, or the policy, and run again.",
        error_kind_description(kind)
    );
    Rule {
        id: kind.id().to_owned(),
        name: kind.name().to_owned(),
        short_description: Text {
            text: error_kind_title(kind).to_owned(),
        },
        full_description: Text {
            text: error_kind_description(kind).to_owned(),
        },
        help: Help {
            markdown: text.clone(),
            text,
        },
        help_uri: None,
        default_configuration: Configuration { level: "error" },
        properties: RuleProperties {
            security_severity: None,
            tags: vec!["tool-error".to_owned()],
            aliases: Vec::new(),
        },
    }
}

fn finding_result<'a>(sources: &Sources<'_>, catalog: &Catalog, f: &'a Finding) -> SarifResult<'a> {
    let uri = uri_path(&f.location.file);
    let pointer = json_pointer(&f.location.path);
    let fingerprint = fingerprint(&[
        &f.rule.id,
        &uri,
        &f.location.document.to_string(),
        &pointer,
        &f.message,
    ]);
    let source = sources.get(&f.location.file);
    SarifResult {
        rule_id: &f.rule.id,
        rule_index: catalog.index(&f.rule.id).unwrap_or(0),
        level: result_level(f),
        message: MessageRef { text: &f.message },
        locations: vec![location(uri, f.location.span, source.as_deref())],
        partial_fingerprints: [(FINGERPRINT_KEY, fingerprint)].into_iter().collect(),
        suppressions: Vec::new(),
        properties: ResultProperties {
            severity: Some(f.severity.as_str()),
            rule_level: Some(match f.level {
                Level::Deny => "deny",
                Level::Warn => "warn",
            }),
            document: Some(f.location.document),
            json_pointer: (!f.location.path.is_empty()).then_some(pointer),
            error_kind: None,
            related_rules: f.related_rules.clone(),
        },
    }
}

fn error_result<'a>(
    sources: &Sources<'_>,
    catalog: &Catalog,
    e: &'a ErrorRecord,
) -> SarifResult<'a> {
    let uri = uri_path(&e.file);
    let fingerprint = fingerprint(&[
        e.kind.id(),
        &uri,
        e.rule.as_deref().unwrap_or(""),
        e.input.as_deref().unwrap_or(""),
        &e.message,
    ]);
    SarifResult {
        rule_id: e.kind.id(),
        rule_index: catalog.index(e.kind.id()).unwrap_or(0),
        level: "error",
        message: MessageRef { text: &e.message },
        locations: vec![error_location(sources, e)],
        partial_fingerprints: [(FINGERPRINT_KEY, fingerprint)].into_iter().collect(),
        suppressions: Vec::new(),
        properties: ResultProperties {
            error_kind: Some(e.kind.name()),
            ..ResultProperties::default()
        },
    }
}

fn error_location(sources: &Sources<'_>, e: &ErrorRecord) -> Location {
    let pos = Position::new(e.line, e.column);
    let source = sources.get(&e.file);
    location(uri_path(&e.file), Span::point(pos), source.as_deref())
}

fn location(uri: String, span: Span, source: Option<&SourceLines<'_>>) -> Location {
    let region = Region::new(span, source);
    let (end_line, end_column) = if region.is_empty() {
        (None, None)
    } else {
        (Some(region.end_line), region.end_column)
    };
    let uri_base_id = (!is_absolute_uri(&uri)).then_some(SRCROOT);
    Location {
        physical_location: PhysicalLocation {
            artifact_location: ArtifactLocation { uri, uri_base_id },
            region: SarifRegion {
                start_line: region.start_line,
                start_column: region.start_column,
                end_line,
                end_column,
            },
        },
    }
}

/// The first 32 hex digits of SHA-256 over the NUL-separated parts.
fn fingerprint(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    hasher
        .finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `Image uses the latest tag` → `image-uses-the-latest-tag`; `None` if nothing is left.
fn kebab(title: &str) -> Option<String> {
    let words: Vec<String> = title
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    (!words.is_empty()).then(|| words.join("-"))
}

/// `MAJOR.MINOR.PATCH` with an optional `-pre`/`+build` suffix.
fn is_semver(v: &str) -> bool {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::diagnostics::{Suppressed, Warning};
    use crate::report::fixture;

    fn render(report: &Report) -> String {
        let mut out = Vec::new();
        SarifReporter::new(ReportOptions::default())
            .write(report, &mut out)
            .expect("writing to a Vec cannot fail");
        String::from_utf8(out).expect("SARIF is UTF-8")
    }

    #[test]
    fn sarif_snapshot() {
        insta::assert_snapshot!(render(&fixture::report()));
    }

    fn schema_path() -> PathBuf {
        match std::env::var_os("POLICY_SHARED_DIR") {
            Some(dir) => PathBuf::from(dir).join("schemas/sarif-2.1.0.json"),
            None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../shared/schemas/sarif-2.1.0.json"),
        }
    }

    #[test]
    fn sarif_validates_against_the_official_schema() {
        let path = schema_path();
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!("skipping: SARIF schema not found at {}", path.display());
            return;
        };
        let schema: serde_json::Value = serde_json::from_str(&text).expect("schema is JSON");
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .expect("the SARIF schema compiles");

        let mut with_suppressed = fixture::report();
        let accepted = with_suppressed.findings.remove(0);
        with_suppressed.suppressed.push(Suppressed {
            finding: accepted,
            reason: "accepted until the base image is replaced".to_string(),
            source: SuppressionSource::Config,
        });
        let in_source = with_suppressed.findings.remove(0);
        with_suppressed.suppressed.push(Suppressed {
            source: SuppressionSource::InSource {
                file: in_source.location.file.clone(),
                line: in_source.location.span.start.line,
                column: 1,
            },
            finding: in_source,
            reason: "pinned by renovate".to_string(),
        });
        with_suppressed.warnings.push(Warning {
            file: "Dockerfile".to_string(),
            line: 1,
            column: 3,
            message: "`policy:ignore` names rule `DF0001`, which is not loaded".to_string(),
        });
        for report in [fixture::report(), Report::default(), with_suppressed] {
            let log: serde_json::Value =
                serde_json::from_str(&render(&report)).expect("SARIF is JSON");
            let errors: Vec<String> = validator
                .iter_errors(&log)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            assert!(errors.is_empty(), "schema violations: {errors:#?}");
        }

        // The validator must really reject broken logs.
        let good: serde_json::Value =
            serde_json::from_str(&render(&fixture::report())).expect("SARIF is JSON");
        let mut bad_level = good.clone();
        bad_level["runs"][0]["results"][0]["level"] = "fatal".into();
        assert!(
            !validator.is_valid(&bad_level),
            "a bad result level must be rejected"
        );
        let mut bad_region = good.clone();
        bad_region["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]
            ["startLine"] = 0.into();
        assert!(
            !validator.is_valid(&bad_region),
            "startLine 0 must be rejected"
        );
        let mut no_version = good;
        if let Some(obj) = no_version.as_object_mut() {
            obj.remove("version");
        }
        assert!(
            !validator.is_valid(&no_version),
            "a log without version must be rejected"
        );
    }

    #[test]
    fn rules_cover_catalog_findings_and_error_kinds() {
        let report = fixture::report();
        let log = SarifReporter::new(ReportOptions::default()).to_value(&report);
        let run = &log["runs"][0];
        let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
        let ids: Vec<&str> = rules.iter().filter_map(|r| r["id"].as_str()).collect();
        assert_eq!(
            ids,
            [
                "DF001",
                "DF002",
                "DF003",
                "DF004",
                "K8S001",
                "K8S002",
                "K8S010",
                "custom.nodeport",
                "POL000",
                "POL001",
                "POL002",
                "POL003"
            ]
        );
        for result in run["results"].as_array().expect("results") {
            let index = result["ruleIndex"].as_u64().expect("ruleIndex") as usize;
            assert_eq!(rules[index]["id"], result["ruleId"]);
            let region = &result["locations"][0]["physicalLocation"]["region"];
            let start = (region["startLine"].as_u64(), region["startColumn"].as_u64());
            if let (Some(end_line), Some(end_col)) =
                (region["endLine"].as_u64(), region["endColumn"].as_u64())
            {
                assert!((Some(end_line), Some(end_col)) >= start, "{region}");
            }
        }
        let df001 = &rules[0];
        assert_eq!(df001["properties"]["security-severity"], "8.0");
        assert_eq!(
            df001["helpUri"],
            "https://docs.docker.com/build/building/best-practices/#from"
        );
        assert_eq!(run["invocations"][0]["executionSuccessful"], false);
        assert_eq!(
            run["invocations"][0]["toolExecutionNotifications"]
                .as_array()
                .map(Vec::len),
            Some(4)
        );
    }

    #[test]
    fn levels_follow_severity_and_rule_level() {
        let report = fixture::report();
        let log = SarifReporter::new(ReportOptions::default()).to_value(&report);
        let results = log["runs"][0]["results"]
            .as_array()
            .expect("results")
            .clone();
        let level_of = |id: &str| {
            results
                .iter()
                .find(|r| r["ruleId"] == id)
                .and_then(|r| r["level"].as_str().map(str::to_owned))
        };
        assert_eq!(level_of("DF003").as_deref(), Some("error")); // critical
        assert_eq!(level_of("DF001").as_deref(), Some("error")); // high
        assert_eq!(level_of("DF002").as_deref(), Some("warning")); // medium
        assert_eq!(level_of("DF004").as_deref(), Some("warning")); // low, warn rule
        assert_eq!(level_of("custom.nodeport").as_deref(), Some("note")); // info
        assert_eq!(level_of("POL002").as_deref(), Some("error"));

        let mut warn_high = report.findings[0].clone();
        warn_high.level = Level::Warn;
        assert_eq!(warn_high.severity, Severity::High);
        assert_eq!(result_level(&warn_high), "warning");
    }

    #[test]
    fn fingerprints_ignore_line_moves_but_not_content() {
        let report = fixture::report();
        let base = SarifReporter::new(ReportOptions::default()).to_value(&report);
        let mut moved = report.clone();
        for f in &mut moved.findings {
            f.location.span.start.line += 10;
            f.location.span.end.line += 10;
        }
        moved.findings[1].message.push('!');
        let moved = SarifReporter::new(ReportOptions::default()).to_value(&moved);
        let fps = |log: &serde_json::Value| -> Vec<String> {
            log["runs"][0]["results"]
                .as_array()
                .map(|rs| {
                    rs.iter()
                        .map(|r| r["partialFingerprints"][FINGERPRINT_KEY].to_string())
                        .collect()
                })
                .unwrap_or_default()
        };
        let (a, b) = (fps(&base), fps(&moved));
        assert_eq!(a.len(), 11);
        let unique: std::collections::HashSet<&String> = a.iter().collect();
        assert_eq!(unique.len(), a.len(), "fingerprints are distinct");
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert_eq!(x == y, i != 1, "result {i}");
        }
    }

    #[test]
    fn helpers() {
        assert_eq!(
            kebab("apt-get install --no-x!").as_deref(),
            Some("apt-get-install-no-x")
        );
        assert_eq!(kebab("  ::  "), None);
        assert!(is_semver("0.1.0"));
        assert!(is_semver("1.2.3-rc.1+abc"));
        assert!(!is_semver("1.2"));
        assert!(!is_semver("dev"));
    }

    #[test]
    fn suppressed_findings_are_results_with_a_justification() {
        let mut report = fixture::report();
        let accepted = report.findings.remove(0);
        let id = accepted.rule.id.clone();
        report.suppressed.push(Suppressed {
            finding: accepted,
            reason: "accepted risk: ticket SEC-42".to_string(),
            source: SuppressionSource::Config,
        });
        let log: serde_json::Value = serde_json::from_str(&render(&report)).expect("SARIF is JSON");
        let results = log["runs"][0]["results"].as_array().expect("results");
        let suppressed: Vec<_> = results
            .iter()
            .filter(|r| r.get("suppressions").is_some())
            .collect();
        assert_eq!(suppressed.len(), 1);
        assert_eq!(suppressed[0]["ruleId"], id.as_str());
        assert_eq!(suppressed[0]["suppressions"][0]["kind"], "external");
        assert_eq!(
            suppressed[0]["suppressions"][0]["justification"],
            "accepted risk: ticket SEC-42"
        );
        assert!(suppressed[0]["suppressions"][0].get("location").is_none());
    }

    #[test]
    fn in_source_suppressions_point_at_the_comment() {
        let mut report = fixture::report();
        let f = report.findings.remove(0);
        report.suppressed.push(Suppressed {
            source: SuppressionSource::InSource {
                file: f.location.file.clone(),
                line: 1,
                column: 1,
            },
            finding: f,
            reason: "no reason given".to_string(),
        });
        report.warnings.push(Warning {
            file: "k8s/deploy.yaml".to_string(),
            line: 2,
            column: 5,
            message: "careful".to_string(),
        });
        let log: serde_json::Value = serde_json::from_str(&render(&report)).expect("SARIF is JSON");
        let run = &log["runs"][0];
        let suppressed: Vec<_> = run["results"]
            .as_array()
            .expect("results")
            .iter()
            .filter(|r| r.get("suppressions").is_some())
            .collect();
        assert_eq!(suppressed.len(), 1);
        let s = &suppressed[0]["suppressions"][0];
        assert_eq!(s["kind"], "inSource");
        assert_eq!(s["justification"], "no reason given");
        assert_eq!(s["location"]["physicalLocation"]["region"]["startLine"], 1);
        let notes = &run["invocations"][0]["toolConfigurationNotifications"];
        assert_eq!(notes[0]["level"], "warning");
        assert_eq!(notes[0]["message"]["text"], "careful");
        assert_eq!(
            notes[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "k8s/deploy.yaml"
        );
        assert_eq!(
            notes[0]["locations"][0]["physicalLocation"]["region"]["startColumn"],
            5
        );
    }
}
