//! The `table` format: one row per result in a boxed table, as `conftest test -o table`
//! prints it, for reading a run at a glance in a terminal or a CI log.
//!
//! Columns are RESULT (`failure`, `warning`, `exception`, `success`, `error`), FILE,
//! NAMESPACE and MESSAGE. A file and package whose tests passed get one `success` row
//! with the count; an error record is an `error` row at its `file:line:col`. Column
//! widths count characters as the terminal shows them (East Asian wide characters are
//! two columns), and control characters in messages are replaced, so rows line up.
//!
//! ```text
//! +---------+-----------------+-----------+--------------------------------------+
//! | RESULT  | FILE            | NAMESPACE | MESSAGE                              |
//! +---------+-----------------+-----------+--------------------------------------+
//! | failure | deployment.yaml | main      | Containers must not run as root      |
//! | success | deployment.yaml | main      | 4 tests passed                       |
//! +---------+-----------------+-----------+--------------------------------------+
//! ```

use std::io;

use unicode_width::UnicodeWidthStr;

use super::conftest::groups;
use super::Reporter;
use crate::diagnostics::Report;

/// Writes a table.
#[derive(Debug, Clone, Default)]
pub struct TableReporter;

/// A cell's text: one line, no control characters.
fn cell(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Writes `rows` under the header as a boxed table; nothing when there are no rows.
fn write_table(rows: &[[String; 4]], header: [&str; 4], out: &mut dyn io::Write) -> io::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let header = header.map(String::from);
    let mut widths = header.clone().map(|h| h.width());
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.width());
        }
    }
    let rule = widths
        .iter()
        .map(|w| "-".repeat(w + 2))
        .collect::<Vec<_>>()
        .join("+");
    let line = |r: &[String; 4]| {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!(" {c}{} ", " ".repeat(w - c.width())))
            .collect();
        format!("|{}|", cells.join("|"))
    };
    writeln!(out, "+{rule}+")?;
    writeln!(out, "{}", line(&header))?;
    writeln!(out, "+{rule}+")?;
    for r in rows {
        writeln!(out, "{}", line(r))?;
    }
    writeln!(out, "+{rule}+")
}

/// Writes the results of `policy test` as a table (as `conftest verify -o table`): RESULT
/// (`success`, `failure`, `error`, `skipped`), FILE, TEST and MESSAGE, then one `error`
/// row per load error.
pub fn write_test_run(run: &crate::testing::TestRun, out: &mut dyn io::Write) -> io::Result<()> {
    use crate::testing::Outcome;
    let mut rows: Vec<[String; 4]> = Vec::new();
    for t in &run.tests {
        let (result, message) = match &t.outcome {
            Outcome::Pass => ("success", String::new()),
            Outcome::Skip(reason) => ("skipped", reason.clone()),
            Outcome::Fail(f) => ("failure", super::testing::failure_summary(t, f)),
            Outcome::Error { message, .. } => ("error", message.clone()),
        };
        rows.push([result.into(), cell(&t.file), cell(&t.name), cell(&message)]);
    }
    for e in &run.errors {
        rows.push([
            "error".into(),
            cell(&format!("{}:{}:{}", e.file, e.line, e.column)),
            e.kind.id().into(),
            cell(&e.message),
        ]);
    }
    write_table(&rows, ["RESULT", "FILE", "TEST", "MESSAGE"], out)
}

impl Reporter for TableReporter {
    fn write(&self, report: &Report, out: &mut dyn io::Write) -> io::Result<()> {
        let mut rows: Vec<[String; 4]> = Vec::new();
        for g in groups(report) {
            let (file, ns) = (cell(g.file), cell(&g.namespace));
            for f in &g.failures {
                rows.push(["failure".into(), file.clone(), ns.clone(), cell(&f.message)]);
            }
            for f in &g.warnings {
                rows.push(["warning".into(), file.clone(), ns.clone(), cell(&f.message)]);
            }
            for e in &g.exceptions {
                rows.push([
                    "exception".into(),
                    file.clone(),
                    ns.clone(),
                    cell(&e.query()),
                ]);
            }
            if g.passed > 0 {
                let what = if g.passed == 1 { "test" } else { "tests" };
                rows.push([
                    "success".into(),
                    file.clone(),
                    ns.clone(),
                    format!("{} {what} passed", g.passed),
                ]);
            }
        }
        for e in &report.errors {
            rows.push([
                "error".into(),
                cell(&format!("{}:{}:{}", e.file, e.line, e.column)),
                e.kind.id().into(),
                cell(&e.message),
            ]);
        }
        write_table(&rows, ["RESULT", "FILE", "NAMESPACE", "MESSAGE"], out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_snapshot() {
        let mut out = Vec::new();
        TableReporter
            .write(&super::super::conftest::fixture(), &mut out)
            .expect("writing to a Vec cannot fail");
        insta::assert_snapshot!(String::from_utf8(out).expect("UTF-8"));
    }

    #[test]
    fn wide_characters_line_up() {
        assert_eq!(cell("a\tb\nc"), "a b c");
        assert_eq!("日本".width(), 4);
    }
}
