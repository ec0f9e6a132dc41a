//! The `conftest` format: conftest's standard output, for teams whose scripts, CI logs
//! and habits expect it (`policy eval --conftest` uses it by default).
//!
//! One line per result, grouped by input file and Rego package (conftest's namespace),
//! warnings first, then failures, then the exceptions that applied, then a summary that
//! counts tests the way conftest does: every definition (body) of a `deny`/`violation`/
//! `warn` rule evaluated on a document is a test, and the tests that produced no result
//! passed.
//!
//! ```text
//! WARN - service.yaml - main - Found service hello-kubernetes but services are not allowed
//! FAIL - deployments.yaml - main - Containers must not run as root in Deployment web
//! EXCP - deployments.yaml - main - data.main.exception[_][_] == "run_as_root"
//!
//! 7 tests, 4 passed, 1 warning, 1 failure, 1 exception
//! ```
//!
//! conftest has no findings without a package, no locations and no error records; here a
//! WASM or built-in finding is listed under its rule's package (or its rule ID), and an
//! error record as an `ERR` line with its `file:line:col` (errors still exit 2).

use std::collections::{BTreeMap, BTreeSet};
use std::io;

use anstyle::{AnsiColor, Style};

use super::{ReportOptions, Reporter};
use crate::diagnostics::{Finding, Level, Report, RuleException};

/// conftest's own switches that change what this format shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConftestOptions {
    /// `--suppress-exceptions`: count exceptions but do not list them.
    pub suppress_exceptions: bool,
    /// `--quiet`: print nothing when nothing failed, warned or errored.
    pub quiet: bool,
}

/// Writes conftest's standard output.
#[derive(Debug, Clone)]
pub struct ConftestReporter {
    opts: ReportOptions,
    conftest: ConftestOptions,
}

impl ConftestReporter {
    /// A reporter with `opts` (only `color` matters) and conftest's switches.
    pub fn new(opts: ReportOptions, conftest: ConftestOptions) -> Self {
        ConftestReporter { opts, conftest }
    }

    fn paint(&self, color: AnsiColor, text: &str) -> String {
        if self.opts.color {
            let style = Style::new().fg_color(Some(color.into()));
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_owned()
        }
    }
}

/// The namespace conftest would show for a finding.
fn namespace(f: &Finding) -> String {
    match &f.rule.origin.package {
        Some(p) => p.strip_prefix("data.").unwrap_or(p).to_owned(),
        None => f.rule.id.clone(),
    }
}

/// The counts conftest prints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConftestCounts {
    /// Tests: passed + warnings + failures + exceptions.
    pub tests: usize,
    /// Tests without a result.
    pub passed: usize,
    /// Results of `warn` rules.
    pub warnings: usize,
    /// Results of `deny`/`violation` rules (and WASM findings).
    pub failures: usize,
    /// Exceptions that applied.
    pub exceptions: usize,
}

/// The results of one input file in one namespace (conftest's `CheckResult`).
#[derive(Debug)]
pub struct Group<'a> {
    /// The file as conftest names it (`-` for stdin).
    pub file: &'a str,
    /// The Rego package.
    pub namespace: String,
    /// Results of `warn` rules.
    pub warnings: Vec<&'a Finding>,
    /// Results of `deny`/`violation` rules.
    pub failures: Vec<&'a Finding>,
    /// Exceptions that applied.
    pub exceptions: Vec<&'a RuleException>,
    /// Tests (rule definitions on a document) without a result.
    pub passed: usize,
}

/// Groups `report` by file (in the order given) and namespace (sorted), counting the
/// passed tests per document as conftest does: the rule definitions evaluated minus the
/// results, never below zero.
pub fn groups(report: &Report) -> Vec<Group<'_>> {
    let mut files: Vec<&str> = report.inputs.iter().map(|i| i.path.as_str()).collect();
    for f in &report.findings {
        if !files.contains(&&*f.location.file) {
            files.push(&f.location.file);
        }
    }
    // Results per (file, document, package).
    let mut results: BTreeMap<(&str, usize, String), usize> = BTreeMap::new();
    for f in &report.findings {
        *results
            .entry((&f.location.file, f.location.document, namespace(f)))
            .or_default() += 1;
    }
    for e in &report.exceptions {
        *results
            .entry((&e.location.file, e.location.document, e.package.clone()))
            .or_default() += 1;
    }
    let mut out = Vec::new();
    for file in files {
        let mut namespaces: BTreeSet<String> = BTreeSet::new();
        namespaces.extend(
            report
                .checks
                .iter()
                .filter(|c| &*c.file == file)
                .map(|c| c.package.clone()),
        );
        namespaces.extend(
            report
                .findings
                .iter()
                .filter(|f| &*f.location.file == file)
                .map(namespace),
        );
        for ns in namespaces {
            let of = |level: Level| -> Vec<&Finding> {
                report
                    .findings
                    .iter()
                    .filter(|f| &*f.location.file == file && f.level == level && namespace(f) == ns)
                    .collect()
            };
            let passed = report
                .checks
                .iter()
                .filter(|c| &*c.file == file && c.package == ns)
                .map(|c| {
                    let got = results
                        .get(&(file, c.document, ns.clone()))
                        .copied()
                        .unwrap_or(0);
                    c.definitions.saturating_sub(got)
                })
                .sum();
            out.push(Group {
                file: if file == crate::inputs::discover::STDIN_NAME {
                    "-"
                } else {
                    file
                },
                warnings: of(Level::Warn),
                failures: of(Level::Deny),
                exceptions: report
                    .exceptions
                    .iter()
                    .filter(|e| &*e.location.file == file && e.package == ns)
                    .collect(),
                namespace: ns,
                passed,
            });
        }
    }
    out
}

/// Counts `report` as conftest does.
pub fn counts(report: &Report) -> ConftestCounts {
    let mut c = ConftestCounts::default();
    for g in groups(report) {
        c.passed += g.passed;
        c.warnings += g.warnings.len();
        c.failures += g.failures.len();
        c.exceptions += g.exceptions.len();
    }
    c.tests = c.passed + c.warnings + c.failures + c.exceptions;
    c
}

/// A message on one line, without control characters (no terminal escapes from inputs).
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

impl Reporter for ConftestReporter {
    fn write(&self, report: &Report, out: &mut dyn io::Write) -> io::Result<()> {
        let c = counts(report);
        if self.conftest.quiet && c.failures == 0 && c.warnings == 0 && report.errors.is_empty() {
            return Ok(());
        }
        for g in groups(report) {
            let (file, ns) = (g.file, &g.namespace);
            for f in &g.warnings {
                let tag = self.paint(AnsiColor::Yellow, "WARN");
                writeln!(out, "{tag} - {file} - {ns} - {}", one_line(&f.message))?;
            }
            for f in &g.failures {
                let tag = self.paint(AnsiColor::Red, "FAIL");
                writeln!(out, "{tag} - {file} - {ns} - {}", one_line(&f.message))?;
            }
            if self.conftest.suppress_exceptions {
                continue;
            }
            for e in &g.exceptions {
                let tag = self.paint(AnsiColor::Cyan, "EXCP");
                writeln!(out, "{tag} - {file} - {ns} - {}", e.query())?;
            }
        }
        for e in &report.errors {
            let tag = self.paint(AnsiColor::Red, "ERR ");
            let rule = e
                .rule
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            writeln!(
                out,
                "{tag} - {}:{}:{} - {}{rule} - {}",
                e.file,
                e.line,
                e.column,
                e.kind.id(),
                one_line(&e.message)
            )?;
        }
        let summary = format!(
            "{}, {} passed, {}, {}, {}",
            plural(c.tests, "test"),
            c.passed,
            plural(c.warnings, "warning"),
            plural(c.failures, "failure"),
            plural(c.exceptions, "exception"),
        );
        let color = if c.failures > 0 {
            AnsiColor::Red
        } else if c.warnings > 0 {
            AnsiColor::Yellow
        } else if c.exceptions > 0 {
            AnsiColor::Cyan
        } else {
            AnsiColor::Green
        };
        writeln!(out)?;
        writeln!(out, "{}", self.paint(color, &summary))
    }
}

/// The shared report fixture, plus what conftest's formats count: every package with a
/// finding was checked on that document with one more definition than it has results,
/// and one conftest exception applied.
#[cfg(test)]
pub(crate) fn fixture() -> Report {
    use std::sync::Arc;

    use crate::diagnostics::{Location, PackageCheck};
    use crate::source::{Position, Span};

    let mut report = super::fixture::report();
    let mut checks: Vec<PackageCheck> = Vec::new();
    for f in &report.findings {
        let ns = namespace(f);
        match checks.iter_mut().find(|c| {
            *c.file == *f.location.file && c.document == f.location.document && c.package == ns
        }) {
            Some(c) => c.definitions += 1,
            None => checks.push(PackageCheck {
                file: Arc::clone(&f.location.file),
                document: f.location.document,
                package: ns,
                definitions: 2,
            }),
        }
    }
    let rule = Arc::clone(&report.findings[0].rule);
    let file = Arc::clone(&report.findings[0].location.file);
    report.exceptions.push(RuleException {
        rule,
        level: Level::Deny,
        package: namespace(&report.findings[0]),
        name: "latest_tag".to_owned(),
        location: Location {
            file,
            document: 0,
            span: Span::point(Position::new(1, 1)),
            path: Vec::new(),
        },
    });
    report.checks = checks;
    report.sort();
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_conftest() {
        let report = fixture();
        let c = counts(&report);
        // 7 findings (1 warn), 1 exception; each checked (file, document, package) has
        // one definition more than its findings, so passes = groups, minus the one the
        // exception took.
        assert_eq!((c.warnings, c.failures, c.exceptions), (1, 6, 1));
        assert_eq!(c.tests, c.passed + 8);
    }

    #[test]
    fn conftest_snapshot() {
        let report = fixture();
        let mut out = Vec::new();
        ConftestReporter::new(ReportOptions::default(), ConftestOptions::default())
            .write(&report, &mut out)
            .expect("writing to a Vec cannot fail");
        insta::assert_snapshot!(String::from_utf8(out).expect("UTF-8"));
    }

    #[test]
    fn quiet_prints_nothing_when_all_pass() {
        let mut out = Vec::new();
        let quiet = ConftestOptions {
            quiet: true,
            ..ConftestOptions::default()
        };
        ConftestReporter::new(ReportOptions::default(), quiet)
            .write(&Report::default(), &mut out)
            .expect("writing to a Vec cannot fail");
        assert!(out.is_empty());
        let mut out = Vec::new();
        ConftestReporter::new(ReportOptions::default(), ConftestOptions::default())
            .write(&Report::default(), &mut out)
            .expect("writing to a Vec cannot fail");
        assert_eq!(
            String::from_utf8(out).expect("UTF-8"),
            "\n0 tests, 0 passed, 0 warnings, 0 failures, 0 exceptions\n"
        );
    }
}
