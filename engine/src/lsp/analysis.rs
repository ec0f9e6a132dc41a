//! One editor buffer in, LSP diagnostics out.
//!
//! The buffer's text is parsed in memory exactly as `policy eval` parses a file (same
//! kind detection, same parsers, same limits) and checked by the server's [`Session`]
//! ([`Session::check_file_with`]: suppressions, then the configuration's rule overrides
//! and exceptions; or [`Session::check_file_in_run`] within the workspace when
//! cross-document rules are loaded, see [`super::workspace`]; the server itself goes through
//! [`Session::check_file_incremental`], which reuses what the last evaluation of the buffer
//! computed for documents that did not change), and turned into
//! diagnostics with UTF-16 ranges. The result is kept per
//! open document so that hover and code actions answer from the findings the user sees.
//!
//! ## Severity mapping
//!
//! | finding | diagnostic severity |
//! |---|---|
//! | severity below `failOn` (it would not fail `policy eval`) | Hint |
//! | `warn` result (fails only with `--fail-on-warn`) | Information |
//! | `critical`, `high` | Error |
//! | `medium` | Warning |
//! | `low` | Information |
//! | `info` | Hint |
//! | the buffer does not parse (`POL000`) | Error |
//! | a rule failed or timed out on it (`POL001`, `POL002`) | Warning |

use std::path::Path;
use std::sync::Arc;

use lsp_types::{
    CodeDescription, Diagnostic, DiagnosticSeverity, NumberOrString, Position as LspPosition,
    Range, Uri,
};

use super::position::{utf16_len, TextIndex};
use super::settings::Settings;
use crate::diagnostics::{ErrorKind, ErrorRecord, Finding, Level, Report};
use crate::eval::{PolicySet, Worker};
use crate::inputs::{self, FileReport, Format, LoadOptions};
use crate::session::Session;
use crate::source::Position;
use crate::Severity;

/// The `source` of every diagnostic this server publishes.
pub const SOURCE: &str = "policy";

/// A finding with its range in the buffer.
#[derive(Debug, Clone)]
pub struct Located {
    /// The UTF-16 range.
    pub range: Range,
    /// The finding.
    pub finding: Finding,
}

/// What one evaluation of a buffer produced.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    /// How the buffer was parsed; `None` when its kind is unknown (nothing is published).
    pub format: Option<Format>,
    /// The parsed documents (for code actions), when the buffer was parsed: shared with
    /// the snapshot the front answers from and with the run of other buffers.
    pub file: Option<Arc<FileReport>>,
    /// The findings, in report order.
    pub findings: Vec<Located>,
    /// What is published: one per finding, then parse and rule errors.
    pub diagnostics: Vec<Diagnostic>,
}

/// The format of a buffer: from its file name as `policy eval` decides it, else from the
/// editor's language ID. Buffers of other languages are not checked.
pub fn buffer_format(name: &str, language_id: &str) -> Option<Format> {
    inputs::format_from_name(Path::new(name))
        .or_else(|| inputs::kinds::syntax_of_language(language_id))
}

/// Parses and evaluates one buffer on its own.
pub fn analyze(
    session: &Session,
    set: &PolicySet,
    worker: &mut Worker,
    settings: &Settings,
    name: &str,
    language_id: &str,
    text: &str,
) -> Analysis {
    match load(session, settings, name, language_id, text, None) {
        Loaded::Done(analysis) => analysis,
        Loaded::File(format, file) => {
            let report = session.check_file_with(set, worker, file.clone());
            finish(format, Arc::new(file), text, settings, report)
        }
    }
}

/// A buffer after [`load`].
#[derive(Debug)]
pub enum Loaded {
    /// Nothing to evaluate (unknown kind, excluded, empty, too large): the analysis is
    /// final.
    Done(Analysis),
    /// Parsed: evaluate it, then [`finish`].
    File(Format, FileReport),
}

/// Parses a buffer as `policy eval` parses the file; with `reuse`, a YAML stream's
/// documents unchanged since the last parse are not parsed again
/// ([`Session::load_buffer`]).
pub fn load(
    session: &Session,
    settings: &Settings,
    name: &str,
    language_id: &str,
    text: &str,
    reuse: Option<&mut crate::inputs::yaml::Reuse>,
) -> Loaded {
    let Some(format) = buffer_format(name, language_id) else {
        return Loaded::Done(Analysis::default());
    };
    let mut out = Analysis {
        format: Some(format),
        ..Analysis::default()
    };
    if settings.is_excluded(name) || text.trim().is_empty() {
        return Loaded::Done(out);
    }
    let load = LoadOptions::default();
    if text.len() as u64 > load.max_file_size {
        out.diagnostics.push(Diagnostic {
            range: Range::new(LspPosition::new(0, 0), LspPosition::new(0, 0)),
            severity: Some(DiagnosticSeverity::INFORMATION),
            source: Some(SOURCE.to_string()),
            message: format!(
                "not checked: the buffer is {} bytes, larger than the {}-byte limit",
                text.len(),
                load.max_file_size
            ),
            ..Diagnostic::default()
        });
        return Loaded::Done(out);
    }
    let file = match reuse {
        Some(reuse) => session.load_buffer(name, text, Some(format), reuse),
        None => session.load_text_as(name, text, None, Some(format)),
    };
    Loaded::File(format, file)
}

/// The analysis of a loaded buffer from its report: checked as `policy eval` checks a
/// file (in-source suppressions, whose warnings become diagnostics too, then the
/// configuration's rule overrides and exceptions, whose warnings are shown once, when
/// policies load).
pub fn finish(
    format: Format,
    file: Arc<FileReport>,
    text: &str,
    settings: &Settings,
    mut report: Report,
) -> Analysis {
    let mut out = Analysis {
        format: Some(format),
        ..Analysis::default()
    };
    let index = TextIndex::new(text);
    // The policy set's own errors are published on the policy files, not on buffers.
    report.errors.retain(|e| e.kind != ErrorKind::PolicyError);
    for f in report.findings {
        let range = index.to_lsp_range(f.location.span);
        out.diagnostics
            .push(finding_diagnostic(&f, range, settings.fail_on));
        out.findings.push(Located { range, finding: f });
    }
    for e in &report.errors {
        out.diagnostics.push(error_diagnostic(e, &index));
    }
    for w in &report.warnings {
        let at = crate::source::Span::point(crate::source::Position::new(
            w.line.max(1),
            w.column.max(1),
        ));
        out.diagnostics.push(Diagnostic {
            range: index.to_lsp_range(at),
            severity: Some(DiagnosticSeverity::WARNING),
            source: Some(SOURCE.to_string()),
            message: w.message.clone(),
            ..Diagnostic::default()
        });
    }
    out.file = Some(file);
    out
}

/// The diagnostic severity of a finding (see the module documentation).
pub fn severity(severity: Severity, level: Level, fail_on: Severity) -> DiagnosticSeverity {
    if severity < fail_on {
        return DiagnosticSeverity::HINT;
    }
    if level == Level::Warn {
        return DiagnosticSeverity::INFORMATION;
    }
    match severity {
        Severity::Critical | Severity::High => DiagnosticSeverity::ERROR,
        Severity::Medium => DiagnosticSeverity::WARNING,
        Severity::Low => DiagnosticSeverity::INFORMATION,
        Severity::Info => DiagnosticSeverity::HINT,
    }
}

/// A finding as a diagnostic: rule ID as `code`, its first web reference as
/// `codeDescription`, the message followed by the rule's remediation.
pub fn finding_diagnostic(f: &Finding, range: Range, fail_on: Severity) -> Diagnostic {
    let href = f
        .rule
        .references
        .iter()
        .find(|r| r.starts_with("https://") || r.starts_with("http://"))
        .and_then(|r| r.parse::<Uri>().ok());
    let mut message = match &f.rule.remediation {
        Some(r) if !r.trim().is_empty() => format!("{}\nhelp: {}", f.message, r.trim()),
        _ => f.message.clone(),
    };
    // Rules merged into this finding (a PSS check at the same node): named in the text,
    // and listed in `data.relatedRules` for clients and tests.
    let data = (!f.related_rules.is_empty()).then(|| {
        message.push_str(&format!(
            "\nalso: {} (same root cause, reported once)",
            f.related_rules.join(", ")
        ));
        serde_json::json!({ "relatedRules": f.related_rules })
    });
    Diagnostic {
        data,
        range,
        severity: Some(severity(f.severity, f.level, fail_on)),
        code: Some(NumberOrString::String(f.rule.id.clone())),
        code_description: href.map(|href| CodeDescription { href }),
        source: Some(SOURCE.to_string()),
        message,
        ..Diagnostic::default()
    }
}

/// A parse or rule error as a diagnostic from its position to the end of that line.
pub fn error_diagnostic(e: &ErrorRecord, index: &TextIndex<'_>) -> Diagnostic {
    // A rule error's own location is in its policy file; in the buffer it evaluated, it
    // belongs on the first line.
    let in_buffer = !matches!(e.kind, ErrorKind::RuleError | ErrorKind::RuleTimeout);
    let (line, column) = if in_buffer {
        (e.line, e.column)
    } else {
        (1, 1)
    };
    let start = index.to_lsp(Position::new(line.max(1), column.max(1)));
    let line_end = utf16_len(index.line(start.line as usize));
    let end = LspPosition::new(start.line, line_end.max(start.character));
    let mut message = match &e.rule {
        Some(rule) => format!("rule {rule}: {}", e.message),
        None => e.message.clone(),
    };
    if !in_buffer {
        message.push_str(&format!(" [{}:{}:{}]", e.file, e.line, e.column));
    }
    Diagnostic {
        range: Range::new(start, end),
        severity: Some(if e.kind == ErrorKind::ParseError {
            DiagnosticSeverity::ERROR
        } else {
            DiagnosticSeverity::WARNING
        }),
        code: Some(NumberOrString::String(e.kind.id().to_string())),
        source: Some(SOURCE.to_string()),
        message,
        ..Diagnostic::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_map_as_documented() {
        use DiagnosticSeverity as D;
        let low = Severity::Low;
        assert_eq!(severity(Severity::Critical, Level::Deny, low), D::ERROR);
        assert_eq!(severity(Severity::High, Level::Deny, low), D::ERROR);
        assert_eq!(severity(Severity::Medium, Level::Deny, low), D::WARNING);
        assert_eq!(severity(Severity::Low, Level::Deny, low), D::INFORMATION);
        assert_eq!(
            severity(Severity::Info, Level::Deny, Severity::Info),
            D::HINT
        );
        assert_eq!(severity(Severity::High, Level::Warn, low), D::INFORMATION);
        // Below failOn: it would not fail CI, so it is only a hint.
        assert_eq!(
            severity(Severity::Medium, Level::Deny, Severity::High),
            D::HINT
        );
    }

    #[test]
    fn formats_come_from_the_name_then_the_language() {
        assert_eq!(
            buffer_format("/w/Dockerfile.dev", "plaintext"),
            Some(Format::Dockerfile)
        );
        assert_eq!(buffer_format("/w/pod.yml", "yaml"), Some(Format::Yaml));
        assert_eq!(
            buffer_format("Untitled-1", "dockerfile"),
            Some(Format::Dockerfile)
        );
        assert_eq!(buffer_format("/w/notes.md", "markdown"), None);
    }

    #[test]
    fn errors_span_to_the_end_of_their_line() {
        let text = "a: [\né🐳: b\n";
        let index = TextIndex::new(text);
        let e = ErrorRecord {
            kind: ErrorKind::ParseError,
            file: "x.yaml".into(),
            line: 2,
            column: 3,
            rule: None,
            input: None,
            message: "invalid YAML".into(),
        };
        let d = error_diagnostic(&e, &index);
        assert_eq!(
            d.range,
            Range::new(LspPosition::new(1, 3), LspPosition::new(1, 6))
        );
        assert_eq!(d.severity, Some(DiagnosticSeverity::ERROR));
        assert_eq!(d.code, Some(NumberOrString::String("POL000".into())));
    }
}
