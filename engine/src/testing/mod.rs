//! Testing policies without Rust: what `policy test` runs, and what the repository's own
//! harness (`tests/cases.rs`) runs on the built-in rules, so that there is one
//! implementation of "does this rule do what its cases say".
//!
//! Two kinds of tests are found under the policy paths:
//!
//! * **Case files** ([`cases`]): YAML files with `rule:` and `cases:`. Each case parses
//!   its `input` as a file (kind from `filename`, else from the rule's first kind),
//!   evaluates it with every loaded policy (Rego and WASM alike) and compares the findings
//!   *of that rule* with `want` exactly: count, order, line, optional column and a
//!   message substring. `error:` expects an error record containing a text; `skip:`
//!   reports the case as skipped.
//! * **Rego unit tests**: rules named `test_*` in the loaded packages, as `opa test` runs
//!   them. Each is evaluated with no input; it passes when it is `true`, fails when it is
//!   `false` or undefined, and is an error when it fails to evaluate or times out.
//!   `todo_test_*` rules are reported as skipped.
//!
//! This module only runs tests and returns data ([`TestRun`]); rendering it as text or
//! JSON belongs to [`crate::report::testing`], and exit codes to the CLI.

pub mod cases;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::diagnostics::{ErrorKind, ErrorRecord, Finding};
use crate::eval::{self, PolicyOptions, PolicySet, Worker};
use crate::inputs::{self, LoadOptions};
use crate::runtimes::rego::{RegoTest, TestValue};
use crate::source::Position;

pub use cases::{Case, CaseFile, Expect, Want};

include!(concat!(env!("OUT_DIR"), "/builtin_cases.rs"));

/// A case file's text and the path it is shown under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseSource {
    /// The path, as shown in messages (`policies/...` for the built-in ones).
    pub path: String,
    /// The YAML text.
    pub text: String,
}

/// The case files of the built-in policies, embedded in the binary at build time.
pub fn builtin_case_sources() -> Vec<CaseSource> {
    BUILTIN_CASES
        .iter()
        .map(|(path, text)| CaseSource {
            path: (*path).to_string(),
            text: (*text).to_string(),
        })
        .collect()
}

fn is_yaml(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
}

/// Every `*.yaml`/`*.yml` file under `paths` (walked like policy paths: recursively,
/// honouring `.gitignore`), sorted per path. Whether each is a case file is decided when
/// it is parsed. A path that does not exist is left to the policy loader to report.
pub fn find_case_sources(paths: &[PathBuf], errors: &mut Vec<ErrorRecord>) -> Vec<CaseSource> {
    let mut out = Vec::new();
    for root in paths {
        let mut files = Vec::new();
        if root.is_file() {
            if is_yaml(root) {
                files.push(root.clone());
            }
        } else if root.is_dir() {
            for entry in ignore::WalkBuilder::new(root)
                .hidden(false)
                .require_git(false)
                .build()
            {
                match entry {
                    Ok(e) if e.path().is_file() && is_yaml(e.path()) => {
                        files.push(e.path().to_path_buf())
                    }
                    Ok(_) => {}
                    Err(e) => errors.push(load_error(
                        &root.display().to_string(),
                        Position::START,
                        format!("cannot walk directory: {e}"),
                    )),
                }
            }
            files.sort();
        }
        for file in files {
            let path = file.display().to_string();
            match std::fs::read_to_string(&file) {
                Ok(text) => out.push(CaseSource { path, text }),
                Err(e) => {
                    // Unreadable YAML may or may not be a case file: say so rather than guess.
                    errors.push(load_error(
                        &path,
                        Position::START,
                        format!("cannot read YAML file: {e}"),
                    ));
                }
            }
        }
    }
    out
}

fn load_error(file: &str, pos: Position, message: impl Into<String>) -> ErrorRecord {
    ErrorRecord {
        kind: ErrorKind::PolicyError,
        file: file.to_string(),
        line: pos.line,
        column: pos.column,
        rule: None,
        input: None,
        message: message.into(),
    }
}

/// Parses `text` as if it were the file `filename` (its name decides the format and kind,
/// else its content does) and evaluates every document with `set`. Findings come back
/// sorted by position, rule ID and message; errors include parse errors.
pub fn evaluate_text(
    set: &PolicySet,
    worker: &mut Worker,
    filename: &str,
    text: &str,
) -> (Vec<Finding>, Vec<ErrorRecord>) {
    let opts = LoadOptions::default();
    let format = inputs::format_from_name(Path::new(filename))
        .or_else(|| inputs::format_from_content(text))
        .unwrap_or(inputs::Format::Yaml);
    let report = inputs::load_text(filename, text, format, &opts);
    let mut errors: Vec<ErrorRecord> = report.errors.into_iter().map(ErrorRecord::from).collect();
    // The documents of a case are one run: cross-document rules see all of them.
    let docs: Vec<&inputs::Document> = report.documents.iter().collect();
    let (findings, e) = eval::evaluate_documents(set, worker, &docs);
    let mut findings = findings;
    errors.extend(e);
    findings.sort_by(|a, b| {
        (a.location.span.start, &a.rule.id, &a.message).cmp(&(
            b.location.span.start,
            &b.rule.id,
            &b.message,
        ))
    });
    (findings, errors)
}

/// What to test.
#[derive(Debug, Clone, Default)]
pub struct TestOptions {
    /// The policies to load. Case files are searched for under `policies.paths`; a case
    /// file given directly as a path is run with the policies of its directory.
    pub policies: PolicyOptions,
    /// Also run the built-in case files (set `policies.builtin` too, so that their rules
    /// are loaded).
    pub builtin_cases: bool,
    /// Run only the tests this matches (see [`TestRun`] for what it is matched against).
    pub filter: Option<regex::Regex>,
    /// Run only the Rego unit tests of packages matching one of these globs (conftest
    /// `verify --namespace`); empty means every package. Case files are not affected.
    pub namespaces: Vec<globset::GlobMatcher>,
    /// Explain each Rego test ([`TestResult::trace`]): `policy test --trace`.
    pub trace: bool,
}

/// Which kind of test a result is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TestKind {
    /// A case of a case file.
    Case,
    /// A Rego `test_*` rule.
    Rego,
}

/// A finding as a case compares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActualFinding {
    /// The rule ID.
    pub rule: String,
    /// Where it starts.
    pub start: Position,
    /// Where it ends (exclusive).
    pub end: Position,
    /// The message.
    pub message: String,
}

impl From<&Finding> for ActualFinding {
    fn from(f: &Finding) -> Self {
        ActualFinding {
            rule: f.rule.id.clone(),
            start: f.location.span.start,
            end: f.location.span.end,
            message: f.message.clone(),
        }
    }
}

/// One difference between the expected and the actual findings of a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// A different number of findings (then no finding is compared).
    Count {
        /// Expected.
        expected: usize,
        /// Got.
        actual: usize,
    },
    /// Finding `index` (0-based) starts on another line.
    Line {
        /// 0-based index of the finding.
        index: usize,
        /// Expected.
        expected: u32,
        /// Got.
        actual: u32,
    },
    /// Finding `index` starts at another column.
    Column {
        /// 0-based index of the finding.
        index: usize,
        /// Expected.
        expected: u32,
        /// Got.
        actual: u32,
    },
    /// Finding `index`'s message does not contain the expected text.
    Message {
        /// 0-based index of the finding.
        index: usize,
        /// The expected substring.
        expected: String,
        /// The message.
        actual: String,
    },
}

/// Why a test failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// A case's findings differ from its `want`.
    Findings {
        /// `want`.
        expected: Vec<Want>,
        /// The rule's findings, in order.
        actual: Vec<ActualFinding>,
        /// Every difference (only the count when the counts differ).
        mismatches: Vec<Mismatch>,
    },
    /// A case expected an error and none contained the text.
    MissingError {
        /// The expected substring.
        expected: String,
        /// The errors there were.
        errors: Vec<ErrorRecord>,
        /// The rule's findings.
        actual: Vec<ActualFinding>,
    },
    /// A Rego test rule was not `true`.
    Rego {
        /// What it evaluated to.
        value: TestValue,
    },
}

/// How a test ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// It passed.
    Pass,
    /// It was not run (`skip:`, or a `todo_test_*` rule), for this reason.
    Skip(String),
    /// It ran and the result was wrong.
    Fail(Failure),
    /// It could not run to a result: unexpected errors while evaluating a case's input
    /// (a parse error, a rule error, a timeout), or a Rego test rule that failed to
    /// evaluate.
    Error {
        /// What happened, in one line.
        message: String,
        /// The error records involved.
        errors: Vec<ErrorRecord>,
    },
}

/// The result of one test.
#[derive(Debug, Clone, PartialEq)]
pub struct TestResult {
    /// Case or Rego test.
    pub kind: TestKind,
    /// The test's name: a case's `note`, a Rego test's `data.<package>.<rule>`.
    pub name: String,
    /// The case file or Rego file.
    pub file: String,
    /// Where the case or the test rule starts.
    pub position: Position,
    /// A case's rule ID.
    pub rule: Option<String>,
    /// The file name a case's input was parsed as.
    pub input: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// What a Rego test wrote with `print()`, each line `policy.rego:LINE: message`.
    pub prints: Vec<String>,
    /// With [`TestOptions::trace`], a Rego test's explanation: its value and the rules
    /// evaluated on the way (`data.main.test_x: true; evaluated …`).
    pub trace: Option<String>,
}

/// A case file that was found, and the rule it tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseFileSummary {
    /// The file.
    pub path: String,
    /// Its rule ID.
    pub rule: String,
    /// Its number of cases.
    pub cases: usize,
}

/// Everything a test run found out.
///
/// A test is selected by [`TestOptions::filter`] when the regex matches `<file>: <name>`
/// (a case's note, a Rego test's `data.<package>.<rule>`) or a case's rule ID.
#[derive(Debug, Clone, Default)]
pub struct TestRun {
    /// The selected tests, sorted by file and position.
    pub tests: Vec<TestResult>,
    /// What could not be loaded: policies that do not compile, malformed case files,
    /// case files whose rule is not loaded.
    pub errors: Vec<ErrorRecord>,
    /// Every well-formed case file found.
    pub case_files: Vec<CaseFileSummary>,
    /// Tests left out by the filter.
    pub filtered: usize,
}

/// Counts of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TestSummary {
    /// Tests that passed.
    pub passed: usize,
    /// Tests that failed.
    pub failed: usize,
    /// Tests that ended in an error, plus load errors.
    pub errors: usize,
    /// Tests that were skipped.
    pub skipped: usize,
}

impl TestRun {
    /// The counts.
    pub fn summary(&self) -> TestSummary {
        let mut s = TestSummary {
            errors: self.errors.len(),
            ..TestSummary::default()
        };
        for t in &self.tests {
            match t.outcome {
                Outcome::Pass => s.passed += 1,
                Outcome::Skip(_) => s.skipped += 1,
                Outcome::Fail(_) => s.failed += 1,
                Outcome::Error { .. } => s.errors += 1,
            }
        }
        s
    }
}

/// Policy sets by case `data` (index 0: the base set, without case data).
struct DataSets<'a> {
    base_opts: &'a PolicyOptions,
    sets: Vec<(Option<serde_json::Value>, PolicySet)>,
}

impl DataSets<'_> {
    fn index(&mut self, data: Option<&serde_json::Value>) -> usize {
        if let Some(i) = self.sets.iter().position(|(d, _)| d.as_ref() == data) {
            return i;
        }
        let mut opts = self.base_opts.clone();
        opts.extra_data.extend(data.cloned());
        self.sets.push((data.cloned(), PolicySet::load(&opts)));
        self.sets.len() - 1
    }

    /// Errors of set `i` that the base set does not have (caused by the case's data).
    fn own_errors(&self, i: usize) -> Vec<ErrorRecord> {
        let base = &self.sets[0].1.errors;
        self.sets[i]
            .1
            .errors
            .iter()
            .filter(|e| !base.contains(e))
            .cloned()
            .collect()
    }
}

/// One case to run: the case, its file, the set to run it in and its input file name.
struct CaseJob<'a> {
    file: &'a CaseFile,
    case: &'a Case,
    set: usize,
    filename: String,
}

/// Runs every selected test. Never fails as a whole: what cannot be loaded or run is in
/// [`TestRun::errors`] or an [`Outcome::Error`].
pub fn run(opts: &TestOptions) -> TestRun {
    let mut errors = Vec::new();
    let mut sources = if opts.builtin_cases {
        builtin_case_sources()
    } else {
        Vec::new()
    };
    sources.extend(find_case_sources(&opts.policies.paths, &mut errors));
    // A case file given directly brings the policies of its directory.
    let mut policies = opts.policies.clone();
    let mut paths: Vec<PathBuf> = Vec::new();
    for p in &opts.policies.paths {
        let p = if p.is_file() && is_yaml(p) {
            match p.parent() {
                Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
                _ => PathBuf::from("."),
            }
        } else {
            p.clone()
        };
        if !paths.contains(&p) {
            paths.push(p);
        }
    }
    policies.paths = paths;

    let mut files = Vec::new();
    for src in &sources {
        match cases::parse(&src.path, &src.text) {
            Ok(Some(f)) => files.push(f),
            Ok(None) => {}
            Err(e) => errors.extend(e),
        }
    }
    let case_files = files
        .iter()
        .map(|f| CaseFileSummary {
            path: f.path.clone(),
            rule: f.rule.clone(),
            cases: f.cases.len(),
        })
        .collect();

    let base = PolicySet::load(&policies);
    errors.extend(base.errors.iter().cloned());
    let mut sets = DataSets {
        base_opts: &policies,
        sets: vec![(None, base)],
    };

    let selected = |names: &[&str]| {
        opts.filter
            .as_ref()
            .is_none_or(|re| names.iter().any(|n| re.is_match(n)))
    };
    let mut filtered = 0;

    // Cases: pick, then load the policy set each one needs.
    let mut jobs = Vec::new();
    for file in &files {
        let picked: Vec<&Case> = file
            .cases
            .iter()
            .filter(|c| {
                let keep = selected(&[&format!("{}: {}", file.path, c.note), &file.rule]);
                filtered += usize::from(!keep);
                keep
            })
            .collect();
        if picked.is_empty() {
            continue;
        }
        let set_of: Vec<usize> = picked.iter().map(|c| sets.index(c.data.as_ref())).collect();
        // The rule's metadata, from the base set or any set this file's cases use (an
        // opt-in rule is loaded only with the data that turns it on).
        let meta = std::iter::once(0)
            .chain(set_of.iter().copied())
            .find_map(|i| {
                sets.sets[i]
                    .1
                    .rules()
                    .into_iter()
                    .find(|r| r.id == file.rule)
            });
        let Some(meta) = meta else {
            errors.push(ErrorRecord {
                rule: Some(file.rule.clone()),
                ..load_error(
                    &file.path,
                    file.rule_position,
                    format!(
                        "rule {} is not defined by the loaded policies, so its cases cannot run",
                        file.rule
                    ),
                )
            });
            continue;
        };
        let default = cases::default_filename(meta.kinds.first().copied());
        for (case, set) in picked.into_iter().zip(set_of) {
            jobs.push(CaseJob {
                file,
                case,
                set,
                filename: case.filename.clone().unwrap_or_else(|| default.to_string()),
            });
        }
    }
    let own_errors: Vec<Vec<ErrorRecord>> =
        (0..sets.sets.len()).map(|i| sets.own_errors(i)).collect();
    let sets = &sets.sets;
    let mut tests: Vec<TestResult> = jobs
        .par_iter()
        .map_init(HashMap::<usize, Worker>::new, |workers, job| {
            let set = &sets[job.set].1;
            let worker = workers.entry(job.set).or_insert_with(|| Worker::new(set));
            run_case(set, worker, job, &own_errors[job.set])
        })
        .collect();

    // Rego unit tests of the base set.
    let base = &sets[0].1;
    let rego_tests: Vec<&RegoTest> = base
        .rego
        .tests
        .iter()
        .filter(|t| {
            opts.namespaces.is_empty() || opts.namespaces.iter().any(|g| g.is_match(&t.package))
        })
        .filter(|t| {
            let keep = selected(&[&format!("{}: {}", t.file, t.query())]);
            filtered += usize::from(!keep);
            keep
        })
        .collect();
    tests.extend(
        rego_tests
            .par_iter()
            .map_init(
                || base.rego.evaluator(),
                |ev, t| run_rego_test(ev, t, opts.trace),
            )
            .collect::<Vec<_>>(),
    );
    tests.sort_by(|a, b| (&a.file, a.position).cmp(&(&b.file, b.position)));
    errors.sort_by(|a, b| {
        (&a.file, a.line, a.column, &a.message).cmp(&(&b.file, b.line, b.column, &b.message))
    });
    errors.dedup();
    TestRun {
        tests,
        errors,
        case_files,
        filtered,
    }
}

fn run_case(
    set: &PolicySet,
    worker: &mut Worker,
    job: &CaseJob<'_>,
    data_errors: &[ErrorRecord],
) -> TestResult {
    let case = job.case;
    let rule = &job.file.rule;
    let outcome = if let Expect::Skip(reason) = &case.expect {
        Outcome::Skip(reason.clone())
    } else if !data_errors.is_empty() {
        Outcome::Error {
            message: "the case's data could not be loaded".into(),
            errors: data_errors.to_vec(),
        }
    } else {
        let (findings, errors) = evaluate_text(set, worker, &job.filename, &case.input);
        let actual: Vec<ActualFinding> = findings
            .iter()
            .filter(|f| f.rule.id == *rule)
            .map(ActualFinding::from)
            .collect();
        compare(&case.expect, actual, errors)
    };
    TestResult {
        kind: TestKind::Case,
        name: case.note.clone(),
        file: job.file.path.clone(),
        position: case.position,
        rule: Some(rule.clone()),
        input: Some(job.filename.clone()),
        outcome,
        prints: Vec::new(),
        trace: None,
    }
}

/// Compares what a case expects with what its input produced.
fn compare(expect: &Expect, actual: Vec<ActualFinding>, errors: Vec<ErrorRecord>) -> Outcome {
    match expect {
        Expect::Skip(reason) => Outcome::Skip(reason.clone()),
        Expect::Error(text) => {
            if errors.iter().any(|e| e.message.contains(text.as_str())) {
                Outcome::Pass
            } else {
                Outcome::Fail(Failure::MissingError {
                    expected: text.clone(),
                    errors,
                    actual,
                })
            }
        }
        Expect::Findings(want) => {
            if !errors.is_empty() {
                let n = errors.len();
                return Outcome::Error {
                    message: format!(
                        "evaluating the input gave {n} unexpected error{}",
                        if n == 1 { "" } else { "s" }
                    ),
                    errors,
                };
            }
            let mut mismatches = Vec::new();
            if want.len() != actual.len() {
                mismatches.push(Mismatch::Count {
                    expected: want.len(),
                    actual: actual.len(),
                });
            } else {
                for (index, (w, g)) in want.iter().zip(&actual).enumerate() {
                    if let Some(line) = w.line.filter(|l| *l != g.start.line) {
                        mismatches.push(Mismatch::Line {
                            index,
                            expected: line,
                            actual: g.start.line,
                        });
                    }
                    if let Some(column) = w.column.filter(|c| *c != g.start.column) {
                        mismatches.push(Mismatch::Column {
                            index,
                            expected: column,
                            actual: g.start.column,
                        });
                    }
                    if !g.message.contains(&w.message) {
                        mismatches.push(Mismatch::Message {
                            index,
                            expected: w.message.clone(),
                            actual: g.message.clone(),
                        });
                    }
                }
            }
            if mismatches.is_empty() {
                Outcome::Pass
            } else {
                Outcome::Fail(Failure::Findings {
                    expected: want.clone(),
                    actual,
                    mismatches,
                })
            }
        }
    }
}

fn run_rego_test(
    ev: &mut crate::runtimes::rego::RegoEvaluator,
    t: &RegoTest,
    trace: bool,
) -> TestResult {
    let outcome = if t.todo {
        Outcome::Skip("a todo_test_ rule (not run)".into())
    } else {
        match ev.run_test(t) {
            Ok(TestValue::True) => Outcome::Pass,
            Ok(value) => Outcome::Fail(Failure::Rego { value }),
            Err(f) => Outcome::Error {
                message: f.message.clone(),
                errors: vec![ErrorRecord {
                    kind: if f.timeout {
                        ErrorKind::RuleTimeout
                    } else {
                        ErrorKind::RuleError
                    },
                    file: t.file.clone(),
                    line: t.line,
                    column: 1,
                    rule: Some(t.query()),
                    input: None,
                    message: f.message,
                }],
            },
        }
    };
    TestResult {
        kind: TestKind::Rego,
        name: t.query(),
        file: t.file.clone(),
        position: Position::new(t.line, 1),
        rule: None,
        input: None,
        outcome,
        prints: ev.take_prints(),
        trace: trace.then(|| ev.trace_test(t)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(line: u32, column: u32, message: &str) -> ActualFinding {
        ActualFinding {
            rule: "X1".into(),
            start: Position::new(line, column),
            end: Position::new(line, column + 1),
            message: message.into(),
        }
    }

    fn want(line: Option<u32>, column: Option<u32>, message: &str) -> Want {
        Want {
            line,
            column,
            message: message.into(),
        }
    }

    #[test]
    fn findings_compare_by_count_then_position_and_message() {
        let got = vec![finding(3, 5, "image is not pinned")];
        let pass = compare(
            &Expect::Findings(vec![want(Some(3), None, "not pinned")]),
            got.clone(),
            Vec::new(),
        );
        assert_eq!(pass, Outcome::Pass);
        let Outcome::Fail(Failure::Findings { mismatches, .. }) = compare(
            &Expect::Findings(vec![want(Some(4), Some(6), "latest")]),
            got.clone(),
            Vec::new(),
        ) else {
            panic!("expected a failure");
        };
        assert_eq!(
            mismatches,
            vec![
                Mismatch::Line {
                    index: 0,
                    expected: 4,
                    actual: 3
                },
                Mismatch::Column {
                    index: 0,
                    expected: 6,
                    actual: 5
                },
                Mismatch::Message {
                    index: 0,
                    expected: "latest".into(),
                    actual: "image is not pinned".into()
                },
            ]
        );
        let Outcome::Fail(Failure::Findings { mismatches, .. }) =
            compare(&Expect::Findings(Vec::new()), got, Vec::new())
        else {
            panic!("expected a failure");
        };
        assert_eq!(
            mismatches,
            vec![Mismatch::Count {
                expected: 0,
                actual: 1
            }]
        );
    }

    #[test]
    fn errors_fail_want_cases_and_satisfy_error_cases() {
        let err = load_error(
            "Dockerfile",
            Position::START,
            "cannot parse: unknown instruction",
        );
        assert!(matches!(
            compare(&Expect::Findings(Vec::new()), Vec::new(), vec![err.clone()]),
            Outcome::Error { .. }
        ));
        assert_eq!(
            compare(
                &Expect::Error("unknown instruction".into()),
                Vec::new(),
                vec![err.clone()]
            ),
            Outcome::Pass
        );
        assert!(matches!(
            compare(&Expect::Error("other".into()), Vec::new(), vec![err]),
            Outcome::Fail(Failure::MissingError { .. })
        ));
    }

    #[test]
    fn builtin_case_files_are_embedded() {
        let sources = builtin_case_sources();
        assert!(sources
            .iter()
            .any(|s| s.path == "policies/dockerfile/latest_tag.yaml"));
        assert!(sources.iter().all(|s| s.path.starts_with("policies/")));
    }
}
