//! Location resolution: a raw result's `path`, `line` or instruction object → a span.
//!
//! A path resolves through the document's source map to the node, or to its nearest
//! existing ancestor when the node is missing (the `securityContext` that should be
//! there points at its container). A line covers that line's text. No location at all
//! points at the document's first line, never at nothing.

use crate::inputs::Document;
use crate::runtimes::RawResult;
use crate::source::{Position, Span};
use crate::PathSegment;

pub(super) fn locate(
    r: &RawResult,
    doc: &Document,
    conftest: Option<(&serde_json::Value, &Vec<u32>)>,
) -> (Span, Vec<PathSegment>) {
    let loc = &r.location;
    // An exact position (line and column) is more precise than the node a path names:
    // it wins for the range, and the path is still reported.
    let exact = loc.line.is_some() && loc.column.is_some();
    if let Some(path) = loc.path.as_ref().filter(|_| !exact) {
        return (doc.locate(path), path.clone());
    }
    if let Some(line) = loc.line {
        return (
            line_span(doc, loc, line),
            loc.path.clone().unwrap_or_default(),
        );
    }
    if let Some((view, lines)) = conftest {
        if let Some(line) = conftest_guess(&r.message, view, lines) {
            return (doc.line_span(line), Vec::new());
        }
    }
    (doc.start_span(), Vec::new())
}

/// The range of a `line` location: the whole line, narrowed by `column`, extended to
/// `end_line` and cut at `end_column`.
fn line_span(doc: &Document, loc: &crate::runtimes::RawLocation, line: u32) -> Span {
    let mut span = doc.line_span(line);
    if let Some(col) = loc.column {
        span.start.column = col;
        if span.end.column < col {
            span.end.column = col;
        }
    }
    let end_line = loc.end_line.filter(|e| *e >= line);
    if let Some(end) = end_line.filter(|e| *e > line) {
        span.end = doc.line_span(end).end;
    }
    if let Some(end_col) = loc.end_column {
        let end = Position::new(end_line.unwrap_or(line), end_col);
        if end > span.start {
            span.end = end;
        }
    }
    span
}

/// conftest's Dockerfile results are plain strings without locations. Map them back to
/// the first instruction whose arguments appear in the message (how a reader would
/// find it); this is a heuristic and documented as such.
fn conftest_guess(message: &str, view: &serde_json::Value, lines: &[u32]) -> Option<u32> {
    let cmds = view.as_array()?;
    let mut best: Option<(usize, u32)> = None;
    for (i, cmd) in cmds.iter().enumerate() {
        if cmd.get("Cmd").and_then(|c| c.as_str()) == Some("comment") {
            continue;
        }
        let Some(values) = cmd.get("Value").and_then(|v| v.as_array()) else {
            continue;
        };
        for v in values.iter().filter_map(|v| v.as_str()) {
            let v = v.trim();
            if v.len() >= 3 && message.contains(v) {
                let score = v.len();
                if best.is_none_or(|(s, _)| score > s) {
                    best = lines.get(i).map(|l| (score, *l));
                }
            }
        }
    }
    best.map(|(_, l)| l).filter(|l| *l > 0)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::diagnostics::Level;
    use crate::inputs::{dockerfile, DocumentKind};
    use crate::rules::{RuleMeta, RuleOrigin, RuntimeKind};
    use crate::runtimes::RawLocation;
    use crate::Severity;

    fn result(location: RawLocation) -> RawResult {
        RawResult {
            rule: Arc::new(RuleMeta {
                id: "T1".into(),
                title: "t".into(),
                description: String::new(),
                severity: Severity::Low,
                kinds: vec![DocumentKind::Dockerfile],
                remediation: None,
                references: Vec::new(),
                aliases: Vec::new(),
                origin: RuleOrigin {
                    builtin: false,
                    runtime: RuntimeKind::Wasm,
                    file: "t.wasm".into(),
                    package: None,
                },
            }),
            level: Level::Deny,
            message: "m".into(),
            location,
            severity: None,
        }
    }

    fn doc() -> Document {
        dockerfile::parse(
            "Dockerfile",
            "FROM debian\nRUN a && \\\n    curl x | tar -xz\n",
        )
        .expect("parses")
    }

    fn path() -> Vec<PathSegment> {
        vec![
            PathSegment::Key("instructions".into()),
            PathSegment::Index(1),
        ]
    }

    #[test]
    fn exact_position_wins_over_path_and_keeps_it() {
        let r = result(RawLocation {
            path: Some(path()),
            line: Some(3),
            column: Some(5),
            end_line: Some(3),
            end_column: Some(11),
        });
        let (span, p) = locate(&r, &doc(), None);
        assert_eq!(
            (span.start, span.end),
            (Position::new(3, 5), Position::new(3, 11))
        );
        assert_eq!(p, path());
    }

    #[test]
    fn path_with_a_line_but_no_column_still_uses_the_path() {
        let r = result(RawLocation {
            path: Some(path()),
            line: Some(3),
            ..RawLocation::default()
        });
        let (span, _) = locate(&r, &doc(), None);
        assert_eq!(span.start, Position::new(2, 1));
        assert_eq!(span.end.line, 3);
    }

    #[test]
    fn end_column_cuts_the_line_and_end_line_extends_it() {
        let r = result(RawLocation {
            line: Some(2),
            column: Some(5),
            end_column: Some(6),
            ..RawLocation::default()
        });
        let (span, p) = locate(&r, &doc(), None);
        assert_eq!(
            (span.start, span.end),
            (Position::new(2, 5), Position::new(2, 6))
        );
        assert!(p.is_empty());
        let r = result(RawLocation {
            line: Some(2),
            column: Some(5),
            end_line: Some(3),
            ..RawLocation::default()
        });
        let (span, _) = locate(&r, &doc(), None);
        assert_eq!(span.end, Position::new(3, 21));
    }
}
