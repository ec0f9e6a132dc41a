//! The `json` format: one JSON object per run, a stable contract for scripts.
//!
//! The serialization structs here are the contract; they borrow from the [`Report`] and
//! are kept apart from the engine's own types so that refactoring the engine cannot
//! change the output by accident (the snapshot test guards the rest).
//!
//! # Wire format
//!
//! The output is one pretty-printed JSON object followed by a newline:
//!
//! ```text
//! {
//!   "version": 1,
//!   "tool": {"name": "policy", "version": "0.1.0"},
//!   "summary": {...},
//!   "findings": [...],
//!   "errors": [...],
//!   "inputs": [...]
//! }
//! ```
//!
//! * `version` (integer): the wire format version, [`WIRE_VERSION`]. It changes only when a
//!   field is removed or changes meaning; new fields may appear in any version, so
//!   consumers must ignore fields they do not know.
//! * `tool`: `name` (always `"policy"`) and `version` (the tool's version).
//! * `run` (added in 0.1, absent from older reports): how the run was graded and split.
//!   `fail_on` (the `--fail-on` severity in effect), `fail_on_warn` (bool), and, under
//!   `--shard K/N` only, `shard` (`index` K and `count` N). `policy merge` reads it to
//!   give the exit code one run would have given.
//! * `summary`: counts. `findings` (all findings), `by_severity` (an object with the keys
//!   `critical`, `high`, `medium`, `low`, `info`), `deny` and `warn` (findings by rule
//!   level), `errors` (all error records), `by_error_kind` (keys `parse-error`,
//!   `rule-error`, `rule-timeout`, `policy-error`), and `inputs` (`evaluated`, `documents`,
//!   `skipped`, `failed`); `suppressed` (findings an exception of the configuration file
//!   or a suppression in the source suppressed) appears only when it is not zero.
//! * `suppressed[]`, only when something was suppressed: the same fields as a finding
//!   plus `reason` (the exception's or the suppression's reason; `"no reason given"` for
//!   an inline suppression without one), `kind` (`external` for a configuration
//!   exception, `inSource` for a `# policy:ignore=` comment or a `policy.dev/ignore`
//!   annotation, as in SARIF) and, for `inSource`, `suppressed_at` (`line` and `column` of
//!   the comment's `#` or of the annotation's value); see docs/configuration.md.
//! * `warnings[]`, only when there are some: `file`, `line`, `column`, `message`. Notes
//!   that do not change the outcome (a suppression that names an unknown rule, has no
//!   reason, or suppresses nothing), sorted by file and position.
//! * `findings[]`, sorted by file, position, then rule ID:
//!   * `rule_id`, `title` (strings): the rule.
//!   * `severity`: `critical`, `high`, `medium`, `low` or `info` (the effective severity,
//!     which a result may override).
//!   * `level`: `deny` or `warn`.
//!   * `message` (string).
//!   * `file` (the path as given), `document` (0-based index in a multi-document file).
//!   * `start_line`, `start_column`, `end_line`, `end_column`: 1-based; columns count
//!     Unicode characters; the end is exclusive (an end at column 1 means "up to the end of
//!     the previous line").
//!   * `path` (the JSON path in display form, `spec.containers[0].image`; `""` for the
//!     document root) and `pointer` (the same path as an RFC 6901 JSON Pointer,
//!     `/spec/containers/0/image`).
//!   * `remediation` (string or `null`), `references` (array of URLs).
//!   * `policy`: `builtin` (bool), `runtime` (`rego` or `wasm`), `file` (the policy file),
//!     `package` (the Rego package, or `null`).
//! * `errors[]`, sorted by file and position: `id` (`POL000`…`POL003`), `kind`
//!   (`parse-error`, `rule-error`, `rule-timeout`, `policy-error`), `file`, `line`, `column`
//!   (1-based; 1 when unknown), `rule` and `input` (string or `null`), `message`.
//! * `inputs[]`, in the order given: `path`, `status` (`evaluated`, `skipped` or
//!   `failed`), plus `documents` (integer) when evaluated or `reason` (string) when skipped,
//!   and, under `--shard` only, `position` (the input's 0-based place among all the
//!   run's inputs, so that merged shards list inputs in the order one run would).

use std::io;

use serde::Serialize;

use super::{ReportOptions, Reporter, Summary, TOOL_NAME};
use crate::diagnostics::{
    ErrorKind, ErrorRecord, Finding, InputStatus, InputSummary, Level, Report, Suppressed,
    SuppressionSource,
};
use crate::source::{display_path, json_pointer};
use crate::Severity;

/// The version of the wire format this module writes.
pub const WIRE_VERSION: u32 = 1;

/// Writes the JSON wire format.
#[derive(Debug, Clone)]
pub struct JsonReporter {
    opts: ReportOptions,
}

impl JsonReporter {
    /// A JSON reporter; `opts.tool_version` goes into `tool.version`.
    pub fn new(opts: ReportOptions) -> Self {
        JsonReporter { opts }
    }
}

impl Reporter for JsonReporter {
    fn write(&self, report: &Report, out: &mut dyn io::Write) -> io::Result<()> {
        let wire = Wire::new(report, &self.opts);
        serde_json::to_writer_pretty(&mut *out, &wire).map_err(io::Error::from)?;
        writeln!(out)
    }
}

#[derive(Serialize)]
struct Wire<'a> {
    version: u32,
    tool: Tool<'a>,
    run: WireRun,
    summary: WireSummary,
    findings: Vec<WireFinding<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    suppressed: Vec<WireSuppressed<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    exceptions: Vec<WireException<'a>>,
    errors: Vec<WireError<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<WireWarning<'a>>,
    inputs: Vec<WireInput<'a>>,
}

impl<'a> Wire<'a> {
    fn new(report: &'a Report, opts: &'a ReportOptions) -> Self {
        Wire {
            version: WIRE_VERSION,
            tool: Tool {
                name: TOOL_NAME,
                version: &opts.tool_version,
            },
            run: WireRun::new(report, opts),
            summary: WireSummary::new(&Summary::of(report)),
            findings: report.findings.iter().map(WireFinding::new).collect(),
            suppressed: report.suppressed.iter().map(WireSuppressed::new).collect(),
            exceptions: report.exceptions.iter().map(WireException::new).collect(),
            errors: report.errors.iter().map(WireError::new).collect(),
            warnings: report.warnings.iter().map(WireWarning::new).collect(),
            inputs: report
                .inputs
                .iter()
                .enumerate()
                .map(|(i, input)| {
                    let mut w = WireInput::new(input);
                    w.position = report.shard.as_ref().and_then(|s| s.positions.get(i).copied());
                    w
                })
                .collect(),
        }
    }
}

/// The run-wide fields of the wire format, for the `jsonl` format's closing event.
#[derive(Serialize)]
pub(crate) struct WireHead<'a> {
    version: u32,
    tool: Tool<'a>,
    run: WireRun,
    summary: WireSummary,
}

impl<'a> WireHead<'a> {
    /// The fields of a run graded with `opts`, split as `report` says, counted in `summary`.
    pub(crate) fn new(report: &Report, summary: &Summary, opts: &'a ReportOptions) -> Self {
        WireHead {
            version: WIRE_VERSION,
            tool: Tool {
                name: TOOL_NAME,
                version: &opts.tool_version,
            },
            run: WireRun::new(report, opts),
            summary: WireSummary::new(summary),
        }
    }
}

/// How the run was graded and split.
#[derive(Serialize)]
struct WireRun {
    fail_on: &'static str,
    fail_on_warn: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    shard: Option<WireShard>,
}

impl WireRun {
    fn new(report: &Report, opts: &ReportOptions) -> Self {
        WireRun {
            fail_on: opts.fail_on.as_str(),
            fail_on_warn: opts.fail_on_warn,
            shard: report.shard.as_ref().map(|s| WireShard {
                index: s.index,
                count: s.count,
            }),
        }
    }
}

#[derive(Serialize)]
struct WireShard {
    index: u32,
    count: u32,
}

#[derive(Serialize)]
struct Tool<'a> {
    name: &'a str,
    version: &'a str,
}

/// A conftest exception that applied: its rule was not checked on that document.
#[derive(Serialize)]
pub(crate) struct WireException<'a> {
    rule_id: &'a str,
    package: &'a str,
    exception: &'a str,
    query: String,
    file: &'a str,
    document: usize,
    line: u32,
    column: u32,
}

impl<'a> WireException<'a> {
    pub(crate) fn new(e: &'a crate::diagnostics::RuleException) -> Self {
        WireException {
            rule_id: &e.rule.id,
            package: &e.package,
            exception: &e.name,
            query: e.query(),
            file: &e.location.file,
            document: e.location.document,
            line: e.location.span.start.line,
            column: e.location.span.start.column,
        }
    }
}

/// A suppressed finding, with the reason and who suppressed it.
#[derive(Serialize)]
pub(crate) struct WireSuppressed<'a> {
    #[serde(flatten)]
    finding: WireFinding<'a>,
    reason: &'a str,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    suppressed_at: Option<WirePosition>,
}

impl<'a> WireSuppressed<'a> {
    pub(crate) fn new(s: &'a Suppressed) -> Self {
        let (kind, suppressed_at) = match &s.source {
            SuppressionSource::Config => ("external", None),
            SuppressionSource::InSource { line, column, .. } => (
                "inSource",
                Some(WirePosition {
                    line: *line,
                    column: *column,
                }),
            ),
        };
        WireSuppressed {
            finding: WireFinding::new(&s.finding),
            reason: &s.reason,
            kind,
            suppressed_at,
        }
    }
}

#[derive(Serialize)]
struct WirePosition {
    line: u32,
    column: u32,
}

/// A warning on the wire (a suppression comment that names an unknown rule, say).
#[derive(Serialize)]
pub(crate) struct WireWarning<'a> {
    file: &'a str,
    line: u32,
    column: u32,
    message: &'a str,
}

impl<'a> WireWarning<'a> {
    pub(crate) fn new(w: &'a crate::diagnostics::Warning) -> Self {
        WireWarning {
            file: &w.file,
            line: w.line,
            column: w.column,
            message: &w.message,
        }
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Serialize)]
struct WireSummary {
    findings: usize,
    #[serde(skip_serializing_if = "is_zero")]
    suppressed: usize,
    #[serde(skip_serializing_if = "is_zero")]
    exceptions: usize,
    by_severity: BySeverity,
    deny: usize,
    warn: usize,
    errors: usize,
    by_error_kind: ByErrorKind,
    inputs: WireInputCounts,
}

impl WireSummary {
    fn new(s: &Summary) -> Self {
        WireSummary {
            findings: s.findings,
            suppressed: s.suppressed,
            exceptions: s.exceptions,
            by_severity: BySeverity {
                critical: s.count(Severity::Critical),
                high: s.count(Severity::High),
                medium: s.count(Severity::Medium),
                low: s.count(Severity::Low),
                info: s.count(Severity::Info),
            },
            deny: s.deny,
            warn: s.warn,
            errors: s.errors,
            by_error_kind: ByErrorKind {
                parse_error: s.error_count(ErrorKind::ParseError),
                rule_error: s.error_count(ErrorKind::RuleError),
                rule_timeout: s.error_count(ErrorKind::RuleTimeout),
                policy_error: s.error_count(ErrorKind::PolicyError),
            },
            inputs: WireInputCounts {
                evaluated: s.evaluated,
                documents: s.documents,
                skipped: s.skipped,
                failed: s.failed,
            },
        }
    }
}

#[derive(Serialize)]
struct BySeverity {
    critical: usize,
    high: usize,
    medium: usize,
    low: usize,
    info: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct ByErrorKind {
    parse_error: usize,
    rule_error: usize,
    rule_timeout: usize,
    policy_error: usize,
}

#[derive(Serialize)]
struct WireInputCounts {
    evaluated: usize,
    documents: usize,
    skipped: usize,
    failed: usize,
}

/// One finding on the wire; also the finding objects of `policy watch --format jsonl`.
#[derive(Serialize)]
pub(crate) struct WireFinding<'a> {
    rule_id: &'a str,
    title: &'a str,
    severity: &'static str,
    level: &'static str,
    message: &'a str,
    file: &'a str,
    document: usize,
    start_line: u32,
    start_column: u32,
    end_line: u32,
    end_column: u32,
    path: String,
    pointer: String,
    remediation: Option<&'a str>,
    references: &'a [String],
    /// Rules merged into this finding (same root cause, same place).
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    related_rules: &'a [String],
    policy: WirePolicy<'a>,
}

impl<'a> WireFinding<'a> {
    pub(crate) fn new(f: &'a Finding) -> Self {
        let span = f.location.span;
        WireFinding {
            rule_id: &f.rule.id,
            title: &f.rule.title,
            severity: f.severity.as_str(),
            level: match f.level {
                Level::Deny => "deny",
                Level::Warn => "warn",
            },
            message: &f.message,
            file: &f.location.file,
            document: f.location.document,
            start_line: span.start.line,
            start_column: span.start.column,
            end_line: span.end.line,
            end_column: span.end.column,
            path: display_path(&f.location.path),
            pointer: json_pointer(&f.location.path),
            remediation: f.rule.remediation.as_deref(),
            references: &f.rule.references,
            related_rules: &f.related_rules,
            policy: WirePolicy {
                builtin: f.rule.origin.builtin,
                runtime: f.rule.origin.runtime.as_str(),
                file: &f.rule.origin.file,
                package: f.rule.origin.package.as_deref(),
            },
        }
    }
}

#[derive(Serialize)]
struct WirePolicy<'a> {
    builtin: bool,
    runtime: &'static str,
    file: &'a str,
    package: Option<&'a str>,
}

/// One error record on the wire; also the error objects of `policy watch --format jsonl`.
#[derive(Serialize)]
pub(crate) struct WireError<'a> {
    id: &'static str,
    kind: &'static str,
    file: &'a str,
    line: u32,
    column: u32,
    rule: Option<&'a str>,
    input: Option<&'a str>,
    message: &'a str,
}

impl<'a> WireError<'a> {
    pub(crate) fn new(e: &'a ErrorRecord) -> Self {
        WireError {
            id: e.kind.id(),
            kind: e.kind.name(),
            file: &e.file,
            line: e.line,
            column: e.column,
            rule: e.rule.as_deref(),
            input: e.input.as_deref(),
            message: &e.message,
        }
    }
}

/// One input's status on the wire; also the head of a `policy watch` `file` event.
#[derive(Serialize)]
pub(crate) struct WireInput<'a> {
    path: &'a str,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    documents: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) position: Option<usize>,
}

impl<'a> WireInput<'a> {
    pub(crate) fn new(i: &'a InputSummary) -> Self {
        let (status, documents, reason) = match &i.status {
            InputStatus::Evaluated { documents } => ("evaluated", Some(*documents), None),
            InputStatus::Skipped { reason } => ("skipped", None, Some(reason.as_str())),
            InputStatus::Failed => ("failed", None, None),
        };
        WireInput {
            path: &i.path,
            status,
            documents,
            reason,
            position: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    fn render(report: &Report) -> String {
        let mut out = Vec::new();
        JsonReporter::new(ReportOptions::default())
            .write(report, &mut out)
            .expect("writing to a Vec cannot fail");
        String::from_utf8(out).expect("JSON is UTF-8")
    }

    #[test]
    fn json_snapshot() {
        insta::assert_snapshot!(render(&fixture::report()));
    }

    #[test]
    fn json_fields_match_the_documented_contract() {
        let value: serde_json::Value =
            serde_json::from_str(&render(&fixture::report())).expect("output is JSON");
        assert_eq!(value["version"], 1);
        assert_eq!(value["tool"]["name"], "policy");
        assert_eq!(value["summary"]["findings"], 7);
        assert_eq!(value["summary"]["by_severity"]["high"], 2);
        assert_eq!(value["summary"]["by_error_kind"]["rule-timeout"], 1);
        assert_eq!(value["summary"]["inputs"]["documents"], 3);

        let findings = value["findings"].as_array().expect("findings array");
        let image = findings
            .iter()
            .find(|f| f["rule_id"] == "K8S001")
            .expect("K8S001 finding");
        assert_eq!(image["path"], "spec.template.spec.containers[0].image");
        assert_eq!(image["pointer"], "/spec/template/spec/containers/0/image");
        assert_eq!(image["policy"]["runtime"], "rego");
        assert_eq!(image["remediation"], serde_json::Value::Null);
        let warn = findings
            .iter()
            .find(|f| f["level"] == "warn")
            .expect("a warn finding");
        assert_eq!(warn["rule_id"], "DF004");

        let errors = value["errors"].as_array().expect("errors array");
        let ids: Vec<&str> = errors.iter().filter_map(|e| e["id"].as_str()).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, ["POL000", "POL001", "POL002", "POL003"]);

        let inputs = value["inputs"].as_array().expect("inputs array");
        assert_eq!(inputs[1]["documents"], 2);
        assert!(inputs[2]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("max-file-size")));
        assert_eq!(inputs[3]["status"], "failed");
        assert!(inputs[3].get("reason").is_none());
    }

    #[test]
    fn empty_report_is_valid_json() {
        let value: serde_json::Value =
            serde_json::from_str(&render(&Report::default())).expect("output is JSON");
        assert_eq!(value["findings"], serde_json::json!([]));
        assert_eq!(value["summary"]["by_severity"]["critical"], 0);
    }
}
