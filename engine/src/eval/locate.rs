//! Location resolution: a raw result's `path`, `line` or instruction object → a span.
//!
//! A path resolves through the document's source map to the node, or to its nearest
//! existing ancestor when the node is missing (the `securityContext` that should be
//! there points at its container). A line covers that line's text. No location at all
//! points at the document's first line, never at nothing.

use crate::inputs::Document;
use crate::runtimes::RawResult;
use crate::source::Span;
use crate::PathSegment;

pub(super) fn locate(
    r: &RawResult,
    doc: &Document,
    conftest: Option<(&serde_json::Value, &Vec<u32>)>,
) -> (Span, Vec<PathSegment>) {
    let loc = &r.location;
    if let Some(path) = &loc.path {
        return (doc.locate(path), path.clone());
    }
    if let Some(line) = loc.line {
        let mut span = doc.line_span(line);
        if let Some(col) = loc.column {
            span.start.column = col;
            if span.end.column < col {
                span.end.column = col;
            }
        }
        if let Some(end) = loc.end_line.filter(|e| *e > line) {
            let end_span = doc.line_span(end);
            span.end = end_span.end;
        }
        return (span, Vec::new());
    }
    if let Some((view, lines)) = conftest {
        if let Some(line) = conftest_guess(&r.message, view, lines) {
            return (doc.line_span(line), Vec::new());
        }
    }
    (doc.start_span(), Vec::new())
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
