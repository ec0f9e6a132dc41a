//! Rendering the results of `policy test` ([`crate::testing::TestRun`]) as text for people
//! and as JSON for scripts. The test runner only returns data; how a failure reads lives
//! here, next to the other reporters.
//!
//! # Text
//!
//! One line per test that did not pass (and per passing test with `verbose`), then a
//! summary:
//!
//! ```text
//! ERROR policies/bad.rego:5:3: rego_parse_error: ...          (what could not be loaded)
//! PASS policies/kubernetes/privileged.yaml: privileged container in a deployment
//! SKIP policies/kubernetes/privileged.yaml: a case for later (not written yet)
//! FAIL policies/kubernetes/privileged.yaml:12: privileged init container
//!   rule K8S001, input manifest.yaml
//!   expected 1 finding:
//!     1. K8S001 8:* message containing "init"
//!   actual 1 finding:
//!     1. K8S001 9:25 container "app" sets privileged: true
//!   mismatch: finding 1: expected line 8, got 9
//!   mismatch: finding 1: message does not contain "init"
//!
//! 10 passed, 1 failed, 1 errors, 1 skipped
//! ```
//!
//! # Wire format (JSON)
//!
//! One pretty-printed JSON object followed by a newline:
//!
//! * `version` (integer, [`WIRE_VERSION`]): changes only when a field is removed or
//!   changes meaning; consumers must ignore fields they do not know.
//! * `tool`: `name` (`"policy"`) and `version`.
//! * `summary`: `tests` (tests run or skipped), `passed`, `failed`, `errors` (tests that
//!   ended in an error plus the records of `errors[]`), `skipped`, `filtered` (tests left
//!   out by `--run`).
//! * `tests[]`, sorted by file then position:
//!   * `type`: `case` or `rego`; `name`: a case's `note`, a Rego test's
//!     `data.<package>.<rule>`; `file`, `line`, `column`: where the case or rule starts.
//!   * `rule` and `input` (cases; `null` for Rego tests): the rule ID and the file name the
//!     input was parsed as.
//!   * `status`: `pass`, `fail`, `error` or `skip`.
//!   * `message` (string; absent when passed): the skip reason, the error, or a one-line
//!     account of the failure.
//!   * For a failed case: `expected` (`{"findings": [{line, column, message}]}` with
//!     `null` for an unchecked line or column, or `{"error": "text"}`), `actual`
//!     (`{"findings": [{rule, line, column, end_line, end_column, message}], "errors":
//!     [error]}`) and, for `findings`, `mismatches` (array of strings, as the text
//!     format prints them).
//!   * For an errored case: `actual` with the unexpected `errors`.
//!   * For a failed Rego test: `value`: `false`, `undefined` or the JSON text of the value.
//!   * For an errored Rego test: `errors` (array of error).
//! * `errors[]`: what could not be loaded (policies that do not compile, malformed case
//!   files, case files whose rule is not loaded). Each error has the fields of the `eval`
//!   JSON format's errors: `id`, `kind`, `file`, `line`, `column`, `rule`, `input`,
//!   `message`.

use std::io;

use serde::Serialize;

use super::json::WireError;
use super::TOOL_NAME;
use crate::diagnostics::ErrorRecord;
use crate::runtimes::rego::TestValue;
use crate::testing::{
    ActualFinding, Failure, Mismatch, Outcome, TestKind, TestResult, TestRun, Want,
};

/// The version of the test results' JSON wire format.
pub const WIRE_VERSION: u32 = 1;

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn position_of(v: Option<u32>) -> String {
    v.map_or_else(|| "*".to_string(), |n| n.to_string())
}

/// `1. DF001 4:* message containing "alpine"`.
fn expected_line(rule: &str, index: usize, w: &Want) -> String {
    format!(
        "{}. {rule} {}:{} message containing {:?}",
        index + 1,
        position_of(w.line),
        position_of(w.column),
        w.message
    )
}

/// `1. DF001 1:6 base image "golang:latest" is not pinned`.
fn actual_line(index: usize, f: &ActualFinding) -> String {
    format!(
        "{}. {} {}:{} {}",
        index + 1,
        f.rule,
        f.start.line,
        f.start.column,
        f.message
    )
}

fn error_line(e: &ErrorRecord) -> String {
    format!(
        "{} {}:{}:{}: {}",
        e.kind.id(),
        e.file,
        e.line,
        e.column,
        e.message
    )
}

/// One mismatch, as printed after `mismatch: ` (and in JSON `mismatches`).
pub fn describe_mismatch(m: &Mismatch) -> String {
    match m {
        Mismatch::Count { expected, actual } => {
            format!("expected {}, got {actual}", plural(*expected, "finding"))
        }
        Mismatch::Line {
            index,
            expected,
            actual,
        } => format!(
            "finding {}: expected line {expected}, got {actual}",
            index + 1
        ),
        Mismatch::Column {
            index,
            expected,
            actual,
        } => format!(
            "finding {}: expected column {expected}, got {actual}",
            index + 1
        ),
        Mismatch::Message {
            index, expected, ..
        } => format!(
            "finding {}: message does not contain {expected:?}",
            index + 1
        ),
    }
}

fn describe_value(v: &TestValue) -> String {
    match v {
        TestValue::True => "true".into(),
        TestValue::False => "false".into(),
        TestValue::Undefined => "undefined".into(),
        TestValue::Other(s) => s.clone(),
    }
}

/// A one-line account of a failure (the JSON `message`).
pub fn failure_summary(t: &TestResult, f: &Failure) -> String {
    match f {
        Failure::Findings { mismatches, .. } => mismatches
            .iter()
            .map(describe_mismatch)
            .collect::<Vec<_>>()
            .join("; "),
        Failure::MissingError {
            expected, errors, ..
        } => format!(
            "expected an error containing {expected:?}, got {}",
            plural(errors.len(), "error")
        ),
        Failure::Rego { value } => {
            let rule = t.name.rsplit('.').next().unwrap_or(&t.name);
            match value {
                TestValue::False => format!("{rule} is false"),
                TestValue::Undefined => {
                    format!("{rule} is undefined (an expression in its body does not hold)")
                }
                other => format!("{rule} is {}, not true", describe_value(other)),
            }
        }
    }
}

/// Writes the text form of `run`. Passing tests are listed only when `verbose`.
pub fn write_text(run: &TestRun, verbose: bool, out: &mut dyn io::Write) -> io::Result<()> {
    for e in &run.errors {
        writeln!(
            out,
            "ERROR {}:{}:{}: {}",
            e.file, e.line, e.column, e.message
        )?;
    }
    for t in &run.tests {
        match &t.outcome {
            Outcome::Pass => {
                if verbose {
                    writeln!(out, "PASS {}: {}", t.file, t.name)?;
                }
            }
            Outcome::Skip(reason) => writeln!(out, "SKIP {}: {} ({reason})", t.file, t.name)?,
            Outcome::Fail(f) => {
                writeln!(out, "FAIL {}:{}: {}", t.file, t.position.line, t.name)?;
                write_case_context(t, out)?;
                write_failure(t, f, out)?;
            }
            Outcome::Error { message, errors } => {
                writeln!(out, "ERROR {}:{}: {}", t.file, t.position.line, t.name)?;
                write_case_context(t, out)?;
                let shown: Vec<&ErrorRecord> =
                    errors.iter().filter(|e| e.message != *message).collect();
                if shown.is_empty() {
                    writeln!(out, "  {message}")?;
                } else {
                    writeln!(out, "  {message}:")?;
                    for e in shown {
                        writeln!(out, "    {}", error_line(e))?;
                    }
                }
            }
        }
    }
    let s = run.summary();
    if !run.errors.is_empty() || s.failed + s.errors + s.skipped > 0 {
        writeln!(out)?;
    }
    write!(
        out,
        "{} passed, {} failed, {} errors, {} skipped",
        s.passed, s.failed, s.errors, s.skipped
    )?;
    if run.filtered > 0 {
        write!(out, " ({} filtered out)", run.filtered)?;
    }
    writeln!(out)
}

fn write_case_context(t: &TestResult, out: &mut dyn io::Write) -> io::Result<()> {
    if let (Some(rule), Some(input)) = (&t.rule, &t.input) {
        writeln!(out, "  rule {rule}, input {input}")?;
    }
    Ok(())
}

fn write_failure(t: &TestResult, f: &Failure, out: &mut dyn io::Write) -> io::Result<()> {
    let rule = t.rule.as_deref().unwrap_or_default();
    let write_actual = |actual: &[ActualFinding], out: &mut dyn io::Write| -> io::Result<()> {
        let colon = if actual.is_empty() { "" } else { ":" };
        writeln!(out, "  actual {}{colon}", plural(actual.len(), "finding"))?;
        for (i, a) in actual.iter().enumerate() {
            writeln!(out, "    {}", actual_line(i, a))?;
        }
        Ok(())
    };
    match f {
        Failure::Findings {
            expected,
            actual,
            mismatches,
        } => {
            let colon = if expected.is_empty() { "" } else { ":" };
            writeln!(
                out,
                "  expected {}{colon}",
                plural(expected.len(), "finding")
            )?;
            for (i, w) in expected.iter().enumerate() {
                writeln!(out, "    {}", expected_line(rule, i, w))?;
            }
            write_actual(actual, out)?;
            for m in mismatches {
                writeln!(out, "  mismatch: {}", describe_mismatch(m))?;
            }
        }
        Failure::MissingError {
            expected,
            errors,
            actual,
        } => {
            writeln!(out, "  expected an error containing {expected:?}")?;
            let colon = if errors.is_empty() { "" } else { ":" };
            writeln!(out, "  actual {}{colon}", plural(errors.len(), "error"))?;
            for e in errors {
                writeln!(out, "    {}", error_line(e))?;
            }
            write_actual(actual, out)?;
        }
        Failure::Rego { .. } => writeln!(out, "  {}", failure_summary(t, f))?,
    }
    Ok(())
}

/// Writes the JSON wire format of `run` (see the module documentation).
pub fn write_json(run: &TestRun, tool_version: &str, out: &mut dyn io::Write) -> io::Result<()> {
    let s = run.summary();
    let wire = Wire {
        version: WIRE_VERSION,
        tool: Tool {
            name: TOOL_NAME,
            version: tool_version,
        },
        summary: WireSummary {
            tests: run.tests.len(),
            passed: s.passed,
            failed: s.failed,
            errors: s.errors,
            skipped: s.skipped,
            filtered: run.filtered,
        },
        tests: run.tests.iter().map(WireTest::new).collect(),
        errors: run.errors.iter().map(WireError::new).collect(),
    };
    serde_json::to_writer_pretty(&mut *out, &wire).map_err(io::Error::from)?;
    writeln!(out)
}

#[derive(Serialize)]
struct Wire<'a> {
    version: u32,
    tool: Tool<'a>,
    summary: WireSummary,
    tests: Vec<WireTest<'a>>,
    errors: Vec<WireError<'a>>,
}

#[derive(Serialize)]
struct Tool<'a> {
    name: &'a str,
    version: &'a str,
}

#[derive(Serialize)]
struct WireSummary {
    tests: usize,
    passed: usize,
    failed: usize,
    errors: usize,
    skipped: usize,
    filtered: usize,
}

#[derive(Serialize)]
struct WireTest<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    name: &'a str,
    file: &'a str,
    line: u32,
    column: u32,
    rule: Option<&'a str>,
    input: Option<&'a str>,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expected: Option<WireExpected<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    actual: Option<WireActual<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mismatches: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<Vec<WireError<'a>>>,
}

#[derive(Serialize)]
#[serde(rename_all = "lowercase")]
enum WireExpected<'a> {
    Findings(&'a [Want]),
    Error(&'a str),
}

#[derive(Serialize)]
struct WireActual<'a> {
    findings: Vec<WireFinding<'a>>,
    errors: Vec<WireError<'a>>,
}

#[derive(Serialize)]
struct WireFinding<'a> {
    rule: &'a str,
    line: u32,
    column: u32,
    end_line: u32,
    end_column: u32,
    message: &'a str,
}

impl<'a> WireFinding<'a> {
    fn new(f: &'a ActualFinding) -> Self {
        WireFinding {
            rule: &f.rule,
            line: f.start.line,
            column: f.start.column,
            end_line: f.end.line,
            end_column: f.end.column,
            message: &f.message,
        }
    }
}

impl<'a> WireTest<'a> {
    fn new(t: &'a TestResult) -> Self {
        let mut w = WireTest {
            kind: match t.kind {
                TestKind::Case => "case",
                TestKind::Rego => "rego",
            },
            name: &t.name,
            file: &t.file,
            line: t.position.line,
            column: t.position.column,
            rule: t.rule.as_deref(),
            input: t.input.as_deref(),
            status: "pass",
            message: None,
            expected: None,
            actual: None,
            mismatches: None,
            value: None,
            errors: None,
        };
        match &t.outcome {
            Outcome::Pass => {}
            Outcome::Skip(reason) => {
                w.status = "skip";
                w.message = Some(reason.clone());
            }
            Outcome::Fail(f) => {
                w.status = "fail";
                w.message = Some(failure_summary(t, f));
                match f {
                    Failure::Findings {
                        expected,
                        actual,
                        mismatches,
                    } => {
                        w.expected = Some(WireExpected::Findings(expected));
                        w.actual = Some(WireActual {
                            findings: actual.iter().map(WireFinding::new).collect(),
                            errors: Vec::new(),
                        });
                        w.mismatches = Some(mismatches.iter().map(describe_mismatch).collect());
                    }
                    Failure::MissingError {
                        expected,
                        errors,
                        actual,
                    } => {
                        w.expected = Some(WireExpected::Error(expected));
                        w.actual = Some(WireActual {
                            findings: actual.iter().map(WireFinding::new).collect(),
                            errors: errors.iter().map(WireError::new).collect(),
                        });
                    }
                    Failure::Rego { value } => w.value = Some(describe_value(value)),
                }
            }
            Outcome::Error { message, errors } => {
                w.status = "error";
                w.message = Some(message.clone());
                let errors: Vec<WireError<'a>> = errors.iter().map(WireError::new).collect();
                match t.kind {
                    TestKind::Case => {
                        w.actual = Some(WireActual {
                            findings: Vec::new(),
                            errors,
                        })
                    }
                    TestKind::Rego => w.errors = Some(errors),
                }
            }
        }
        w
    }
}
