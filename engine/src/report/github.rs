//! The `github` format: GitHub Actions workflow commands, which GitHub turns into
//! annotations on the pull request diff.
//!
//! ```text
//! ::error file=Dockerfile,line=1,col=6,endLine=1,endColumn=19,title=DF001%3A Image uses the latest tag::Image `ubuntu:latest` uses the latest tag
//! ```
//!
//! * Findings: critical, high and medium are `::error`, low is `::warning`, info is
//!   `::notice`; findings of `warn` rules are at most `::warning`. The title is
//!   `RULE-ID: title`, the message the finding's message plus the rule's remediation.
//! * Positions: `col`/`endColumn` are given only for single-line spans (the annotations
//!   API ignores columns across lines), `endColumn` is exclusive like every end position
//!   in this tool, and an empty span gives only `line` and `col`.
//! * Error records are `::error` lines titled `POL00x: <kind title>`; warnings (such as a
//!   suppression naming an unknown rule) are `::warning` lines titled `policy warning`;
//!   skipped inputs are `::notice` lines with the reason. Suppressed findings are left out.
//! * A plain summary line closes the output (it does not start with `::`, so the runner
//!   prints it as is).
//!
//! Escaping follows the runner (`@actions/core`): in the message, `%`, `\r` and `\n`
//! become `%25`, `%0D`, `%0A`; in property values `:` and `,` also become `%3A`, `%2C`.

use std::io;

use super::{
    error_kind_title, plain_relative_path, Region, ReportOptions, Reporter, SourceLines, Sources,
    Summary,
};
use crate::diagnostics::{InputStatus, Level, Report};
use crate::source::{Position, Span};
use crate::Severity;

/// Writes GitHub workflow commands.
#[derive(Debug, Clone)]
pub struct GithubReporter {
    _opts: ReportOptions,
}

impl GithubReporter {
    /// A GitHub reporter (no option changes its output).
    pub fn new(opts: ReportOptions) -> Self {
        GithubReporter { _opts: opts }
    }
}

/// Escapes the message part of a workflow command.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value (`file=`, `title=`) of a workflow command.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// The workflow command of a finding's severity and rule level.
pub fn command(severity: Severity, level: Level) -> &'static str {
    let by_severity = match severity {
        Severity::Critical | Severity::High | Severity::Medium => "error",
        Severity::Low => "warning",
        Severity::Info => "notice",
    };
    match (level, by_severity) {
        (Level::Warn, "error") => "warning",
        (_, cmd) => cmd,
    }
}

fn properties(file: &str, span: Span, source: Option<&SourceLines<'_>>, title: &str) -> String {
    let region = Region::new(span, source);
    let mut props = vec![
        format!("file={}", escape_property(&plain_relative_path(file))),
        format!("line={}", region.start_line),
    ];
    if region.start_line == region.end_line {
        props.push(format!("col={}", region.start_column));
        if !region.is_empty() {
            props.push(format!("endLine={}", region.end_line));
            if let Some(end) = region.end_column {
                props.push(format!("endColumn={end}"));
            }
        }
    } else {
        props.push(format!("endLine={}", region.end_line));
    }
    props.push(format!("title={}", escape_property(title)));
    props.join(",")
}

impl Reporter for GithubReporter {
    fn write(&self, report: &Report, out: &mut dyn io::Write) -> io::Result<()> {
        use super::stream::Streaming;
        self.part(report, out)?;
        self.finish(report, &Summary::of(report), out)
    }
}

impl super::stream::Streaming for GithubReporter {
    fn part(&self, report: &Report, out: &mut dyn io::Write) -> io::Result<()> {
        let sources = Sources::new(report);
        for f in &report.findings {
            let source = sources.get(&f.location.file);
            let title = format!("{}: {}", f.rule.id, f.rule.title);
            let mut message = f.message.clone();
            if let Some(help) = &f.rule.remediation {
                message.push_str("\n\nhelp: ");
                message.push_str(help);
            }
            writeln!(
                out,
                "::{} {}::{}",
                command(f.severity, f.level),
                properties(&f.location.file, f.location.span, source.as_deref(), &title),
                escape_data(&message)
            )?;
        }
        Ok(())
    }

    fn finish(
        &self,
        report: &Report,
        summary: &Summary,
        out: &mut dyn io::Write,
    ) -> io::Result<()> {
        let sources = Sources::new(report);
        for e in &report.errors {
            let source = sources.get(&e.file);
            let title = format!("{}: {}", e.kind.id(), error_kind_title(e.kind));
            let mut message = e.message.clone();
            if let Some(rule) = &e.rule {
                message.push_str(&format!("\n\nrule: {rule}"));
            }
            if let Some(input) = &e.input {
                message.push_str(&format!("\ninput: {input}"));
            }
            let span = Span::point(Position::new(e.line, e.column));
            writeln!(
                out,
                "::error {}::{}",
                properties(&e.file, span, source.as_deref(), &title),
                escape_data(&message)
            )?;
        }
        for w in &report.warnings {
            let source = sources.get(&w.file);
            let span = Span::point(Position::new(w.line, w.column));
            writeln!(
                out,
                "::warning {}::{}",
                properties(&w.file, span, source.as_deref(), "policy warning"),
                escape_data(&w.message)
            )?;
        }
        for input in &report.inputs {
            if let InputStatus::Skipped { reason } = &input.status {
                writeln!(
                    out,
                    "::notice file={},title={}::{}",
                    escape_property(&plain_relative_path(&input.path)),
                    escape_property("skipped input"),
                    escape_data(reason)
                )?;
            }
        }
        writeln!(out, "policy: {}", summary.one_line())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    fn render(report: &Report) -> String {
        let mut out = Vec::new();
        GithubReporter::new(ReportOptions::default())
            .write(report, &mut out)
            .expect("writing to a Vec cannot fail");
        String::from_utf8(out).expect("output is UTF-8")
    }

    #[test]
    fn github_snapshot() {
        insta::assert_snapshot!(render(&fixture::report()));
    }

    #[test]
    fn escaping_follows_the_runner() {
        assert_eq!(
            escape_data("100% done\r\nnext: a,b"),
            "100%25 done%0D%0Anext: a,b"
        );
        assert_eq!(escape_property("DF001: a, b\n%"), "DF001%3A a%2C b%0A%25");
        // `%` is escaped first, so existing escapes are not decoded by the runner.
        assert_eq!(escape_data("%0A"), "%250A");
        assert_eq!(escape_property("C:\\x,y"), "C%3A\\x%2Cy");
    }

    #[test]
    fn every_line_is_one_command_or_the_summary() {
        let out = render(&fixture::report());
        let lines: Vec<&str> = out.lines().collect();
        // 7 findings + 4 errors + 1 skipped input + summary.
        assert_eq!(lines.len(), 13, "{out}");
        for line in &lines[..12] {
            assert!(
                line.starts_with("::error ")
                    || line.starts_with("::warning ")
                    || line.starts_with("::notice "),
                "{line}"
            );
            let (_, props_and_msg) = line.split_once(' ').expect("command has properties");
            let (props, _msg) = props_and_msg
                .split_once("::")
                .expect("properties end with ::");
            for prop in props.split(',') {
                let (key, value) = prop.split_once('=').expect("key=value");
                assert!(!value.contains(':'), "unescaped ':' in {key}: {line}");
            }
        }
        assert!(lines[12]
            .starts_with("policy: 7 findings (1 critical, 2 high, 2 medium, 1 low, 1 info)"));
    }

    #[test]
    fn commands_by_severity_and_level() {
        assert_eq!(command(Severity::Critical, Level::Deny), "error");
        assert_eq!(command(Severity::Medium, Level::Deny), "error");
        assert_eq!(command(Severity::Low, Level::Deny), "warning");
        assert_eq!(command(Severity::Info, Level::Deny), "notice");
        assert_eq!(command(Severity::High, Level::Warn), "warning");
        assert_eq!(command(Severity::Info, Level::Warn), "notice");
    }

    #[test]
    fn positions_depend_on_span_shape() {
        let src = &SourceLines::new("ab\ncd\n");
        let single = properties(
            "./x,y.txt",
            Span::new(Position::new(1, 1), Position::new(1, 3)),
            Some(src),
            "T",
        );
        assert_eq!(
            single,
            "file=x%2Cy.txt,line=1,col=1,endLine=1,endColumn=3,title=T"
        );
        let multi = properties(
            "a",
            Span::new(Position::new(1, 2), Position::new(2, 2)),
            Some(src),
            "T",
        );
        assert_eq!(multi, "file=a,line=1,endLine=2,title=T");
        let point = properties("a", Span::point(Position::new(2, 2)), Some(src), "T");
        assert_eq!(point, "file=a,line=2,col=2,title=T");
        // Ends at column 1 of the next line: a single-line span after normalisation.
        let line = properties("a", Span::line(1), Some(src), "T");
        assert_eq!(line, "file=a,line=1,col=1,endLine=1,endColumn=3,title=T");
    }
}
