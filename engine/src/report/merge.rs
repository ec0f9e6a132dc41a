//! `policy merge`: the reports of the shards of one run (`policy eval --shard K/N`, one
//! CI job each) combined into the report one run would have written.
//!
//! JSON reports (the wire format of [`super::json`]) are read back into a [`Report`]
//! through a `Deserialize` mirror of that format, so every output format works on the
//! merged report, and its exit status is graded as one run's would be, with the
//! `run.fail_on` the reports record. Inputs are put back in the run's order with the
//! `position` each sharded report gives them; findings, errors and the rest are sorted as
//! in a run ([`Report::sort`]); records that every shard repeats (a policy that failed to
//! load) are kept once. What the wire format does not carry is not in the merged report:
//! rule descriptions (the rule catalog is the rules of the findings), source text for
//! code frames, `print()` output and traces.
//!
//! SARIF logs are merged into one SARIF log at the JSON level: one run, the union of
//! the rule catalogs (result `ruleIndex`es renumbered), results grouped and ordered as a
//! run writes them, the invocations' notifications combined. Their exit status comes
//! from the results' `severity` and `ruleLevel` properties and the `failOn` of
//! `invocations[0].properties`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;
use thiserror::Error;

use super::json::WIRE_VERSION;
use super::{ExitStatus, ReportOptions};
use crate::diagnostics::{
    ErrorKind, ErrorRecord, Finding, InputStatus, InputSummary, Level, Location, Report,
    RuleException, Suppressed, SuppressionSource, Warning,
};
use crate::rules::{RuleMeta, RuleOrigin, RuntimeKind};
use crate::source::{display_path, Position, Span};
use crate::{PathSegment, Severity};

/// Why reports cannot be merged.
#[derive(Debug, Error)]
pub enum MergeError {
    /// A report cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The report.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A report is not JSON.
    #[error("{path}:{line}:{column}: invalid JSON: {message}")]
    Syntax {
        /// The report.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// A report is JSON but not one this tool wrote.
    #[error("{path}: {message}")]
    Shape {
        /// The report.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A JSON report of another wire format version.
    #[error(
        "{path}: JSON report of wire format version {found}; this policy reads version {WIRE_VERSION} \
         (merge reports written by the same policy release)"
    )]
    Version {
        /// The report.
        path: String,
        /// Its `version`.
        found: Value,
    },
    /// The reports do not fit together.
    #[error("{0}")]
    Mismatch(String),
}

/// One report, read.
#[derive(Debug)]
pub enum Loaded {
    /// A JSON report of this tool.
    Json(Box<WireReport>),
    /// A SARIF log.
    Sarif(Value),
}

/// Reads and recognises one report: a JSON report of this tool or a SARIF 2.1.0 log.
pub fn load(path: &Path) -> Result<Loaded, MergeError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| MergeError::Read {
        path: name.clone(),
        source,
    })?;
    parse(&name, &text)
}

/// [`load`] on text already read; `name` names it in errors.
pub fn parse(name: &str, text: &str) -> Result<Loaded, MergeError> {
    let value: Value = serde_json::from_str(text).map_err(|e| MergeError::Syntax {
        path: name.to_owned(),
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    })?;
    let shape = |message: String| MergeError::Shape {
        path: name.to_owned(),
        message,
    };
    if value.get("runs").is_some() {
        if value.get("version").and_then(Value::as_str) != Some("2.1.0") {
            return Err(shape(
                "not a SARIF 2.1.0 log (`version` is not \"2.1.0\")".into(),
            ));
        }
        if !value["runs"].is_array() {
            return Err(shape("SARIF log without a `runs` array".into()));
        }
        return Ok(Loaded::Sarif(value));
    }
    if value.pointer("/tool/name").and_then(Value::as_str) != Some(super::TOOL_NAME) {
        return Err(shape(
            "neither a JSON report of policy (`tool.name` is not \"policy\") nor a SARIF log"
                .into(),
        ));
    }
    if value.get("version").and_then(Value::as_u64) != Some(u64::from(WIRE_VERSION)) {
        return Err(MergeError::Version {
            path: name.to_owned(),
            found: value.get("version").cloned().unwrap_or(Value::Null),
        });
    }
    serde_json::from_value::<WireReport>(value)
        .map(|w| Loaded::Json(Box::new(w)))
        .map_err(|e| shape(format!("not a JSON report of policy: {e}")))
}

/// serde_json's message without its trailing " at line L column C" (said up front).
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// A JSON report as written by [`super::json`] (the fields a merge needs).
#[derive(Debug, Deserialize)]
pub struct WireReport {
    #[serde(default)]
    run: Option<WireRun>,
    findings: Vec<WireFinding>,
    #[serde(default)]
    suppressed: Vec<WireSuppressed>,
    #[serde(default)]
    exceptions: Vec<WireException>,
    errors: Vec<WireError>,
    #[serde(default)]
    warnings: Vec<Warning>,
    inputs: Vec<WireInput>,
}

#[derive(Debug, Deserialize)]
struct WireRun {
    fail_on: String,
    #[serde(default)]
    fail_on_warn: bool,
    #[serde(default)]
    shard: Option<WireShard>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
struct WireShard {
    index: u32,
    count: u32,
}

#[derive(Debug, Deserialize)]
struct WireFinding {
    rule_id: String,
    title: String,
    severity: String,
    level: Level,
    message: String,
    file: String,
    document: usize,
    start_line: u32,
    start_column: u32,
    end_line: u32,
    end_column: u32,
    path: String,
    pointer: String,
    remediation: Option<String>,
    #[serde(default)]
    references: Vec<String>,
    #[serde(default)]
    related_rules: Vec<String>,
    policy: WirePolicy,
}

#[derive(Debug, Deserialize)]
struct WirePolicy {
    builtin: bool,
    runtime: RuntimeKind,
    file: String,
    package: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireSuppressed {
    #[serde(flatten)]
    finding: WireFinding,
    reason: String,
    kind: String,
    #[serde(default)]
    suppressed_at: Option<WirePosition>,
}

#[derive(Debug, Deserialize)]
struct WirePosition {
    line: u32,
    column: u32,
}

#[derive(Debug, Deserialize)]
struct WireException {
    rule_id: String,
    package: String,
    exception: String,
    file: String,
    document: usize,
    line: u32,
    column: u32,
}

#[derive(Debug, Deserialize)]
struct WireError {
    kind: ErrorKind,
    file: String,
    line: u32,
    column: u32,
    rule: Option<String>,
    input: Option<String>,
    message: String,
}

#[derive(Debug, Deserialize)]
struct WireInput {
    path: String,
    status: String,
    #[serde(default)]
    documents: Option<usize>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    position: Option<usize>,
}

/// The JSON path of a finding from its pointer, telling array indexes from keys that
/// look like numbers by the display form (`a[0]` against `a.0`).
fn path_of(pointer: &str, display: &str) -> Vec<PathSegment> {
    let mut out: Vec<PathSegment> = Vec::new();
    for raw in pointer.split('/').skip(1) {
        let key = raw.replace("~1", "/").replace("~0", "~");
        if let Ok(i) = key.parse::<usize>() {
            out.push(PathSegment::Index(i));
            if display.starts_with(&display_path(&out)) {
                continue;
            }
            out.pop();
        }
        out.push(PathSegment::Key(key));
    }
    out
}

/// The rules of a merged report, one `Arc` per rule ID.
#[derive(Default)]
struct Rules(BTreeMap<String, Arc<RuleMeta>>);

impl Rules {
    fn of(&mut self, f: &WireFinding) -> Arc<RuleMeta> {
        Arc::clone(self.0.entry(f.rule_id.clone()).or_insert_with(|| {
            Arc::new(RuleMeta {
                id: f.rule_id.clone(),
                title: f.title.clone(),
                description: String::new(),
                severity: Severity::parse(&f.severity).unwrap_or(Severity::Info),
                kinds: Vec::new(),
                remediation: f.remediation.clone(),
                references: f.references.clone(),
                aliases: Vec::new(),
                origin: RuleOrigin {
                    builtin: f.policy.builtin,
                    runtime: f.policy.runtime,
                    file: f.policy.file.clone(),
                    package: f.policy.package.clone(),
                },
            })
        }))
    }

    fn finding(&mut self, f: WireFinding, path: &str) -> Result<Finding, MergeError> {
        let severity = Severity::parse(&f.severity).ok_or_else(|| MergeError::Shape {
            path: path.to_owned(),
            message: format!(
                "finding of {} has an unknown severity {:?}",
                f.rule_id, f.severity
            ),
        })?;
        let rule = self.of(&f);
        Ok(Finding {
            location: Location {
                file: f.file.as_str().into(),
                document: f.document,
                span: Span::new(
                    Position::new(f.start_line, f.start_column),
                    Position::new(f.end_line, f.end_column),
                ),
                path: path_of(&f.pointer, &f.path),
            },
            rule,
            severity,
            level: f.level,
            message: f.message,
            related_rules: f.related_rules,
        })
    }
}

/// A merged JSON report and how to grade it.
#[derive(Debug)]
pub struct MergedReport {
    /// The report one run would have given.
    pub report: Report,
    /// The `--fail-on` threshold the reports were graded with (or the override).
    pub fail_on: Severity,
    /// `--fail-on-warn`, as the reports record it.
    pub fail_on_warn: bool,
}

impl MergedReport {
    /// The options to write and grade the merged report with.
    pub fn options(&self) -> ReportOptions {
        ReportOptions {
            fail_on: self.fail_on,
            fail_on_warn: self.fail_on_warn,
            ..ReportOptions::default()
        }
    }

    /// The exit status one run would have had.
    pub fn exit_status(&self) -> ExitStatus {
        self.report.exit_status(&self.options())
    }
}

/// The one grading all reports agree on; `fail_on` overrides them.
fn grading(
    recorded: impl Iterator<Item = (String, Option<(String, bool)>)>,
    fail_on: Option<Severity>,
) -> Result<(Severity, bool), MergeError> {
    let mut seen: Option<(String, String, bool)> = None;
    for (path, run) in recorded {
        let Some((sev, warn)) = run else { continue };
        match &seen {
            None => seen = Some((path, sev, warn)),
            Some((first, s, w)) if fail_on.is_none() && (*s != sev || *w != warn) => {
                return Err(MergeError::Mismatch(format!(
                    "{first} was graded with --fail-on {s}{}, {path} with --fail-on {sev}{}: \
                     give --fail-on to merge them",
                    if *w { " --fail-on-warn" } else { "" },
                    if warn { " --fail-on-warn" } else { "" },
                )))
            }
            Some(_) => {}
        }
    }
    let (sev, warn) = match seen {
        Some((path, s, w)) => (
            Severity::parse(&s).ok_or_else(|| MergeError::Shape {
                path,
                message: format!("unknown run.fail_on {s:?}"),
            })?,
            w,
        ),
        // Reports written before `run` was recorded: `policy eval`'s default.
        None => (Severity::Low, false),
    };
    Ok((fail_on.unwrap_or(sev), warn))
}

/// Checks that sharded reports are the whole set of one run's shards, once each.
fn check_shards(reports: &[(String, WireReport)]) -> Result<(), MergeError> {
    let shards: Vec<(&str, Option<WireShard>)> = reports
        .iter()
        .map(|(p, r)| (p.as_str(), r.run.as_ref().and_then(|r| r.shard)))
        .collect();
    let Some(count) = shards.iter().find_map(|(_, s)| s.map(|s| s.count)) else {
        return Ok(());
    };
    let mut seen: BTreeMap<u32, &str> = BTreeMap::new();
    for (path, shard) in &shards {
        let Some(s) = shard else {
            return Err(MergeError::Mismatch(format!(
                "{path} is a whole run, the other reports are shards of {count}: merge the shards of one run"
            )));
        };
        if s.count != count {
            return Err(MergeError::Mismatch(format!(
                "{path} is shard {}/{}, another report is a shard of {count}",
                s.index, s.count
            )));
        }
        if let Some(other) = seen.insert(s.index, path) {
            return Err(MergeError::Mismatch(format!(
                "{other} and {path} are both shard {}/{count}",
                s.index
            )));
        }
    }
    let missing: Vec<String> = (1..=count)
        .filter(|k| !seen.contains_key(k))
        .map(|k| format!("{k}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(MergeError::Mismatch(format!(
            "shard {} missing: a merge of some shards is not the whole run",
            missing.join(", ")
        )));
    }
    Ok(())
}

/// Merges JSON reports (`(name, report)`, in the order given) into one.
pub fn merge_json(
    reports: Vec<(String, WireReport)>,
    fail_on: Option<Severity>,
) -> Result<MergedReport, MergeError> {
    check_shards(&reports)?;
    let (fail_on, fail_on_warn) = grading(
        reports.iter().map(|(p, r)| {
            (
                p.clone(),
                r.run.as_ref().map(|r| (r.fail_on.clone(), r.fail_on_warn)),
            )
        }),
        fail_on,
    )?;
    let mut rules = Rules::default();
    let mut report = Report::default();
    let mut inputs: Vec<((usize, usize, usize), InputSummary)> = Vec::new();
    for (n, (path, wire)) in reports.into_iter().enumerate() {
        for f in wire.findings {
            report.findings.push(rules.finding(f, &path)?);
        }
        for s in wire.suppressed {
            let source = match (s.kind.as_str(), s.suppressed_at) {
                ("inSource", Some(at)) => SuppressionSource::InSource {
                    file: s.finding.file.as_str().into(),
                    line: at.line,
                    column: at.column,
                },
                _ => SuppressionSource::Config,
            };
            report.suppressed.push(Suppressed {
                finding: rules.finding(s.finding, &path)?,
                reason: s.reason,
                source,
            });
        }
        for e in wire.exceptions {
            let rule = rules.0.get(&e.rule_id).cloned().unwrap_or_else(|| {
                Arc::new(RuleMeta {
                    id: e.rule_id.clone(),
                    title: e.rule_id.clone(),
                    description: String::new(),
                    severity: Severity::Info,
                    kinds: Vec::new(),
                    remediation: None,
                    references: Vec::new(),
                    aliases: Vec::new(),
                    origin: RuleOrigin {
                        builtin: false,
                        runtime: RuntimeKind::Rego,
                        file: String::new(),
                        package: Some(e.package.clone()),
                    },
                })
            });
            let entry = e.rule_id.rsplit('.').next().unwrap_or_default();
            report.exceptions.push(RuleException {
                rule,
                level: if entry.starts_with("warn") {
                    Level::Warn
                } else {
                    Level::Deny
                },
                package: e.package,
                name: e.exception,
                location: Location {
                    file: e.file.as_str().into(),
                    document: e.document,
                    span: Span::point(Position::new(e.line, e.column)),
                    path: Vec::new(),
                },
            });
        }
        report
            .errors
            .extend(wire.errors.into_iter().map(|e| ErrorRecord {
                kind: e.kind,
                file: e.file,
                line: e.line,
                column: e.column,
                rule: e.rule,
                input: e.input,
                message: e.message,
            }));
        report.warnings.extend(wire.warnings);
        for (i, input) in wire.inputs.into_iter().enumerate() {
            let status = match input.status.as_str() {
                "evaluated" => InputStatus::Evaluated {
                    documents: input.documents.unwrap_or(0),
                },
                "skipped" => InputStatus::Skipped {
                    reason: input.reason.unwrap_or_default(),
                },
                "failed" => InputStatus::Failed,
                other => {
                    return Err(MergeError::Shape {
                        path,
                        message: format!("input {} has an unknown status {other:?}", input.path),
                    })
                }
            };
            // Sharded: the run's order; else report by report, in the order given.
            let key = match input.position {
                Some(p) => (p, 0, 0),
                None => (usize::MAX, n, i),
            };
            inputs.push((
                key,
                InputSummary {
                    path: input.path,
                    status,
                },
            ));
        }
    }
    inputs.sort_by_key(|(k, _)| *k);
    let mut seen = std::collections::HashSet::new();
    report.inputs = inputs
        .into_iter()
        .map(|(_, i)| i)
        .filter(|i| seen.insert(i.path.clone()))
        .collect();
    report.rules = rules.0.into_values().collect();
    report.sort();
    // Policy errors and other run-wide records are in every shard's report: once here.
    report.errors.dedup();
    Ok(MergedReport {
        report,
        fail_on,
        fail_on_warn,
    })
}

/// A merged SARIF log and its exit status.
#[derive(Debug)]
pub struct MergedSarif {
    /// The SARIF 2.1.0 log.
    pub log: Value,
    /// The exit status one run would have had.
    pub status: ExitStatus,
}

fn is_error_result(r: &Value) -> bool {
    r["ruleId"]
        .as_str()
        .is_some_and(|id| id.len() == 6 && id.starts_with("POL"))
        && r["level"] == "error"
}

fn is_suppressed(r: &Value) -> bool {
    r["suppressions"].as_array().is_some_and(|s| !s.is_empty())
}

/// The order a run writes results in: findings, suppressed ones, errors; each by file,
/// position, rule and message.
fn result_key(r: &Value) -> (u8, String, u64, u64, String, String) {
    let group = if is_error_result(r) {
        2
    } else if is_suppressed(r) {
        1
    } else {
        0
    };
    let loc = &r["locations"][0]["physicalLocation"];
    (
        group,
        loc["artifactLocation"]["uri"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        loc["region"]["startLine"].as_u64().unwrap_or(0),
        loc["region"]["startColumn"].as_u64().unwrap_or(0),
        r["ruleId"].as_str().unwrap_or_default().to_owned(),
        r["message"]["text"].as_str().unwrap_or_default().to_owned(),
    )
}

/// Appends the items of `from` not yet in `into` (by `key`), keeping order.
fn union_by(into: &mut Vec<Value>, from: &[Value], key: &str) {
    for item in from {
        if !into.iter().any(|x| x[key] == item[key]) {
            into.push(item.clone());
        }
    }
}

fn push_unique(into: &mut Vec<Value>, from: Option<&Vec<Value>>) {
    for item in from.into_iter().flatten() {
        if !into.contains(item) {
            into.push(item.clone());
        }
    }
}

/// Merges SARIF logs (`(name, log)`) into one log with one run.
pub fn merge_sarif(
    logs: Vec<(String, Value)>,
    fail_on: Option<Severity>,
) -> Result<MergedSarif, MergeError> {
    let schema = logs.first().and_then(|(_, l)| l.get("$schema").cloned());
    let runs: Vec<(String, Value)> = logs
        .into_iter()
        .flat_map(|(path, log)| {
            let runs = log["runs"].as_array().cloned().unwrap_or_default();
            runs.into_iter().map(move |r| (path.clone(), r))
        })
        .collect();
    let Some((_, first)) = runs.first() else {
        return Err(MergeError::Mismatch("no SARIF run to merge".into()));
    };
    let tool = first["tool"]["driver"]["name"].clone();
    let props = |r: &Value| {
        let p = &r["invocations"][0]["properties"];
        p["failOn"]
            .as_str()
            .map(|s| (s.to_owned(), p["failOnWarn"].as_bool().unwrap_or(false)))
    };
    let (fail_on, fail_on_warn) =
        grading(runs.iter().map(|(p, r)| (p.clone(), props(r))), fail_on)?;
    let mut rules: Vec<Value> = Vec::new();
    let mut descriptors: Vec<Value> = Vec::new();
    let mut results: Vec<Value> = Vec::new();
    let mut exec: Vec<Value> = Vec::new();
    let mut config: Vec<Value> = Vec::new();
    let mut successful = true;
    for (path, run) in &runs {
        if run["tool"]["driver"]["name"] != tool {
            return Err(MergeError::Mismatch(format!(
                "{path}: a SARIF run of {} cannot be merged with one of {}",
                run["tool"]["driver"]["name"], tool
            )));
        }
        let driver = &run["tool"]["driver"];
        union_by(
            &mut rules,
            driver["rules"].as_array().map_or(&[][..], |v| v),
            "id",
        );
        union_by(
            &mut descriptors,
            driver["notifications"].as_array().map_or(&[][..], |v| v),
            "id",
        );
        push_unique(&mut results, run["results"].as_array());
        for inv in run["invocations"].as_array().into_iter().flatten() {
            successful &= inv["executionSuccessful"].as_bool().unwrap_or(false);
            push_unique(&mut exec, inv["toolExecutionNotifications"].as_array());
            push_unique(
                &mut config,
                inv["toolConfigurationNotifications"].as_array(),
            );
        }
    }
    rules.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    descriptors.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    let index = |list: &[Value], id: &Value| list.iter().position(|r| r["id"] == *id);
    for r in &mut results {
        if let Some(i) = index(&rules, &r["ruleId"]) {
            r["ruleIndex"] = i.into();
        }
    }
    results.sort_by_key(result_key);
    for n in &mut exec {
        if let Some(i) = index(&descriptors, &n["descriptor"]["id"]) {
            n["descriptor"]["index"] = i.into();
        }
        if n.get("associatedRule").is_some() {
            if let Some(i) = index(&rules, &n["associatedRule"]["id"]) {
                n["associatedRule"]["index"] = i.into();
            }
        }
    }
    let failing = results.iter().any(|r| {
        !is_error_result(r)
            && !is_suppressed(r)
            && r["properties"]["severity"]
                .as_str()
                .and_then(Severity::parse)
                .is_some_and(|s| s >= fail_on)
            && (r["properties"]["ruleLevel"] != "warn" || fail_on_warn)
    });
    let status = if !successful {
        ExitStatus::Error
    } else if failing {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    };
    let mut run = first.clone();
    run["tool"]["driver"]["rules"] = rules.into();
    if descriptors.is_empty() {
        if let Some(d) = run["tool"]["driver"].as_object_mut() {
            d.remove("notifications");
        }
    } else {
        run["tool"]["driver"]["notifications"] = descriptors.into();
    }
    let mut inv = serde_json::json!({ "executionSuccessful": successful });
    if !exec.is_empty() {
        inv["toolExecutionNotifications"] = exec.into();
    }
    if !config.is_empty() {
        inv["toolConfigurationNotifications"] = config.into();
    }
    inv["properties"] = serde_json::json!({
        "failOn": fail_on.as_str(),
        "failOnWarn": fail_on_warn,
    });
    run["invocations"] = Value::Array(vec![inv]);
    run["results"] = results.into();
    let mut log = serde_json::json!({});
    if let Some(schema) = schema {
        log["$schema"] = schema;
    }
    log["version"] = "2.1.0".into();
    log["runs"] = Value::Array(vec![run]);
    Ok(MergedSarif { log, status })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_tell_indexes_from_numeric_keys() {
        assert_eq!(
            path_of("/spec/containers/0/image", "spec.containers[0].image"),
            vec![
                PathSegment::Key("spec".into()),
                PathSegment::Key("containers".into()),
                PathSegment::Index(0),
                PathSegment::Key("image".into()),
            ]
        );
        assert_eq!(
            path_of("/data/0/a~1b", "data.0.a/b"),
            vec![
                PathSegment::Key("data".into()),
                PathSegment::Key("0".into()),
                PathSegment::Key("a/b".into()),
            ]
        );
        assert!(path_of("", "").is_empty());
    }

    #[test]
    fn syntax_errors_name_line_and_column() {
        let err = parse("r.json", "{\n  \"version\": 1,\n  oops\n}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "r.json:3:3: invalid JSON: key must be a string"
        );
    }
}
