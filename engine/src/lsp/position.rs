//! Positions between the engine and the editor.
//!
//! The engine's positions are 1-based lines and 1-based columns counted in characters
//! (Unicode scalar values, see [`crate::source`]). LSP positions are 0-based lines and
//! 0-based columns counted in UTF-16 code units, the protocol's default (and only
//! mandatory) encoding. They differ on every line with a character outside the Basic
//! Multilingual Plane (an emoji is one character but two UTF-16 units), so every range
//! sent to or read from the editor goes through [`TextIndex`].
//!
//! Lines end at `\n`; a `\r` before it is not part of the line's text. Out-of-range
//! positions are clamped (to the end of the line, or of the text), never rejected: an
//! editor and the engine can briefly disagree about a buffer, and that must not fail.

use lsp_types::{Position as LspPosition, Range};

use crate::source::{LineIndex, Position, Span};

/// Line starts of one text, for converting positions in both directions.
#[derive(Debug, Clone)]
pub struct TextIndex<'a> {
    text: &'a str,
    lines: LineIndex,
}

impl<'a> TextIndex<'a> {
    /// Indexes `text`.
    pub fn new(text: &'a str) -> Self {
        TextIndex {
            text,
            lines: LineIndex::new(text),
        }
    }

    /// Number of lines (a text ending in `\n` has an empty last line).
    pub fn line_count(&self) -> usize {
        self.lines.line_count()
    }

    /// Byte offset of the start of 0-based `line`.
    fn line_start(&self, line: usize) -> Option<usize> {
        self.lines
            .line_start(u32::try_from(line).ok()?.checked_add(1)?)
    }

    /// The text of 0-based `line` without its line ending; `""` past the end.
    pub fn line(&self, line: usize) -> &'a str {
        let Some(start) = self.line_start(line) else {
            return "";
        };
        let end = self
            .line_start(line + 1)
            .map_or(self.text.len(), |next| next - 1);
        let s = &self.text[start..end];
        s.strip_suffix('\r').unwrap_or(s)
    }

    /// The LSP position of an engine position.
    pub fn to_lsp(&self, pos: Position) -> LspPosition {
        let line = pos.line.saturating_sub(1) as usize;
        if line >= self.line_count() {
            let last = self.line_count() - 1;
            return LspPosition::new(last as u32, utf16_len(self.line(last)));
        }
        let chars = pos.column.saturating_sub(1) as usize;
        let units: usize = self
            .line(line)
            .chars()
            .take(chars)
            .map(char::len_utf16)
            .sum();
        LspPosition::new(line as u32, units as u32)
    }

    /// The LSP range of an engine span (its end is never before its start).
    pub fn to_lsp_range(&self, span: Span) -> Range {
        let start = self.to_lsp(span.start);
        let end = self.to_lsp(span.end);
        let end = if (end.line, end.character) < (start.line, start.character) {
            start
        } else {
            end
        };
        Range::new(start, end)
    }

    /// The byte offset of an LSP position. A column inside a surrogate pair rounds down to
    /// the character; one past the end of the line clamps to the end of its text.
    pub fn offset(&self, pos: LspPosition) -> usize {
        let line = pos.line as usize;
        let Some(start) = self.line_start(line) else {
            return self.text.len();
        };
        let mut units = 0usize;
        for (i, c) in self.line(line).char_indices() {
            units += c.len_utf16();
            if units > pos.character as usize {
                return start + i;
            }
        }
        start + self.line(line).len()
    }

    /// The engine position (1-based, in characters) of an LSP position.
    pub fn from_lsp(&self, pos: LspPosition) -> Position {
        self.lines.position(self.text, self.offset(pos))
    }
}

/// Length of `s` in UTF-16 code units.
pub fn utf16_len(s: &str) -> u32 {
    s.chars().map(char::len_utf16).sum::<usize>() as u32
}

/// Applies one `textDocument/didChange` content change: a range edit, or with no range a
/// replacement of the whole text.
pub fn apply_change(text: &mut String, range: Option<Range>, new_text: &str) {
    match range {
        None => {
            text.clear();
            text.push_str(new_text);
        }
        Some(range) => {
            // Scans only up to the edit (no index of the whole text): typing at the top of
            // a large buffer costs no more than in a small one.
            let start = byte_offset(text, range.start);
            let end = byte_offset(text, range.end).max(start);
            text.replace_range(start..end, new_text);
        }
    }
}

/// The byte offset in `text` of an LSP position, with [`TextIndex::offset`]'s rules,
/// found by scanning the text up to that position only.
fn byte_offset(text: &str, pos: LspPosition) -> usize {
    let mut start = 0;
    for _ in 0..pos.line {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return text.len(),
        }
    }
    let rest = &text[start..];
    let line = &rest[..rest.find('\n').unwrap_or(rest.len())];
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut units = 0usize;
    for (i, c) in line.char_indices() {
        units += c.len_utf16();
        if units > pos.character as usize {
            return start + i;
        }
    }
    start + line.len()
}

/// Applies the content changes of one `didChange` notification, in order. One change is
/// applied in place; a batch goes through a rope, so that each edit costs O(log n) plus
/// the length of its line rather than a pass over the whole text (a 5,000-edit change on
/// a large buffer was quadratic).
pub fn apply_changes<'c>(
    text: &mut String,
    changes: impl IntoIterator<Item = (Option<Range>, &'c str)>,
) {
    let mut changes = changes.into_iter().peekable();
    let Some(first) = changes.next() else { return };
    if changes.peek().is_none() {
        apply_change(text, first.0, first.1);
        return;
    }
    let mut rope = ropey::Rope::from_str(text);
    for (range, new_text) in std::iter::once(first).chain(changes) {
        match range {
            None => rope = ropey::Rope::from_str(new_text),
            Some(range) => {
                let start = rope_char(&rope, range.start);
                let end = rope_char(&rope, range.end).max(start);
                rope.remove(start..end);
                rope.insert(start, new_text);
            }
        }
    }
    *text = rope.to_string();
}

/// The char index in `rope` of an LSP position, with [`TextIndex::offset`]'s rules: a
/// column inside a surrogate pair rounds down, one past the end of the line clamps to
/// the end of its text, a line past the end is the end of the text.
fn rope_char(rope: &ropey::Rope, pos: LspPosition) -> usize {
    let line = pos.line as usize;
    if line >= rope.len_lines() {
        return rope.len_chars();
    }
    let start = rope.line_to_char(line);
    let text = rope.line(line);
    // The line without its ending (`\n` or `\r\n`), as in [`TextIndex::line`].
    let mut len = text.len_chars();
    if len > 0 && text.char(len - 1) == '\n' {
        len -= 1;
        if len > 0 && text.char(len - 1) == '\r' {
            len -= 1;
        }
    }
    let mut units = 0usize;
    for (i, c) in text.chars().take(len).enumerate() {
        units += c.len_utf16();
        if units > pos.character as usize {
            return start + i;
        }
    }
    start + len
}

/// Whether `pos` lies within `range` (both ends included, so that an empty range at the
/// cursor still matches).
pub fn contains(range: &Range, pos: LspPosition) -> bool {
    let p = (pos.line, pos.character);
    (range.start.line, range.start.character) <= p && p <= (range.end.line, range.end.character)
}

/// Whether two ranges overlap or touch.
pub fn intersects(a: &Range, b: &Range) -> bool {
    let (a0, a1) = (
        (a.start.line, a.start.character),
        (a.end.line, a.end.character),
    );
    let (b0, b1) = (
        (b.start.line, b.start.character),
        (b.end.line, b.end.character),
    );
    a0 <= b1 && b0 <= a1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanning_offsets_agree_with_the_index() {
        let text = "FROM a\r\nRUN 😀 é\n\nx\r\ny";
        let idx = TextIndex::new(text);
        let rope = ropey::Rope::from_str(text);
        for line in 0..7 {
            for character in 0..12 {
                let pos = lsp(line, character);
                let want = idx.offset(pos);
                assert_eq!(byte_offset(text, pos), want, "{pos:?}");
                assert_eq!(rope.char_to_byte(rope_char(&rope, pos)), want, "{pos:?}");
            }
        }
    }

    #[test]
    fn a_batch_of_changes_equals_the_changes_one_by_one() {
        let base = "FROM alpine:3.20\nRUN echo 😀 hi\n\nUSER app\r\nCMD [\"x\"]";
        let changes: Vec<(Option<Range>, &str)> = vec![
            (Some(Range::new(lsp(1, 11), lsp(1, 13))), "X"),
            (Some(Range::new(lsp(1, 12), lsp(1, 40))), ""),
            (Some(Range::new(lsp(0, 4), lsp(0, 10))), "3.21\nRUN true"),
            (Some(Range::new(lsp(9, 0), lsp(9, 0))), "\nEOF"),
            (Some(Range::new(lsp(3, 2), lsp(4, 1))), ""),
            (Some(Range::new(lsp(2, 0), lsp(2, 0))), "é"),
            (Some(Range::new(lsp(1, 30), lsp(1, 2))), "y"),
        ];
        let mut one_by_one = base.to_string();
        for (r, t) in &changes {
            apply_change(&mut one_by_one, *r, t);
        }
        let mut batched = base.to_string();
        apply_changes(&mut batched, changes.iter().map(|(r, t)| (*r, *t)));
        assert_eq!(batched, one_by_one);
        let mut replaced = base.to_string();
        apply_changes(
            &mut replaced,
            [(None, "new"), (Some(Range::new(lsp(0, 3), lsp(0, 3))), "!")],
        );
        assert_eq!(replaced, "new!");
    }

    fn lsp(line: u32, character: u32) -> LspPosition {
        LspPosition::new(line, character)
    }

    #[test]
    fn ascii_columns_are_shifted_to_zero_based() {
        let text = "FROM ubuntu:latest\nUSER app\n";
        let idx = TextIndex::new(text);
        assert_eq!(idx.to_lsp(Position::new(1, 6)), lsp(0, 5));
        assert_eq!(idx.to_lsp(Position::new(2, 1)), lsp(1, 0));
        assert_eq!(
            idx.to_lsp_range(Span::new(Position::new(1, 6), Position::new(1, 19))),
            Range::new(lsp(0, 5), lsp(0, 18))
        );
    }

    #[test]
    fn non_ascii_characters_count_in_utf16_units() {
        // 'é' is one character, two bytes, one UTF-16 unit; '🐳' is one character, four
        // bytes, two UTF-16 units (a surrogate pair).
        let text = "FROM --platform=é🐳 ubuntu:latest\n";
        let idx = TextIndex::new(text);
        // The engine says `ubuntu:latest` starts at character 20 (1-based).
        let span = Span::new(Position::new(1, 20), Position::new(1, 33));
        assert_eq!(idx.to_lsp_range(span), Range::new(lsp(0, 20), lsp(0, 33)));
        // Back again: UTF-16 column 20 is byte 23 (é and 🐳 take 2 + 4 bytes).
        assert_eq!(idx.offset(lsp(0, 20)), 23);
        assert_eq!(&text[23..29], "ubuntu");
        assert_eq!(idx.from_lsp(lsp(0, 20)), Position::new(1, 20));
        // A column between the two halves of the surrogate pair rounds down to the emoji.
        assert_eq!(idx.offset(lsp(0, 18)), "FROM --platform=é".len());
    }

    #[test]
    fn positions_out_of_range_are_clamped() {
        let text = "ab\r\ncd";
        let idx = TextIndex::new(text);
        assert_eq!(idx.line(0), "ab");
        // Past the end of a line (the `\r` is not part of it).
        assert_eq!(idx.to_lsp(Position::new(1, 10)), lsp(0, 2));
        assert_eq!(idx.offset(lsp(0, 10)), 2);
        // Past the last line.
        assert_eq!(idx.to_lsp(Position::new(9, 1)), lsp(1, 2));
        assert_eq!(idx.offset(lsp(9, 0)), text.len());
        // An end before the start collapses onto the start.
        let r = idx.to_lsp_range(Span::new(Position::new(2, 2), Position::new(1, 1)));
        assert_eq!(r, Range::new(lsp(1, 1), lsp(1, 1)));
    }

    #[test]
    fn incremental_edits_apply_in_utf16() {
        let mut text = String::from("é🐳 latest\nnext\n");
        // Replace "latest" (UTF-16 columns 4..10 on line 0) with "3.20".
        apply_change(&mut text, Some(Range::new(lsp(0, 4), lsp(0, 10))), "3.20");
        assert_eq!(text, "é🐳 3.20\nnext\n");
        // Insert across lines, then delete a line.
        apply_change(&mut text, Some(Range::new(lsp(1, 0), lsp(1, 0))), "new\n");
        assert_eq!(text, "é🐳 3.20\nnew\nnext\n");
        apply_change(&mut text, Some(Range::new(lsp(1, 0), lsp(2, 0))), "");
        assert_eq!(text, "é🐳 3.20\nnext\n");
        // A reversed range deletes nothing; no range replaces everything.
        apply_change(&mut text, Some(Range::new(lsp(1, 2), lsp(1, 0))), "x");
        assert_eq!(text, "é🐳 3.20\nnexxt\n");
        apply_change(&mut text, None, "all new");
        assert_eq!(text, "all new");
    }

    #[test]
    fn containment_includes_both_ends() {
        let r = Range::new(lsp(1, 2), lsp(1, 5));
        assert!(contains(&r, lsp(1, 2)) && contains(&r, lsp(1, 5)));
        assert!(!contains(&r, lsp(1, 6)) && !contains(&r, lsp(0, 3)));
        assert!(intersects(&r, &Range::new(lsp(1, 5), lsp(2, 0))));
        assert!(!intersects(&r, &Range::new(lsp(1, 6), lsp(2, 0))));
    }
}
