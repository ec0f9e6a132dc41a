//! The `tap` format: the Test Anything Protocol, as `conftest test -o tap` writes it, for
//! TAP consumers (Jenkins' TAP plugin, `prove`, tap-junit).
//!
//! Per input file and Rego package, a plan line `1..N`, then `not ok` lines for failures,
//! `# Warnings` and `not ok` lines for warnings, `# Exceptions` and `ok … # SKIP` lines
//! for the exceptions that applied, and `# Successes` and one `ok` line per test that
//! passed (counted as conftest counts: rule definitions without a result, see
//! [`super::conftest`]). Error records come last as `# ERROR file:line:col …` comments.
//!
//! ```text
//! 1..3
//! not ok 1 - deployment.yaml - main - Containers must not run as root
//! # Successes
//! ok 2 - deployment.yaml - main
//! ok 3 - deployment.yaml - main
//! ```

use std::io;

use super::conftest::groups;
use super::Reporter;
use crate::diagnostics::Report;

/// Writes TAP.
#[derive(Debug, Clone, Default)]
pub struct TapReporter;

/// Messages on one line: TAP is line-oriented.
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

impl Reporter for TapReporter {
    fn write(&self, report: &Report, out: &mut dyn io::Write) -> io::Result<()> {
        for g in groups(report) {
            let n = g.failures.len() + g.warnings.len() + g.exceptions.len() + g.passed;
            if n == 0 {
                continue;
            }
            let at = format!("{} - {}", g.file, g.namespace);
            writeln!(out, "1..{n}")?;
            let mut i = 0;
            for f in &g.failures {
                i += 1;
                writeln!(out, "not ok {i} - {at} - {}", one_line(&f.message))?;
            }
            if !g.warnings.is_empty() {
                writeln!(out, "# Warnings")?;
            }
            for f in &g.warnings {
                i += 1;
                writeln!(out, "not ok {i} - {at} - {}", one_line(&f.message))?;
            }
            if !g.exceptions.is_empty() {
                writeln!(out, "# Exceptions")?;
            }
            for e in &g.exceptions {
                i += 1;
                writeln!(out, "ok {i} - {at} - {} # SKIP", one_line(&e.query()))?;
            }
            if g.passed > 0 {
                writeln!(out, "# Successes")?;
            }
            for _ in 0..g.passed {
                i += 1;
                writeln!(out, "ok {i} - {at}")?;
            }
        }
        for e in &report.errors {
            writeln!(
                out,
                "# ERROR {}:{}:{} [{}] {}",
                e.file,
                e.line,
                e.column,
                e.kind.id(),
                one_line(&e.message)
            )?;
        }
        Ok(())
    }
}

/// Writes the results of `policy test` as TAP (as `conftest verify -o tap`): one `ok` or
/// `not ok` line per test, `# SKIP` with the reason for skipped tests, and a `#` comment
/// under each failure or error with its message; load errors come last as comments.
pub fn write_test_run(run: &crate::testing::TestRun, out: &mut dyn io::Write) -> io::Result<()> {
    use crate::testing::Outcome;
    writeln!(out, "1..{}", run.tests.len())?;
    for (i, t) in run.tests.iter().enumerate() {
        let n = i + 1;
        let name = one_line(&format!("{}: {}", t.file, t.name));
        match &t.outcome {
            Outcome::Pass => writeln!(out, "ok {n} - {name}")?,
            Outcome::Skip(reason) => writeln!(out, "ok {n} - {name} # SKIP {}", one_line(reason))?,
            Outcome::Fail(f) => {
                writeln!(out, "not ok {n} - {name}")?;
                let why = super::testing::failure_summary(t, f);
                writeln!(out, "# {}", one_line(&why))?;
            }
            Outcome::Error { message, .. } => {
                writeln!(out, "not ok {n} - {name}")?;
                writeln!(out, "# error: {}", one_line(message))?;
            }
        }
    }
    for e in &run.errors {
        writeln!(
            out,
            "# ERROR {}:{}:{} [{}] {}",
            e.file,
            e.line,
            e.column,
            e.kind.id(),
            one_line(&e.message)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tap_snapshot() {
        let mut out = Vec::new();
        TapReporter
            .write(&super::super::conftest::fixture(), &mut out)
            .expect("writing to a Vec cannot fail");
        insta::assert_snapshot!(String::from_utf8(out).expect("UTF-8"));
    }
}
