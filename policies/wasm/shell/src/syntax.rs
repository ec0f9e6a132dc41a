//! A small POSIX `sh` parser: enough of the shell grammar to know which commands a `RUN`
//! executes, in which order, joined by which operators, with the byte range of every word.
//!
//! It handles words with single quotes, double quotes, `$'…'`, backslash escapes and
//! line continuations; parameter, arithmetic and command substitution (`$x`, `${…}`,
//! `$((…))`, `$(…)`, backticks), the last two parsed recursively; the operators `&&`,
//! `||`, `;`, `&`, `|`, `|&`; redirections (with IO numbers, here-strings and here-documents,
//! whose bodies are skipped); comments; subshells and brace groups; `if`, `while`,
//! `until`, `for`, `case`, function definitions, bash's `[[ … ]]` and `(( … ))`.
//!
//! It does not expand anything: a word keeps `$x` as written, and [`Word::expands`] says
//! that it did contain an expansion. Aliases, `eval` and `source` are not followed. A
//! script that does not parse is an error, and callers report nothing for it rather
//! than guess.

use std::fmt;

/// Nesting deeper than this (groups, substitutions) is refused, so hostile input cannot
/// exhaust the guest's stack.
const MAX_DEPTH: usize = 64;

/// A parse failure at a byte offset of the script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset in the script text.
    pub offset: usize,
    /// What went wrong.
    pub message: &'static str,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.message, self.offset)
    }
}

type Result<T> = std::result::Result<T, ParseError>;

/// One shell word.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Word {
    /// Byte range in the script, quotes included.
    pub start: usize,
    /// End of the range (exclusive).
    pub end: usize,
    /// The word with quotes removed and escapes resolved; expansions are kept as written.
    pub text: String,
    /// `map[i]` is the script offset of byte `i` of `text`; empty while `text` is a plain
    /// copy of the script from `start` (most words), see [`Word::offset`].
    pub map: Vec<usize>,
    /// Some part of the word was quoted or escaped.
    pub quoted: bool,
    /// The word contains a parameter, arithmetic or command expansion.
    pub expands: bool,
    /// The command substitutions inside the word, parsed.
    pub substs: Vec<Script>,
}

impl Word {
    /// The text when the word is a plain literal (no expansion).
    pub fn literal(&self) -> Option<&str> {
        (!self.expands).then_some(self.text.as_str())
    }

    /// Whether the word is the unquoted reserved word `kw`.
    fn is_reserved(&self, kw: &str) -> bool {
        !self.quoted && !self.expands && self.text == kw
    }

    /// The script offset of byte `i` of `text` (the end of the word past the text).
    pub fn offset(&self, i: usize) -> usize {
        if self.map.is_empty() {
            if i < self.text.len() {
                self.start + i
            } else {
                self.end
            }
        } else {
            self.map.get(i).copied().unwrap_or(self.end)
        }
    }

    /// Fills `map` for the text so far, once the text stops being a plain copy.
    fn materialize(&mut self) {
        if self.map.is_empty() {
            self.map = (self.start..self.start + self.text.len()).collect();
        }
    }

    fn push(&mut self, c: char, at: usize) {
        let len = c.len_utf8();
        let plain = self.map.is_empty() && at == self.start + self.text.len();
        if !plain {
            self.materialize();
            for _ in 0..len {
                self.map.push(at);
            }
        }
        self.text.push(c);
    }

    fn push_raw(&mut self, s: &str, at: usize) {
        if self.map.is_empty() && at == self.start + self.text.len() {
            self.text.push_str(s);
            return;
        }
        for (i, c) in s.char_indices() {
            self.push(c, at + i);
        }
    }
}

/// A redirection: `>file`, `2>&1`, `<<EOF`, `<<<word`.
#[derive(Debug, Clone, PartialEq)]
pub struct Redirect {
    /// The operator (`>`, `>>`, `<<`, `<<-`, `<<<`, ...).
    pub op: &'static str,
    /// Where the redirection starts (its IO number, else its operator).
    pub start: usize,
    /// The IO number (`2` in `2>&1`), when written.
    pub fd: Option<u32>,
    /// The target word (the delimiter for here-documents).
    pub target: Word,
}

impl Redirect {
    /// A here-document (`<<` or `<<-`).
    pub fn is_heredoc(&self) -> bool {
        matches!(self.op, "<<" | "<<-")
    }
}

/// A simple command: assignments, words and redirections.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Simple {
    /// `NAME=value` prefixes.
    pub assigns: Vec<Word>,
    /// The command name and its arguments.
    pub words: Vec<Word>,
    /// Redirections, wherever they appeared.
    pub redirects: Vec<Redirect>,
}

/// One command of a pipeline.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `name args…`.
    Simple(Simple),
    /// `( … )` (a subshell) or `{ …; }`.
    Group {
        /// The body.
        body: Script,
        /// `( … )`: runs in a subshell.
        subshell: bool,
        /// Offset of `(` or `{`.
        start: usize,
    },
    /// `if c; then …; elif c; then …; else …; fi`.
    If {
        /// `(condition, body)` of `if` and each `elif`.
        branches: Vec<(Script, Script)>,
        /// The `else` body.
        otherwise: Option<Script>,
    },
    /// `while`/`until c; do …; done`.
    Loop {
        /// The condition.
        cond: Script,
        /// The body.
        body: Script,
    },
    /// `for x in …; do …; done` (and bash's `for ((…))`).
    For {
        /// The words iterated over.
        words: Vec<Word>,
        /// The body.
        body: Script,
    },
    /// `case w in p) …;; esac`.
    Case {
        /// The word matched.
        word: Word,
        /// The body of each arm.
        arms: Vec<Script>,
    },
    /// bash's `(( … ))` arithmetic command.
    Arith {
        /// Offset of `((`.
        start: usize,
    },
    /// `name() compound`.
    Function {
        /// The function name.
        name: Word,
        /// Its body.
        body: Box<Command>,
    },
}

/// `[!] cmd | cmd | …`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// Starts with `!`.
    pub bang: bool,
    /// The commands, left to right.
    pub commands: Vec<Command>,
}

/// How two pipelines of an and-or list are joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connector {
    /// `&&`.
    And,
    /// `||`.
    Or,
}

/// `pipeline && pipeline || …`, with the separator after it.
#[derive(Debug, Clone, PartialEq)]
pub struct AndOr {
    /// The first pipeline.
    pub first: Pipeline,
    /// The others, each with the operator before it.
    pub rest: Vec<(Connector, Pipeline)>,
    /// Ended by `&` (runs in the background).
    pub background: bool,
    /// What ended it: `;`, `&` or `\n`; `None` for the last one of a list.
    pub separator: Option<char>,
}

impl AndOr {
    /// Every pipeline, in order.
    pub fn pipelines(&self) -> impl Iterator<Item = &Pipeline> {
        std::iter::once(&self.first).chain(self.rest.iter().map(|(_, p)| p))
    }
}

/// A list of and-or lists, separated by `;`, `&` or newlines.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Script {
    /// The and-or lists, in order.
    pub items: Vec<AndOr>,
}

/// Parses a whole script.
pub fn parse(text: &str) -> Result<Script> {
    let mut p = Parser::new(text);
    let script = p.script(&[])?;
    match p.next()? {
        Tok::Eof => Ok(script),
        tok => Err(p.error_at(&tok, "unexpected token")),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(Word),
    /// An operator and its offset (the IO number's offset for `2>`).
    Op(&'static str, usize),
    Newline(usize),
    Eof,
}

/// Operators, longest first.
const OPS: &[&str] = &[
    "&>>", "<<<", "<<-", ";;&", "&&", "||", ";;", ";&", "|&", "&>", "<<", "<&", "<>", ">>", ">&",
    ">|", ";", "&", "|", "(", ")", "<", ">",
];

fn is_redirect(op: &str) -> bool {
    op.starts_with('<') || op.starts_with('>') || op == "&>" || op == "&>>"
}

fn is_meta(c: u8) -> bool {
    matches!(
        c,
        b' ' | b'\t' | b'\n' | b';' | b'&' | b'|' | b'(' | b')' | b'<' | b'>'
    )
}

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    pos: usize,
    peeked: Option<Tok>,
    heredocs: Vec<(String, bool)>,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn new(s: &'a str) -> Self {
        Parser {
            s,
            b: s.as_bytes(),
            pos: 0,
            peeked: None,
            heredocs: Vec::new(),
            depth: 0,
        }
    }

    fn err(&self, offset: usize, message: &'static str) -> ParseError {
        ParseError { offset, message }
    }

    fn error_at(&self, tok: &Tok, message: &'static str) -> ParseError {
        let offset = match tok {
            Tok::Word(w) => w.start,
            Tok::Op(_, o) | Tok::Newline(o) => *o,
            Tok::Eof => self.s.len(),
        };
        self.err(offset, message)
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(self.pos, "nested too deeply"));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    // ---- lexer ----

    fn at(&self, i: usize) -> Option<u8> {
        self.b.get(i).copied()
    }

    /// Skips blanks, line continuations and a comment (up to, not including, the newline).
    fn skip_blanks(&mut self) {
        loop {
            match self.at(self.pos) {
                Some(b' ' | b'\t' | b'\r') => self.pos += 1,
                Some(b'\\') if self.at(self.pos + 1) == Some(b'\n') => self.pos += 2,
                Some(b'#') => {
                    while let Some(c) = self.at(self.pos) {
                        if c == b'\n' {
                            break;
                        }
                        self.pos += 1;
                    }
                }
                _ => return,
            }
        }
    }

    /// Skips the bodies of the here-documents opened on the line that just ended.
    fn skip_heredoc_bodies(&mut self) {
        for (delim, strip) in std::mem::take(&mut self.heredocs) {
            while self.pos < self.b.len() {
                let end = self.s[self.pos..]
                    .find('\n')
                    .map(|i| self.pos + i)
                    .unwrap_or(self.s.len());
                let mut line = self.s[self.pos..end].trim_end_matches('\r');
                if strip {
                    line = line.trim_start_matches('\t');
                }
                self.pos = (end + 1).min(self.s.len());
                if line == delim {
                    break;
                }
            }
        }
    }

    fn lex(&mut self) -> Result<Tok> {
        self.skip_blanks();
        let start = self.pos;
        let Some(c) = self.at(start) else {
            return Ok(Tok::Eof);
        };
        if c == b'\n' {
            self.pos += 1;
            self.skip_heredoc_bodies();
            return Ok(Tok::Newline(start));
        }
        if matches!(c, b'&' | b'|' | b';' | b'<' | b'>' | b'(' | b')') {
            if let Some(op) = OPS.iter().find(|op| self.s[start..].starts_with(**op)) {
                self.pos += op.len();
                return Ok(Tok::Op(op, start));
            }
        }
        let word = self.word()?;
        // An IO number: digits directly followed by a redirection operator.
        if !word.quoted
            && !word.text.is_empty()
            && word.text.bytes().all(|b| b.is_ascii_digit())
            && matches!(self.at(self.pos), Some(b'<' | b'>'))
        {
            if let Some(op) = OPS
                .iter()
                .find(|op| is_redirect(op) && self.s[self.pos..].starts_with(**op))
            {
                self.pos += op.len();
                return Ok(Tok::Op(op, start));
            }
        }
        Ok(Tok::Word(word))
    }

    fn peek(&mut self) -> Result<&Tok> {
        if self.peeked.is_none() {
            let tok = self.lex()?;
            self.peeked = Some(tok);
        }
        Ok(self.peeked.as_ref().expect("just set"))
    }

    fn next(&mut self) -> Result<Tok> {
        match self.peeked.take() {
            Some(t) => Ok(t),
            None => self.lex(),
        }
    }

    fn peek_op(&mut self, op: &str) -> Result<bool> {
        Ok(matches!(self.peek()?, Tok::Op(o, _) if *o == op))
    }

    fn peek_reserved(&mut self, kw: &str) -> Result<bool> {
        Ok(matches!(self.peek()?, Tok::Word(w) if w.is_reserved(kw)))
    }

    fn expect_reserved(&mut self, kw: &'static str) -> Result<()> {
        match self.next()? {
            Tok::Word(w) if w.is_reserved(kw) => Ok(()),
            tok => Err(self.error_at(&tok, "missing reserved word")),
        }
    }

    fn skip_newlines(&mut self) -> Result<()> {
        while matches!(self.peek()?, Tok::Newline(_)) {
            self.next()?;
        }
        Ok(())
    }

    /// Lexes one word starting at `self.pos` (not at a metacharacter).
    fn word(&mut self) -> Result<Word> {
        let start = self.pos;
        let mut w = Word {
            start,
            ..Word::default()
        };
        while let Some(c) = self.at(self.pos) {
            if is_meta(c) {
                break;
            }
            match c {
                b'\'' => {
                    w.quoted = true;
                    let open = self.pos;
                    let close = self.s[open + 1..]
                        .find('\'')
                        .map(|i| open + 1 + i)
                        .ok_or_else(|| self.err(open, "unterminated single quote"))?;
                    w.push_raw(&self.s[open + 1..close], open + 1);
                    self.pos = close + 1;
                }
                b'"' => {
                    w.quoted = true;
                    self.pos += 1;
                    self.double_quoted(&mut w)?;
                }
                b'\\' => {
                    w.quoted = true;
                    self.pos += 1;
                    match self.s[self.pos..].chars().next() {
                        Some('\n') => self.pos += 1,
                        Some(ch) => {
                            w.push(ch, self.pos);
                            self.pos += ch.len_utf8();
                        }
                        None => w.push('\\', self.pos - 1),
                    }
                }
                b'$' => self.dollar(&mut w, false)?,
                b'`' => self.backtick(&mut w)?,
                _ => {
                    // A run of plain characters (the special ones are all ASCII, so the
                    // run ends on a character boundary).
                    let end = self.b[self.pos..]
                        .iter()
                        .position(|&c| {
                            is_meta(c) || matches!(c, b'\'' | b'"' | b'\\' | b'$' | b'`')
                        })
                        .map_or(self.b.len(), |i| self.pos + i);
                    w.push_raw(&self.s[self.pos..end], self.pos);
                    self.pos = end;
                }
            }
        }
        w.end = self.pos;
        Ok(w)
    }

    /// After an opening `"`: up to and including the closing one.
    fn double_quoted(&mut self, w: &mut Word) -> Result<()> {
        let open = self.pos - 1;
        loop {
            match self.at(self.pos) {
                None => return Err(self.err(open, "unterminated double quote")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    let next = self.s[self.pos + 1..].chars().next();
                    match next {
                        Some('\n') => self.pos += 2,
                        Some(ch @ ('$' | '`' | '"' | '\\')) => {
                            w.push(ch, self.pos + 1);
                            self.pos += 2;
                        }
                        _ => {
                            w.push('\\', self.pos);
                            self.pos += 1;
                        }
                    }
                }
                Some(b'$') => self.dollar(w, true)?,
                Some(b'`') => self.backtick(w)?,
                Some(_) => {
                    let end = self.b[self.pos..]
                        .iter()
                        .position(|&c| matches!(c, b'"' | b'\\' | b'$' | b'`'))
                        .map_or(self.b.len(), |i| self.pos + i);
                    w.push_raw(&self.s[self.pos..end], self.pos);
                    self.pos = end;
                }
            }
        }
    }

    /// At `$`: an expansion, kept as written, or a literal `$`.
    fn dollar(&mut self, w: &mut Word, in_quotes: bool) -> Result<()> {
        let start = self.pos;
        let next = self.at(start + 1);
        match next {
            Some(b'(') if self.at(start + 2) == Some(b'(') => {
                let end = self.balanced(start + 3, 2, start)?;
                w.expands = true;
                w.push_raw(&self.s[start..end], start);
                self.pos = end;
            }
            Some(b'(') => {
                self.enter()?;
                self.pos = start + 2;
                let saved_heredocs = std::mem::take(&mut self.heredocs);
                let body = self.script(&[])?;
                match self.next()? {
                    Tok::Op(")", _) => {}
                    tok => return Err(self.error_at(&tok, "unterminated $(")),
                }
                self.heredocs = saved_heredocs;
                self.leave();
                w.expands = true;
                w.substs.push(body);
                w.push_raw(&self.s[start..self.pos], start);
            }
            Some(b'{') => {
                let end = self.braced(start + 2, start)?;
                w.expands = true;
                w.push_raw(&self.s[start..end], start);
                self.pos = end;
            }
            Some(b'\'') if !in_quotes => {
                // ANSI-C quoting: `$'a\nb'`.
                w.quoted = true;
                let mut i = start + 2;
                loop {
                    match self.at(i) {
                        None => return Err(self.err(start, "unterminated $'")),
                        Some(b'\'') => break,
                        Some(b'\\') if i + 1 < self.b.len() => {
                            let next = self.s[i + 1..].chars().next().expect("not at the end");
                            let ch = match next {
                                'n' => '\n',
                                't' => '\t',
                                'r' => '\r',
                                'a' | 'b' | 'e' | 'E' | 'f' | 'v' => ' ',
                                other => other,
                            };
                            w.push(ch, i);
                            i += 1 + next.len_utf8();
                        }
                        Some(_) => {
                            let ch = self.s[i..].chars().next().expect("not at the end");
                            w.push(ch, i);
                            i += ch.len_utf8();
                        }
                    }
                }
                self.pos = i + 1;
            }
            Some(b'"') if !in_quotes => {
                // `$"…"` (locale translation) is a double-quoted string.
                w.quoted = true;
                self.pos = start + 2;
                self.double_quoted(w)?;
            }
            Some(c) if c == b'_' || c.is_ascii_alphabetic() => {
                let mut end = start + 1;
                while self
                    .at(end)
                    .is_some_and(|c| c == b'_' || c.is_ascii_alphanumeric())
                {
                    end += 1;
                }
                w.expands = true;
                w.push_raw(&self.s[start..end], start);
                self.pos = end;
            }
            Some(c) if c.is_ascii_digit() || b"@*#?$!-".contains(&c) => {
                w.expands = true;
                w.push_raw(&self.s[start..start + 2], start);
                self.pos = start + 2;
            }
            _ => {
                w.push('$', start);
                self.pos = start + 1;
            }
        }
        Ok(())
    }

    /// The end of `$((…))`: after `depth` closing parentheses more than opened.
    fn balanced(&self, from: usize, mut depth: usize, open: usize) -> Result<usize> {
        let mut i = from;
        while let Some(c) = self.at(i) {
            match c {
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(i + 1);
                    }
                }
                _ => {}
            }
            i += 1;
        }
        Err(self.err(open, "unterminated $(("))
    }

    /// The end of `${…}`, honouring nested braces and quotes.
    fn braced(&self, from: usize, open: usize) -> Result<usize> {
        let mut depth = 1;
        let mut i = from;
        while let Some(c) = self.at(i) {
            match c {
                b'\\' => i += 1,
                b'\'' => {
                    // Bytes, not `str` slicing: `i` may sit inside a character after `\`.
                    i = self.b[i + 1..]
                        .iter()
                        .position(|&b| b == b'\'')
                        .map(|j| i + 1 + j)
                        .ok_or_else(|| self.err(i, "unterminated single quote"))?;
                }
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(i + 1);
                    }
                }
                _ => {}
            }
            i += 1;
        }
        Err(self.err(open, "unterminated ${"))
    }

    /// At a backtick: the old-style command substitution, parsed recursively.
    fn backtick(&mut self, w: &mut Word) -> Result<()> {
        let start = self.pos;
        let mut i = start + 1;
        loop {
            match self.at(i) {
                None => return Err(self.err(start, "unterminated backquote")),
                Some(b'\\') => i += 2,
                Some(b'`') => break,
                Some(_) => i += 1,
            }
        }
        self.enter()?;
        let mut body = {
            let mut inner = Parser::new(&self.s[start + 1..i]);
            inner.depth = self.depth;
            let body = inner.script(&[])?;
            match inner.next()? {
                Tok::Eof => body,
                tok => return Err(inner.error_at(&tok, "unexpected token")),
            }
        };
        self.leave();
        body.remap(&|o| o + start + 1);
        w.expands = true;
        w.substs.push(body);
        w.push_raw(&self.s[start..=i], start);
        self.pos = i + 1;
        Ok(())
    }

    // ---- parser ----

    /// Whether the next token ends the list being parsed: `)`, `;;`, end of input, or an
    /// unquoted reserved word in `stops`.
    fn at_stop(&mut self, stops: &[&str]) -> Result<bool> {
        Ok(match self.peek()? {
            Tok::Eof => true,
            Tok::Op(op, _) => matches!(*op, ")" | ";;" | ";&" | ";;&"),
            Tok::Word(w) => stops.iter().any(|s| w.is_reserved(s)),
            Tok::Newline(_) => false,
        })
    }

    /// A list of and-or lists, up to (not including) a stop.
    fn script(&mut self, stops: &[&str]) -> Result<Script> {
        let mut items = Vec::new();
        loop {
            while let Tok::Newline(_) | Tok::Op(";", _) = self.peek()? {
                self.next()?;
            }
            if self.at_stop(stops)? {
                break;
            }
            let mut item = self.and_or()?;
            match self.peek()? {
                Tok::Op(";", _) => {
                    self.next()?;
                    item.separator = Some(';');
                }
                Tok::Newline(_) => {
                    self.next()?;
                    item.separator = Some('\n');
                }
                Tok::Op("&", _) => {
                    self.next()?;
                    item.background = true;
                    item.separator = Some('&');
                }
                _ => {
                    items.push(item);
                    if self.at_stop(stops)? {
                        break;
                    }
                    let tok = self.next()?;
                    return Err(self.error_at(&tok, "unexpected token"));
                }
            }
            items.push(item);
        }
        Ok(Script { items })
    }

    fn and_or(&mut self) -> Result<AndOr> {
        let first = self.pipeline()?;
        let mut rest = Vec::new();
        loop {
            let connector = match self.peek()? {
                Tok::Op("&&", _) => Connector::And,
                Tok::Op("||", _) => Connector::Or,
                _ => break,
            };
            self.next()?;
            self.skip_newlines()?;
            rest.push((connector, self.pipeline()?));
        }
        Ok(AndOr {
            first,
            rest,
            background: false,
            separator: None,
        })
    }

    fn pipeline(&mut self) -> Result<Pipeline> {
        let bang = self.peek_reserved("!")?;
        if bang {
            self.next()?;
        }
        let mut commands = vec![self.command()?];
        while matches!(self.peek()?, Tok::Op("|" | "|&", _)) {
            self.next()?;
            self.skip_newlines()?;
            commands.push(self.command()?);
        }
        Ok(Pipeline { bang, commands })
    }

    fn command(&mut self) -> Result<Command> {
        self.enter()?;
        let cmd = self.command_inner();
        self.leave();
        let cmd = cmd?;
        // Redirections after a compound command apply to all of it; they matter to no
        // rule, so they are parsed and dropped.
        if !matches!(cmd, Command::Simple(_)) {
            while let Tok::Op(op, _) = *self.peek()? {
                if !is_redirect(op) {
                    break;
                }
                self.next()?;
                self.redirect_target(op)?;
            }
        }
        Ok(cmd)
    }

    fn command_inner(&mut self) -> Result<Command> {
        // What starts the command, without cloning the token.
        enum Head {
            Paren(usize),
            Reserved(&'static str, usize),
            Other,
        }
        const RESERVED: &[&str] = &["{", "if", "while", "until", "for", "case", "function"];
        let head = match self.peek()? {
            Tok::Op("(", at) => Head::Paren(*at),
            Tok::Word(w) if !w.quoted && !w.expands => {
                match RESERVED.iter().find(|k| **k == w.text) {
                    Some(k) => Head::Reserved(k, w.start),
                    None => Head::Other,
                }
            }
            _ => Head::Other,
        };
        match head {
            Head::Paren(at) => {
                if self.at(at + 1) == Some(b'(') {
                    // bash's `(( … ))`.
                    self.peeked = None;
                    self.pos = self.balanced(at + 2, 2, at)?;
                    return Ok(Command::Arith { start: at });
                }
                self.next()?;
                let body = self.script(&[])?;
                match self.next()? {
                    Tok::Op(")", _) => Ok(Command::Group {
                        body,
                        subshell: true,
                        start: at,
                    }),
                    tok => Err(self.error_at(&tok, "unterminated subshell")),
                }
            }
            Head::Reserved(kw, start) => match kw {
                "{" => {
                    self.next()?;
                    let body = self.script(&["}"])?;
                    self.expect_reserved("}")?;
                    Ok(Command::Group {
                        body,
                        subshell: false,
                        start,
                    })
                }
                "if" => {
                    self.next()?;
                    let mut branches = Vec::new();
                    let mut otherwise = None;
                    loop {
                        let cond = self.script(&["then"])?;
                        self.expect_reserved("then")?;
                        let body = self.script(&["elif", "else", "fi"])?;
                        branches.push((cond, body));
                        match self.next()? {
                            Tok::Word(k) if k.is_reserved("elif") => continue,
                            Tok::Word(k) if k.is_reserved("else") => {
                                otherwise = Some(self.script(&["fi"])?);
                                self.expect_reserved("fi")?;
                                break;
                            }
                            Tok::Word(k) if k.is_reserved("fi") => break,
                            tok => return Err(self.error_at(&tok, "unterminated if")),
                        }
                    }
                    Ok(Command::If {
                        branches,
                        otherwise,
                    })
                }
                "while" | "until" => {
                    self.next()?;
                    let cond = self.script(&["do"])?;
                    self.expect_reserved("do")?;
                    let body = self.script(&["done"])?;
                    self.expect_reserved("done")?;
                    Ok(Command::Loop { cond, body })
                }
                "for" => {
                    self.next()?;
                    let mut words = Vec::new();
                    if let Tok::Op("(", at) = *self.peek()? {
                        self.peeked = None;
                        self.pos = self.balanced(at + 2, 2, at)?;
                    } else {
                        match self.next()? {
                            Tok::Word(_) => {}
                            tok => return Err(self.error_at(&tok, "missing loop variable")),
                        }
                        self.skip_newlines()?;
                        if self.peek_reserved("in")? {
                            self.next()?;
                            while let Tok::Word(_) = self.peek()? {
                                if let Tok::Word(w) = self.next()? {
                                    words.push(w);
                                }
                            }
                        }
                    }
                    while matches!(self.peek()?, Tok::Op(";", _) | Tok::Newline(_)) {
                        self.next()?;
                    }
                    self.expect_reserved("do")?;
                    let body = self.script(&["done"])?;
                    self.expect_reserved("done")?;
                    Ok(Command::For { words, body })
                }
                "case" => {
                    self.next()?;
                    let word = match self.next()? {
                        Tok::Word(w) => w,
                        tok => return Err(self.error_at(&tok, "missing case word")),
                    };
                    self.skip_newlines()?;
                    self.expect_reserved("in")?;
                    let mut arms = Vec::new();
                    loop {
                        self.skip_newlines()?;
                        if self.peek_reserved("esac")? {
                            self.next()?;
                            break;
                        }
                        if self.peek_op("(")? {
                            self.next()?;
                        }
                        // Patterns: words separated by `|`, up to `)`.
                        loop {
                            match self.next()? {
                                Tok::Word(_) | Tok::Op("|", _) => {}
                                Tok::Op(")", _) => break,
                                tok => return Err(self.error_at(&tok, "bad case pattern")),
                            }
                        }
                        arms.push(self.script(&["esac"])?);
                        if matches!(self.peek()?, Tok::Op(";;" | ";&" | ";;&", _)) {
                            self.next()?;
                        }
                    }
                    Ok(Command::Case { word, arms })
                }
                "function" => {
                    self.next()?;
                    let name = match self.next()? {
                        Tok::Word(w) => w,
                        tok => return Err(self.error_at(&tok, "missing function name")),
                    };
                    if self.peek_op("(")? {
                        self.next()?;
                        match self.next()? {
                            Tok::Op(")", _) => {}
                            tok => return Err(self.error_at(&tok, "bad function definition")),
                        }
                    }
                    self.skip_newlines()?;
                    let body = Box::new(self.command()?);
                    Ok(Command::Function { name, body })
                }
                _ => self.simple(),
            },
            Head::Other => self.simple(),
        }
    }

    fn redirect_target(&mut self, op: &'static str) -> Result<Word> {
        match self.next()? {
            Tok::Word(w) => {
                if matches!(op, "<<" | "<<-") {
                    self.heredocs.push((w.text.clone(), op == "<<-"));
                }
                Ok(w)
            }
            tok => Err(self.error_at(&tok, "missing redirection target")),
        }
    }

    fn simple(&mut self) -> Result<Command> {
        let mut cmd = Simple::default();
        loop {
            match self.peek()? {
                Tok::Word(_) => {
                    let Tok::Word(w) = self.next()? else {
                        unreachable!("peeked a word")
                    };
                    if cmd.words.is_empty() && is_assignment(&self.s[w.start..w.end]) {
                        cmd.assigns.push(w);
                        continue;
                    }
                    let cond = cmd.words.is_empty() && w.is_reserved("[[");
                    cmd.words.push(w);
                    if cond {
                        self.conditional(&mut cmd)?;
                    }
                    if cmd.words.len() == 1 && cmd.assigns.is_empty() && self.peek_op("(")? {
                        // `name() body`: a function definition.
                        let open = self.next()?;
                        match self.next()? {
                            Tok::Op(")", _) => {}
                            _ => return Err(self.error_at(&open, "bad function definition")),
                        }
                        self.skip_newlines()?;
                        let body = Box::new(self.command()?);
                        let name = cmd.words.pop().expect("one word");
                        return Ok(Command::Function { name, body });
                    }
                }
                Tok::Op(op, at) if is_redirect(op) => {
                    let (op, start) = (*op, *at);
                    self.next()?;
                    let digits = self.s[start..]
                        .find(|c: char| !c.is_ascii_digit())
                        .unwrap_or(0);
                    let fd = self.s[start..start + digits].parse().ok();
                    let target = self.redirect_target(op)?;
                    cmd.redirects.push(Redirect {
                        op,
                        start,
                        fd,
                        target,
                    });
                }
                _ => break,
            }
        }
        if cmd.words.is_empty() && cmd.assigns.is_empty() && cmd.redirects.is_empty() {
            let tok = self.next()?;
            return Err(self.error_at(&tok, "expected a command"));
        }
        Ok(Command::Simple(cmd))
    }

    /// The rest of `[[ … ]]`: inside it `&&`, `||`, `<`, `>`, `(` and `)` are operands.
    fn conditional(&mut self, cmd: &mut Simple) -> Result<()> {
        loop {
            self.skip_blanks();
            let start = self.pos;
            let Some(c) = self.at(start) else {
                return Err(self.err(start, "unterminated [["));
            };
            let op = ["&&", "||", "(", ")", "<", ">"]
                .into_iter()
                .find(|op| self.s[start..].starts_with(op));
            let w = match (c, op) {
                (b'\n', _) => {
                    self.pos += 1;
                    continue;
                }
                (_, Some(op)) => {
                    self.pos += op.len();
                    let mut w = Word {
                        start,
                        end: self.pos,
                        ..Word::default()
                    };
                    w.push_raw(op, start);
                    w
                }
                _ if is_meta(c) => return Err(self.err(start, "unterminated [[")),
                _ => self.word()?,
            };
            let done = w.is_reserved("]]");
            cmd.words.push(w);
            if done {
                return Ok(());
            }
        }
    }
}

/// `NAME=…` as written (before quote removal).
fn is_assignment(raw: &str) -> bool {
    let Some(eq) = raw.find('=') else {
        return false;
    };
    let name = raw[..eq].strip_suffix('+').unwrap_or(&raw[..eq]);
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Offsets of a parsed script can be moved into another coordinate system (the script of
/// `sh -c '…'` is parsed from the word's text, then mapped back to where the word is).
pub trait Remap {
    /// Replaces every offset `o` by `f(o)`.
    fn remap(&mut self, f: &dyn Fn(usize) -> usize);
}

impl Remap for Word {
    fn remap(&mut self, f: &dyn Fn(usize) -> usize) {
        // `f` need not keep offsets contiguous: spell every one out first.
        self.materialize();
        // The end is exclusive: map the last byte and step past it.
        self.end = if self.end > self.start {
            f(self.end - 1) + 1
        } else {
            f(self.end)
        };
        self.start = f(self.start);
        for o in &mut self.map {
            *o = f(*o);
        }
        for s in &mut self.substs {
            s.remap(f);
        }
    }
}

impl Remap for Script {
    fn remap(&mut self, f: &dyn Fn(usize) -> usize) {
        for item in &mut self.items {
            for p in std::iter::once(&mut item.first).chain(item.rest.iter_mut().map(|(_, p)| p)) {
                for c in &mut p.commands {
                    c.remap(f);
                }
            }
        }
    }
}

impl Remap for Command {
    fn remap(&mut self, f: &dyn Fn(usize) -> usize) {
        match self {
            Command::Simple(s) => {
                for w in s.assigns.iter_mut().chain(s.words.iter_mut()) {
                    w.remap(f);
                }
                for r in &mut s.redirects {
                    r.start = f(r.start);
                    r.target.remap(f);
                }
            }
            Command::Group { body, start, .. } => {
                *start = f(*start);
                body.remap(f);
            }
            Command::If {
                branches,
                otherwise,
            } => {
                for (c, b) in branches {
                    c.remap(f);
                    b.remap(f);
                }
                if let Some(o) = otherwise {
                    o.remap(f);
                }
            }
            Command::Loop { cond, body } => {
                cond.remap(f);
                body.remap(f);
            }
            Command::For { words, body } => {
                for w in words {
                    w.remap(f);
                }
                body.remap(f);
            }
            Command::Case { word, arms } => {
                word.remap(f);
                for a in arms {
                    a.remap(f);
                }
            }
            Command::Arith { start } => *start = f(*start),
            Command::Function { name, body } => {
                name.remap(f);
                body.remap(f);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The command names of a script, flattened (substitutions included), in order.
    fn names(src: &str) -> Vec<String> {
        fn walk(s: &Script, out: &mut Vec<String>) {
            for item in &s.items {
                for p in item.pipelines() {
                    for c in &p.commands {
                        cmd(c, out);
                    }
                }
            }
        }
        fn cmd(c: &Command, out: &mut Vec<String>) {
            match c {
                Command::Simple(s) => {
                    if let Some(w) = s.words.first() {
                        out.push(w.text.clone());
                    }
                    for w in s.assigns.iter().chain(&s.words) {
                        for sub in &w.substs {
                            walk(sub, out);
                        }
                    }
                }
                Command::Group { body, .. } => walk(body, out),
                Command::If {
                    branches,
                    otherwise,
                } => {
                    for (c, b) in branches {
                        walk(c, out);
                        walk(b, out);
                    }
                    if let Some(o) = otherwise {
                        walk(o, out);
                    }
                }
                Command::Loop { cond, body } => {
                    walk(cond, out);
                    walk(body, out);
                }
                Command::For { body, .. } => walk(body, out),
                Command::Case { arms, .. } => arms.iter().for_each(|a| walk(a, out)),
                Command::Arith { .. } => out.push("((".into()),
                Command::Function { name, body } => {
                    out.push(format!("{}()", name.text));
                    cmd(body, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(
            &parse(src).unwrap_or_else(|e| panic!("{src:?}: {e}")),
            &mut out,
        );
        out
    }

    fn words(src: &str) -> Vec<String> {
        let s = parse(src).expect("parses");
        match &s.items[0].first.commands[0] {
            Command::Simple(c) => c.words.iter().map(|w| w.text.clone()).collect(),
            other => panic!("not simple: {other:?}"),
        }
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(
            words(r#"echo 'a "b" $c' "d 'e' \$f \"g\" \\ \x" h\ i j\"k"#),
            ["echo", r#"a "b" $c"#, r#"d 'e' $f "g" \ \x"#, "h i", "j\"k"]
        );
        assert_eq!(words("echo $'a\\tb\\'c' $\"d\""), ["echo", "a\tb'c", "d"]);
        assert_eq!(words("echo a\\\nb"), ["echo", "ab"]);
        assert_eq!(words("echo 'x'y\"z\""), ["echo", "xyz"]);
        assert_eq!(words("echo a#b"), ["echo", "a#b"]);
    }

    #[test]
    fn escapes_before_multibyte_characters() {
        assert_eq!(
            words("echo $'\\é' ${a\\é'x'} \\é"),
            ["echo", "é", "${a\\é'x'}", "é"]
        );
        assert_eq!(words("echo `a \\é`"), ["echo", "`a \\é`"]);
    }

    #[test]
    fn word_offsets_and_map() {
        let s = parse(r#"echo  "a b"c"#).expect("parses");
        let Command::Simple(c) = &s.items[0].first.commands[0] else {
            panic!("simple")
        };
        let w = &c.words[1];
        assert_eq!((w.start, w.end), (6, 12));
        assert_eq!(w.text, "a bc");
        assert_eq!(w.map, [7, 8, 9, 11]);
        assert!(w.quoted && !w.expands);
    }

    #[test]
    fn expansions_are_kept_and_flagged() {
        let s = parse("echo $HOME ${X:-a b} $((1 + 2)) \"$@\" $1 `date` $(id -u)").expect("parses");
        let Command::Simple(c) = &s.items[0].first.commands[0] else {
            panic!("simple")
        };
        let texts: Vec<&str> = c.words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "echo",
                "$HOME",
                "${X:-a b}",
                "$((1 + 2))",
                "$@",
                "$1",
                "`date`",
                "$(id -u)"
            ]
        );
        assert!(c.words[1..].iter().all(|w| w.expands));
        assert_eq!(c.words[6].substs.len(), 1);
        assert_eq!(c.words[7].substs.len(), 1);
        assert_eq!(words("echo a$ b"), ["echo", "a$", "b"]);
    }

    #[test]
    fn operators_and_lists() {
        let s = parse("a && b || c; d & e | f |& g\nh").expect("parses");
        assert_eq!(s.items.len(), 4);
        assert_eq!(
            s.items[0].rest.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
            [Connector::And, Connector::Or]
        );
        assert_eq!(s.items[0].separator, Some(';'));
        assert!(s.items[1].background);
        assert_eq!(s.items[2].first.commands.len(), 3);
        assert_eq!(s.items[2].separator, Some('\n'));
        assert_eq!(s.items[3].separator, None);
        assert_eq!(names("a&&b||c;d"), ["a", "b", "c", "d"]);
        // A line break after `&&`, `||` and `|` continues the list.
        assert_eq!(parse("a &&\n b |\n c").expect("parses").items.len(), 1);
    }

    #[test]
    fn comments() {
        assert_eq!(names("a # b; c\n# d\ne"), ["a", "e"]);
        assert_eq!(words("echo '#' x#y # z"), ["echo", "#", "x#y"]);
    }

    #[test]
    fn command_substitution_is_parsed() {
        assert_eq!(
            names("x=$(curl -s u | sha256sum) && echo \"$(basename \"$(pwd)\")\""),
            ["curl", "sha256sum", "echo", "basename", "pwd"]
        );
        assert_eq!(names("echo `uname -m`"), ["echo", "uname"]);
        // `)` inside quotes and a `case` inside `$( )`.
        assert_eq!(names("v=$(echo ')'; case x in a) b;; esac)"), ["echo", "b"]);
    }

    #[test]
    fn redirections_here_strings_and_heredocs() {
        let s = parse("cat <<<\"$x\" >out 2>&1 <in 3<>rw &>all").expect("parses");
        let Command::Simple(c) = &s.items[0].first.commands[0] else {
            panic!("simple")
        };
        let ops: Vec<(&str, Option<u32>)> = c.redirects.iter().map(|r| (r.op, r.fd)).collect();
        assert_eq!(
            ops,
            [
                ("<<<", None),
                (">", None),
                (">&", Some(2)),
                ("<", None),
                ("<>", Some(3)),
                ("&>", None)
            ]
        );
        assert_eq!(c.words.len(), 1);
        // Heredoc bodies are skipped, tab-stripped with `<<-`.
        assert_eq!(
            names("cat <<EOF > f\na | b; rm -rf /\nEOF\nnext\ncat <<-'X'\n\tbody\n\tX\nlast"),
            ["cat", "next", "cat", "last"]
        );
    }

    #[test]
    fn compound_commands() {
        assert_eq!(
            names("if a; then b; elif c; then d; else e; fi; while f; do g; done; until h; do i; done"),
            ["a", "b", "c", "d", "e", "f", "g", "h", "i"]
        );
        assert_eq!(
            names("for x in 1 2; do a $x; done; for y; do b; done"),
            ["a", "b"]
        );
        assert_eq!(names("for ((i=0; i<3; i++)); do a; done"), ["a"]);
        assert_eq!(
            names("case $1 in\n  a|b) x;;\n  (c) y ;;\n  *) z\nesac"),
            ["x", "y", "z"]
        );
        assert_eq!(names("{ a; b; } > log; (c; d)"), ["a", "b", "c", "d"]);
        assert_eq!(
            names("f() { a; }; function g { b; }; f"),
            ["f()", "a", "g()", "b", "f"]
        );
        assert_eq!(names("(( i++ )) && a"), ["((", "a"]);
        // Reserved words only count in command position.
        assert_eq!(
            words("echo if then fi done"),
            ["echo", "if", "then", "fi", "done"]
        );
        assert_eq!(names("! a | b"), ["a", "b"]);
    }

    #[test]
    fn double_brackets_keep_their_operators() {
        assert_eq!(
            words("[[ -f a && ( -n $b || $c < d ) ]]"),
            ["[[", "-f", "a", "&&", "(", "-n", "$b", "||", "$c", "<", "d", ")", "]]"]
        );
        assert_eq!(names("[[ -d x ]] && cd x"), ["[[", "cd"]);
    }

    #[test]
    fn assignments() {
        let s = parse("A=1 B+=\"x y\" env C=2 cmd").expect("parses");
        let Command::Simple(c) = &s.items[0].first.commands[0] else {
            panic!("simple")
        };
        assert_eq!(c.assigns.len(), 2);
        assert_eq!(c.words[0].text, "env");
        assert_eq!(c.words[1].text, "C=2");
    }

    #[test]
    fn errors() {
        for bad in [
            "echo 'a",
            "echo \"a",
            "echo $(a",
            "echo `a",
            "if a; then b",
            "a &&",
            "| a",
            "a ;; b",
            "echo ${a",
            "( a",
            "[[ a",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should not parse");
        }
        let deep = format!("{}a{}", "$(".repeat(200), ")".repeat(200));
        assert_eq!(
            parse(&deep).map_err(|e| e.message),
            Err("nested too deeply")
        );
        let deep = format!("{}a{}", "( ".repeat(200), " )".repeat(200));
        assert_eq!(
            parse(&deep).map_err(|e| e.message),
            Err("nested too deeply")
        );
        // `((…))` is bash arithmetic, not nested subshells.
        let arith = format!("{}a{}", "(".repeat(200), ")".repeat(200));
        assert!(parse(&arith).is_ok());
    }

    /// Every prefix and every one-character deletion of scripts using each construct
    /// parses or fails cleanly: no panic (a panic is a trap in the guest).
    #[test]
    fn truncated_and_damaged_scripts_never_panic() {
        let seeds = [
            "set -eux; a=$(curl -fsSL \"$U\" | sha256sum) && [[ -n $a && ( $b < c ) ]] || { echo 'x y' >&2; exit 1; }",
            "if [ -f x ]; then cd /x; elif y; then :; else z; fi; for i in 1 2; do echo \"${i:-é}\"; done",
            "case $1 in a|b) x;; (c) y ;; *) z;; esac; f() { (( i++ )); }; cat <<-'EOF' >out\n\tbody é\n\tEOF\nnext",
            "echo $'a\\té' $\"b\" `uname \\`x\\`` ${x#*/} $((1+2)) 2>&1 |& tee log & wait",
        ];
        for seed in seeds {
            let cuts: Vec<usize> = seed
                .char_indices()
                .map(|(i, _)| i)
                .chain([seed.len()])
                .collect();
            for &cut in &cuts {
                let _ = parse(&seed[..cut]);
            }
            for w in cuts.windows(2) {
                let damaged = format!("{}{}", &seed[..w[0]], &seed[w[1]..]);
                let _ = parse(&damaged);
            }
        }
    }

    #[test]
    fn remap_moves_every_offset() {
        let mut s = parse("a 'b' $(c)").expect("parses");
        s.remap(&|o| o + 10);
        let Command::Simple(c) = &s.items[0].first.commands[0] else {
            panic!("simple")
        };
        assert_eq!((c.words[1].start, c.words[1].end), (12, 15));
        assert_eq!(c.words[1].map, [13]);
        let Command::Simple(inner) = &c.words[2].substs[0].items[0].first.commands[0] else {
            panic!("simple")
        };
        assert_eq!(inner.words[0].start, 18);
    }
}
