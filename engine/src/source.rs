//! Source positions: byte offsets → line/column, and the source map that ties every JSON
//! path of a document back to a range of the original file.
//!
//! Lines and columns are 1-based. Columns count Unicode scalar values (characters), not
//! bytes; the LSP layer converts to UTF-16 when it needs to.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// A map keyed by JSON Pointer, one entry per node of a document: the source maps. A
/// large document has tens of thousands of them, and with std's SipHash their hashing
/// was a fifth of the CPU of a run over big CRDs (BENCHMARKS.md, "source maps").
/// foldhash is several times faster on such keys and still seeded at random per process,
/// so a hostile document cannot choose keys that collide.
pub type PointerMap<V> = HashMap<String, V, foldhash::fast::RandomState>;

use crate::PathSegment;

/// A 1-based line and column (column in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Position {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
}

impl Position {
    /// The start of a file.
    pub const START: Position = Position { line: 1, column: 1 };

    /// Builds a position.
    pub fn new(line: u32, column: u32) -> Self {
        Position { line, column }
    }
}

/// A range in a source file; `end` is exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Span {
    /// First character.
    pub start: Position,
    /// One past the last character.
    pub end: Position,
}

impl Span {
    /// A span from `start` to `end`.
    pub fn new(start: Position, end: Position) -> Self {
        Span { start, end }
    }

    /// An empty span at `pos`.
    pub fn point(pos: Position) -> Self {
        Span {
            start: pos,
            end: pos,
        }
    }

    /// The span covering a whole line (column 1 to the start of the next line).
    pub fn line(line: u32) -> Self {
        Span {
            start: Position::new(line, 1),
            end: Position::new(line + 1, 1),
        }
    }

    /// This span `lines` lines further down.
    pub fn shift_lines(self, lines: u32) -> Self {
        let down = |p: Position| Position::new(p.line.saturating_add(lines), p.column);
        Span::new(down(self.start), down(self.end))
    }
}

/// Converts byte offsets of one text into line/column positions.
#[derive(Debug, Clone)]
pub struct LineIndex {
    line_starts: Vec<usize>,
    /// `char_marks[k]`: characters (non-continuation bytes) in `text[..k * MARK_STRIDE]`.
    /// Bounds a column lookup to one binary search plus at most `MARK_STRIDE` bytes,
    /// however long the line, for 1/64 of the text's size in memory.
    char_marks: Vec<u32>,
}

/// Bytes between two [`LineIndex`] character marks.
const MARK_STRIDE: usize = 256;

/// Characters (UTF-8 non-continuation bytes) in `bytes`.
fn count_chars(bytes: &[u8]) -> usize {
    bytes.iter().filter(|b| (**b as i8) >= -0x40).count()
}

impl LineIndex {
    /// Indexes `text`. Lines end at `\n` (a preceding `\r` stays in the line).
    pub fn new(text: &str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        let mut char_marks = Vec::with_capacity(text.len() / MARK_STRIDE + 1);
        let mut chars = 0u32;
        char_marks.push(0);
        for chunk in text.as_bytes().chunks(MARK_STRIDE) {
            chars = chars.saturating_add(count_chars(chunk) as u32);
            char_marks.push(chars);
        }
        LineIndex {
            line_starts,
            char_marks,
        }
    }

    /// Characters in `text[..offset]`, in O(1) time after the index is built.
    fn chars_before(&self, text: &str, offset: usize) -> usize {
        let k = offset / MARK_STRIDE;
        let base = self.char_marks.get(k).copied().unwrap_or(0) as usize;
        base + count_chars(&text.as_bytes()[k * MARK_STRIDE..offset])
    }

    /// Number of lines.
    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    /// Byte offset of the start of 1-based `line`, if it exists.
    pub fn line_start(&self, line: u32) -> Option<usize> {
        self.line_starts
            .get((line as usize).checked_sub(1)?)
            .copied()
    }

    /// Position of byte `offset` in `text` (the text this index was built from).
    /// Offsets inside a multi-byte character round down to it.
    pub fn position(&self, text: &str, offset: usize) -> Position {
        let offset = offset.min(text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line];
        let mut end = offset;
        while end > start && !text.is_char_boundary(end) {
            end -= 1;
        }
        let column = self.chars_before(text, end) - self.chars_before(text, start) + 1;
        Position::new(line as u32 + 1, column as u32)
    }

    /// Span of the byte range `start..end` of `text`.
    pub fn span(&self, text: &str, start: usize, end: usize) -> Span {
        Span::new(self.position(text, start), self.position(text, end))
    }
}

/// Renders a path as a JSON Pointer (RFC 6901), the key of a [`SourceMap`].
pub fn json_pointer<'a>(path: impl IntoIterator<Item = &'a PathSegment>) -> String {
    let mut out = String::new();
    for seg in path {
        out.push('/');
        match seg {
            PathSegment::Index(i) => out.push_str(&i.to_string()),
            PathSegment::Key(k) => out.push_str(&k.replace('~', "~0").replace('/', "~1")),
        }
    }
    out
}

/// Renders a path for humans: `spec.containers[0].image`.
pub fn display_path(path: &[PathSegment]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            PathSegment::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
            PathSegment::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
        }
    }
    out
}

/// Maps JSON paths of a document to spans of its source file.
///
/// Keys are JSON Pointers. A path that is not in the map resolves to its nearest
/// recorded ancestor, and finally to the document's own span, so a lookup never fails.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SourceMap {
    entries: PointerMap<Span>,
    /// Spans of object keys (`metadata` in `metadata: ...`), by the pointer of their value.
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    keys: PointerMap<Span>,
}

/// The result of resolving a path through a [`SourceMap`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The span found.
    pub span: Span,
    /// How many leading segments of the requested path were matched; less than the
    /// path length when the span belongs to an ancestor.
    pub matched: usize,
}

impl SourceMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The map of these value spans and key spans (JSON Pointer keys), taken as they are.
    pub fn from_parts(entries: PointerMap<Span>, keys: PointerMap<Span>) -> Self {
        SourceMap { entries, keys }
    }

    /// Records the span of the value at `pointer` (a JSON Pointer, `""` for the root).
    pub fn insert(&mut self, pointer: String, span: Span) {
        self.entries.insert(pointer, span);
    }

    /// Records the span of the value at `path`.
    pub fn insert_path(&mut self, path: &[PathSegment], span: Span) {
        self.entries.insert(json_pointer(path), span);
    }

    /// Records the span of the key whose value lives at `pointer`.
    pub fn insert_key(&mut self, pointer: String, span: Span) {
        self.keys.insert(pointer, span);
    }

    /// The span of the value at exactly `pointer`.
    pub fn get(&self, pointer: &str) -> Option<Span> {
        self.entries.get(pointer).copied()
    }

    /// The span of the key of the value at exactly `pointer`.
    pub fn get_key(&self, pointer: &str) -> Option<Span> {
        self.keys.get(pointer).copied()
    }

    /// Number of recorded value spans.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Iterates over `(pointer, span)` entries in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Span)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// Resolves `path` to the span of its value, or of its nearest recorded ancestor.
    /// When the exact path is found and its key is recorded, the span starts at the key,
    /// which is what an editor should underline.
    pub fn resolve(&self, path: &[PathSegment]) -> Resolved {
        for depth in (0..=path.len()).rev() {
            let pointer = json_pointer(&path[..depth]);
            if let Some(span) = self.entries.get(&pointer) {
                let span = match self.keys.get(&pointer) {
                    Some(key) if key.start <= span.start => Span::new(key.start, span.end),
                    _ => *span,
                };
                return Resolved {
                    span,
                    matched: depth,
                };
            }
        }
        Resolved {
            span: Span::point(Position::START),
            matched: 0,
        }
    }

    /// Moves every span `lines` lines down (a document parsed alone, put back in its
    /// file below the lines before it).
    pub fn shift_lines(&mut self, lines: u32) {
        for span in self.entries.values_mut().chain(self.keys.values_mut()) {
            *span = span.shift_lines(lines);
        }
    }

    /// The map as a sorted `pointer → span` object, for `policy parse --spans`.
    pub fn to_sorted(&self) -> std::collections::BTreeMap<&str, Span> {
        self.entries.iter().map(|(k, v)| (k.as_str(), *v)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters() {
        let text = "ab\nçd\n\nx";
        let idx = LineIndex::new(text);
        assert_eq!(idx.position(text, 0), Position::new(1, 1));
        assert_eq!(idx.position(text, 3), Position::new(2, 1));
        // 'd' is after the two-byte 'ç'
        assert_eq!(idx.position(text, 5), Position::new(2, 2));
        assert_eq!(idx.position(text, 7), Position::new(3, 1));
        assert_eq!(idx.position(text, 8), Position::new(4, 1));
        assert_eq!(idx.position(text, 100), Position::new(4, 2));
    }

    #[test]
    fn positions_on_long_mixed_lines_match_a_character_count() {
        // Marks fall every 256 bytes, some inside multi-byte characters.
        let line: String = "aé€😀b".repeat(200);
        let text = format!("x\n{line}\n{line}");
        let idx = LineIndex::new(&text);
        for offset in (0..text.len()).step_by(7) {
            let before = &text.as_bytes()[..offset];
            let line_no = before.iter().filter(|b| **b == b'\n').count();
            let start = before
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |i| i + 1);
            let mut end = offset;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            let col = text[start..end].chars().count() + 1;
            assert_eq!(
                idx.position(&text, offset),
                Position::new(line_no as u32 + 1, col as u32),
                "offset {offset}"
            );
        }
    }

    #[test]
    fn resolve_falls_back_to_parent() {
        let mut map = SourceMap::new();
        map.insert(String::new(), Span::line(1));
        map.insert("/spec".into(), Span::line(3));
        let path: Vec<PathSegment> = vec!["spec".into(), "securityContext".into()];
        let r = map.resolve(&path);
        assert_eq!(r.span, Span::line(3));
        assert_eq!(r.matched, 1);
        assert_eq!(map.resolve(&["nope".into()]).span, Span::line(1));
    }

    #[test]
    fn pointer_escapes() {
        let path: Vec<PathSegment> = vec!["a/b".into(), "c~d".into(), 3.into()];
        assert_eq!(json_pointer(&path), "/a~1b/c~0d/3");
        assert_eq!(display_path(&path), "a/b.c~d[3]");
    }
}
