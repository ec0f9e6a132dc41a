//! Findings and error records: the engine's output, before any formatting.
//!
//! A [`Finding`] is a rule violation at an exact location. An [`ErrorRecord`] is anything
//! that prevented checking (a parse error, a policy that does not compile, a rule that
//! timed out or trapped). Errors are first-class: every reporter shows them, and they
//! decide the exit code.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::rules::RuleMeta;
use crate::source::Span;
use crate::{PathSegment, Severity};

/// Whether a result came from a `deny`/`violation` rule or a `warn` rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// `deny`, `violation`, or a WASM finding: fails the run at or above `--fail-on`.
    Deny,
    /// `warn`: reported, fails only with `--fail-on-warn`.
    Warn,
}

/// Where a finding or error points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// The file path as given.
    pub file: Arc<str>,
    /// Index of the document within a multi-document file.
    pub document: usize,
    /// The range in the file.
    pub span: Span,
    /// The JSON path into the document, when known.
    #[serde(default)]
    pub path: Vec<PathSegment>,
}

/// One rule violation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The rule that produced it.
    pub rule: Arc<RuleMeta>,
    /// Effective severity (the rule's default unless the result overrode it).
    pub severity: Severity,
    /// deny or warn.
    pub level: Level,
    /// The message, saying what is wrong and what to do.
    pub message: String,
    /// Where.
    pub location: Location,
    /// Other rules that reported the same root cause at the same place, merged into this
    /// finding (with `--pss`, the PSS-* check beside the K8S rule); a suppression or
    /// exception of any of them covers it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related_rules: Vec<String>,
}

impl Finding {
    /// Whether `id` is this finding's rule or one of its related rules (ignoring ASCII
    /// case, as rule IDs are compared everywhere).
    pub fn has_rule(&self, id: &str) -> bool {
        self.rule.id.eq_ignore_ascii_case(id)
            || self
                .related_rules
                .iter()
                .any(|r| r.eq_ignore_ascii_case(id))
    }
}

/// Reserved IDs of error records, so that SARIF and JUnit can show them like rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// `POL000`: an input file could not be read or parsed.
    ParseError,
    /// `POL001`: a rule failed while evaluating (runtime error, trap, bad result).
    RuleError,
    /// `POL002`: a rule exceeded its time limit.
    RuleTimeout,
    /// `POL003`: a policy file could not be loaded or compiled.
    PolicyError,
}

impl ErrorKind {
    /// The reserved rule ID.
    pub fn id(self) -> &'static str {
        match self {
            ErrorKind::ParseError => "POL000",
            ErrorKind::RuleError => "POL001",
            ErrorKind::RuleTimeout => "POL002",
            ErrorKind::PolicyError => "POL003",
        }
    }

    /// Kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::ParseError => "parse-error",
            ErrorKind::RuleError => "rule-error",
            ErrorKind::RuleTimeout => "rule-timeout",
            ErrorKind::PolicyError => "policy-error",
        }
    }

    /// A human title, used where rules have titles (SARIF, JUnit, GitHub annotations).
    pub fn title(self) -> &'static str {
        match self {
            ErrorKind::ParseError => "Input could not be parsed",
            ErrorKind::RuleError => "Rule failed during evaluation",
            ErrorKind::RuleTimeout => "Rule exceeded its time limit",
            ErrorKind::PolicyError => "Policy could not be loaded",
        }
    }

    /// A longer description (SARIF `fullDescription`).
    pub fn description(self) -> &'static str {
        match self {
            ErrorKind::ParseError => {
                "An input file could not be read or parsed, so no rule checked it."
            }
            ErrorKind::RuleError => {
                "A rule raised an error, trapped or returned a malformed result while evaluating \
                 an input; its findings for that input are unknown."
            }
            ErrorKind::RuleTimeout => {
                "A rule did not finish within its time limit; its findings for that input are unknown."
            }
            ErrorKind::PolicyError => {
                "A policy file could not be loaded or compiled, so none of its rules ran."
            }
        }
    }
}

/// Something that could not be checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorRecord {
    /// What failed.
    pub kind: ErrorKind,
    /// The file the error is about (an input or a policy file).
    pub file: String,
    /// 1-based line (1 when unknown).
    pub line: u32,
    /// 1-based column (1 when unknown).
    pub column: u32,
    /// The rule involved, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The input file being evaluated when a rule failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// The message.
    pub message: String,
}

impl ErrorRecord {
    /// An error of `kind` about `file` at a 1-based line and column.
    pub fn new(
        kind: ErrorKind,
        file: impl Into<String>,
        line: u32,
        column: u32,
        message: impl Into<String>,
    ) -> Self {
        ErrorRecord {
            kind,
            file: file.into(),
            line,
            column,
            rule: None,
            input: None,
            message: message.into(),
        }
    }

    /// The same error, naming the rule involved.
    pub fn with_rule(mut self, rule: impl Into<String>) -> Self {
        self.rule = Some(rule.into());
        self
    }

    /// The same error, naming the input being evaluated.
    pub fn with_input(mut self, input: impl Into<String>) -> Self {
        self.input = Some(input.into());
        self
    }
}

impl From<crate::inputs::InputError> for ErrorRecord {
    fn from(e: crate::inputs::InputError) -> Self {
        ErrorRecord::new(ErrorKind::ParseError, e.path, e.line, e.column, e.message)
    }
}

/// What happened to one input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum InputStatus {
    /// Parsed and evaluated.
    Evaluated {
        /// Number of documents evaluated.
        documents: usize,
    },
    /// Not checked, for a reason.
    Skipped {
        /// Why.
        reason: String,
    },
    /// Could not be checked (see the errors).
    Failed,
}

/// One input in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputSummary {
    /// The path as given.
    pub path: String,
    /// What happened.
    #[serde(flatten)]
    pub status: InputStatus,
}

/// Who suppressed a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum SuppressionSource {
    /// An exception of the configuration file (SARIF `kind: external`).
    Config,
    /// A `# policy:ignore=` comment or a `policy.dev/ignore` annotation in the input itself
    /// (SARIF `kind: inSource`), at this position.
    InSource {
        /// The file holding the comment or annotation (the finding's file).
        file: Arc<str>,
        /// 1-based line of the comment's `#` or of the annotation's value.
        line: u32,
        /// 1-based column.
        column: u32,
    },
}

/// A finding that a suppression took out of [`Report::findings`], with why.
#[derive(Debug, Clone, PartialEq)]
pub struct Suppressed {
    /// The finding, as it would have been reported.
    pub finding: Finding,
    /// The reason given (`"no reason given"` when an inline suppression has none).
    pub reason: String,
    /// The configuration or the source.
    pub source: SuppressionSource,
}

impl Suppressed {
    /// Whether the suppression is written in the input itself.
    pub fn is_in_source(&self) -> bool {
        matches!(self.source, SuppressionSource::InSource { .. })
    }
}

/// A note about an input that does not change the outcome of the run, at a position.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Warning {
    /// The file the warning is about.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// What to look at, and what to do.
    pub message: String,
}

/// A conftest `exception` that applied: a package's `exception` rule named an entry rule
/// (`exception contains ["run_as_root"]` for `deny_run_as_root`), so that rule's results
/// for one document were not reported. conftest counts and lists these (`EXCP`).
#[derive(Debug, Clone, PartialEq)]
pub struct RuleException {
    /// The entry rule left out.
    pub rule: Arc<RuleMeta>,
    /// Its level.
    pub level: Level,
    /// The Rego package (without `data.`).
    pub package: String,
    /// The name the exception gave (`run_as_root`).
    pub name: String,
    /// The document it applied to (its first line).
    pub location: Location,
}

impl RuleException {
    /// conftest's wording: the query that found the exception,
    /// `data.main.exception[_][_] == "run_as_root"`.
    pub fn query(&self) -> String {
        format!(
            "data.{}.exception[_][_] == {}",
            self.package,
            serde_json::Value::from(self.name.as_str())
        )
    }

    /// The exception as a finding of its rule at the document, for formats that list
    /// exceptions as suppressed results (SARIF).
    pub fn as_finding(&self) -> Finding {
        Finding {
            rule: Arc::clone(&self.rule),
            severity: self.rule.severity,
            level: self.level,
            message: self.message(),
            location: self.location.clone(),
            related_rules: Vec::new(),
        }
    }

    /// `not checked: exception "run_as_root" of data.main.exception applies`.
    pub fn message(&self) -> String {
        format!(
            "not checked: exception {} of data.{}.exception applies",
            serde_json::Value::from(self.name.as_str()),
            self.package
        )
    }
}

/// One Rego package's entry rules evaluated on one document. conftest counts each rule
/// definition (body) as a test, so its summaries need these counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageCheck {
    /// The input file.
    pub file: Arc<str>,
    /// Index of the document within the file.
    pub document: usize,
    /// The Rego package (without `data.`).
    pub package: String,
    /// The entry rule definitions evaluated.
    pub definitions: usize,
}

/// One line a Rego policy wrote with `print()` while evaluating a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintLine {
    /// The input being evaluated.
    pub input: Arc<str>,
    /// Its document index.
    pub document: usize,
    /// `policy.rego:LINE: message`.
    pub text: String,
}

/// The complete result of a run: what reporters format.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Findings, sorted by file, line, column, then rule.
    pub findings: Vec<Finding>,
    /// Errors, sorted by file and line.
    pub errors: Vec<ErrorRecord>,
    /// Every input, in the order given.
    pub inputs: Vec<InputSummary>,
    /// Every rule that was loaded and is on (the SARIF `rules[]` catalog).
    pub rules: Vec<Arc<RuleMeta>>,
    /// Rules that were loaded but turned off (`rules: {ID: off}` in `.policy.yaml`, see
    /// [`crate::eval::PolicyOptions::disabled_rules`]): never evaluated and not reported,
    /// but known, so that a suppression or configuration entry naming one is not taken
    /// for a typo. Reporters do not show them.
    pub disabled: Vec<Arc<RuleMeta>>,
    /// IDs of built-in rules not loaded for this run because no input has their kind
    /// (see [`crate::eval::PolicySet::unloaded`]): known, never reported.
    pub unloaded: Vec<String>,
    /// Source text of each input file, for code frames.
    pub sources: std::collections::BTreeMap<String, Arc<str>>,
    /// Findings suppressed by an exception of the configuration file or by a suppression
    /// in the source, each with its reason. They do not fail the run; reporters show their
    /// count, SARIF lists them as suppressed results.
    pub suppressed: Vec<Suppressed>,
    /// Notes about the run that do not change its outcome (a suppression naming an unknown
    /// rule, one that suppressed nothing, one without a reason), sorted by file and position.
    pub warnings: Vec<Warning>,
    /// conftest `exception`s that applied, by file and document.
    pub exceptions: Vec<RuleException>,
    /// The Rego packages evaluated on each document, with their rule counts.
    pub checks: Vec<PackageCheck>,
    /// `print()` output, in input order (shown on stderr by the CLI, not by reporters).
    pub prints: Vec<PrintLine>,
    /// `--trace` explanations, one per Rego entry rule and document, in input order
    /// (shown on stderr by the CLI).
    pub traces: Vec<PrintLine>,
    /// The input each document path belongs to, where the two differ (an OCI layout's
    /// documents are named after their blobs), for [`Report::split_by_input`].
    pub owners: std::collections::BTreeMap<String, String>,
    /// Under `--shard K/N`, which shard this report is (`None` for a whole run).
    pub shard: Option<RunShard>,
}

/// The shard a report covers (`policy eval --shard K/N`), and where its inputs stand in
/// the whole run, so that `policy merge` can put the inputs of all shards back in the
/// order one run would have listed them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunShard {
    /// 1-based shard index `K`.
    pub index: u32,
    /// Number of shards `N`.
    pub count: u32,
    /// For each of [`Report::inputs`], its 0-based position among all the run's inputs.
    pub positions: Vec<usize>,
}

/// How a run ended, as a process exit code ([`Report::exit_status`] decides it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Nothing at or above the threshold.
    Success,
    /// Findings at or above the threshold.
    Failure,
    /// Something could not be checked (usage, policy, input or internal error).
    Error,
}

impl ExitStatus {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Error => 2,
        }
    }
}

impl Report {
    /// Sorts findings and errors deterministically.
    pub fn sort(&mut self) {
        self.findings.sort_by(|a, b| {
            (
                &a.location.file,
                a.location.span.start,
                &a.rule.id,
                &a.message,
            )
                .cmp(&(
                    &b.location.file,
                    b.location.span.start,
                    &b.rule.id,
                    &b.message,
                ))
        });
        self.errors.sort_by(|a, b| {
            (&a.file, a.line, a.column, &a.rule, &a.message)
                .cmp(&(&b.file, b.line, b.column, &b.rule, &b.message))
        });
        self.suppressed.sort_by(|a, b| {
            let (a, b) = (&a.finding, &b.finding);
            (&a.location.file, a.location.span.start, &a.rule.id).cmp(&(
                &b.location.file,
                b.location.span.start,
                &b.rule.id,
            ))
        });
        self.warnings.sort();
        self.warnings.dedup();
        self.exceptions.sort_by(|a, b| {
            (
                &a.location.file,
                a.location.document,
                &a.package,
                &a.rule.id,
            )
                .cmp(&(
                    &b.location.file,
                    b.location.document,
                    &b.package,
                    &b.rule.id,
                ))
        });
        self.checks.sort_by(|a, b| {
            (&a.file, a.document, &a.package).cmp(&(&b.file, b.document, &b.package))
        });
        self.rules.sort_by(|a, b| a.id.cmp(&b.id));
        self.rules.dedup_by(|a, b| a.id == b.id);
    }

    /// Splits the report into one report per input, in input order: each holds that
    /// input's summary, findings, suppressed findings, warnings, errors (a rule error
    /// goes with the input it failed on) and source text. A file named in the report
    /// belongs to the input itself, the input its document came from
    /// ([`owners`](Self::owners)), or the input directory holding it; one that belongs to
    /// no input (a policy file's load error) gets a report of its own, listed as a
    /// failed input, after the others. The rule catalog is not copied.
    pub fn split_by_input(mut self) -> Vec<Report> {
        let mut per: Vec<Report> = self
            .inputs
            .iter()
            .map(|i| Report {
                inputs: vec![i.clone()],
                ..Report::default()
            })
            .collect();
        let owners = std::mem::take(&mut self.owners);
        let inputs = InputIndex::new(&self.inputs, &owners);
        let owner_of = |file: &str, per: &mut Vec<Report>| -> usize {
            if let Some(n) = inputs.owner(file) {
                return n;
            }
            if let Some(n) = per.iter().position(|r| r.inputs[0].path == file) {
                return n;
            }
            per.push(Report {
                inputs: vec![InputSummary {
                    path: file.to_owned(),
                    status: InputStatus::Failed,
                }],
                ..Report::default()
            });
            per.len() - 1
        };
        for f in self.findings {
            let n = owner_of(&f.location.file, &mut per);
            per[n].findings.push(f);
        }
        for s in self.suppressed {
            let n = owner_of(&s.finding.location.file, &mut per);
            per[n].suppressed.push(s);
        }
        for w in self.warnings {
            let n = owner_of(&w.file, &mut per);
            per[n].warnings.push(w);
        }
        for e in self.errors {
            let n = owner_of(e.input.as_deref().unwrap_or(&e.file), &mut per);
            per[n].errors.push(e);
        }
        for (file, text) in self.sources {
            let n = owner_of(&file, &mut per);
            per[n].sources.insert(file, text);
        }
        let positions: Vec<Option<usize>> = (owners.values())
            .map(|input| inputs.index.get(input.as_str()).copied())
            .collect();
        for ((doc, input), n) in owners.into_iter().zip(positions) {
            if let Some(n) = n {
                per[n].owners.insert(doc, input);
            }
        }
        per
    }
}

/// Which input of a report a file named in it belongs to ([`Report::split_by_input`]).
pub struct InputIndex<'r> {
    inputs: &'r [InputSummary],
    owners: &'r std::collections::BTreeMap<String, String>,
    index: std::collections::HashMap<&'r str, usize>,
}

impl<'r> InputIndex<'r> {
    /// The index of `inputs`, whose documents named apart are in `owners`
    /// ([`Report::inputs`], [`Report::owners`]).
    pub fn new(
        inputs: &'r [InputSummary],
        owners: &'r std::collections::BTreeMap<String, String>,
    ) -> Self {
        let index = (inputs.iter().enumerate())
            .map(|(n, i)| (i.path.as_str(), n))
            .collect();
        InputIndex {
            inputs,
            owners,
            index,
        }
    }

    /// The index of `report`'s inputs.
    pub fn of(report: &'r Report) -> Self {
        InputIndex::new(&report.inputs, &report.owners)
    }

    /// The position in `inputs` of the input `file` belongs to: the input itself, the
    /// input its document came from ([`Report::owners`]), or the input directory
    /// holding it; none for a file of no input (a policy file).
    pub fn owner(&self, file: &str) -> Option<usize> {
        let owner = (self.owners.get(file)).map(String::as_str).unwrap_or(file);
        if let Some(n) = self.index.get(owner) {
            return Some(*n);
        }
        (self.inputs.iter()).position(|i| std::path::Path::new(file).starts_with(&i.path))
    }

    /// [`InputIndex::owner`] of what an error is about: the input it failed on, else
    /// its file.
    pub fn owner_of_error(&self, e: &ErrorRecord) -> Option<usize> {
        self.owner(e.input.as_deref().unwrap_or(&e.file))
    }
}
