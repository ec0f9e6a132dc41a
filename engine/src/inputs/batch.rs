//! Large YAML streams read a batch of documents at a time.
//!
//! One input of many documents (`helm template ... | policy eval -`, a cluster dump, a
//! generated bundle) used to be parsed whole: its text, every document's value and
//! every source map at once, about fifteen times the text (529 MiB for 10,000
//! Deployments in one 16 MB stream; BENCHMARKS.md, "Scale"). [`Batches`] reads such a
//! text from its reader in parts of about [`Batching::size`] bytes, each cut at a `---`
//! document marker, and parses each part on its own, so a streamed run
//! (`eval::stream`) holds one part's documents at a time.
//!
//! The parts give what the whole text gives: the same documents, with the file's
//! positions and document indices, and the same errors (`yaml::parse_yaml_part` carries
//! what the parse carries from one document to the next: the alias budget and the
//! recovery after a syntax error). A document's [`Document::source`] is then its part's
//! text, from [`Document::first_line`]. Two things need the whole file and are checked
//! by the caller, which reads every part once before evaluating any (the first pass of
//! a streamed run): that the file is UTF-8 throughout ([`Batches`] yields an error at
//! the first invalid byte, where loading it whole fails it as a whole), and that it
//! holds a document at all.
//!
//! A part ends only before a `---` line whose previous line is YAML content (not blank,
//! not a comment, not a `%` directive, not a block scalar header
//! such as `key: |`): then every comment lies in the part of the
//! document it is about, as inline suppressions and peer ignores expect. A stream with
//! no such line is one part.

use std::io::Read;
use std::sync::Arc;

use super::yaml::{self, Parts};
use super::{Document, InputError, LoadOptions};
use crate::source::{LineIndex, Position};

/// When and how inputs are read in batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batching {
    /// Inputs larger than this many bytes are read in batches.
    pub min: u64,
    /// About how many bytes of text each batch holds (it ends at the next document
    /// marker after this many).
    pub size: usize,
}

/// 256 KiB batches: a parsed batch takes about fifteen times its text, and the next one
/// is parsed while one is evaluated. Against 1 MiB, a 10,000-Deployment stream peaks
/// at 72 instead of 123 MiB for 1.03x the wall time (BENCHMARKS.md, "one stream in
/// batches").
impl Default for Batching {
    fn default() -> Self {
        Batching {
            min: 4 << 20,
            size: 256 << 10,
        }
    }
}

/// One part of a large stream: whole lines of the file, from `first_line`.
#[derive(Debug)]
pub struct Batch {
    /// The part's text.
    pub source: Arc<str>,
    /// The line of the file the text starts at (1-based).
    pub first_line: u32,
    /// Its documents, with the file's positions and indices (none when read as text
    /// only).
    pub documents: Vec<Document>,
    /// Its parse errors.
    pub errors: Vec<InputError>,
}

impl Batch {
    /// How many lines the text has (a last line without a line break counts).
    pub fn line_count(&self) -> u32 {
        let breaks = self.source.bytes().filter(|b| *b == b'\n').count();
        let last = usize::from(!self.source.is_empty() && !self.source.ends_with('\n'));
        u32::try_from(breaks + last).unwrap_or(u32::MAX)
    }
}

/// The batches of one YAML input, in order. Yields an error, and then nothing, where
/// the text is not UTF-8 or holds a NUL byte in its first 8 KiB (which fail a file read
/// whole).
pub struct Batches {
    reader: Box<dyn Read + Send>,
    path: Arc<str>,
    opts: LoadOptions,
    size: usize,
    /// Parse the documents (else only the text is read).
    parse: bool,
    /// Bytes read and not yet handed out; they start at a line start.
    buf: Vec<u8>,
    /// Where in `buf` the search for a cut goes on.
    searched: usize,
    eof: bool,
    /// The line of the file `buf` starts at.
    line: u32,
    /// Nothing has been handed out yet (a byte-order mark is skipped, NULs looked for).
    first: bool,
    done: bool,
    parts: Parts,
}

impl std::fmt::Debug for Batches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batches")
            .field("path", &self.path)
            .field("line", &self.line)
            .finish_non_exhaustive()
    }
}

/// A NUL byte this early means a binary file ([`super::load_bytes`]).
const NUL_WINDOW: usize = 8192;

impl Batches {
    /// Reads `reader`, the text of the input `path`, in parts of about `size` bytes;
    /// `parse`: parse each part's documents with `opts` (else text only).
    pub fn new(
        reader: Box<dyn Read + Send>,
        path: &str,
        opts: &LoadOptions,
        size: usize,
        parse: bool,
    ) -> Batches {
        Batches {
            reader,
            path: Arc::from(path),
            opts: opts.clone(),
            size: size.max(1),
            parse,
            buf: Vec::new(),
            searched: 0,
            eof: false,
            line: 1,
            first: true,
            done: false,
            parts: Parts::default(),
        }
    }

    /// These batches without their documents: the text only, not parsed.
    pub fn text_only(mut self) -> Batches {
        self.parse = false;
        self
    }

    /// The input's path, as its documents and errors name it.
    pub fn path(&self) -> &Arc<str> {
        &self.path
    }

    /// Reads until `buf` holds at least `want` bytes or the reader ends.
    fn fill(&mut self, want: usize) -> std::io::Result<()> {
        while !self.eof && self.buf.len() < want {
            let have = self.buf.len();
            let take = (want - have).max(64 * 1024);
            let got = (&mut self.reader)
                .take(take as u64)
                .read_to_end(&mut self.buf)?;
            if got == 0 {
                self.eof = true;
            }
        }
        Ok(())
    }

    /// The text up to the cut: the start of the first `---` line at or after `size`
    /// bytes whose previous line is content; reads more until one is found or the text
    /// ends (then all of it).
    fn cut(&mut self) -> std::io::Result<usize> {
        loop {
            self.fill(self.size.max(self.searched + self.size))?;
            if let Some(at) = find_cut(&self.buf, self.size.max(self.searched)) {
                return Ok(at);
            }
            if self.eof {
                return Ok(self.buf.len());
            }
            // Search again from the last line start seen (a marker may straddle).
            let from = self.buf.len().saturating_sub(1);
            self.searched = self.buf[..from]
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(self.searched, |i| i + 1);
            let more = self.buf.len() + self.size;
            self.fill(more)?;
        }
    }

    /// The error that ends the batches, at `pos` within the text handed out next.
    fn fail(&mut self, pos: Position, message: &str) -> Option<Result<Batch, InputError>> {
        self.done = true;
        let pos = Position::new(pos.line.saturating_add(self.line - 1), pos.column);
        Some(Err(InputError::new(&*self.path, pos, message)))
    }
}

impl Iterator for Batches {
    type Item = Result<Batch, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let end = match self.cut() {
            Ok(end) => end,
            Err(e) => {
                let message = format!("cannot read file: {e}");
                return self.fail(Position::START, &message);
            }
        };
        if end == 0 {
            self.done = true;
            return None;
        }
        // A part cut before a `---` line has another after it.
        let more = end < self.buf.len();
        let rest = self.buf.split_off(end);
        let bytes = std::mem::replace(&mut self.buf, rest);
        self.searched = 0;
        if self.first {
            if let Some(nul) = bytes.iter().take(NUL_WINDOW).position(|b| *b == 0) {
                let before = String::from_utf8_lossy(&bytes[..nul]);
                let pos = LineIndex::new(&before).position(&before, before.len());
                return self.fail(
                    pos,
                    "binary file (NUL byte): expected a text input (Dockerfile, YAML or JSON)",
                );
            }
        }
        let text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                let bytes = e.as_bytes();
                let valid =
                    std::str::from_utf8(&bytes[..e.utf8_error().valid_up_to()]).unwrap_or_default();
                let pos = LineIndex::new(valid).position(valid, valid.len());
                return self.fail(pos, "invalid UTF-8: the file must be UTF-8 text");
            }
        };
        let text = match text.strip_prefix('\u{feff}') {
            Some(rest) if self.first => rest.to_string(),
            _ => text,
        };
        self.first = false;
        let source: Arc<str> = Arc::from(text);
        let first_line = self.line;
        let batch = Batch {
            source,
            first_line,
            documents: Vec::new(),
            errors: Vec::new(),
        };
        self.line = first_line.saturating_add(batch.line_count());
        if !self.parse {
            return Some(Ok(batch));
        }
        let (mut documents, errors) = yaml::parse_yaml_part(
            &self.path,
            &batch.source,
            (first_line, more),
            &self.opts,
            &mut self.parts,
        );
        if let Some(kind) = self.opts.kind {
            for doc in &mut documents {
                doc.kind = kind;
            }
        }
        Some(Ok(Batch {
            documents,
            errors,
            ..batch
        }))
    }
}

/// Where the parts of `text` start (after the first, at 0) when every document that
/// can be a part of its own is one: the cuts [`Batches`] makes with the smallest size.
/// An editor's buffer is parsed in these parts (`yaml::parse_yaml_reusing`).
pub(crate) fn cuts(text: &str) -> Vec<usize> {
    let buf = text.as_bytes();
    let mut cuts = Vec::new();
    let mut from = 1;
    while let Some(at) = find_cut(buf, from) {
        cuts.push(at);
        from = at + 1;
    }
    cuts
}

/// The byte offset of the first line start at or after `from` that begins a `---`
/// document marker line whose previous line is content (see the module documentation).
fn find_cut(buf: &[u8], from: usize) -> Option<usize> {
    if from >= buf.len() {
        return None;
    }
    // The line start at or after `from`.
    let mut at = if from == 0 {
        0
    } else {
        buf[from - 1..].iter().position(|b| *b == b'\n')? + from
    };
    while at < buf.len() {
        let line_end = buf[at..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(buf.len(), |i| at + i);
        let line = &buf[at..line_end];
        // A marker line must be complete to be judged (its next byte may be a space).
        let complete = line_end < buf.len();
        if at > 0 && complete && is_marker(line) && content(previous_line(buf, at)) {
            return Some(at);
        }
        at = line_end + 1;
    }
    None
}

/// The line that ends right before the line start `at` (> 0).
fn previous_line(buf: &[u8], at: usize) -> &[u8] {
    let end = at - 1;
    let start = buf[..end]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    &buf[start..end]
}

/// `---` followed by nothing, a space, a tab or a line break.
fn is_marker(line: &[u8]) -> bool {
    line.strip_prefix(b"---")
        .is_some_and(|rest| rest.is_empty() || matches!(rest[0], b' ' | b'\t' | b'\r'))
}

/// A line of YAML content: not blank, not a comment, not a directive, not one that may
/// end with a block scalar header.
fn content(line: &[u8]) -> bool {
    let trimmed = line.trim_ascii_start();
    !trimmed.is_empty()
        && !trimmed.starts_with(b"#")
        && !line.starts_with(b"%")
        && !block_header(trimmed)
}

/// Whether `line` may end with a block scalar header (`|`, `>-`, `|+2`, a comment
/// after it): an empty block scalar's value starts on the next line, which would be
/// the next part's. No cut after one (a part then runs to a later marker).
fn block_header(line: &[u8]) -> bool {
    let line = line.trim_ascii_end();
    let line = match line.windows(2).position(|w| w == b" #") {
        Some(at) => line[..at].trim_ascii_end(),
        None => line,
    };
    let head = line
        .iter()
        .rposition(|b| !matches!(b, b'-' | b'+' | b'0'..=b'9'))
        .map_or(&line[..0], |at| &line[..=at]);
    head.ends_with(b"|") || head.ends_with(b">")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inputs::load_text;
    use crate::inputs::Format;

    fn batches(text: &str, size: usize) -> Vec<Result<Batch, InputError>> {
        let reader: Box<dyn Read + Send> =
            Box::new(std::io::Cursor::new(text.to_string().into_bytes()));
        Batches::new(reader, "s.yaml", &LoadOptions::default(), size, true).collect()
    }

    /// The parts of a text together: its documents (positions, indices, values, source
    /// maps, kinds) and errors, against loading it whole.
    fn same_as_whole(text: &str, size: usize) -> usize {
        // A file read whole loses its byte-order mark before the parse (`load_bytes`).
        let bare = text.strip_prefix('\u{feff}').unwrap_or(text);
        let whole = load_text("s.yaml", bare, Format::Yaml, &LoadOptions::default());
        let mut docs = Vec::new();
        let mut errors = Vec::new();
        let mut count = 0;
        let mut line = 1;
        for b in batches(text, size) {
            let b = b.expect("batch");
            assert_eq!(b.first_line, line, "parts follow each other");
            line += b.line_count();
            count += 1;
            for d in &b.documents {
                // The part's text holds the document's lines.
                assert_eq!(d.line(d.span.start.line), {
                    let w = &whole.documents[d.index];
                    w.line(w.span.start.line)
                });
            }
            docs.extend(b.documents);
            errors.extend(b.errors);
        }
        let key = |d: &Document| {
            (
                d.kind,
                d.index,
                d.span,
                d.value.clone(),
                d.source_map
                    .to_sorted()
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!(
            docs.iter().map(key).collect::<Vec<_>>(),
            whole.documents.iter().map(key).collect::<Vec<_>>()
        );
        assert_eq!(errors, whole.errors);
        count
    }

    #[test]
    fn parts_give_what_the_whole_text_gives() {
        let doc = |i: usize| {
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i}\ndata:\n  a: |\n    x\n    y\n")
        };
        let plain: String = (0..40).map(|i| format!("---\n{}", doc(i))).collect();
        // Many parts, and one.
        assert!(same_as_whole(&plain, 100) > 10);
        assert_eq!(same_as_whole(&plain, 1 << 20), 1);
        // Anchors, merge keys, a List, a directive, an empty document, comments before
        // markers (never a cut there), a syntax error in the middle (recovery goes on
        // document by document), CRLF lines, a document without a trailing line break.
        let mut mixed =
            String::from("# head\n%YAML 1.2\n---\nbase: &b {x: 1}\nuse: {<<: *b, y: 2}\n");
        mixed.push_str("---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: p}}\n- {apiVersion: v1, kind: Pod, metadata: {name: q}}\n");
        mixed.push_str("---\n---\n# about the next\n---\na: [1, 2\n---\nb: 2\r\nc: 3\r\n");
        for i in 0..10 {
            mixed.push_str(&format!("---\n{}", doc(i)));
        }
        mixed.push_str("%TAG ! tag:example.com,2000:\n---\nz: !x 1\n---\nlast: true");
        for size in [1, 10, 60, 200, 1 << 20] {
            same_as_whole(&mixed, size);
        }
    }

    /// Cases the fuzz target (`fuzz/fuzz_targets/batches.rs`) found.
    #[test]
    fn found_by_fuzzing() {
        // An empty block scalar ends where the next line starts: the next part's `---`.
        let text = "--mkt [_piVers---: >-\n \nd oJa:\u{1e}0L @a: |\n  text\n---\nb: >\n---\nki# c";
        for size in [1, 6, 20, 1 << 20] {
            same_as_whole(text, size);
        }
        // An empty document right before a part's end starts where the next part does.
        let text = "..\n---\n--- |\n--- --\n`c\n.\n---\n-y:p.> -iV\nx.y:p}]\n";
        for size in [1, 6, 20, 1 << 20] {
            same_as_whole(text, size);
        }
        // A directive, a blank line, its document, then a syntax error two parts on: the
        // whole text's recovery took the directive alone for a document (a spurious
        // "did not find expected <document start>").
        let text = "%YAML 1.2\n\n---\n- xz- {[: 2}\n---\nkind: List\napiVevsion: v1\nievsion: v1\nitemsn{[i k:d: Pod, apia: |\n  \u{3}ext\n-\n";
        for size in [1, 20, 1 << 20] {
            same_as_whole(text, size);
        }
        let whole = load_text("s.yaml", text, Format::Yaml, &LoadOptions::default());
        assert_eq!(whole.errors.len(), 1, "{:?}", whole.errors);
        assert_eq!(whole.errors[0].line, 9);
        // An empty root block scalar with a blank line of one space, before a `---`: an
        // error in the stream (16:1), none in its document parsed alone. The error was
        // lost, and the parts and the whole ended the first document differently (2:1
        // parsed in a clean part, 1:5 in the whole text's recovery, which did not show the
        // parser the `---` after it).
        let text = "b: >\n---\n-: 1\n.../{\"t@a\":\"a: 1\n...\n---\n :-2\n...\n>\n1.: >\n---\n-: 1\n...\n>\n \n---\na: 1\n...\n---\n-: 2\n...\n>\n1.2\n--, 2\n--, v2]\n";
        for size in [1, 6, 20, 1 << 20] {
            same_as_whole(text, size);
        }
        let whole = load_text("s.yaml", text, Format::Yaml, &LoadOptions::default());
        let errors: Vec<_> = (whole.errors.iter())
            .map(|e| (e.line, e.column, e.message.as_str()))
            .collect();
        assert_eq!(
            errors,
            [(16, 1, "invalid YAML: wrongly indented line in block scalar")]
        );
        assert_eq!(whole.documents[0].span.end, Position::new(2, 1));
    }

    #[test]
    fn an_alias_budget_spent_in_one_part_stops_the_parts_after_it() {
        let bomb = format!(
            "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n{}",
            (0..5)
                .map(|i| format!(
                    "l{i}: &l{i} [{}]\n",
                    vec![
                        if i == 0 {
                            "*a".to_string()
                        } else {
                            format!("*l{}", i - 1)
                        };
                        10
                    ]
                    .join(", ")
                ))
                .collect::<String>()
        );
        let text = format!("x: 1\n---\n{bomb}---\ny: 2\n---\nz: 3\n");
        same_as_whole(&text, 5);
        // After a syntax error, the budget no longer stops the rest.
        let text = format!("x: [\n---\n{bomb}---\ny: 2\n");
        same_as_whole(&text, 5);
    }

    #[test]
    fn invalid_text_ends_the_parts_with_its_position() {
        let mut bytes = b"a: 1\n---\nb: 2\n---\nc: \xff\n".to_vec();
        let reader: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(bytes.clone()));
        let got: Vec<_> =
            Batches::new(reader, "s.yaml", &LoadOptions::default(), 1, true).collect();
        assert_eq!(got.len(), 3);
        let e = got[2].as_ref().expect_err("invalid UTF-8");
        assert_eq!((e.line, e.column), (5, 4), "{e}");
        bytes = b"a: 1\n\0".to_vec();
        let reader: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(bytes));
        let got: Vec<_> =
            Batches::new(reader, "s.yaml", &LoadOptions::default(), 1, true).collect();
        let e = got[0].as_ref().expect_err("NUL");
        assert_eq!((e.line, e.column), (2, 1), "{e}");
    }

    #[test]
    fn a_byte_order_mark_is_skipped_and_text_only_parts_parse_nothing() {
        let text = "\u{feff}a: 1\n---\nb: 2\n";
        same_as_whole(text, 1);
        let reader: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(text.as_bytes().to_vec()));
        let got: Vec<Batch> = Batches::new(reader, "s.yaml", &LoadOptions::default(), 1, false)
            .map(|b| b.expect("batch"))
            .collect();
        assert_eq!(got.len(), 2);
        assert!(got.iter().all(|b| b.documents.is_empty()));
        assert_eq!(&*got[0].source, "a: 1\n");
        assert_eq!((got[1].first_line, &*got[1].source), (2, "---\nb: 2\n"));
    }
}
