//! A BuildKit-faithful Dockerfile parser that keeps byte offsets.
//!
//! This follows `moby/buildkit/frontend/dockerfile/parser` step by step (physical lines,
//! parser directives, line continuations with the escape token, comment and empty lines
//! inside continuations, builder flags, per-instruction argument splitting, heredocs) so
//! that the resulting tree dumps to exactly what BuildKit's `Node.Dump()` prints. Unlike
//! BuildKit it remembers where every piece of a logical line came from, so every
//! instruction, flag and argument maps back to a source span.
//!
//! `parse-dockerfile` was evaluated first and is used as a cross-check in the
//! conformance test, but it cannot be the primary parser: it rejects valid BuildKit
//! input (files without `FROM`, `HEALTHCHECK` without `CMD`/`NONE`, unknown
//! instructions), accepts `ENV NAME` without a value, drops comments and only supports
//! one heredoc at the start of a `RUN`.

use super::words::{
    extract_builder_flags, heredoc_words, is_re_ws, json_string_ranges, parse_heredoc_word,
    parse_words, split_whitespace, trim_space, Word,
};

/// A parse failure at a byte offset of the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AstError {
    pub offset: usize,
    pub message: String,
}

impl AstError {
    fn new(offset: usize, message: impl Into<String>) -> Self {
        AstError {
            offset,
            message: message.into(),
        }
    }
}

/// A parser directive (`# syntax=...`, `# escape=...`, `# check=...`).
#[derive(Debug, Clone)]
pub(crate) struct Directive {
    pub name: String,
    pub value: String,
    pub value_start: usize,
    pub value_end: usize,
}

/// A full-line comment outside any instruction.
#[derive(Debug, Clone)]
pub(crate) struct Comment {
    /// Text after `#`, trimmed.
    pub text: String,
    pub line: u32,
    pub start: usize,
    pub end: usize,
}

/// One piece of a logical line, copied from `source[source..source+len]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Chunk {
    logical: usize,
    source: usize,
    len: usize,
}

/// A logical line (continuations joined) and where each byte of it came from.
#[derive(Debug, Clone, Default)]
pub(crate) struct Logical {
    pub text: String,
    chunks: Vec<Chunk>,
}

impl Logical {
    fn push(&mut self, piece: &str, source: usize) {
        if piece.is_empty() {
            return;
        }
        self.chunks.push(Chunk {
            logical: self.text.len(),
            source,
            len: piece.len(),
        });
        self.text.push_str(piece);
    }

    fn chunk_of(&self, logical: usize) -> Option<&Chunk> {
        let idx = self.chunks.partition_point(|c| c.logical <= logical);
        idx.checked_sub(1).and_then(|i| self.chunks.get(i))
    }

    /// Source offset of logical byte `i` (the end of the text maps to the end of the
    /// last chunk).
    pub fn src(&self, i: usize) -> usize {
        match self.chunk_of(i) {
            Some(c) if i < c.logical + c.len => c.source + (i - c.logical),
            Some(c) => c.source + c.len,
            None => self.chunks.first().map(|c| c.source).unwrap_or(0),
        }
    }

    /// Source offset just after logical byte `i - 1` (exclusive end of a range).
    pub fn src_end(&self, i: usize) -> usize {
        if i == 0 {
            return self.src(0);
        }
        match self.chunk_of(i - 1) {
            Some(c) => c.source + (i - c.logical).min(c.len),
            None => self.src(0),
        }
    }
}

/// An instruction node, as BuildKit's AST has it (offsets are in the logical line).
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// The keyword as written.
    pub keyword: String,
    pub kw_start: usize,
    pub kw_end: usize,
    /// Builder flags, quotes removed.
    pub flags: Vec<Word>,
    /// The argument text after the flags, trimmed.
    pub rest: String,
    pub rest_start: usize,
    pub rest_end: usize,
    /// The argument nodes (for ENV/LABEL: the words, or `[key, value]` in legacy form).
    pub args: Vec<Word>,
    /// Exec (JSON) form.
    pub json: bool,
    /// `ENV key value` / `LABEL key value` legacy form.
    pub legacy_kv: bool,
    /// ONBUILD's wrapped instruction.
    pub trigger: Option<Box<Node>>,
}

impl Node {
    pub fn cmd(&self) -> String {
        self.keyword.to_ascii_lowercase()
    }
}

/// A heredoc body attached to an instruction.
#[derive(Debug, Clone)]
pub(crate) struct Heredoc {
    pub name: String,
    pub expand: bool,
    pub chomp: bool,
    /// Raw body text (lines with their newlines).
    pub content: String,
    /// Source offset of the first body line.
    pub body_start: usize,
    /// Source offset of the end of the terminator line (without newline).
    pub end: usize,
    /// First body line (the terminator line when the body is empty).
    pub line: u32,
    /// The terminator line.
    pub end_line: u32,
}

/// One parsed instruction with its location.
#[derive(Debug, Clone)]
pub(crate) struct Instr {
    pub node: Node,
    pub logical: Logical,
    pub start_line: u32,
    pub end_line: u32,
    /// Source offset of the end of the last line (without newline).
    pub src_end: usize,
    pub heredocs: Vec<Heredoc>,
}

/// A parsed file.
#[derive(Debug, Clone)]
pub(crate) struct Ast {
    pub directives: Vec<Directive>,
    pub escape: char,
    pub instrs: Vec<Instr>,
    pub comments: Vec<Comment>,
}

/// A physical line: start offset, end of content (newline and trailing `\r` removed),
/// start of the next line.
#[derive(Debug, Clone, Copy)]
struct PhysLine {
    start: usize,
    end: usize,
    next: usize,
}

fn physical_lines(text: &str) -> Vec<PhysLine> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    while start < bytes.len() {
        let nl = bytes[start..].iter().position(|b| *b == b'\n');
        let (line_end, next) = match nl {
            Some(p) => (start + p, start + p + 1),
            None => (bytes.len(), bytes.len()),
        };
        let mut end = line_end;
        while end > start && bytes[end - 1] == b'\r' {
            end -= 1;
        }
        out.push(PhysLine { start, end, next });
        start = next;
    }
    out
}

/// BuildKit's `DirectiveParser`: directives are only recognised until the first line
/// that is not one.
#[derive(Default)]
struct DirectiveParser {
    done: bool,
    seen: Vec<String>,
}

impl DirectiveParser {
    /// `line` is the token (newline removed); `offset` its source offset.
    fn parse_line(&mut self, line: &str, offset: usize) -> Result<Option<Directive>, AstError> {
        if self.done {
            return Ok(None);
        }
        let Some(d) = match_directive(line, offset) else {
            self.done = true;
            return Ok(None);
        };
        if !matches!(d.name.as_str(), "syntax" | "escape" | "check") {
            self.done = true;
            return Ok(None);
        }
        if self.seen.contains(&d.name) {
            return Err(AstError::new(
                offset,
                format!(
                    "only one {} parser directive can be used; remove the repeated `# {}=` line",
                    d.name, d.name
                ),
            ));
        }
        self.seen.push(d.name.clone());
        Ok(Some(d))
    }
}

/// `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`
fn match_directive(line: &str, offset: usize) -> Option<Directive> {
    let is_re_space = |c: char| matches!(c, ' ' | '\t' | '\n' | '\x0c' | '\r');
    let rest = line.strip_prefix('#')?;
    let rest = rest.trim_start_matches(is_re_space);
    let name_len = rest
        .char_indices()
        .find(|(i, c)| !(c.is_ascii_alphabetic() || (*i > 0 && c.is_ascii_digit())))
        .map(|(i, _)| i)
        .unwrap_or(rest.len());
    if name_len == 0 {
        return None;
    }
    let name = rest[..name_len].to_ascii_lowercase();
    let after = rest[name_len..].trim_start_matches(is_re_space);
    let after = after.strip_prefix('=')?;
    let value_part = after.trim_start_matches(is_re_space);
    let value = value_part.trim_end_matches(is_re_space);
    if value.is_empty() {
        return None;
    }
    let value_start = offset + (line.len() - value_part.len());
    Some(Directive {
        name,
        value: value.to_string(),
        value_start,
        value_end: value_start + value.len(),
    })
}

/// `([^E])E[ \t]*$|^E[ \t]*$` → strip the continuation token. Returns the kept text and
/// whether the line ends the instruction.
fn trim_continuation(s: &str, escape: char) -> (&str, bool) {
    let t = s.trim_end_matches([' ', '\t']);
    if let Some(before) = t.strip_suffix(escape) {
        if before.is_empty() || !before.ends_with(escape) {
            return (before, false);
        }
    }
    (s, true)
}

fn is_comment(s: &str) -> bool {
    s.trim_start().starts_with('#')
}

/// The most instructions a Dockerfile may have. A parsed instruction costs about 15 KB
/// (its object, source-map entries and the conftest view), so this bounds one file's
/// document near 150 MB whatever the file size limit.
pub(crate) const MAX_INSTRUCTIONS: usize = 10_000;

/// Parses `text` (BOM allowed at offset 0).
pub(crate) fn parse(text: &str) -> Result<Ast, AstError> {
    let lines = physical_lines(text);
    let mut escape = '\\';
    let mut directives = Vec::new();
    let mut dparser = DirectiveParser::default();
    let mut comments = Vec::new();
    let mut instrs = Vec::new();
    let mut i = 0usize;
    while i < lines.len() {
        let pl = lines[i];
        let mut start = pl.start;
        if i == 0 && text[start..].starts_with('\u{feff}') {
            start += '\u{feff}'.len_utf8();
        }
        let raw = &text[start..pl.end.max(start)];
        let lead = raw.len() - raw.trim_start().len();
        let token_start = start + lead;
        let token = &raw[lead..];
        let comment = token.starts_with('#');
        let directive = dparser.parse_line(token, token_start)?;
        if let Some(d) = directive {
            if d.name == "escape" {
                escape = match d.value.as_str() {
                    "`" => '`',
                    "\\" => '\\',
                    other => {
                        return Err(AstError::new(
                            d.value_start,
                            format!("invalid escape token '{other}': it must be ` or \\"),
                        ))
                    }
                };
            }
            directives.push(d);
        } else if comment {
            let text_ = token[1..].trim();
            comments.push(Comment {
                text: text_.to_string(),
                line: i as u32 + 1,
                start: token_start,
                end: pl.end,
            });
        }
        i += 1;
        let start_line = i as u32;
        let content = if comment { "" } else { token };
        let (piece, mut eol) = trim_continuation(content, escape);
        if eol && piece.is_empty() {
            continue;
        }
        let mut logical = Logical::default();
        logical.push(piece, token_start);
        while !eol && i < lines.len() {
            let pl = lines[i];
            let tok = &text[pl.start..pl.end];
            if let Some(d) = dparser.parse_line(tok, pl.start)? {
                directives.push(d);
            }
            i += 1;
            if is_comment(tok) {
                continue;
            }
            if tok.trim_start().is_empty() {
                continue;
            }
            let (piece, e) = trim_continuation(tok, escape);
            eol = e;
            logical.push(piece, pl.start);
        }
        if instrs.len() >= MAX_INSTRUCTIONS {
            return Err(AstError::new(
                token_start,
                format!(
                    "more than {MAX_INSTRUCTIONS} instructions: refusing to build a document \
                     this large (real Dockerfiles have a few hundred); split the file"
                ),
            ));
        }
        let node = node_from_line(&logical.text, 0, escape)
            .map_err(|(off, msg)| AstError::new(logical.src(off), msg))?;
        let kw_src = logical.src(node.kw_start);
        let mut heredocs = Vec::new();
        if can_contain_heredoc(&node) && logical.text.contains("<<") {
            for word in heredoc_words(&logical.text) {
                let Some(marker) = parse_heredoc_word(&word) else {
                    continue;
                };
                let body_line = i;
                let mut content = String::new();
                let mut terminated = None;
                while i < lines.len() {
                    let pl = lines[i];
                    i += 1;
                    let mut cand = &text[pl.start..pl.end];
                    if marker.chomp {
                        cand = cand.trim_start_matches('\t');
                    }
                    if cand == marker.name {
                        terminated = Some(pl);
                        break;
                    }
                    content.push_str(&text[pl.start..pl.next]);
                }
                let Some(term) = terminated else {
                    return Err(AstError::new(
                        kw_src,
                        format!(
                            "unterminated heredoc: no line `{}` closes the heredoc `{}` before the end of the file",
                            marker.name, word
                        ),
                    ));
                };
                let body_start = lines.get(body_line).map(|l| l.start).unwrap_or(term.start);
                heredocs.push(Heredoc {
                    name: marker.name,
                    expand: marker.expand,
                    chomp: marker.chomp,
                    content,
                    body_start,
                    end: term.end,
                    line: body_line as u32 + 1,
                    end_line: i as u32,
                });
            }
        }
        let end_line = i as u32;
        let src_end = lines
            .get(end_line as usize - 1)
            .map(|l| l.end)
            .unwrap_or(text.len());
        instrs.push(Instr {
            node,
            logical,
            start_line,
            end_line,
            src_end,
            heredocs,
        });
    }
    if instrs.is_empty() {
        let message = if comments.is_empty() && directives.is_empty() {
            "the file has no instructions: a Dockerfile needs at least a FROM instruction"
        } else {
            "the file has no instructions, only comments: a Dockerfile needs at least a FROM instruction"
        };
        return Err(AstError::new(0, message));
    }
    Ok(Ast {
        directives,
        escape,
        instrs,
        comments,
    })
}

fn can_contain_heredoc(node: &Node) -> bool {
    let node = match (&node.trigger, node.cmd().as_str()) {
        (Some(t), "onbuild") => t.as_ref(),
        _ => node,
    };
    matches!(node.cmd().as_str(), "add" | "copy" | "run") && !node.json
}

type LineError = (usize, String);

/// BuildKit's `newNodeFromLine`; offsets are `base + offset in line`.
pub(crate) fn node_from_line(line: &str, base: usize, escape: char) -> Result<Node, LineError> {
    let (lead, trimmed) = trim_space(line);
    let kw_len = trimmed.find(is_re_ws).unwrap_or(trimmed.len());
    let keyword = &trimmed[..kw_len];
    let kw_start = base + lead;
    let after_kw = &trimmed[kw_len..];
    let has_args = !after_kw.is_empty();
    let args_off = kw_len + (after_kw.len() - after_kw.trim_start_matches(is_re_ws).len());
    let args_str = &trimmed[args_off..];
    let args_base = kw_start + args_off;
    let (flags, rest_off) = if has_args {
        let (off, flags) = extract_builder_flags(args_str, args_base);
        (flags, off)
    } else {
        (Vec::new(), args_str.len())
    };
    let (rlead, rest) = trim_space(&args_str[rest_off..]);
    let rest_start = args_base + rest_off + rlead;
    let rest_end = rest_start + rest.len();
    let mut node = Node {
        keyword: keyword.to_string(),
        kw_start,
        kw_end: kw_start + kw_len,
        flags,
        rest: rest.to_string(),
        rest_start,
        rest_end,
        args: Vec::new(),
        json: false,
        legacy_kv: false,
        trigger: None,
    };
    match keyword.to_ascii_lowercase().as_str() {
        "add" | "copy" | "volume" => {
            let (args, json) = parse_maybe_json(rest, rest_start, true)?;
            node.args = args;
            node.json = json;
        }
        "cmd" | "entrypoint" | "run" | "shell" => {
            let (args, json) = parse_maybe_json(rest, rest_start, false)?;
            node.args = args;
            node.json = json;
        }
        "arg" => node.args = parse_words(rest, rest_start, escape),
        "env" | "label" => {
            let words = parse_words(rest, rest_start, escape);
            if let Some(first) = words.first() {
                if !first.text.contains('=') {
                    let ws = rest.find(is_re_ws);
                    let Some(ws) = ws else {
                        let kw = keyword.to_ascii_uppercase();
                        return Err((
                            kw_start,
                            format!(
                                "missing value: {kw} must have two arguments, write `{kw} {rest}=value` (or `{kw} {rest} value`)"
                            ),
                        ));
                    };
                    let after = &rest[ws..];
                    let voff = ws + (after.len() - after.trim_start_matches(is_re_ws).len());
                    node.args = vec![
                        Word::new(&rest[..ws], rest_start, rest_start + ws),
                        Word::new(&rest[voff..], rest_start + voff, rest_end),
                    ];
                    node.legacy_kv = true;
                } else {
                    for w in &words {
                        if !w.text.contains('=') {
                            return Err((
                                w.start,
                                format!(
                                    "syntax error - can't find = in {:?}: {} arguments must be of the form name=value",
                                    w.text,
                                    keyword.to_ascii_uppercase()
                                ),
                            ));
                        }
                    }
                    node.args = words;
                }
            }
        }
        "expose" | "from" => node.args = split_whitespace(rest, rest_start),
        "maintainer" | "stopsignal" | "user" | "workdir" => {
            if !rest.is_empty() {
                node.args = vec![Word::new(rest, rest_start, rest_end)];
            }
        }
        "healthcheck" => {
            let sep = rest.find(char::is_whitespace).unwrap_or(rest.len());
            if sep > 0 {
                let after = &rest[sep..];
                let next = sep + (after.len() - after.trim_start().len());
                let mut args = vec![Word::new(&rest[..sep], rest_start, rest_start + sep)];
                let (cmd, json) = parse_maybe_json(&rest[next..], rest_start + next, false)?;
                args.extend(cmd);
                node.args = args;
                node.json = json;
            }
        }
        "onbuild" => {
            if !rest.is_empty() {
                let trigger = node_from_line(rest, rest_start, escape)?;
                if trigger.cmd() == "onbuild" {
                    return Err((
                        trigger.kw_start,
                        "nested trigger: ONBUILD ONBUILD is not allowed".to_string(),
                    ));
                }
                node.args = trigger.args.clone();
                node.json = trigger.json;
                node.trigger = Some(Box::new(trigger));
            }
        }
        _ => node.args = split_whitespace(rest, rest_start),
    }
    Ok(node)
}

/// `parseMaybeJSON` (`to_list` = false) / `parseMaybeJSONToList` (`to_list` = true).
fn parse_maybe_json(
    rest: &str,
    base: usize,
    to_list: bool,
) -> Result<(Vec<Word>, bool), LineError> {
    if rest.is_empty() {
        return Ok((Vec::new(), false));
    }
    if rest.starts_with('[') {
        if let Ok(values) = serde_json::from_str::<Vec<serde_json::Value>>(rest) {
            if values.iter().any(|v| !v.is_string()) {
                return Err((
                    base,
                    "when using JSON array syntax, arrays must be comprised of strings only"
                        .to_string(),
                ));
            }
            let ranges = json_string_ranges(rest);
            let words = values
                .iter()
                .zip(ranges.iter().chain(std::iter::repeat(&(0, rest.len()))))
                .map(|(v, (s, e))| Word::new(v.as_str().unwrap_or_default(), base + s, base + e))
                .collect();
            return Ok((words, true));
        }
    }
    if to_list {
        Ok((split_whitespace(rest, base), false))
    } else {
        Ok((vec![Word::new(rest, base, base + rest.len())], false))
    }
}
