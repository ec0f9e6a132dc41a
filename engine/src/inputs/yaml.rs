//! YAML and JSON inputs with a position for every value.
//!
//! Policies see plain JSON values, but findings must point at the exact line and column of
//! the offending value. This module drives `saphyr-parser`'s event stream itself and builds
//! the [`serde_json::Value`] and its [`SourceMap`] in one iterative pass (an explicit stack,
//! no recursion), so hostile inputs cannot overflow the stack: nesting is bounded by
//! [`LoadOptions::max_depth`] and alias expansion by [`MAX_ALIAS_NODES`].
//!
//! Semantics are YAML 1.2 (core schema): `yes`, `on` and `NO` stay strings and `0644` is the
//! integer 644. Non-string keys become their source text. `<<` merge keys (YAML 1.1, used by
//! Compose and CI files) are honoured. JSON is parsed by the same builder (JSON is YAML 1.2),
//! then classified as Kubernetes, workflow, image metadata or plain JSON.
//!
//! This module must not know about rules; it only produces documents and input errors.

use std::collections::HashMap;
use std::sync::Arc;

use saphyr_parser::{Event, Marker, Parser, ScalarStyle, Tag};
use serde_json::{Map, Number, Value};

use super::kinds::{Comments, KindSpec};
use super::kubernetes::is_kubernetes;
use super::{image, Document, DocumentKind, Format, InputError, LoadOptions};
use crate::source::{LineIndex, PointerMap, Position, SourceMap, Span};

/// The most nodes that aliases (`*name`) may expand to in one file (all its documents
/// together, so a stream of many small bombs cannot add up). Real files stay far below; a
/// "billion laughs" document hits it after a few milliseconds.
pub const MAX_ALIAS_NODES: usize = 100_000;

/// Value and key spans of one parsed document, by JSON Pointer.
#[derive(Debug, Clone, Default)]
pub(crate) struct Spans {
    /// Span of each value.
    pub values: PointerMap<Span>,
    /// Span of each mapping key, by the pointer of its value.
    pub keys: PointerMap<Span>,
}

impl Spans {
    /// The spans under `prefix`, re-rooted so that `prefix` becomes `new_root`.
    pub fn rebase(&self, prefix: &str, new_root: &str) -> Spans {
        let pick = |map: &PointerMap<Span>| -> PointerMap<Span> {
            map.iter()
                .filter_map(|(k, v)| {
                    let rest = k.strip_prefix(prefix)?;
                    (rest.is_empty() || rest.starts_with('/'))
                        .then(|| (format!("{new_root}{rest}"), *v))
                })
                .collect()
        };
        Spans {
            values: pick(&self.values),
            keys: pick(&self.keys),
        }
    }

    /// Converts into the engine's [`SourceMap`].
    pub fn into_source_map(self) -> SourceMap {
        SourceMap::from_parts(self.values, self.keys)
    }
}

/// One document of a stream before classification.
#[derive(Debug, Clone)]
pub(crate) struct RawDoc {
    pub value: Value,
    pub spans: Spans,
    pub span: Span,
}

/// Parses a YAML stream into documents (one per `---` document, `kind: List` expanded).
///
/// Errors carry file:line:column. A syntax error drops only the document it is in: parsing
/// resumes at the next `---` line, so the other documents of the file still load. A file
/// that holds no document at all (only comments) is an error, so it is never silently
/// ignored.
pub fn parse_yaml(path: &str, text: &str, opts: &LoadOptions) -> (Vec<Document>, Vec<InputError>) {
    parse_yaml_text(path, &Arc::from(text), opts)
}

/// [`parse_yaml`] of a text already shared: its documents share it.
pub(crate) fn parse_yaml_text(
    path: &str,
    text: &Arc<str>,
    opts: &LoadOptions,
) -> (Vec<Document>, Vec<InputError>) {
    let (raws, mut errors) = parse_stream(path, text, opts, "YAML");
    let at = (1, 0);
    let mut docs = into_documents(path, text, at, raws.into_iter().flat_map(classify_yaml));
    if docs.is_empty() && errors.is_empty() && opts.empty_yaml_as_null {
        let start = Span::point(Position::START);
        let null = (DocumentKind::Yaml, Value::Null, Spans::default(), start);
        docs = into_documents(path, text, at, std::iter::once(null));
    }
    if docs.is_empty() && errors.is_empty() {
        errors.push(InputError::new(
            path,
            Position::START,
            "no documents: the file holds only comments or empty documents",
        ));
    }
    (docs, errors)
}

/// What an editor's buffer kept of its last parse ([`parse_yaml_reusing`]): each part's
/// documents, parsed alone, by the part's text.
#[derive(Debug, Default)]
pub struct Reuse {
    parts: HashMap<u64, Vec<KeptPart>>,
    /// What the parts were read with: other options read them again.
    opts: Option<LoadOptions>,
    /// Parts parsed since this was made.
    pub parsed: usize,
    /// Parts reused since this was made.
    pub reused: usize,
}

#[derive(Debug)]
struct KeptPart {
    text: Box<str>,
    more: bool,
    /// Positions and indices as if the part were the file.
    docs: Vec<Document>,
    alias_nodes: usize,
}

impl Reuse {
    fn key(text: &str, more: bool) -> u64 {
        use std::hash::{BuildHasher, Hash, Hasher};
        let mut h = foldhash::fast::FixedState::with_seed(0).build_hasher();
        text.hash(&mut h);
        more.hash(&mut h);
        h.finish()
    }

    fn take_from(
        parts: &mut HashMap<u64, Vec<KeptPart>>,
        text: &str,
        more: bool,
    ) -> Option<KeptPart> {
        let kept = parts.get_mut(&Self::key(text, more))?;
        let at = kept
            .iter()
            .position(|k| &*k.text == text && k.more == more)?;
        Some(kept.swap_remove(at))
    }

    fn put(&mut self, part: KeptPart) {
        let key = Self::key(&part.text, part.more);
        self.parts.entry(key).or_default().push(part);
    }
}

/// [`parse_yaml_text`] for a text parsed again and again with small changes (an
/// editor's buffer): the text is cut into parts where [`super::batch`] would cut it
/// (before a `---` line that follows content, so every document that can stand alone
/// is a part), and a part whose text (and whether another follows it) is the same as in
/// the last parse is not parsed again: its documents are moved to where it now is.
/// The parts together give what the whole text gives (the batches' promise, held by
/// their fuzz target); where a part has an error, the aliases of the parts expand past
/// the file's budget, or there is one part or no document, the text is parsed whole.
/// `reuse` keeps this parse's parts only, so it holds one version of the buffer.
pub(crate) fn parse_yaml_reusing(
    path: &str,
    text: &Arc<str>,
    opts: &LoadOptions,
    reuse: &mut Reuse,
) -> (Vec<Document>, Vec<InputError>) {
    let mut old = std::mem::take(&mut reuse.parts);
    if reuse.opts.as_ref() != Some(opts) {
        old.clear();
        reuse.opts = Some(opts.clone());
    }
    let cuts = super::batch::cuts(text);
    if cuts.is_empty() || has_bare_cr(text) {
        return parse_yaml_text(path, text, opts);
    }
    let path_arc: Arc<str> = Arc::from(path);
    let mut docs: Vec<Document> = Vec::new();
    let mut alias_nodes = 0usize;
    let mut line = 1u32;
    let ends = cuts.iter().copied().chain(std::iter::once(text.len()));
    let starts = std::iter::once(0).chain(cuts.iter().copied());
    for (start, end) in starts.zip(ends) {
        let part = &text[start..end];
        let more = end < text.len();
        let kept = match Reuse::take_from(&mut old, part, more) {
            Some(kept) => {
                reuse.reused += 1;
                kept
            }
            None => {
                reuse.parsed += 1;
                let mut parts = Parts::default();
                let source: Arc<str> = Arc::from(part);
                let (part_docs, errors) =
                    parse_yaml_part(path, &source, (1, more), opts, &mut parts);
                if !errors.is_empty() {
                    return parse_yaml_text(path, text, opts);
                }
                KeptPart {
                    text: part.into(),
                    more,
                    docs: part_docs,
                    alias_nodes: parts.alias_nodes,
                }
            }
        };
        alias_nodes += kept.alias_nodes;
        if alias_nodes > MAX_ALIAS_NODES {
            return parse_yaml_text(path, text, opts);
        }
        let down = line - 1;
        for doc in &kept.docs {
            let mut doc = Document {
                path: Arc::clone(&path_arc),
                index: docs.len(),
                source: Arc::clone(text),
                first_line: 1,
                span: doc.span.shift_lines(down),
                ..doc.clone()
            };
            doc.source_map.shift_lines(down);
            docs.push(doc);
        }
        line = line.saturating_add(part.bytes().filter(|b| *b == b'\n').count() as u32);
        reuse.put(kept);
    }
    if docs.is_empty() {
        return parse_yaml_text(path, text, opts);
    }
    (docs, Vec::new())
}

/// Parses a JSON text and classifies it: a Kubernetes object (a `kind: List` or a top-level
/// array of Kubernetes objects expands to one document per object), a GitHub workflow,
/// image metadata (normalised by [`image::normalise`]; `docker inspect` arrays give one
/// document per image) or, failing all of these, a plain `json` document.
pub fn parse_json(path: &str, text: &str, opts: &LoadOptions) -> (Vec<Document>, Vec<InputError>) {
    let (raws, mut errors) = parse_stream(path, text, opts, "JSON");
    let mut classified = Vec::new();
    for raw in raws {
        match classify_json(raw, opts) {
            Ok(c) => classified.extend(c),
            Err((pos, message)) => errors.push(InputError::new(path, pos, message)),
        }
    }
    let docs = into_documents(path, &Arc::from(text), (1, 0), classified);
    if docs.is_empty() && errors.is_empty() {
        errors.push(InputError::new(
            path,
            Position::START,
            "no documents: the file holds no JSON value",
        ));
    }
    (docs, errors)
}

/// The `yaml` kind: a YAML document no other kind claims.
pub const YAML: KindSpec = KindSpec {
    kind: DocumentKind::Yaml,
    name: "yaml",
    aliases: &["yml"],
    syntax: Format::Yaml,
    comments: Comments::Yaml,
    language_ids: &["yaml", "yml"],
    case_file: "manifest.yaml",
    detect: None,
};

/// The `json` kind: a JSON document no other kind claims.
pub const JSON: KindSpec = KindSpec {
    kind: DocumentKind::Json,
    name: "json",
    aliases: &[],
    syntax: Format::Json,
    comments: Comments::None,
    language_ids: &["json"],
    case_file: "image.json",
    detect: None,
};

/// A classified document: kind, value, spans and document span.
type Classified = (DocumentKind, Value, Spans, Span);

/// Detects the kind of a YAML/JSON value that is not image metadata.
pub fn detect_kind(value: &Value) -> DocumentKind {
    super::kinds::detect(value).unwrap_or(DocumentKind::Yaml)
}

/// A `kind: List` whose `items` are expanded into their own documents.
fn is_list(value: &Value) -> bool {
    is_kubernetes(value)
        && value.get("kind").and_then(Value::as_str) == Some("List")
        && matches!(value.get("items"), Some(Value::Array(_)))
}

/// Expands `kind: List` and detects the kind of each YAML document.
/// Numbers classified documents in file order and attaches the shared path and source.
/// `(first_line, first_index)`: the line of the file `source` starts at, and the index of
/// its first document in the file (`(1, 0)` for a whole text).
fn into_documents(
    path: &str,
    source: &Arc<str>,
    (first_line, first_index): (u32, usize),
    classified: impl IntoIterator<Item = Classified>,
) -> Vec<Document> {
    let path: Arc<str> = Arc::from(path);
    classified
        .into_iter()
        .enumerate()
        .map(|(index, (kind, value, spans, span))| Document {
            kind,
            path: path.clone(),
            index: first_index + index,
            value,
            source_map: spans.into_source_map(),
            source: source.clone(),
            first_line,
            span,
        })
        .collect()
}

fn classify_yaml(raw: RawDoc) -> Vec<Classified> {
    if is_list(&raw.value) {
        return expand_list(raw, DocumentKind::Yaml);
    }
    let kind = detect_kind(&raw.value);
    vec![(kind, raw.value, raw.spans, raw.span)]
}

/// One document per item of a `kind: List`; pointers become relative to the item.
fn expand_list(raw: RawDoc, fallback: DocumentKind) -> Vec<Classified> {
    let RawDoc { value, spans, span } = raw;
    let items = match value {
        Value::Object(mut map) => match map.remove("items") {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let prefix = format!("/items/{i}");
            let item_spans = spans.rebase(&prefix, "");
            let item_span = item_spans.values.get("").copied().unwrap_or(span);
            let kind = match detect_kind(&item) {
                DocumentKind::Yaml => fallback,
                k => k,
            };
            (kind, item, item_spans, item_span)
        })
        .collect()
}

/// Classifies one JSON document. Errors only when `--kind image` was forced on a value that
/// is not image metadata.
fn classify_json(raw: RawDoc, opts: &LoadOptions) -> Result<Vec<Classified>, (Position, String)> {
    if opts.kind == Some(DocumentKind::Image) {
        return match image_docs(&raw) {
            Some(docs) => Ok(docs),
            None => Err((
                raw.span.start,
                "not recognised as image metadata: expected docker/skopeo inspect output, an \
                 OCI or Docker image config, manifest, index or manifest list"
                    .to_string(),
            )),
        };
    }
    if is_list(&raw.value) {
        return Ok(expand_list(raw, DocumentKind::Json));
    }
    if let Value::Array(items) = &raw.value {
        if !items.is_empty() && items.iter().all(is_kubernetes) {
            let n = items.len();
            let RawDoc { value, spans, span } = raw;
            let Value::Array(items) = value else {
                return Ok(Vec::new());
            };
            return Ok(items
                .into_iter()
                .zip(0..n)
                .map(|(item, i)| {
                    let s = spans.rebase(&format!("/{i}"), "");
                    let item_span = s.values.get("").copied().unwrap_or(span);
                    (DocumentKind::Kubernetes, item, s, item_span)
                })
                .collect());
        }
    }
    if let Some(kind) = super::kinds::detect(&raw.value) {
        return Ok(vec![(kind, raw.value, raw.spans, raw.span)]);
    }
    if let Some(docs) = image_docs(&raw) {
        return Ok(docs);
    }
    if let Some(format) = super::vulns::detect(&raw.value) {
        let (value, spans) = super::vulns::normalise(format, &raw.value, &raw.spans, raw.span);
        return Ok(vec![(
            DocumentKind::Vulnerabilities,
            value,
            spans,
            raw.span,
        )]);
    }
    Ok(vec![(DocumentKind::Json, raw.value, raw.spans, raw.span)])
}

/// Image documents for a JSON value, when it is image metadata (a `docker inspect` array
/// gives one document per element).
fn image_docs(raw: &RawDoc) -> Option<Vec<Classified>> {
    match &raw.value {
        Value::Array(items) if !items.is_empty() => {
            let formats: Option<Vec<_>> = items.iter().map(image::detect).collect();
            let formats = formats?;
            Some(
                items
                    .iter()
                    .zip(formats)
                    .enumerate()
                    .map(|(i, (item, format))| {
                        let s = raw.spans.rebase(&format!("/{i}"), "");
                        let item_span = s.values.get("").copied().unwrap_or(raw.span);
                        let (value, spans) = image::normalise(format, item, &s, item_span);
                        (DocumentKind::Image, value, spans, item_span)
                    })
                    .collect(),
            )
        }
        Value::Object(_) => {
            let format = image::detect(&raw.value)?;
            let (value, spans) = image::normalise(format, &raw.value, &raw.spans, raw.span);
            Some(vec![(DocumentKind::Image, value, spans, raw.span)])
        }
        _ => None,
    }
}

/// Longest JSON text of a collection used as a mapping key (`? {a: 1}`), which becomes a
/// string key (JSON has only string keys).
const MAX_COMPLEX_KEY_BYTES: usize = 4096;

/// Parses a whole stream. When it fails, the text is split at its `---` document markers
/// (column 0) and each part is parsed on its own, so that a syntax error loses only the
/// document it is in. Positions stay absolute.
pub(crate) fn parse_stream(
    path: &str,
    text: &str,
    opts: &LoadOptions,
    language: &str,
) -> (Vec<RawDoc>, Vec<InputError>) {
    parse_part(path, text, opts, language, &mut Parts::default())
}

/// Where the parse of a stream read in parts ([`parse_yaml_part`]) stands: what
/// [`parse_stream`] carries from one document to the next, so that the parts give
/// together what the whole text gives.
#[derive(Debug, Default)]
pub(crate) struct Parts {
    /// Alias expansions so far ([`MAX_ALIAS_NODES`] is per file).
    alias_nodes: usize,
    /// A syntax error was met: every part is parsed document by document.
    chunked: bool,
    /// A per-file budget ran out before any syntax error: nothing more is parsed.
    stopped: bool,
    /// Documents so far (their index in the file).
    documents: usize,
}

/// Parses one part of a stream that starts at a document boundary (a [`chunk_starts`]
/// line of the whole text), with positions in the part. [`parse_stream`] is the part
/// that is the whole text.
fn parse_part(
    path: &str,
    text: &str,
    opts: &LoadOptions,
    language: &str,
    parts: &mut Parts,
) -> (Vec<RawDoc>, Vec<InputError>) {
    if parts.stopped {
        return (Vec::new(), Vec::new());
    }
    let index = LineIndex::new(text);
    let error = |fatal: Fatal| {
        InputError::new(
            path,
            fatal.pos,
            format!("invalid {language}: {}", fatal.message),
        )
    };
    let before = parts.alias_nodes;
    let mut whole = None;
    if !parts.chunked {
        let (docs, outcome) = parse_chunk(
            text,
            &index,
            (1, text.len(), false),
            opts,
            &mut parts.alias_nodes,
        );
        let fatal = match outcome {
            Ok(()) => return (docs, Vec::new()),
            Err(fatal) => fatal,
        };
        if fatal.budget {
            parts.stopped = true;
            return (docs, vec![error(fatal)]);
        }
        parts.chunked = true;
        if chunk_starts(text, &index).len() <= 1 {
            // One document: parsing it alone gives the same.
            return (docs, vec![error(fatal)]);
        }
        whole = Some(fatal);
    }
    let starts = chunk_starts(text, &index);
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    // Counted again from where this part started, as the whole text's parse counts again
    // from its start when it goes document by document.
    parts.alias_nodes = before;
    for (i, &line) in starts.iter().enumerate() {
        let next = starts.get(i + 1).and_then(|next| index.line_start(*next));
        let end = next.unwrap_or(text.len());
        let (mut part, outcome) = parse_chunk(
            text,
            &index,
            (line, end, next.is_some()),
            opts,
            &mut parts.alias_nodes,
        );
        docs.append(&mut part);
        if let Err(fatal) = outcome {
            errors.push(error(fatal));
        }
    }
    // The whole text's error stands where its document, parsed alone, has none (the
    // parser's view of a line can depend on what follows the document): the file is
    // not valid YAML, and says so, with the documents that could be read.
    if let Some(fatal) = whole {
        let line = fatal.pos.line;
        let first = starts.iter().rposition(|s| *s <= line).unwrap_or(0);
        let last = starts.get(first + 1).map_or(u32::MAX, |next| next - 1);
        if !errors
            .iter()
            .any(|e| (starts[first]..=last).contains(&e.line))
        {
            errors.push(error(fatal));
            errors.sort_by_key(|e| (e.line, e.column));
        }
    }
    (docs, errors)
}

/// Parses one part of a large YAML stream read in batches (`inputs::batch`): `source`
/// holds whole lines of the file from `first_line`, starting at a document boundary;
/// `more`: another part follows (it starts with a `---` line). The documents have the
/// file's positions and indices, and over every part of a file in order, the documents
/// and errors are [`parse_yaml`]'s of the whole file, except that a file without any
/// document is not reported here (the caller knows when the file has ended).
pub(crate) fn parse_yaml_part(
    path: &str,
    source: &Arc<str>,
    (first_line, more): (u32, bool),
    opts: &LoadOptions,
    parts: &mut Parts,
) -> (Vec<Document>, Vec<InputError>) {
    // Where a `---` line follows, the parser sees one: how a document ends (the end of
    // a block scalar, say) depends on what comes after it. An empty document is none,
    // so the line adds nothing; a document may start on it (an empty block scalar's
    // value starts on the next line).
    let (mut raws, mut errors) = if more {
        parse_part(path, &format!("{source}---\n"), opts, "YAML", parts)
    } else {
        parse_part(path, source, opts, "YAML", parts)
    };
    let shift = first_line.saturating_sub(1);
    if shift > 0 {
        let move_span = |s: &mut Span| {
            s.start.line = s.start.line.saturating_add(shift);
            s.end.line = s.end.line.saturating_add(shift);
        };
        for raw in &mut raws {
            move_span(&mut raw.span);
            raw.spans.values.values_mut().for_each(move_span);
            raw.spans.keys.values_mut().for_each(move_span);
        }
        for e in &mut errors {
            e.line = e.line.saturating_add(shift);
        }
    }
    let at = (first_line, parts.documents);
    let docs = into_documents(path, source, at, raws.into_iter().flat_map(classify_yaml));
    parts.documents += docs.len();
    (docs, errors)
}

/// Parses the text from the start of `line` to byte `end`; `more`: a document follows
/// at `end` (a `---` line, or directives before one), and the parser is shown a `---`
/// line there, as in the whole text, since how a document ends (an empty block scalar,
/// say) depends on what follows it. That marker's empty document adds nothing.
fn parse_chunk(
    text: &str,
    index: &LineIndex,
    (line, end, more): (u32, usize, bool),
    opts: &LoadOptions,
    alias_nodes: &mut usize,
) -> (Vec<RawDoc>, Result<(), Fatal>) {
    let start = index.line_start(line).unwrap_or(text.len()).min(end);
    let mut builder = Builder::new(text, index, line - 1, opts);
    builder.alias_nodes = *alias_nodes;
    builder.chunk_start = start;
    builder.bare_cr = has_bare_cr(&text[start..end]);
    let outcome = if more {
        builder.run(&format!("{}---\n", &text[start..end]))
    } else {
        builder.run(&text[start..end])
    };
    *alias_nodes = builder.alias_nodes;
    (builder.docs, outcome)
}

/// The first line of each part of the stream: line 1, then every `---` marker line (moved
/// up over the `%` directive lines before it, which belong to its document, even with
/// blank or comment lines between them).
fn chunk_starts(text: &str, index: &LineIndex) -> Vec<u32> {
    let mut starts = vec![1];
    let line_text = |line: u32| -> &str {
        let Some(s) = index.line_start(line) else {
            return "";
        };
        let e = index.line_start(line + 1).unwrap_or(text.len());
        &text[s..e]
    };
    for line in 2..=index.line_count() as u32 {
        let Some(tail) = line_text(line).strip_prefix("---") else {
            continue;
        };
        if !(tail.is_empty() || tail.starts_with([' ', '\t', '\r', '\n'])) {
            continue;
        }
        // Up over the directives before the marker, and the blank and comment lines
        // among and after them.
        let mut first = line;
        let mut above = line;
        while above > 1 {
            let t = line_text(above - 1);
            if t.starts_with('%') {
                first = above - 1;
            } else if !(t.trim().is_empty() || t.trim_start().starts_with('#')) {
                break;
            }
            above -= 1;
        }
        if first > *starts.last().unwrap_or(&1) {
            starts.push(first);
        }
    }
    starts
}

/// A fatal error in one chunk: where and why.
struct Fatal {
    pos: Position,
    message: String,
    /// A per-file budget ran out: parsing the rest document by document cannot help.
    budget: bool,
}

/// A container being built.
enum Container {
    Seq(Vec<Value>),
    Map {
        map: Map<String, Value>,
        /// The key waiting for its value: text, span, and whether it is a `<<` merge key.
        pending: Option<(String, Span, bool)>,
    },
}

/// A container on the builder stack.
struct Frame {
    container: Container,
    /// Pointer of this container (meaningless when `record` is false).
    pointer: String,
    /// Whether spans inside are recorded (false inside complex mapping keys).
    record: bool,
    start: Position,
    /// End of the last child, for block collections whose end event has no extent.
    last_end: Position,
    anchor: usize,
    /// Nodes in this subtree, counting alias expansions.
    nodes: usize,
    /// Height of this subtree.
    height: usize,
}

/// A finished node, ready to attach to its parent.
struct Node {
    value: Value,
    span: Span,
    nodes: usize,
    height: usize,
    /// Source text of a scalar, used when the node is a mapping key.
    key_text: Option<String>,
    /// Whether the node is a plain `<<` scalar.
    merge_key: bool,
}

/// An anchored node, copied by aliases.
struct Anchored {
    value: Value,
    nodes: usize,
    height: usize,
}

/// Builds documents from the event stream of one chunk of text.
struct Builder<'a> {
    text: &'a str,
    index: &'a LineIndex,
    line_offset: u32,
    max_depth: usize,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Anchored>,
    alias_nodes: usize,
    spans: Spans,
    root: Option<(Value, Span)>,
    /// Whether the root is an empty plain scalar (an empty document).
    root_empty: bool,
    docs: Vec<RawDoc>,
    /// The position of the end of the text.
    eof: Position,
    /// Byte offset of the chunk being parsed within `text`.
    chunk_start: usize,
    /// Whether the chunk holds a bare `\r`: YAML counts it as a line break and the
    /// rest of the engine does not, so markers are then placed by their character index.
    bare_cr: bool,
    /// Last character index mapped to a byte offset within the chunk (markers mostly move
    /// forward, so walking from here is linear overall).
    cursor: std::cell::Cell<(usize, usize)>,
    /// Whether spans are recorded at all ([`LoadOptions::spans`]): without, no node's
    /// pointer is built either.
    record: bool,
}

/// Whether `text` has a `\r` that is not part of a `\r\n` pair.
/// Whether `text` has a carriage return not followed by a line feed (a line break to
/// YAML, not to line counting by `\n`).
pub fn has_bare_cr(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes
        .iter()
        .enumerate()
        .any(|(i, b)| *b == b'\r' && bytes.get(i + 1) != Some(&b'\n'))
}

impl<'a> Builder<'a> {
    fn new(text: &'a str, index: &'a LineIndex, line_offset: u32, opts: &LoadOptions) -> Self {
        Builder {
            text,
            index,
            line_offset,
            max_depth: opts.max_depth.max(1),
            record: opts.spans,
            stack: Vec::new(),
            anchors: HashMap::new(),
            alias_nodes: 0,
            spans: Spans::default(),
            root: None,
            root_empty: false,
            docs: Vec::new(),
            eof: index.position(text, text.len()),
            chunk_start: 0,
            bare_cr: false,
            cursor: std::cell::Cell::new((0, 0)),
        }
    }

    fn pos(&self, m: Marker) -> Position {
        if self.bare_cr {
            return self.index.position(self.text, self.marker_byte(m.index()));
        }
        Position::new(
            (m.line() as u32).saturating_add(self.line_offset),
            m.col() as u32 + 1,
        )
    }

    /// The byte offset in `text` of the chunk's `target`-th character.
    fn marker_byte(&self, target: usize) -> usize {
        let chunk = &self.text[self.chunk_start..];
        let (mut ci, mut bi) = self.cursor.get();
        if target >= ci {
            for (b, _) in chunk[bi..].char_indices() {
                if ci == target {
                    bi += b;
                    ci = target;
                    self.cursor.set((ci, bi));
                    return self.chunk_start + bi;
                }
                ci += 1;
            }
            self.cursor.set((ci, chunk.len()));
            return self.chunk_start + chunk.len();
        }
        for (b, _) in chunk[..bi].char_indices().rev() {
            ci -= 1;
            if ci == target {
                bi = b;
                break;
            }
        }
        self.cursor.set((ci, bi));
        self.chunk_start + bi
    }

    fn fatal(&self, pos: Position, message: impl Into<String>) -> Fatal {
        Fatal {
            pos,
            message: message.into(),
            budget: false,
        }
    }

    fn run(&mut self, chunk: &str) -> Result<(), Fatal> {
        let mut parser = Parser::new_from_str(chunk);
        while let Some(next) = parser.next_event() {
            let (event, span) = match next {
                Ok(e) => e,
                Err(e) => {
                    let pos = self.pos(*e.marker());
                    return Err(self.fatal(pos, scan_message(e.info())));
                }
            };
            let start = self.pos(span.start);
            let end = self.pos(span.end);
            match event {
                Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
                Event::DocumentStart(_) => {
                    self.anchors.clear();
                    self.spans = Spans::default();
                    self.root = None;
                    self.stack.clear();
                }
                Event::DocumentEnd => self.finish_document(),
                Event::Scalar(text, style, anchor, tag) => {
                    let mut span = Span::new(start, end);
                    if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded) {
                        span.end = self.trim_end(start, end);
                    }
                    if self.stack.is_empty() {
                        self.root_empty = text.is_empty()
                            && style == ScalarStyle::Plain
                            && tag.is_none()
                            && anchor == 0;
                    }
                    let mut value = resolve_scalar(&text, style, tag.as_deref());
                    // saphyr keeps a final line break that the file does not have when a
                    // block scalar ends the file; YAML's clip/keep chomping only keeps
                    // breaks that exist.
                    if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded)
                        && !self.text.ends_with('\n')
                        && end >= self.eof
                    {
                        if let Value::String(s) = &mut value {
                            if s.ends_with('\n') {
                                s.pop();
                            }
                        }
                    }
                    let merge_key = style == ScalarStyle::Plain && text == "<<";
                    let node = Node {
                        value,
                        span,
                        nodes: 1,
                        height: 0,
                        key_text: Some(text.into_owned()),
                        merge_key,
                    };
                    if anchor != 0 {
                        self.anchors.insert(
                            anchor,
                            Anchored {
                                value: node.value.clone(),
                                nodes: 1,
                                height: 0,
                            },
                        );
                    }
                    self.attach(node)?;
                }
                Event::Alias(id) => {
                    let Some((nodes, height)) = self.anchors.get(&id).map(|a| (a.nodes, a.height))
                    else {
                        return Err(self.fatal(start, "alias refers to an unknown anchor"));
                    };
                    self.alias_nodes = self.alias_nodes.saturating_add(nodes);
                    if self.alias_nodes > MAX_ALIAS_NODES {
                        let mut fatal = self.fatal(
                            start,
                            format!(
                                "aliases in this file expand to more than {MAX_ALIAS_NODES} \
                                 nodes; refusing a possible alias bomb (\"billion laughs\")"
                            ),
                        );
                        fatal.budget = true;
                        return Err(fatal);
                    }
                    if self.stack.len() + height > self.max_depth {
                        return Err(self.fatal(start, self.depth_message()));
                    }
                    let value = self
                        .anchors
                        .get(&id)
                        .map(|a| a.value.clone())
                        .unwrap_or(Value::Null);
                    self.attach(Node {
                        value,
                        span: Span::new(start, end),
                        nodes,
                        height,
                        key_text: None,
                        merge_key: false,
                    })?;
                }
                Event::SequenceStart(anchor, _) => {
                    self.push(Container::Seq(Vec::new()), start, anchor)?;
                }
                Event::MappingStart(anchor, _) => {
                    self.push(
                        Container::Map {
                            map: Map::new(),
                            pending: None,
                        },
                        start,
                        anchor,
                    )?;
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let Some(frame) = self.stack.pop() else {
                        return Err(self.fatal(start, "unbalanced collection end"));
                    };
                    // Flow collections end at their closing bracket; block collections end
                    // with their last value (the event sits on the next token).
                    let end = if span.end.index() > span.start.index() {
                        end
                    } else {
                        frame.last_end
                    };
                    let value = match frame.container {
                        Container::Seq(items) => Value::Array(items),
                        Container::Map { map, pending, .. } => {
                            if let Some((key, key_span, _)) = pending {
                                return Err(self.fatal(
                                    key_span.start,
                                    format!("mapping key `{key}` has no value"),
                                ));
                            }
                            Value::Object(map)
                        }
                    };
                    let span = Span::new(frame.start, end);
                    if frame.record {
                        self.spans.values.insert(frame.pointer, span);
                    }
                    if frame.anchor != 0 {
                        self.anchors.insert(
                            frame.anchor,
                            Anchored {
                                value: value.clone(),
                                nodes: frame.nodes + 1,
                                height: frame.height + 1,
                            },
                        );
                    }
                    self.attach_built(Node {
                        value,
                        span,
                        nodes: frame.nodes + 1,
                        height: frame.height + 1,
                        key_text: None,
                        merge_key: false,
                    })?;
                }
            }
        }
        Ok(())
    }

    fn depth_message(&self) -> String {
        format!(
            "nesting is deeper than {} levels; refusing to load it",
            self.max_depth
        )
    }

    /// Where the next node goes: its pointer and whether to record spans for it.
    fn child_slot(&self) -> (String, bool) {
        match self.stack.last() {
            None => (String::new(), self.record),
            Some(frame) if !frame.record => (String::new(), false),
            Some(frame) => match &frame.container {
                Container::Seq(items) => (
                    child_pointer(&frame.pointer, &Step::Index(items.len())),
                    true,
                ),
                Container::Map {
                    pending: Some((key, _, _)),
                    ..
                } => (child_pointer(&frame.pointer, &Step::Key(escape(key))), true),
                Container::Map { pending: None, .. } => (String::new(), false),
            },
        }
    }

    fn push(&mut self, container: Container, start: Position, anchor: usize) -> Result<(), Fatal> {
        if self.stack.len() >= self.max_depth {
            return Err(self.fatal(start, self.depth_message()));
        }
        let (pointer, record) = self.child_slot();
        if record {
            self.record_key(&pointer);
        }
        self.stack.push(Frame {
            container,
            pointer,
            record,
            start,
            last_end: start,
            anchor,
            nodes: 0,
            height: 0,
        });
        Ok(())
    }

    /// Records the span of the pending key for the value about to live at `pointer`.
    fn record_key(&mut self, pointer: &str) {
        if let Some(Frame {
            container:
                Container::Map {
                    pending: Some((_, key_span, _)),
                    ..
                },
            ..
        }) = self.stack.last()
        {
            self.spans.keys.insert(pointer.to_string(), *key_span);
        }
    }

    /// Attaches a scalar or alias node, recording its span.
    fn attach(&mut self, node: Node) -> Result<(), Fatal> {
        let (pointer, record) = self.child_slot();
        if record {
            self.record_key(&pointer);
            self.spans.values.insert(pointer, node.span);
        }
        self.attach_built(node)
    }

    /// Attaches a finished node (whose own span is already recorded) to its parent.
    fn attach_built(&mut self, node: Node) -> Result<(), Fatal> {
        let Some(frame) = self.stack.last_mut() else {
            self.root = Some((node.value, node.span));
            return Ok(());
        };
        frame.last_end = frame.last_end.max(node.span.end);
        frame.nodes = frame.nodes.saturating_add(node.nodes);
        frame.height = frame.height.max(node.height);
        let Frame {
            container,
            pointer,
            record,
            ..
        } = frame;
        let record = *record;
        match container {
            Container::Seq(items) => items.push(node.value),
            Container::Map { map, pending } => match pending.take() {
                None => {
                    let key = match node.key_text {
                        Some(text) => text,
                        None => {
                            // A collection as a key (`? [a]`) becomes its JSON text. Each
                            // level of nesting escapes the quotes of the level below, so
                            // the text doubles per level: bounded, or 150 bytes of nested
                            // `?` keys took minutes (found by the `suppress` fuzz target).
                            let text = serde_json::to_string(&node.value).unwrap_or_default();
                            if text.len() > MAX_COMPLEX_KEY_BYTES {
                                return Err(Fatal {
                                    pos: node.span.start,
                                    message: format!(
                                        "a mapping key that is a collection is {} bytes as text, over the limit of {MAX_COMPLEX_KEY_BYTES}: use a plain scalar key",
                                        text.len()
                                    ),
                                    budget: false,
                                });
                            }
                            text
                        }
                    };
                    *pending = Some((key, node.span, node.merge_key));
                }
                Some((key, _, is_merge)) => {
                    let mergeable = match &node.value {
                        Value::Object(_) => true,
                        Value::Array(items) => items.iter().all(Value::is_object),
                        _ => false,
                    };
                    if is_merge && mergeable {
                        let sources: Vec<Map<String, Value>> = match node.value {
                            Value::Object(m) => vec![m],
                            Value::Array(items) => items
                                .into_iter()
                                .filter_map(|v| match v {
                                    Value::Object(m) => Some(m),
                                    _ => None,
                                })
                                .collect(),
                            _ => Vec::new(),
                        };
                        for source in sources {
                            for (k, v) in source {
                                if map.contains_key(&k) {
                                    continue;
                                }
                                if record {
                                    let p = format!("{pointer}/{}", escape(&k));
                                    self.spans.values.insert(p, node.span);
                                }
                                map.insert(k, v);
                            }
                        }
                        if record {
                            self.spans
                                .values
                                .remove(&format!("{pointer}/{}", escape(&key)));
                            self.spans
                                .keys
                                .remove(&format!("{pointer}/{}", escape(&key)));
                        }
                    } else {
                        // A duplicate key: the last value wins, as in kubectl (which only
                        // warns) and Go's encoding/json.
                        map.insert(key, node.value);
                    }
                }
            },
        }
        Ok(())
    }

    fn finish_document(&mut self) {
        self.stack.clear();
        if let Some((value, span)) = self.root.take() {
            let spans = std::mem::take(&mut self.spans);
            // An empty document (`---` alone or only comments) is skipped.
            if !self.root_empty {
                self.docs.push(RawDoc { value, spans, span });
            }
        }
        self.spans = Spans::default();
        self.root_empty = false;
        self.anchors.clear();
    }

    /// The end of a block scalar without its trailing blank lines and indentation.
    fn trim_end(&self, start: Position, end: Position) -> Position {
        let (Some(s), Some(e)) = (self.byte_offset(start), self.byte_offset(end)) else {
            return end;
        };
        if e <= s {
            return end;
        }
        let trimmed = self.text[s..e].trim_end();
        self.index.position(self.text, s + trimmed.len())
    }

    fn byte_offset(&self, pos: Position) -> Option<usize> {
        let line_start = self.index.line_start(pos.line)?;
        let line = &self.text[line_start..];
        let col = pos.column.saturating_sub(1) as usize;
        let within = line
            .char_indices()
            .nth(col)
            .map(|(i, _)| i)
            .unwrap_or(line.len());
        Some(line_start + within)
    }
}

/// One step below a node in a JSON pointer: a mapping key (escaped) or an array index.
enum Step<'a> {
    Key(std::borrow::Cow<'a, str>),
    Index(usize),
}

/// `{parent}/{step}`: the pointer of a child node. Called for every node of every
/// document, so it writes into one allocation of the right size instead of `format!`
/// (a twentieth of a large run's parse went to `format!`'s machinery here).
fn child_pointer(parent: &str, step: &Step<'_>) -> String {
    match step {
        Step::Key(key) => {
            let mut out = String::with_capacity(parent.len() + 1 + key.len());
            out.push_str(parent);
            out.push('/');
            out.push_str(key);
            out
        }
        Step::Index(n) => {
            let mut digits = [0u8; 20];
            let mut n = *n;
            let mut i = digits.len();
            loop {
                i -= 1;
                digits[i] = b'0' + (n % 10) as u8;
                n /= 10;
                if n == 0 {
                    break;
                }
            }
            let mut out = String::with_capacity(parent.len() + 1 + digits.len() - i);
            out.push_str(parent);
            out.push('/');
            out.extend(digits[i..].iter().map(|&d| char::from(d)));
            out
        }
    }
}

/// Escapes a key for a JSON Pointer (RFC 6901).
fn escape(key: &str) -> std::borrow::Cow<'_, str> {
    if key.contains(['~', '/']) {
        key.replace('~', "~0").replace('/', "~1").into()
    } else {
        key.into()
    }
}

/// Rewords the scanner's messages where they are cryptic.
fn scan_message(info: &str) -> String {
    if info == "recursion limit exceeded" {
        "nesting of flow collections is too deep (more than 255 levels); refusing to load it"
            .to_string()
    } else {
        info.to_string()
    }
}

/// Resolves a scalar with the YAML 1.2 core schema (explicit `!!str` etc. honoured).
fn resolve_scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Value {
    if let Some(tag) = tag.filter(|t| t.is_yaml_core_schema() || t.handle == "!!") {
        match tag.suffix.as_str() {
            "str" | "binary" | "timestamp" => return Value::String(text.to_string()),
            "null" => return Value::Null,
            "bool" | "int" | "float" => {
                let v = resolve_plain(text);
                if !v.is_string() {
                    return v;
                }
                return Value::String(text.to_string());
            }
            _ => {}
        }
    }
    match style {
        ScalarStyle::Plain => resolve_plain(text),
        _ => Value::String(text.to_string()),
    }
}

/// The core-schema value of a plain scalar.
pub(crate) fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let bytes = text.as_bytes();
    let first = bytes[0];
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return Value::String(text.to_string());
    }
    if let Some(hex) = text.strip_prefix("0x") {
        if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            if let Ok(n) = u64::from_str_radix(hex, 16) {
                return Value::Number(n.into());
            }
        }
        return Value::String(text.to_string());
    }
    if let Some(oct) = text.strip_prefix("0o") {
        if !oct.is_empty() && oct.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            if let Ok(n) = u64::from_str_radix(oct, 8) {
                return Value::Number(n.into());
            }
        }
        return Value::String(text.to_string());
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        let unsigned = text.strip_prefix('+').unwrap_or(text);
        if let Ok(n) = unsigned.parse::<i64>() {
            return Value::Number(n.into());
        }
        if let Ok(n) = unsigned.parse::<u64>() {
            return Value::Number(n.into());
        }
    }
    if is_core_float(digits) {
        if let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64) {
            return Value::Number(n);
        }
    }
    // `.inf` and `.nan` have no JSON form; they stay strings.
    Value::String(text.to_string())
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` (sign already stripped).
pub(crate) fn is_core_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let int_digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    i += int_digits;
    let mut frac_digits = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        frac_digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        i += frac_digits;
    }
    if int_digits == 0 && frac_digits == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let exp = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if exp == 0 {
            return false;
        }
        i += exp;
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(line: u32, column: u32) -> Position {
        Position::new(line, column)
    }

    #[test]
    fn a_child_pointer_is_what_format_writes() {
        for n in [0, 1, 9, 10, 99, 100, 12_345, usize::MAX] {
            assert_eq!(child_pointer("/a", &Step::Index(n)), format!("/a/{n}"));
        }
        for key in ["", "k", "a/b~c", "ü"] {
            let step = Step::Key(escape(key));
            assert_eq!(child_pointer("", &step), format!("/{}", escape(key)));
        }
    }

    /// Without spans ([`LoadOptions::spans`] off, the first pass of a streamed run) a
    /// text gives the same documents (kind, value, index), the same errors, and no
    /// source map.
    #[test]
    fn loading_without_spans_gives_the_same_values_and_errors() {
        let texts = [
            "a: 1\nb: [x, {c: d}]\n",
            "base: &b {x: 1, y: [1, 2]}\nuse:\n  <<: *b\n  z: 3\nagain: *b\n",
            "apiVersion: v1\nkind: List\nitems:\n  - {apiVersion: v1, kind: Namespace, metadata: {name: a}}\n  - {apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {containers: []}}\n",
            "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n# only a comment\n---\nkey: [unclosed\n---\napiVersion: v1\nkind: Pod\n",
            "%YAML 1.2\n---\n!!map {a: !!str 1}\n...\n",
            "a: 1\na: 2\n",
            "{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"p\"}}",
        ];
        let with = LoadOptions::default();
        let without = LoadOptions {
            spans: false,
            ..LoadOptions::default()
        };
        for text in texts {
            let format = if text.starts_with('{') {
                super::super::Format::Json
            } else {
                super::super::Format::Yaml
            };
            let a = super::super::load_text("t.yaml", text, format, &with);
            let b = super::super::load_text("t.yaml", text, format, &without);
            let shape = |f: &super::super::FileReport| {
                let docs: Vec<_> = (f.documents.iter())
                    .map(|d| (d.kind, d.value.clone(), d.index))
                    .collect();
                let errors: Vec<_> = (f.errors.iter())
                    .map(|e| format!("{}:{} {}", e.line, e.column, e.message))
                    .collect();
                format!("{docs:?} {errors:?}")
            };
            assert_eq!(shape(&a), shape(&b), "{text}");
            assert!(
                a.documents.iter().any(|d| !d.source_map.is_empty()) || a.documents.is_empty(),
                "{text}"
            );
            assert!(
                b.documents.iter().all(|d| d.source_map.is_empty()),
                "{text}"
            );
        }
    }

    fn load(text: &str) -> (Vec<Document>, Vec<InputError>) {
        parse_yaml("t.yaml", text, &LoadOptions::default())
    }

    #[test]
    fn core_schema_scalars() {
        assert_eq!(resolve_plain("yes"), json!("yes"));
        assert_eq!(resolve_plain("on"), json!("on"));
        assert_eq!(resolve_plain("0644"), json!(644));
        assert_eq!(resolve_plain("0o644"), json!(420));
        assert_eq!(resolve_plain("0x1F"), json!(31));
        assert_eq!(resolve_plain("-1.5e3"), json!(-1500.0));
        assert_eq!(resolve_plain(".5"), json!(0.5));
        assert_eq!(resolve_plain("1_000"), json!("1_000"));
        assert_eq!(resolve_plain(".inf"), json!(".inf"));
        assert_eq!(resolve_plain("~"), json!(null));
        assert_eq!(resolve_plain("1.2.3"), json!("1.2.3"));
        assert_eq!(resolve_plain("+"), json!("+"));
    }

    #[test]
    fn values_and_keys_have_spans() {
        let (docs, errors) = load("a: 1\nb:\n  c: [x, \"y\"]\n");
        assert!(errors.is_empty(), "{errors:?}");
        let d = &docs[0];
        assert_eq!(d.value, json!({"a": 1, "b": {"c": ["x", "y"]}}));
        let m = &d.source_map;
        assert_eq!(m.get("/a"), Some(Span::new(p(1, 4), p(1, 5))));
        assert_eq!(m.get_key("/a"), Some(Span::new(p(1, 1), p(1, 2))));
        assert_eq!(m.get("/b"), Some(Span::new(p(3, 3), p(3, 14))));
        assert_eq!(m.get("/b/c"), Some(Span::new(p(3, 6), p(3, 14))));
        assert_eq!(m.get("/b/c/1"), Some(Span::new(p(3, 10), p(3, 13))));
        assert_eq!(d.span, Span::new(p(1, 1), p(3, 14)));
    }

    #[test]
    fn block_scalar_span_stops_at_its_text() {
        let (docs, _) = load("s: |\n  one\n  two\n\n\nt: 1\n");
        assert_eq!(docs[0].value["s"], json!("one\ntwo\n"));
        assert_eq!(
            docs[0].source_map.get("/s"),
            Some(Span::new(p(2, 3), p(3, 6)))
        );
    }

    #[test]
    fn a_stream_error_its_document_alone_does_not_show_is_reported() {
        // The parser refuses the blank line of one space in the empty block scalar only
        // when a `---` follows it: the document parsed alone (recovery, after another
        // error) once reported nothing, and the file read as valid.
        let text = "a: [1\n---\n>\n \n---\nb: 1\n";
        let (docs, errors) = load(text);
        let at: Vec<_> = errors.iter().map(|e| (e.line, e.column)).collect();
        assert_eq!(at, [(2, 1), (5, 1)], "{errors:?}");
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].value, json!({"b": 1}));
        // Alone, the stream's first error is that one, and the document after it is read.
        let (docs, errors) = load(">\n \n---\nb: 1\n");
        let at: Vec<_> = errors.iter().map(|e| (e.line, e.column)).collect();
        assert_eq!(at, [(3, 1)], "{errors:?}");
        assert_eq!(docs.len(), 1);
        // A document's end is where the next `---` is, in the recovery as in a clean parse.
        let (clean, _) = load("b: >\n---\nc: 1\n");
        let (recovered, errors) = load("b: >\n---\nc: [1\n");
        assert_eq!(errors.len(), 1);
        assert_eq!(recovered[0].span, clean[0].span);
        assert_eq!(clean[0].span.end, p(2, 1));
    }

    #[test]
    fn merge_keys_and_anchors() {
        let (docs, errors) = load("base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\n");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(docs[0].value["d"], json!({"x": 1, "y": 3}));
        assert_eq!(
            docs[0].source_map.get("/d/x"),
            Some(Span::new(p(3, 7), p(3, 9)))
        );
    }

    #[test]
    fn duplicate_key_last_value_wins() {
        let (docs, errors) = load("a: 1\na: 2\n");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(docs[0].value, json!({"a": 2}));
        assert_eq!(
            docs[0].source_map.get("/a"),
            Some(Span::new(p(2, 4), p(2, 5)))
        );
    }

    #[test]
    fn non_string_keys_are_stringified() {
        let (docs, _) = load("1: a\ntrue: b\n[x]: c\n");
        assert_eq!(
            docs[0].value,
            json!({"1": "a", "true": "b", "[\"x\"]": "c"})
        );
    }

    #[test]
    fn comment_only_file_is_an_error() {
        let (docs, errors) = load("# nothing\n---\n# here\n");
        assert!(docs.is_empty());
        assert_eq!(errors.len(), 1);
        assert!(errors[0].message.starts_with("no documents"));
    }

    /// YAML counts a bare `\r` as a line break; the engine's lines end at `\n`. Found by
    /// the `yaml_json` fuzz target: spans pointed past the last line of the file.
    #[test]
    fn bare_carriage_returns_keep_spans_inside_the_text() {
        let text = "kind: Pod\nspec:\n  a\r\r\r\rb: 1\nz: &x {q: 3}\nw: *x\n";
        let (docs, errors) = load(text);
        let lines = text.split('\n').count() as u32;
        for doc in &docs {
            assert!(doc.span.end.line <= lines, "{:?}", doc.span);
            assert_eq!(doc.source_map.get("/w").map(|s| s.start), Some(p(5, 4)));
        }
        for e in &errors {
            assert!(e.line <= lines, "{e:?}");
        }
        // CRLF files are unaffected: positions as without the `\r`.
        let (docs, _) = load("kind: Pod\r\nspec:\r\n  x: 1\r\n");
        assert_eq!(
            docs[0].source_map.get("/spec/x").map(|s| s.start),
            Some(p(3, 6))
        );
    }

    /// Nested collection keys double their text per level (escaped quotes); found by the
    /// `suppress` fuzz target as a 150-byte file that did not finish.
    #[test]
    fn nested_collection_keys_are_bounded() {
        let mut text = String::from("x");
        for _ in 0..40 {
            text = format!("? {text}\n");
            text = text.lines().map(|l| format!("  {l}\n")).collect::<String>();
            text = format!("? \n{text}: v\n");
        }
        let started = std::time::Instant::now();
        let (_, errors) = load(&text);
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].message.contains("over the limit of 4096"),
            "{errors:?}"
        );
        // A small collection key still works, as its JSON text.
        let (docs, errors) = load("? [a, b]\n: 1\n");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(docs[0].value, serde_json::json!({"[\"a\",\"b\"]": 1}));
    }

    #[test]
    fn alias_budget_is_per_file_not_per_document() {
        // Each document stays under the budget on its own; together they exceed it.
        let doc = format!("a: &a [{}]\nb: [{}]\n", "1, ".repeat(99), "*a, ".repeat(20));
        let per_doc = 20 * 100;
        let count = MAX_ALIAS_NODES / per_doc + 2;
        let text = vec![doc; count].join("---\n");
        let (docs, errors) = load(&text);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].message.contains("in this file"), "{errors:?}");
        assert!(docs.len() < count, "{} of {count} documents", docs.len());
    }

    /// An editor's buffer parsed part by part, reusing its last parse, gives what the
    /// whole text gives, version after version: every character typed or deleted
    /// anywhere in a stream with anchors, a List, directives, comments before markers,
    /// block scalars, an empty document, CRLF lines and a syntax error on the way.
    #[test]
    fn a_buffer_parsed_reusing_its_last_parse_gives_what_the_whole_text_gives() {
        use crate::inputs::{load_buffer, load_bytes};
        let opts = LoadOptions::default();
        let same = |text: &str, reuse: &mut Reuse| {
            let whole = load_bytes("b.yaml", text.as_bytes(), Some(Format::Yaml), &opts);
            let parts = load_buffer("b.yaml", text, Some(Format::Yaml), &opts, reuse);
            let key = |d: &Document| {
                (
                    (d.kind, d.index, d.span, d.value.clone()),
                    (d.source_map.to_sorted().into_iter())
                        .map(|(k, v)| (k.to_string(), v))
                        .collect::<Vec<_>>(),
                    (d.source.to_string(), d.first_line, d.path.to_string()),
                )
            };
            let keys =
                |f: &crate::inputs::FileReport| f.documents.iter().map(key).collect::<Vec<_>>();
            assert_eq!(keys(&parts), keys(&whole), "{text:?}");
            assert_eq!(parts.errors, whole.errors, "{text:?}");
        };
        let mut text =
            String::from("# head\n%YAML 1.2\n---\nbase: &b {x: 1}\nuse: {<<: *b, y: 2}\n");
        text.push_str("---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: p}}\n");
        text.push_str(
            "---\n---\n# about the next\n---\ns: |\n  one\n\n---\nb: >\n---\nc: 2\r\nd: 3\r\n",
        );
        for i in 0..4 {
            text.push_str(&format!("---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d{i}\nspec:\n  replicas: {i}\n"));
        }
        let mut reuse = Reuse::default();
        same(&text, &mut reuse);
        let chars: Vec<(usize, char)> = text.char_indices().collect();
        for &(at, _) in chars.iter().step_by(3) {
            for typed in ["x", ":", "\n", " ", "[", "---\n"] {
                let mut edited = text.clone();
                edited.insert_str(at, typed);
                same(&edited, &mut reuse);
            }
            let mut edited = text.clone();
            edited.remove(at);
            same(&edited, &mut reuse);
            same(&text, &mut reuse);
        }
        // Each version parses the part edited (and the one it came from, on the way
        // back), and reuses the others.
        let (parsed, reused) = (reuse.parsed, reuse.reused);
        assert!(reused > 3 * parsed, "{parsed} parsed, {reused} reused");
        // The aliases of parts under the budget alone, past it together: the whole
        // text's error.
        let doc = format!("a: &a [{}]\nb: [{}]\n", "1, ".repeat(99), "*a, ".repeat(20));
        let text = vec![doc; MAX_ALIAS_NODES / 2000 + 2].join("---\n");
        same(&text, &mut reuse);
        same(&text, &mut reuse);
        // Other options read every part again.
        let before = reuse.parsed;
        let deep = LoadOptions {
            max_depth: 3,
            ..LoadOptions::default()
        };
        let text = "a: {b: {c: {d: 1}}}\n---\ne: 1\n";
        load_buffer("b.yaml", text, Some(Format::Yaml), &opts, &mut reuse);
        let parts = load_buffer("b.yaml", text, Some(Format::Yaml), &deep, &mut reuse);
        let whole = load_bytes("b.yaml", text.as_bytes(), Some(Format::Yaml), &deep);
        assert_eq!(parts.errors, whole.errors);
        assert_eq!(parts.errors.len(), 1);
        assert!(reuse.parsed > before);
    }

    #[test]
    fn json_kinds() {
        let opts = LoadOptions::default();
        let (docs, errors) = parse_json(
            "x.json",
            r#"[{"apiVersion":"v1","kind":"Pod"},{"apiVersion":"v1","kind":"Service"}]"#,
            &opts,
        );
        assert!(errors.is_empty());
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].kind, DocumentKind::Kubernetes);
        assert_eq!(
            docs[1].source_map.get("/kind"),
            Some(Span::new(p(1, 61), p(1, 70)))
        );
        let (docs, _) = parse_json("x.json", r#"{"a": [1, 2]}"#, &opts);
        assert_eq!(docs[0].kind, DocumentKind::Json);
        let (docs, _) = parse_json("x.json", r#"{"on": "push", "jobs": {}}"#, &opts);
        assert_eq!(docs[0].kind, DocumentKind::Workflow);
    }
}
