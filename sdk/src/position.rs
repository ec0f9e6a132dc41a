//! Positions inside a Dockerfile instruction: maps a byte offset in an instruction's
//! `value` (its argument text, continuation lines joined) or in one of its heredoc bodies
//! back to a 1-based source line and column, so a finding can point at one word of a
//! long `RUN` rather than at the whole instruction.
//!
//! The document gives each instruction's text as written (`original`, from the keyword to
//! the end of its last line) and where it starts (`line`, `column`). This module joins the
//! continuation lines of `original` exactly as the engine's BuildKit-compatible parser does
//! (drop the escape character at the end of a line, skip comment and blank lines inside
//! the instruction), remembering where every piece came from. It never guesses: when the
//! joined text does not end with `value` (an instruction shape it does not know), it
//! returns `None` and the policy falls back to the instruction's own position.
//!
//! Columns count characters (Unicode scalar values), like the host's; report them with
//! [`GuestFinding::with_position`](crate::abi::GuestFinding::with_position) and
//! [`GuestFinding::with_end`](crate::abi::GuestFinding::with_end).

use crate::dockerfile::Instruction;

/// A 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Position {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
}

/// One piece of the joined text: the first `len` bytes of physical line `line` of
/// `original` (a continuation only ever cuts a line's end).
#[derive(Debug, Clone, Copy)]
struct Chunk {
    logical: usize,
    line: usize,
    len: usize,
}

/// The source layout of one instruction, built from its `original` text.
///
/// ```
/// use policy_sdk::dockerfile::Instruction;
/// use policy_sdk::position::{InstructionSource, Position};
///
/// let ins = Instruction {
///     cmd: "run".into(),
///     line: 3,
///     column: 1,
///     original: "RUN apt-get update && \\\n    # refresh first\n    apt-get install -y curl".into(),
///     value: "apt-get update &&     apt-get install -y curl".into(),
///     ..Instruction::default()
/// };
/// let src = InstructionSource::new(&ins, '\\');
/// let install = ins.text().find("apt-get install").unwrap();
/// assert_eq!(src.value_position(install), Some(Position { line: 5, column: 5 }));
/// assert_eq!(src.value_position(0), Some(Position { line: 3, column: 5 }));
/// ```
#[derive(Debug, Clone)]
pub struct InstructionSource<'a> {
    ins: &'a Instruction,
    lines: Vec<&'a str>,
    chunks: Vec<Chunk>,
    value_start: Option<usize>,
}

/// BuildKit's `([^E])E[ \t]*$|^E[ \t]*$`: strips the continuation token; returns the kept
/// text and whether the line ends the instruction.
fn trim_continuation(s: &str, escape: char) -> (&str, bool) {
    let t = s.trim_end_matches([' ', '\t']);
    if let Some(before) = t.strip_suffix(escape) {
        if before.is_empty() || !before.ends_with(escape) {
            return (before, false);
        }
    }
    (s, true)
}

fn is_regex_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

impl<'a> InstructionSource<'a> {
    /// Lays out `ins`; `escape` is the file's escape character
    /// ([`Dockerfile::escape`](crate::dockerfile::Dockerfile::escape)).
    pub fn new(ins: &'a Instruction, escape: char) -> Self {
        let lines: Vec<&str> = ins
            .original
            .split('\n')
            .map(|l| l.trim_end_matches('\r'))
            .collect();
        let mut chunks = Vec::new();
        let mut logical = String::new();
        let mut push = |piece: &str, line: usize| {
            if !piece.is_empty() {
                chunks.push(Chunk {
                    logical: logical.len(),
                    line,
                    len: piece.len(),
                });
                logical.push_str(piece);
            }
        };
        let (piece, mut eol) = trim_continuation(lines.first().copied().unwrap_or(""), escape);
        push(piece, 0);
        let mut i = 1;
        while !eol && i < lines.len() {
            let tok = lines[i];
            i += 1;
            if tok.trim_start().starts_with('#') || tok.trim_start().is_empty() {
                continue;
            }
            let (piece, e) = trim_continuation(tok, escape);
            eol = e;
            push(piece, i - 1);
        }
        let value = ins.text();
        let trimmed = logical.trim_end_matches(is_regex_space);
        // `value` is the text after the keyword and flags, trimmed: a suffix of the joined
        // text (for the exec form too, where it is the JSON array as written).
        let value_start = trimmed
            .ends_with(value.as_str())
            .then(|| trimmed.len() - value.len());
        InstructionSource {
            ins,
            lines,
            chunks,
            value_start,
        }
    }

    /// Whether offsets in `value` can be mapped (the joined text ends with `value`).
    pub fn maps_value(&self) -> bool {
        self.value_start.is_some()
    }

    fn logical_position(&self, logical: usize) -> Option<Position> {
        let idx = self.chunks.partition_point(|c| c.logical <= logical);
        let chunk = self.chunks.get(idx.checked_sub(1)?)?;
        let within = logical - chunk.logical;
        if within >= chunk.len {
            return None;
        }
        let text = self.lines.get(chunk.line)?;
        // An offset inside a multi-byte character belongs to that character.
        let mut within = within.min(text.len());
        while !text.is_char_boundary(within) {
            within -= 1;
        }
        let chars = text[..within].chars().count() as u32;
        let base = if chunk.line == 0 {
            self.ins.column.max(1)
        } else {
            1
        };
        Some(Position {
            line: self.ins.line + chunk.line as u32,
            column: base + chars,
        })
    }

    /// The position of byte `offset` of the instruction's `value` (its text after the
    /// flags), or `None` when it cannot be mapped.
    pub fn value_position(&self, offset: usize) -> Option<Position> {
        self.logical_position(self.value_start? + offset)
    }

    /// The range of bytes `start..end` of `value`: the position of the first character and
    /// the column just after the last one.
    pub fn value_range(&self, start: usize, end: usize) -> Option<(Position, Position)> {
        let first = self.value_position(start)?;
        let last = self.value_position(end.max(start + 1) - 1)?;
        Some((first, after(last)))
    }

    /// The position of byte `offset` of the content of heredoc `index` (as in the
    /// document, so after tab stripping for `<<-`), or `None` when it cannot be mapped.
    pub fn heredoc_position(&self, index: usize, offset: usize) -> Option<Position> {
        let doc = self.ins.heredocs.get(index)?;
        if offset > doc.content.len() {
            return None;
        }
        let mut offset = offset;
        while !doc.content.is_char_boundary(offset) {
            offset -= 1;
        }
        let content = &doc.content[..offset];
        let line_in_body = content.matches('\n').count() as u32;
        let line_start = content.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let mut column = 1 + content[line_start..].chars().count() as u32;
        let line = doc.line + line_in_body;
        if doc.strip_tabs {
            let raw = self.lines.get(line.checked_sub(self.ins.line)? as usize)?;
            column += (raw.len() - raw.trim_start_matches('\t').len()) as u32;
        }
        Some(Position { line, column })
    }

    /// The range of bytes `start..end` of heredoc `index`'s content.
    pub fn heredoc_range(
        &self,
        index: usize,
        start: usize,
        end: usize,
    ) -> Option<(Position, Position)> {
        let first = self.heredoc_position(index, start)?;
        let last = self.heredoc_position(index, end.max(start + 1) - 1)?;
        Some((first, after(last)))
    }
}

/// The position just after `p` (one character to the right).
fn after(p: Position) -> Position {
    Position {
        line: p.line,
        column: p.column + 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dockerfile::Heredoc;

    fn run(line: u32, column: u32, original: &str, value: &str) -> Instruction {
        Instruction {
            cmd: "run".into(),
            line,
            column,
            original: original.into(),
            value: value.into(),
            ..Instruction::default()
        }
    }

    #[test]
    fn single_line_with_flags_and_indent() {
        let ins = run(7, 3, "RUN --mount=type=cache,target=/x cd /tmp", "cd /tmp");
        let src = InstructionSource::new(&ins, '\\');
        assert!(src.maps_value());
        // `cd` starts after "RUN --mount=type=cache,target=/x " (33 chars) at column 3.
        assert_eq!(
            src.value_range(0, 2),
            Some((
                Position {
                    line: 7,
                    column: 36
                },
                Position {
                    line: 7,
                    column: 38
                }
            ))
        );
    }

    #[test]
    fn continuations_comments_blank_lines_and_crlf() {
        let original = "RUN a \\\r\n  # note\r\n\r\n  b \\\n   c";
        let value = "a   b    c";
        let ins = run(1, 1, original, value);
        let src = InstructionSource::new(&ins, '\\');
        let b = value.find('b').unwrap();
        let c = value.find('c').unwrap();
        assert_eq!(src.value_position(b), Some(Position { line: 4, column: 3 }));
        assert_eq!(src.value_position(c), Some(Position { line: 5, column: 4 }));
        assert_eq!(src.value_position(0), Some(Position { line: 1, column: 5 }));
    }

    #[test]
    fn backtick_escape_and_unicode_columns() {
        let original = "RUN echo é `\n  && ls";
        let value = "echo é   && ls";
        let ins = run(2, 1, original, value);
        let src = InstructionSource::new(&ins, '`');
        let ls = value.find("ls").unwrap();
        assert_eq!(
            src.value_position(ls),
            Some(Position { line: 3, column: 6 })
        );
        let e = value.find('é').unwrap();
        assert_eq!(
            src.value_range(e, e + 'é'.len_utf8()),
            Some((
                Position {
                    line: 2,
                    column: 10
                },
                Position {
                    line: 2,
                    column: 11
                }
            ))
        );
    }

    #[test]
    fn unknown_shape_is_not_guessed() {
        let ins = run(1, 1, "RUN echo a", "something else");
        let src = InstructionSource::new(&ins, '\\');
        assert!(!src.maps_value());
        assert_eq!(src.value_position(0), None);
    }

    #[test]
    fn heredoc_lines_and_stripped_tabs() {
        let mut ins = run(4, 1, "RUN <<-EOF\n\tset -e\n\t\tcurl x | sh\nEOF", "<<-EOF");
        ins.heredocs = vec![Heredoc {
            delimiter: "EOF".into(),
            content: "set -e\ncurl x | sh\n".into(),
            strip_tabs: true,
            line: 5,
            end_line: 7,
            ..Heredoc::default()
        }];
        let src = InstructionSource::new(&ins, '\\');
        let curl = ins.heredocs[0].content.find("curl").unwrap();
        assert_eq!(
            src.heredoc_position(0, curl),
            Some(Position { line: 6, column: 3 })
        );
        assert_eq!(
            src.heredoc_position(0, 0),
            Some(Position { line: 5, column: 2 })
        );
        assert_eq!(src.value_position(0), Some(Position { line: 4, column: 5 }));
    }
}
