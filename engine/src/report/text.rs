//! The `text` format: what a person reads in a terminal, in the style of ripgrep and ruff.
//!
//! Each finding is a `path:line:col: SEVERITY [RULE-ID] message` header (grep-style, so
//! editors and terminals can jump to it), a code frame of the offending source lines with
//! a caret underline under the span, and `= help:` / `= see:` lines from the rule's
//! remediation and references. Error records follow as `path:line:col: error[POL00x]`,
//! then warnings as one `path:line:col: warning: message` line each (the format of the
//! configuration file's warnings on stderr), and a summary closes the output.
//!
//! ```text
//! Dockerfile:1:6: HIGH [DF001] Image `ubuntu:latest` uses the latest tag
//!   |
//! 1 | FROM ubuntu:latest
//!   |      ^^^^^^^^^^^^^
//!   = help: Pin the base image to a version tag or a digest.
//! ```
//!
//! Frames expand tabs to four spaces and measure East Asian wide characters as two
//! columns, so carets line up. Control characters in sources and messages are replaced,
//! so a hostile input cannot inject terminal escapes. Colour is used only when
//! [`ReportOptions::color`] is set.

use std::io;

use anstyle::{AnsiColor, Effects, Style};
use unicode_width::UnicodeWidthChar;

use super::{plural, Region, ReportOptions, Reporter, SourceLines, Sources, Summary, ERROR_KINDS};
use crate::diagnostics::{ErrorRecord, Finding, InputStatus, Level, Report};
use crate::source::{Position, Span};
use crate::Severity;

/// How many source lines a frame shows before eliding the rest of a long span.
const MAX_FRAME_LINES: u32 = 4;
/// Tabs in frames are shown as this many spaces.
const TAB_WIDTH: usize = 4;

/// Writes the human-readable format.
#[derive(Debug, Clone)]
pub struct TextReporter {
    opts: ReportOptions,
}

impl TextReporter {
    /// A text reporter with `opts` (only `color` matters).
    pub fn new(opts: ReportOptions) -> Self {
        TextReporter { opts }
    }

    fn paint(&self, style: Style, text: &str) -> String {
        if self.opts.color && !text.is_empty() {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_owned()
        }
    }

    fn write_finding(
        &self,
        sources: &Sources<'_>,
        f: &Finding,
        out: &mut dyn io::Write,
    ) -> io::Result<()> {
        let start = f.location.span.start;
        let sev_style = severity_style(f.severity);
        let mut label = f.severity.as_str().to_ascii_uppercase();
        if f.level == Level::Warn {
            label.push_str(" (warn)");
        }
        writeln!(
            out,
            "{}: {} {} {}",
            self.paint(bold(), &location(&f.location.file, start)),
            self.paint(sev_style, &label),
            self.paint(bold(), &format!("[{}]", clean(&f.rule.id))),
            indent_continuation(&clean(&f.message)),
        )?;
        let source = sources.get(&f.location.file);
        let gutter = self.write_frame(source.as_deref(), f.location.span, sev_style, out)?;
        if let Some(help) = &f.rule.remediation {
            writeln!(
                out,
                "{gutter}= {}: {}",
                self.paint(help_style(), "help"),
                indent_continuation(&clean(help))
            )?;
        }
        for reference in &f.rule.references {
            writeln!(
                out,
                "{gutter}= {}: {}",
                self.paint(help_style(), "see"),
                clean(reference)
            )?;
        }
        if !f.related_rules.is_empty() {
            writeln!(
                out,
                "{gutter}= {}: {} (same root cause, reported once)",
                self.paint(help_style(), "also"),
                clean(&f.related_rules.join(", "))
            )?;
        }
        writeln!(out)
    }

    fn write_error(
        &self,
        sources: &Sources<'_>,
        e: &ErrorRecord,
        out: &mut dyn io::Write,
    ) -> io::Result<()> {
        let pos = Position::new(e.line.max(1), e.column.max(1));
        writeln!(
            out,
            "{}: {} {}",
            self.paint(bold(), &location(&e.file, pos)),
            self.paint(error_style(), &format!("error[{}]", e.kind.id())),
            indent_continuation(&clean(&e.message)),
        )?;
        let source = sources.get(&e.file);
        let gutter = self.write_frame(source.as_deref(), Span::point(pos), error_style(), out)?;
        writeln!(
            out,
            "{gutter}= {}: {}",
            self.paint(help_style(), "kind"),
            e.kind.name()
        )?;
        if let Some(rule) = &e.rule {
            writeln!(
                out,
                "{gutter}= {}: {}",
                self.paint(help_style(), "rule"),
                clean(rule)
            )?;
        }
        if let Some(input) = &e.input {
            writeln!(
                out,
                "{gutter}= {}: {}",
                self.paint(help_style(), "input"),
                clean(input)
            )?;
        }
        writeln!(out)
    }

    /// Writes the code frame of `span`, if the source is known, and returns the blank
    /// gutter that aligns the `= help:` lines under it (two spaces without a frame).
    fn write_frame(
        &self,
        source: Option<&SourceLines<'_>>,
        span: Span,
        mark: Style,
        out: &mut dyn io::Write,
    ) -> io::Result<String> {
        let Some(frame) = source.and_then(|s| Frame::new(s, span)) else {
            return Ok("  ".to_owned());
        };
        let pad = " ".repeat(frame.gutter_width);
        let bar = self.paint(gutter_style(), "|");
        writeln!(out, "{pad} {bar}")?;
        for (i, (number, text)) in frame.lines.iter().enumerate() {
            let number = format!("{number:>width$}", width = frame.gutter_width);
            let shown = expand(text);
            if shown.is_empty() {
                writeln!(out, "{} {bar}", self.paint(gutter_style(), &number))?;
            } else {
                writeln!(out, "{} {bar} {shown}", self.paint(gutter_style(), &number))?;
            }
            if i == 0 {
                let (offset, width) = frame.underline;
                let carets = "^".repeat(width.max(1));
                writeln!(
                    out,
                    "{pad} {bar} {}{}",
                    " ".repeat(offset),
                    self.paint(mark, &carets)
                )?;
            }
        }
        if frame.elided > 0 {
            writeln!(
                out,
                "{pad} {bar} {}",
                self.paint(
                    gutter_style(),
                    &format!(
                        "... {} more {}",
                        frame.elided,
                        if frame.elided == 1 { "line" } else { "lines" }
                    )
                )
            )?;
        }
        Ok(" ".repeat(frame.gutter_width + 1))
    }

    /// Writes the summary of `report`, whose counts are `s`.
    fn write_summary(&self, s: &Summary, report: &Report, out: &mut dyn io::Write) -> io::Result<()> {
        if s.findings == 0 {
            writeln!(out, "{}", self.paint(bold(), "no findings"))?;
        } else {
            let parts: Vec<String> = Severity::ALL
                .iter()
                .rev()
                .filter(|sev| s.count(**sev) > 0)
                .map(|sev| {
                    self.paint(
                        severity_style(*sev),
                        &format!("{} {}", s.count(*sev), sev.as_str()),
                    )
                })
                .collect();
            let warn = if s.warn > 0 {
                format!(" ({} from warn rules)", s.warn)
            } else {
                String::new()
            };
            writeln!(
                out,
                "{}: {}{warn}",
                self.paint(bold(), &plural(s.findings, "finding", "findings")),
                parts.join(", ")
            )?;
        }
        let by_config = s.suppressed - s.suppressed_in_source;
        if by_config > 0 {
            writeln!(
                out,
                "{} suppressed by exceptions in the configuration file",
                plural(by_config, "finding", "findings")
            )?;
        }
        if s.suppressed_in_source > 0 {
            writeln!(
                out,
                "{} suppressed in the source (`policy:ignore` comments and annotations)",
                plural(s.suppressed_in_source, "finding", "findings")
            )?;
        }
        if !report.exceptions.is_empty() {
            writeln!(
                out,
                "{} applied (conftest `exception` rules): those rules were not checked there",
                plural(report.exceptions.len(), "exception", "exceptions")
            )?;
        }
        if s.errors > 0 {
            let parts: Vec<String> = ERROR_KINDS
                .iter()
                .filter(|k| s.error_count(**k) > 0)
                .map(|k| format!("{} {}", s.error_count(*k), k.name()))
                .collect();
            writeln!(
                out,
                "{}: {}",
                self.paint(error_style(), &plural(s.errors, "error", "errors")),
                parts.join(", ")
            )?;
        }
        writeln!(
            out,
            "inputs: {} evaluated ({}), {} skipped, {} failed",
            s.evaluated,
            plural(s.documents, "document", "documents"),
            s.skipped,
            s.failed
        )?;
        for input in &report.inputs {
            match &input.status {
                InputStatus::Skipped { reason } => {
                    writeln!(out, "  skipped {}: {}", clean(&input.path), clean(reason))?;
                }
                InputStatus::Failed => {
                    writeln!(out, "  failed {} (see errors above)", clean(&input.path))?;
                }
                InputStatus::Evaluated { .. } => {}
            }
        }
        Ok(())
    }
}

impl TextReporter {
    /// Writes the findings and errors of `report`, without the summary (`policy watch`
    /// writes its own one-line header per cycle instead).
    pub(crate) fn write_body(&self, report: &Report, out: &mut dyn io::Write) -> io::Result<()> {
        let sources = Sources::new(report);
        for f in &report.findings {
            self.write_finding(&sources, f, out)?;
        }
        for e in &report.errors {
            self.write_error(&sources, e, out)?;
        }
        for e in &report.exceptions {
            let at = e.location.span.start;
            writeln!(
                out,
                "{}: EXCP [{}] {}",
                self.paint(bold(), &location(&e.location.file, at)),
                clean(&e.rule.id),
                clean(&e.message()),
            )?;
        }
        if !report.exceptions.is_empty() {
            writeln!(out)?;
        }
        for w in &report.warnings {
            writeln!(
                out,
                "{}: {} {}",
                self.paint(bold(), &location(&w.file, Position::new(w.line, w.column))),
                self.paint(warning_style(), "warning:"),
                indent_continuation(&clean(&w.message)),
            )?;
        }
        if !report.warnings.is_empty() {
            writeln!(out)?;
        }
        Ok(())
    }

    /// `text` painted bold, when colour is on.
    pub(crate) fn bold(&self, text: &str) -> String {
        self.paint(bold(), text)
    }

    /// `text` painted like error headers, when colour is on.
    pub(crate) fn error(&self, text: &str) -> String {
        self.paint(error_style(), text)
    }
}

impl Reporter for TextReporter {
    fn write(&self, report: &Report, out: &mut dyn io::Write) -> io::Result<()> {
        self.write_body(report, out)?;
        self.write_summary(&Summary::of(report), report, out)
    }
}

impl super::stream::Streaming for TextReporter {
    fn part(&self, part: &Report, out: &mut dyn io::Write) -> io::Result<()> {
        let sources = Sources::new(part);
        for f in &part.findings {
            self.write_finding(&sources, f, out)?;
        }
        Ok(())
    }

    fn finish(
        &self,
        rest: &Report,
        summary: &Summary,
        out: &mut dyn io::Write,
    ) -> io::Result<()> {
        self.write_body(rest, out)?;
        self.write_summary(summary, rest, out)
    }
}

/// The source lines to show for a span and where to underline on the first one.
struct Frame<'a> {
    /// `(line number, text)`, first line of the span first.
    lines: Vec<(u32, &'a str)>,
    /// Lines of the span not shown.
    elided: u32,
    /// Display offset and width of the underline on the first line.
    underline: (usize, usize),
    gutter_width: usize,
}

impl<'a> Frame<'a> {
    fn new(source: &SourceLines<'a>, span: Span) -> Option<Frame<'a>> {
        let region = Region::new(span, Some(source));
        let first = source.line(region.start_line)?;
        // A span may claim lines the file does not have; count only real ones.
        let last_line = region
            .end_line
            .min(source.line_count())
            .max(region.start_line);
        let shown_last = last_line.min(region.start_line + MAX_FRAME_LINES - 1);
        let mut lines = vec![(region.start_line, first)];
        for n in region.start_line + 1..=shown_last {
            match source.line(n) {
                Some(text) => lines.push((n, text)),
                None => break,
            }
        }
        let first_len = first.chars().count() as u32;
        let start_col = region.start_column.min(first_len + 1);
        let end_col = if region.end_line == region.start_line {
            region
                .end_column
                .unwrap_or(first_len + 1)
                .min(first_len + 1)
        } else {
            first_len + 1
        };
        let offset = display_width(first.chars().take(start_col as usize - 1));
        let width = display_width(
            first
                .chars()
                .skip(start_col as usize - 1)
                .take(end_col.saturating_sub(start_col) as usize),
        );
        let gutter_width = shown_last.max(region.start_line).to_string().len();
        Some(Frame {
            elided: last_line - shown_last,
            lines,
            underline: (offset, width),
            gutter_width,
        })
    }
}

/// Terminal width of `chars` as [`expand`] shows them.
fn display_width(chars: impl Iterator<Item = char>) -> usize {
    chars.map(char_width).sum()
}

fn char_width(c: char) -> usize {
    if c == '\t' {
        TAB_WIDTH
    } else if c.is_control() {
        1
    } else {
        c.width().unwrap_or(1)
    }
}

/// A source line as shown: tabs expanded, control characters replaced.
fn expand(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        if c == '\t' {
            out.push_str(&" ".repeat(TAB_WIDTH));
        } else if c.is_control() {
            out.push('\u{FFFD}');
        } else {
            out.push(c);
        }
    }
    out
}

/// Text from policies or inputs, with control characters (other than newlines and tabs)
/// replaced so it cannot drive the terminal.
pub(crate) fn clean(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

/// Indents the continuation lines of a multi-line message under its header.
fn indent_continuation(text: &str) -> String {
    text.trim_end_matches('\n').replace('\n', "\n    ")
}

fn location(file: &str, pos: Position) -> String {
    format!("{}:{}:{}", clean(file), pos.line, pos.column)
}

fn bold() -> Style {
    Style::new().effects(Effects::BOLD)
}

fn gutter_style() -> Style {
    Style::new()
        .fg_color(Some(AnsiColor::BrightBlue.into()))
        .effects(Effects::BOLD)
}

fn help_style() -> Style {
    Style::new()
        .fg_color(Some(AnsiColor::Cyan.into()))
        .effects(Effects::BOLD)
}

fn warning_style() -> Style {
    Style::new()
        .fg_color(Some(AnsiColor::Yellow.into()))
        .effects(Effects::BOLD)
}

fn error_style() -> Style {
    Style::new()
        .fg_color(Some(AnsiColor::Red.into()))
        .effects(Effects::BOLD)
}

fn severity_style(sev: Severity) -> Style {
    let color = match sev {
        Severity::Critical => AnsiColor::Magenta,
        Severity::High => AnsiColor::Red,
        Severity::Medium => AnsiColor::Yellow,
        Severity::Low => AnsiColor::Cyan,
        Severity::Info => AnsiColor::Blue,
    };
    Style::new()
        .fg_color(Some(color.into()))
        .effects(Effects::BOLD)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::report::fixture;

    fn render(report: &Report, color: bool) -> String {
        let opts = ReportOptions {
            color,
            ..ReportOptions::default()
        };
        let mut out = Vec::new();
        TextReporter::new(opts)
            .write(report, &mut out)
            .expect("writing to a Vec cannot fail");
        String::from_utf8(out).expect("text output is UTF-8")
    }

    /// Removes `ESC [ ... m` sequences.
    fn strip_ansi(s: &str) -> String {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                for c in chars.by_ref() {
                    if c == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn text_snapshot() {
        insta::assert_snapshot!(render(&fixture::report(), false));
    }

    #[test]
    fn colour_only_when_asked_and_only_adds_escapes() {
        let report = fixture::report();
        let plain = render(&report, false);
        let coloured = render(&report, true);
        assert!(!plain.contains('\u{1b}'));
        assert!(coloured.contains("\u{1b}["));
        assert_eq!(strip_ansi(&coloured), plain);
    }

    #[test]
    fn carets_align_after_wide_characters_and_tabs() {
        let out = render(&fixture::report(), false);
        // `        - {name: "日本語", image: nginx}`: 3 wide chars count 6 columns.
        let line = out
            .lines()
            .position(|l| l.ends_with("- {name: \"日本語\", image: nginx}"))
            .expect("frame line for the CJK finding");
        let lines: Vec<&str> = out.lines().collect();
        let frame = lines[line];
        let carets = lines[line + 1];
        let caret_at = carets.find('^').expect("carets under the line");
        let text_at = frame.find("nginx").expect("nginx on the line");
        // Byte offsets differ; compare display widths of the prefixes instead.
        let width = |s: &str| display_width(s.chars());
        assert_eq!(width(&carets[..caret_at]), width(&frame[..text_at]));
        assert_eq!(carets.trim_start_matches(|c| c != '^').trim_end(), "^^^^^");

        // `\tEXPOSE 22`: the tab is shown as four spaces, carets start after it.
        let line = out
            .lines()
            .position(|l| l.ends_with("|     EXPOSE 22"))
            .expect("frame line for the tab finding");
        assert_eq!(
            lines[line + 1].trim_start_matches(|c| c != '^'),
            "^^^^^^^^^"
        );
    }

    #[test]
    fn missing_source_means_no_frame() {
        let mut report = fixture::report();
        report.sources.clear();
        let out = render(&report, false);
        assert!(!out.contains(" | "), "{out}");
        assert!(out.contains(
            "Dockerfile:1:6: HIGH [DF001] Image `ubuntu:latest` uses the latest tag\n  = help: Pin"
        ));
    }

    #[test]
    fn spans_past_the_end_of_the_source_do_not_panic() {
        let mut report = fixture::report();
        for f in &mut report.findings {
            f.location.span = Span::new(Position::new(400, 90), Position::new(2, 0));
        }
        report.findings[0].location.span = Span::new(Position::new(1, 300), Position::new(1, 400));
        let out = render(&report, false);
        assert!(out.contains("Dockerfile:1:300: HIGH [DF001]"));
        assert!(out.contains("Dockerfile:400:90:"));
    }

    #[test]
    fn long_spans_are_elided_and_control_characters_replaced() {
        let source: String = (1..=10).map(|i| format!("line {i}\n")).collect();
        let mut report = fixture::report();
        report
            .sources
            .insert("Dockerfile".to_owned(), Arc::from(source.as_str()));
        report.findings.truncate(1);
        report.findings[0].location.span = Span::new(Position::new(2, 1), Position::new(9, 3));
        report.findings[0].message = "evil \u{1b}[31mred".to_owned();
        let out = render(&report, false);
        assert!(out.contains("\n5 | line 5\n"), "{out}");
        assert!(!out.contains("line 6"), "{out}");
        assert!(out.contains("... 4 more lines"), "{out}");
        assert!(!out.contains('\u{1b}'));
        assert!(out.contains("evil \u{FFFD}[31mred"));
    }

    #[test]
    fn empty_report_says_so() {
        let out = render(&Report::default(), false);
        assert_eq!(
            out,
            "no findings\ninputs: 0 evaluated (0 documents), 0 skipped, 0 failed\n"
        );
    }
}
