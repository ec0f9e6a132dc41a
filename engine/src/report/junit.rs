//! The `junit` format: JUnit XML for CI test tabs (Jenkins, GitLab), via `quick-junit`.
//!
//! The mapping:
//!
//! * One `<testsuite>` per input file, in input order, named by its path; files that only
//!   appear in error records (a policy file that did not compile) get a suite after them.
//! * One `<testcase>` per finding, named `RULE-ID: title (file:line:col)` with the file
//!   path as `classname`, so each finding is its own line in the CI test list and two
//!   findings of one rule stay apart. A finding that fails the run
//!   ([`ReportOptions::is_failing`]: `--fail-on`, `--fail-on-warn`) is a `<failure>`
//!   whose `message` is the finding's message, `type` its severity, and text
//!   `file:line:col: SEVERITY [RULE-ID] message` plus the remediation and references.
//!   Findings that do not fail the run (warn rules, severities under the threshold) pass,
//!   with the same text in `<system-out>`, so CI shows them without going red.
//! * Each error record is a testcase named `POL00x: kind (file:line:col)` with an
//!   `<error>` child.
//! * An evaluated file with no finding and no error gets one passing testcase (`policy`),
//!   so its suite is not empty and the CI shows it as checked.
//! * A skipped input is a suite with one `<skipped>` testcase carrying the reason.
//!
//! No timestamps or durations are written, so the output is reproducible.

use std::collections::{HashMap, HashSet};
use std::io;

use quick_junit::{NonSuccessKind, Report as JunitReport, TestCase, TestCaseStatus, TestSuite};

use super::{error_kind_title, ReportOptions, Reporter};
use crate::diagnostics::{ErrorRecord, Finding, InputStatus, Level, Report};

/// Name of the passing testcase of a clean file.
pub const CLEAN_TESTCASE: &str = "policy";

/// Writes JUnit XML.
#[derive(Debug, Clone)]
pub struct JunitReporter {
    opts: ReportOptions,
}

impl JunitReporter {
    /// A JUnit reporter; `opts.fail_on` and `opts.fail_on_warn` decide which findings
    /// are failures.
    pub fn new(opts: ReportOptions) -> Self {
        JunitReporter { opts }
    }

    fn build(&self, report: &Report) -> JunitReport {
        // Suite order: inputs as given, then other files named by findings or errors.
        let mut order: Vec<&str> = Vec::new();
        let mut cases: HashMap<&str, Vec<TestCase>> = HashMap::new();
        let mut seen: HashSet<&str> = HashSet::new();
        let files = report
            .inputs
            .iter()
            .map(|i| i.path.as_str())
            .chain(report.findings.iter().map(|f| &*f.location.file))
            .chain(report.errors.iter().map(error_file));
        for file in files {
            if seen.insert(file) {
                order.push(file);
            }
        }
        for f in &report.findings {
            cases
                .entry(&f.location.file)
                .or_default()
                .push(self.finding_case(f));
        }
        for e in &report.errors {
            cases.entry(error_file(e)).or_default().push(error_case(e));
        }
        for input in &report.inputs {
            if let InputStatus::Skipped { reason } = &input.status {
                let mut status = TestCaseStatus::skipped();
                status.set_message(reason.as_str()).set_type("skipped");
                let mut case = TestCase::new(CLEAN_TESTCASE, status);
                case.set_classname(input.path.as_str());
                cases.entry(&input.path).or_default().push(case);
            }
        }

        let mut junit = JunitReport::new(super::TOOL_NAME);
        for file in order {
            let mut suite = TestSuite::new(file);
            match cases.remove(file) {
                Some(file_cases) => {
                    suite.add_test_cases(file_cases);
                }
                None => {
                    let mut case = TestCase::new(CLEAN_TESTCASE, TestCaseStatus::success());
                    case.set_classname(file);
                    suite.add_test_case(case);
                }
            }
            junit.add_test_suite(suite);
        }
        junit
    }

    fn finding_case(&self, f: &Finding) -> TestCase {
        let pos = f.location.span.start;
        let name = format!(
            "{}: {} ({}:{}:{})",
            f.rule.id, f.rule.title, f.location.file, pos.line, pos.column
        );
        let mut label = f.severity.as_str().to_ascii_uppercase();
        if f.level == Level::Warn {
            label.push_str(" (warn)");
        }
        let mut text = format!(
            "{}:{}:{}: {label} [{}] {}",
            f.location.file, pos.line, pos.column, f.rule.id, f.message
        );
        if let Some(help) = &f.rule.remediation {
            text.push_str(&format!("\nhelp: {help}"));
        }
        for r in &f.rule.references {
            text.push_str(&format!("\nsee: {r}"));
        }
        let mut case = if self.opts.is_failing(f) {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status
                .set_message(f.message.as_str())
                .set_type(f.severity.as_str())
                .set_description(text);
            TestCase::new(name, status)
        } else {
            let mut case = TestCase::new(name, TestCaseStatus::success());
            case.set_system_out(text);
            case
        };
        case.set_classname(&*f.location.file);
        case
    }
}

impl Reporter for JunitReporter {
    fn write(&self, report: &Report, out: &mut dyn io::Write) -> io::Result<()> {
        // Serialize into memory first: quick-junit wraps I/O errors in its own type, and
        // the CLI needs the original kind (a closed pipe is not a failure).
        let xml = self.build(report).to_string().map_err(io::Error::other)?;
        out.write_all(xml.as_bytes())
    }
}

/// The file an error belongs to in the suite list: the input being evaluated when a rule
/// failed, otherwise the file the error is about.
fn error_file(e: &ErrorRecord) -> &str {
    e.input.as_deref().unwrap_or(&e.file)
}

fn error_case(e: &ErrorRecord) -> TestCase {
    let name = format!(
        "{}: {} ({}:{}:{})",
        e.kind.id(),
        e.kind.name(),
        e.file,
        e.line,
        e.column
    );
    let mut text = format!(
        "{}:{}:{}: error[{}] {}: {}",
        e.file,
        e.line,
        e.column,
        e.kind.id(),
        error_kind_title(e.kind),
        e.message
    );
    if let Some(rule) = &e.rule {
        text.push_str(&format!("\nrule: {rule}"));
    }
    if let Some(input) = &e.input {
        text.push_str(&format!("\ninput: {input}"));
    }
    let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
    status
        .set_message(e.message.as_str())
        .set_type(e.kind.name())
        .set_description(text);
    let mut case = TestCase::new(name, status);
    case.set_classname(error_file(e));
    case
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;
    use crate::Severity;

    fn render(report: &Report, opts: ReportOptions) -> String {
        let mut out = Vec::new();
        JunitReporter::new(opts)
            .write(report, &mut out)
            .expect("writing to a Vec cannot fail");
        String::from_utf8(out).expect("XML is UTF-8")
    }

    #[test]
    fn junit_snapshot() {
        insta::assert_snapshot!(render(&fixture::report(), ReportOptions::default()));
    }

    #[test]
    fn junit_parses_back_with_expected_counts() {
        let xml = render(&fixture::report(), ReportOptions::default());
        let parsed = JunitReport::deserialize_from_str(&xml).expect("well-formed JUnit XML");
        // 7 findings + 4 errors + 1 skipped input; the warn finding passes.
        assert_eq!(parsed.tests, 12);
        assert_eq!(parsed.failures, 6);
        assert_eq!(parsed.errors, 4);
        assert_eq!(parsed.skipped, 1);
        let names: Vec<&str> = parsed.test_suites.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Dockerfile",
                "k8s/deploy.yaml",
                "vendor/huge.json",
                "k8s/broken.yaml",
                "policies/custom/broken.rego"
            ]
        );
        let deploy = &parsed.test_suites[1];
        assert_eq!((deploy.tests, deploy.failures, deploy.errors), (5, 3, 2));
        assert!(
            xml.contains("k8s/deploy.yaml:9:32: MEDIUM [K8S001]"),
            "{xml}"
        );

        // The raw attributes agree with the parsed counts.
        assert!(xml.contains(
            r#"<testsuites name="policy" tests="12" skipped="1" failures="6" errors="4">"#
        ));
    }

    #[test]
    fn threshold_turns_failures_into_passes() {
        let opts = ReportOptions {
            fail_on: Severity::High,
            ..ReportOptions::default()
        };
        let xml = render(&fixture::report(), opts);
        let parsed = JunitReport::deserialize_from_str(&xml).expect("well-formed JUnit XML");
        assert_eq!(parsed.failures, 3); // critical + 2 high
        assert_eq!(parsed.tests, 12);
    }

    #[test]
    fn clean_file_gets_a_passing_testcase() {
        let mut report = fixture::report();
        report.findings.clear();
        report.errors.clear();
        let xml = render(&report, ReportOptions::default());
        let parsed = JunitReport::deserialize_from_str(&xml).expect("well-formed JUnit XML");
        assert_eq!((parsed.tests, parsed.failures, parsed.errors), (4, 0, 0));
        for suite in &parsed.test_suites {
            assert_eq!(suite.test_cases.len(), 1, "{}", suite.name.as_str());
            assert_eq!(suite.test_cases[0].name.as_str(), CLEAN_TESTCASE);
        }
    }

    #[test]
    fn hostile_text_is_escaped() {
        let mut report = fixture::report();
        // Markup, a NUL and an ANSI escape: the XML must stay well-formed.
        report.findings[0].message = "<script>&\"'</script> ]]>\u{0}\u{1b}[31m".to_owned();
        let xml = render(&report, ReportOptions::default());
        let parsed = JunitReport::deserialize_from_str(&xml).expect("well-formed JUnit XML");
        let case = &parsed.test_suites[0].test_cases[0];
        match &case.status {
            TestCaseStatus::NonSuccess { message, .. } => {
                assert_eq!(
                    message.as_ref().map(|m| m.as_str()),
                    Some("<script>&\"'</script> ]]>")
                );
            }
            other => panic!("expected a failure, got {other:?}"),
        }
    }
}
