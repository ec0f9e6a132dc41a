//! Reporters: turn a finished [`Report`] into bytes.
//!
//! The engine never formats. Evaluation produces a [`Report`] (findings, error records,
//! per-input status, the rule catalog and the source text of every input), and a
//! [`Reporter`] writes it in one [`Format`]:
//!
//! | format   | module     | for                                                        |
//! |----------|------------|------------------------------------------------------------|
//! | `text`   | [`text`]   | people at a terminal: `path:line:col` headers, code frames |
//! | `json`   | [`json`]   | scripts: a versioned, documented wire format               |
//! | `sarif`  | [`sarif`]  | GitHub code scanning and other SARIF 2.1.0 consumers       |
//! | `junit`  | [`junit`]  | CI test tabs (Jenkins, GitLab)                             |
//! | `github` | [`github`] | GitHub Actions annotations (workflow commands)             |
//! | `jsonl`  | [`jsonl`]  | scripts reading as the run goes: one JSON event per input  |
//! | `conftest` | [`conftest`] | conftest's standard output (`FAIL - file - ns - msg`)  |
//! | `tap`    | [`tap`]    | Test Anything Protocol consumers (conftest `-o tap`)       |
//! | `table`  | [`table`]  | a boxed table of results (conftest `-o table`)             |
//!
//! `text`, `github` and `jsonl` can also be written as a run goes, input by input
//! ([`stream`]); `policy eval` does so.
//!
//! `policy watch` writes a stream of cycles instead of one report; [`watch`] formats it
//! (JSON Lines or text) from the same pieces.
//!
//! Reporters only display. Deciding the exit code belongs to the CLI; the one helper it
//! may share with reporters is [`ReportOptions::is_failing`], so that "this finding fails
//! the run" means the same thing everywhere (JUnit marks exactly those as failures).
//!
//! The results of `policy test` are rendered by [`testing`] (text and JSON).
//!
//! Shared helpers live here: [`Summary`] (counts the text, JSON and GitHub reporters
//! print), [`Region`] (a span normalised for tools that want inclusive or
//! line-bounded ends) and [`uri_path`] (paths as forward-slash relative references).
//! [`explain`] renders one rule's documentation (`policy rules --explain`, LSP hover).

pub mod catalog;
pub mod explain;
pub mod merge;
pub mod stream;
pub mod testing;
pub mod watch;

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::rc::Rc;
use std::str::FromStr;

use crate::diagnostics::{ErrorKind, ExitStatus, Finding, InputStatus, Level, Report};
use crate::source::{LineIndex, Position, Span};
use crate::Severity;

/// Something that writes a finished report.
pub trait Reporter {
    /// Writes `report` to `out`. Only I/O can fail.
    fn write(&self, report: &Report, out: &mut dyn io::Write) -> io::Result<()>;
}

/// Declares the output formats from one list: each line gives a [`Format`] variant (its
/// doc comment is its `--format` help), its name, the module that writes it and how to
/// build its [`Reporter`]. The macro declares the modules, [`Format`], [`Format::ALL`],
/// [`Format::as_str`] and [`reporter`], so a new format is its file plus one line here.
macro_rules! formats {
    ($($(#[$meta:meta])* $variant:ident = $name:literal in $module:ident => $build:expr,)*) => {
        $(pub mod $module;)*

        /// An output format, as chosen with `--format`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, clap::ValueEnum)]
        pub enum Format {
            $($(#[$meta])* #[value(name = $name)] $variant,)*
        }

        impl Format {
            /// Every format, in the order of `--help`.
            pub const ALL: &'static [Format] = &[$(Format::$variant,)*];

            /// The name used on the command line.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Format::$variant => $name,)*
                }
            }
        }

        /// Builds the reporter for `format`.
        pub fn reporter(format: Format, opts: &ReportOptions) -> Box<dyn Reporter> {
            match format {
                $(Format::$variant => {
                    let build: fn(&ReportOptions) -> Box<dyn Reporter> = $build;
                    build(opts)
                })*
            }
        }
    };
}

formats! {
    /// Human-readable findings with code frames and a summary.
    #[default]
    Text = "text" in text => |o| Box::new(text::TextReporter::new(o.clone())),
    /// The versioned JSON wire format (see [`json`]).
    Json = "json" in json => |o| Box::new(json::JsonReporter::new(o.clone())),
    /// SARIF 2.1.0, for code scanning.
    Sarif = "sarif" in sarif => |o| Box::new(sarif::SarifReporter::new(o.clone())),
    /// JUnit XML, for CI test reports.
    Junit = "junit" in junit => |o| Box::new(junit::JunitReporter::new(o.clone())),
    /// GitHub Actions workflow commands (annotations).
    Github = "github" in github => |o| Box::new(github::GithubReporter::new(o.clone())),
    /// JSON Lines: one `file` event per input as it is checked, then a `run` event.
    Jsonl = "jsonl" in jsonl => |o| Box::new(jsonl::JsonlReporter::new(o.clone())),
    /// conftest's standard output: FAIL/WARN/EXCP lines and its test counts.
    Conftest = "conftest" in conftest => |o| {
        Box::new(conftest::ConftestReporter::new(o.clone(), Default::default()))
    },
    /// Test Anything Protocol (as conftest `-o tap`).
    Tap = "tap" in tap => |_| Box::new(tap::TapReporter),
    /// A table of results (as conftest `-o table`).
    Table = "table" in table => |_| Box::new(table::TableReporter),
}

impl Format {
    /// Every format's name, for messages: `text, json, …, table`.
    pub fn names() -> String {
        let names: Vec<&str> = Format::ALL.iter().map(|f| f.as_str()).collect();
        names.join(", ")
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing an unknown format name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown output format `{0}` (expected one of: {names})", names = Format::names())]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim();
        Format::ALL
            .iter()
            .copied()
            .find(|f| f.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| UnknownFormat(name.to_owned()))
    }
}

/// Settings shared by all reporters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportOptions {
    /// Emit ANSI colours (text only). The CLI decides: on for a terminal, off in a pipe
    /// or when `NO_COLOR` is set.
    pub color: bool,
    /// The tool version written into JSON and SARIF.
    pub tool_version: String,
    /// The `--fail-on` threshold: deny findings at or above it fail the run.
    pub fail_on: Severity,
    /// `--fail-on-warn`: warn-level findings at or above `fail_on` fail the run too.
    pub fail_on_warn: bool,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            color: false,
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            fail_on: Severity::Info,
            fail_on_warn: false,
        }
    }
}

impl ReportOptions {
    /// The colour rule the CLI applies: colour only on a terminal, and never when
    /// `NO_COLOR` is set to a non-empty value (<https://no-color.org>).
    pub fn color_for(is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
        is_terminal && no_color.is_none_or(|v| v.is_empty())
    }

    /// Whether `finding` fails the run under these options.
    pub fn is_failing(&self, finding: &Finding) -> bool {
        finding.severity >= self.fail_on && (finding.level == Level::Deny || self.fail_on_warn)
    }
}

impl Report {
    /// The exit status this report deserves under `opts`: [`ExitStatus::Error`] when
    /// something could not be checked (an error, or an input that was skipped: too
    /// large, or of a kind that cannot be told; CI must not pass because a file was
    /// silently left out), else [`ExitStatus::Failure`] when a finding fails the run
    /// ([`ReportOptions::is_failing`]), else [`ExitStatus::Success`].
    pub fn exit_status(&self, opts: &ReportOptions) -> ExitStatus {
        let skipped = self
            .inputs
            .iter()
            .any(|i| matches!(i.status, InputStatus::Skipped { .. }));
        if !self.errors.is_empty() || skipped {
            ExitStatus::Error
        } else if self.findings.iter().any(|f| opts.is_failing(f)) {
            ExitStatus::Failure
        } else {
            ExitStatus::Success
        }
    }
}

/// The name tools see us as (SARIF `tool.driver.name`, JSON `tool.name`).
pub const TOOL_NAME: &str = "policy";

/// Counts over a report, as the summaries print them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// All findings.
    pub findings: usize,
    /// Suppressed findings, by configuration exceptions or in the source (not counted in
    /// `findings`).
    pub suppressed: usize,
    /// Of `suppressed`, those suppressed in the source (comments and annotations).
    pub suppressed_in_source: usize,
    /// conftest `exception`s that applied (rules not checked on a document).
    pub exceptions: usize,
    /// Findings per severity, indexed like [`Severity::ALL`] (info first).
    pub by_severity: [usize; 5],
    /// Findings from `deny`/`violation` rules.
    pub deny: usize,
    /// Findings from `warn` rules.
    pub warn: usize,
    /// Error records.
    pub errors: usize,
    /// Error records per kind: parse, rule, timeout, policy.
    pub by_error_kind: [usize; 4],
    /// Inputs evaluated.
    pub evaluated: usize,
    /// Documents evaluated, over all evaluated inputs.
    pub documents: usize,
    /// Inputs skipped.
    pub skipped: usize,
    /// Inputs that failed.
    pub failed: usize,
}

impl Summary {
    /// Counts `report`.
    pub fn of(report: &Report) -> Summary {
        let mut s = Summary {
            findings: report.findings.len(),
            errors: report.errors.len(),
            suppressed: report.suppressed.len(),
            exceptions: report.exceptions.len(),
            suppressed_in_source: report
                .suppressed
                .iter()
                .filter(|s| s.is_in_source())
                .count(),
            ..Summary::default()
        };
        for f in &report.findings {
            s.by_severity[severity_index(f.severity)] += 1;
            match f.level {
                Level::Deny => s.deny += 1,
                Level::Warn => s.warn += 1,
            }
        }
        for e in &report.errors {
            s.by_error_kind[error_kind_index(e.kind)] += 1;
        }
        for input in &report.inputs {
            match &input.status {
                InputStatus::Evaluated { documents } => {
                    s.evaluated += 1;
                    s.documents += documents;
                }
                InputStatus::Skipped { .. } => s.skipped += 1,
                InputStatus::Failed => s.failed += 1,
            }
        }
        s
    }

    /// Adds the counts of `other` (of another part of the same run).
    pub fn add(&mut self, other: &Summary) {
        self.findings += other.findings;
        self.suppressed += other.suppressed;
        self.suppressed_in_source += other.suppressed_in_source;
        self.exceptions += other.exceptions;
        for (a, b) in self.by_severity.iter_mut().zip(other.by_severity) {
            *a += b;
        }
        self.deny += other.deny;
        self.warn += other.warn;
        self.errors += other.errors;
        for (a, b) in self.by_error_kind.iter_mut().zip(other.by_error_kind) {
            *a += b;
        }
        self.evaluated += other.evaluated;
        self.documents += other.documents;
        self.skipped += other.skipped;
        self.failed += other.failed;
    }

    /// Number of findings of `severity`.
    pub fn count(&self, severity: Severity) -> usize {
        self.by_severity[severity_index(severity)]
    }

    /// Number of error records of `kind`.
    pub fn error_count(&self, kind: ErrorKind) -> usize {
        self.by_error_kind[error_kind_index(kind)]
    }

    /// `"1 critical, 2 high, 0 medium, 1 low, 0 info"`, most severe first.
    pub fn severity_breakdown(&self) -> String {
        Severity::ALL
            .iter()
            .rev()
            .map(|sev| format!("{} {}", self.count(*sev), sev.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// One plain line: `6 findings (…), 1 warning, 4 errors; inputs: …`.
    pub fn one_line(&self) -> String {
        format!(
            "{} ({}), {} from warn rules, {}; inputs: {} evaluated ({}), {} skipped, {} failed",
            plural(self.findings, "finding", "findings"),
            self.severity_breakdown(),
            self.warn,
            plural(self.errors, "error", "errors"),
            self.evaluated,
            plural(self.documents, "document", "documents"),
            self.skipped,
            self.failed,
        )
    }
}

/// Every error kind, in ID order.
pub const ERROR_KINDS: [ErrorKind; 4] = [
    ErrorKind::ParseError,
    ErrorKind::RuleError,
    ErrorKind::RuleTimeout,
    ErrorKind::PolicyError,
];

fn severity_index(sev: Severity) -> usize {
    match sev {
        Severity::Info => 0,
        Severity::Low => 1,
        Severity::Medium => 2,
        Severity::High => 3,
        Severity::Critical => 4,
    }
}

fn error_kind_index(kind: ErrorKind) -> usize {
    match kind {
        ErrorKind::ParseError => 0,
        ErrorKind::RuleError => 1,
        ErrorKind::RuleTimeout => 2,
        ErrorKind::PolicyError => 3,
    }
}

/// A human title for an error kind, used where rules have titles ([`ErrorKind::title`]).
pub fn error_kind_title(kind: ErrorKind) -> &'static str {
    kind.title()
}

/// A longer description of an error kind, for SARIF `fullDescription`
/// ([`ErrorKind::description`]).
pub fn error_kind_description(kind: ErrorKind) -> &'static str {
    kind.description()
}

/// `1 finding` / `3 findings`.
pub(crate) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A span normalised for output formats that dislike an end at column 1 of the next
/// line, or an end before the start.
///
/// `end_column` is exclusive and `None` when it is not known (the end was moved back to
/// the previous line and its source text is not available): consumers then omit it,
/// which means "to the end of the line" in SARIF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// 1-based first line.
    pub start_line: u32,
    /// 1-based first column (characters).
    pub start_column: u32,
    /// 1-based last line (inclusive).
    pub end_line: u32,
    /// 1-based column one past the last character on `end_line`, when known.
    pub end_column: Option<u32>,
}

impl Region {
    /// Normalises `span`, using `source` (the whole file) to find line lengths.
    pub fn new(span: Span, source: Option<&SourceLines<'_>>) -> Region {
        let start = Position::new(span.start.line.max(1), span.start.column.max(1));
        let mut end = Position::new(span.end.line.max(1), span.end.column.max(1));
        if end < start {
            end = start;
        }
        if end.column == 1 && end.line > start.line {
            // Ends at the start of a line: really ends at the end of the previous one.
            let prev = end.line - 1;
            let end_column = source
                .and_then(|lines| lines.line(prev))
                .map(|line| line.chars().count() as u32 + 1)
                .map(|col| {
                    if prev == start.line {
                        col.max(start.column)
                    } else {
                        col
                    }
                });
            return Region {
                start_line: start.line,
                start_column: start.column,
                end_line: prev,
                end_column,
            };
        }
        Region {
            start_line: start.line,
            start_column: start.column,
            end_line: end.line,
            end_column: Some(end.column),
        }
    }

    /// Whether the region covers no character (a point).
    pub fn is_empty(&self) -> bool {
        self.start_line == self.end_line && self.end_column == Some(self.start_column)
    }
}

/// The source text of one file with a line index, so that finding a line costs
/// O(log lines) however many findings point into the file.
#[derive(Debug)]
pub struct SourceLines<'a> {
    text: &'a str,
    index: LineIndex,
}

impl<'a> SourceLines<'a> {
    /// Indexes `text`.
    pub fn new(text: &'a str) -> Self {
        SourceLines {
            text,
            index: LineIndex::new(text),
        }
    }

    /// The text of 1-based `line`, without its line terminator (`\n` or `\r\n`).
    pub fn line(&self, line: u32) -> Option<&'a str> {
        let start = self.index.line_start(line)?;
        let end = match self.index.line_start(line.checked_add(1)?) {
            Some(next) => next - 1,
            None => self.text.len(),
        };
        let raw = self.text.get(start..end)?;
        Some(raw.strip_suffix('\r').unwrap_or(raw))
    }

    /// Number of lines (a final newline starts one more, empty, line).
    pub fn line_count(&self) -> u32 {
        u32::try_from(self.index.line_count()).unwrap_or(u32::MAX)
    }
}

/// The sources of a report, indexed on first use.
pub(crate) struct Sources<'a> {
    report: &'a Report,
    cache: RefCell<HashMap<&'a str, Rc<SourceLines<'a>>>>,
}

impl<'a> Sources<'a> {
    pub(crate) fn new(report: &'a Report) -> Self {
        Sources {
            report,
            cache: RefCell::new(HashMap::new()),
        }
    }

    /// The indexed source of `file`, if the report has it.
    pub(crate) fn get(&self, file: &str) -> Option<Rc<SourceLines<'a>>> {
        if let Some(lines) = self.cache.borrow().get(file) {
            return Some(Rc::clone(lines));
        }
        let (key, text) = self.report.sources.get_key_value(file)?;
        let lines = Rc::new(SourceLines::new(text));
        self.cache
            .borrow_mut()
            .insert(key.as_str(), Rc::clone(&lines));
        Some(lines)
    }
}

/// A path as a forward-slash relative reference: `./a\b c.yaml` → `a/b%20c.yaml`.
///
/// Absolute paths become `file://` URIs. Characters outside RFC 3986's unreserved set and
/// `/` are percent-encoded, so the result is a valid URI reference (SARIF requires one).
pub fn uri_path(path: &str) -> String {
    let slashed = path.replace('\\', "/");
    let mut rel = slashed.as_str();
    while let Some(rest) = rel.strip_prefix("./") {
        rel = rest;
    }
    let is_windows_abs = rel.len() >= 3
        && rel.as_bytes()[0].is_ascii_alphabetic()
        && rel.as_bytes()[1] == b':'
        && rel.as_bytes()[2] == b'/';
    let encoded = percent_encode_path(rel);
    if rel.starts_with('/') {
        format!("file://{encoded}")
    } else if is_windows_abs {
        // Keep the drive colon readable: `file:///C:/x`.
        format!("file:///{}:{}", &rel[..1], percent_encode_path(&rel[2..]))
    } else {
        encoded
    }
}

/// Whether `path` (after [`uri_path`]) is an absolute `file://` URI.
pub(crate) fn is_absolute_uri(uri: &str) -> bool {
    uri.starts_with("file://")
}

fn percent_encode_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A plain path for annotation tools that take file paths, not URIs (GitHub).
pub(crate) fn plain_relative_path(path: &str) -> String {
    let slashed = path.replace('\\', "/");
    let mut rel = slashed.as_str();
    while let Some(rest) = rel.strip_prefix("./") {
        rel = rest;
    }
    rel.to_owned()
}

#[cfg(test)]
pub(crate) mod fixture;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_round_trip() {
        for &f in Format::ALL {
            assert_eq!(f.as_str().parse::<Format>(), Ok(f));
            assert_eq!(f.to_string(), f.as_str());
        }
        assert_eq!("SARIF".parse::<Format>(), Ok(Format::Sarif));
        let err = "xml".parse::<Format>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown output format `xml` (expected one of: text, json, sarif, junit, github, jsonl, \
             conftest, tap, table)"
        );
    }

    #[test]
    fn format_value_enum_matches_names() {
        use clap::ValueEnum;
        for f in Format::value_variants() {
            let pv = f.to_possible_value().expect("no hidden variants");
            assert_eq!(pv.get_name(), f.as_str());
        }
        assert_eq!(Format::value_variants().len(), Format::ALL.len());
    }

    #[test]
    fn region_moves_end_at_column_one_back() {
        let text = "a: 1\nbb: 22\nc: 3\n";
        let src = &SourceLines::new(text);
        let span = Span::new(Position::new(1, 1), Position::new(3, 1));
        let r = Region::new(span, Some(src));
        assert_eq!(
            r,
            Region {
                start_line: 1,
                start_column: 1,
                end_line: 2,
                end_column: Some(7)
            }
        );
        let r = Region::new(span, None);
        assert_eq!((r.end_line, r.end_column), (2, None));
        // Whole-line span.
        let r = Region::new(Span::line(2), Some(src));
        assert_eq!((r.start_line, r.end_line, r.end_column), (2, 2, Some(7)));
    }

    #[test]
    fn source_lines_strip_terminators() {
        let lines = SourceLines::new("a\r\nbé\n\nlast");
        assert_eq!(lines.line(1), Some("a"));
        assert_eq!(lines.line(2), Some("bé"));
        assert_eq!(lines.line(3), Some(""));
        assert_eq!(lines.line(4), Some("last"));
        assert_eq!(lines.line(5), None);
        assert_eq!(lines.line(0), None);
        assert_eq!(lines.line(u32::MAX), None);
        assert_eq!(lines.line_count(), 4);
        assert_eq!(SourceLines::new("x\n").line(2), Some(""));
    }

    #[test]
    fn region_fixes_reversed_and_zero_positions() {
        let span = Span::new(Position::new(4, 5), Position::new(2, 0));
        let r = Region::new(span, None);
        assert_eq!((r.end_line, r.end_column), (4, Some(5)));
        assert!(r.is_empty());
        let r = Region::new(Span::new(Position::new(0, 0), Position::new(0, 0)), None);
        assert_eq!((r.start_line, r.start_column), (1, 1));
    }

    #[test]
    fn uri_paths_are_relative_references() {
        assert_eq!(uri_path("./k8s/deploy.yaml"), "k8s/deploy.yaml");
        assert_eq!(uri_path("k8s\\my app.yaml"), "k8s/my%20app.yaml");
        assert_eq!(uri_path("/abs/x.yaml"), "file:///abs/x.yaml");
        assert_eq!(uri_path("C:\\x\\y.yaml"), "file:///C:/x/y.yaml");
        assert_eq!(uri_path("dé.yaml"), "d%C3%A9.yaml");
        assert!(is_absolute_uri(&uri_path("/abs")));
    }

    #[test]
    fn colour_rule() {
        use std::ffi::OsStr;
        assert!(ReportOptions::color_for(true, None));
        assert!(ReportOptions::color_for(true, Some(OsStr::new(""))));
        assert!(!ReportOptions::color_for(true, Some(OsStr::new("1"))));
        assert!(!ReportOptions::color_for(false, None));
    }

    #[test]
    fn failing_follows_threshold_and_level() {
        let report = fixture::report();
        let opts = ReportOptions {
            fail_on: Severity::High,
            ..ReportOptions::default()
        };
        for f in &report.findings {
            let expected = f.severity >= Severity::High && f.level == Level::Deny;
            assert_eq!(opts.is_failing(f), expected, "{}", f.rule.id);
        }
        let warn = report
            .findings
            .iter()
            .find(|f| f.level == Level::Warn)
            .expect("fixture has a warn finding");
        let opts = ReportOptions {
            fail_on_warn: true,
            ..ReportOptions::default()
        };
        assert!(opts.is_failing(warn));
    }

    /// A writer whose reader went away.
    struct ClosedPipe;

    impl io::Write for ClosedPipe {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from(io::ErrorKind::BrokenPipe))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn io_errors_keep_their_kind() {
        let report = fixture::report();
        for &format in Format::ALL {
            let err = reporter(format, &ReportOptions::default())
                .write(&report, &mut ClosedPipe)
                .expect_err("writing to a closed pipe fails");
            assert_eq!(err.kind(), io::ErrorKind::BrokenPipe, "{format}");
        }
    }

    /// `docs/output-formats.md` shows the fixture's real output; keep it in sync.
    #[test]
    fn docs_samples_match_reporters() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/output-formats.md");
        let doc = std::fs::read_to_string(&path).expect("docs/output-formats.md exists");
        let report = fixture::report();
        for format in [Format::Text, Format::Junit, Format::Github] {
            let mut out = Vec::new();
            reporter(format, &ReportOptions::default())
                .write(&report, &mut out)
                .expect("writing to a Vec cannot fail");
            let out = String::from_utf8(out).expect("UTF-8 output");
            assert!(
                doc.contains(out.trim_end()),
                "the `{format}` sample in docs/output-formats.md is stale"
            );
        }
        let mut out = Vec::new();
        reporter(Format::Json, &ReportOptions::default())
            .write(&report, &mut out)
            .expect("writing to a Vec cannot fail");
        let full: serde_json::Value = serde_json::from_slice(&out).expect("JSON output");
        let summary = serde_json::to_string_pretty(&full["summary"]).expect("serializable");
        let indented = summary.replace('\n', "\n  ");
        assert!(doc.contains(&indented), "the JSON summary sample is stale");
    }

    #[test]
    fn summary_counts_fixture() {
        let s = Summary::of(&fixture::report());
        assert_eq!(s.findings, 7);
        assert_eq!(s.count(Severity::High), 2);
        assert_eq!(s.count(Severity::Medium), 2);
        assert_eq!(s.count(Severity::Low), 1);
        assert_eq!(s.count(Severity::Critical), 1);
        assert_eq!(s.count(Severity::Info), 1);
        assert_eq!(s.warn, 1);
        assert_eq!(s.errors, 4);
        for kind in ERROR_KINDS {
            assert_eq!(s.error_count(kind), 1);
        }
        assert_eq!(
            (s.evaluated, s.documents, s.skipped, s.failed),
            (2, 3, 1, 1)
        );
    }
}
