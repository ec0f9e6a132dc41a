//! Inputs: turning files into [`Document`]s, JSON values that remember where every value
//! came from.
//!
//! This layer knows nothing about rules. It reads bytes, detects the kind of each input,
//! parses it with a position-aware parser and produces documents plus first-class errors
//! (file, line, column). A file that cannot be read or parsed is never dropped silently:
//! it comes back as a [`FileReport`] with errors or a skip reason.

pub mod batch;
pub mod discover;
pub mod dockerfile;
pub mod image;
pub mod kinds;
pub mod kubernetes;
pub mod vulns;
pub mod workflow;
pub mod yaml;

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::source::{Position, SourceMap, Span};

/// Declares [`DocumentKind`] and the registry [`kinds::KINDS`] from one list: each line
/// names a variant and the [`kinds::KindSpec`] its module exports. The order is the
/// order kinds sort in and the order [`kinds::detect`] tries them.
macro_rules! kinds {
    ($($(#[$doc:meta])* $variant:ident = $spec:path,)*) => {
        /// What kind of input a document is. Rules select documents by kind.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum DocumentKind {
            $($(#[$doc])* $variant,)*
        }

        impl DocumentKind {
            /// Every kind, in registry order.
            pub const ALL: &'static [DocumentKind] = &[$(DocumentKind::$variant,)*];

            /// What the engine knows about this kind.
            pub fn spec(self) -> &'static kinds::KindSpec {
                match self {
                    $(DocumentKind::$variant => &$spec,)*
                }
            }
        }

        /// The registry: every kind's spec, in the order of [`DocumentKind::ALL`].
        pub const KINDS: &[&kinds::KindSpec] = &[$(&$spec,)*];
    };
}

kinds! {
    /// A Dockerfile / Containerfile.
    Dockerfile = dockerfile::KIND,
    /// A Kubernetes object (has `apiVersion` and `kind`).
    Kubernetes = kubernetes::KIND,
    /// Image metadata (inspect output, OCI/Docker config, manifest, index, layout).
    Image = image::KIND,
    /// A GitHub Actions workflow (`on` plus `jobs`).
    Workflow = workflow::KIND,
    /// Any other YAML document.
    Yaml = yaml::YAML,
    /// Any other JSON document.
    Json = yaml::JSON,
    /// A vulnerability scan report (trivy or grype JSON, SARIF), see [`vulns`].
    Vulnerabilities = vulns::KIND,
}

impl std::fmt::Display for DocumentKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One input document: the JSON value policies see, plus where it came from.
#[derive(Debug, Clone)]
pub struct Document {
    /// The detected kind.
    pub kind: DocumentKind,
    /// The file path as given on the command line (or the stdin filename).
    pub path: Arc<str>,
    /// Index of this document within its file (0 for single-document files).
    pub index: usize,
    /// The JSON value policies receive as `input`.
    pub value: serde_json::Value,
    /// JSON path → source span.
    pub source_map: SourceMap,
    /// The text of the file, for code frames and line lookups: all of it, or for a
    /// batch of a large input ([`batch`]) the lines from [`Document::first_line`].
    pub source: Arc<str>,
    /// The line of the file that `source` starts at: 1, except in a batch. Positions
    /// are the file's either way.
    pub first_line: u32,
    /// The span of the whole document within the file.
    pub span: Span,
}

impl Document {
    /// The span of a path, or of its nearest ancestor.
    pub fn locate(&self, path: &[crate::PathSegment]) -> Span {
        if path.is_empty() {
            return self.start_span();
        }
        let resolved = self.source_map.resolve(path);
        if resolved.matched == 0 {
            return self.start_span();
        }
        if resolved.matched == path.len() {
            return resolved.span;
        }
        // The node is missing: point at its nearest existing parent, but only at the
        // parent's key (or its first line), not at the whole block beneath it.
        let pointer = crate::source::json_pointer(&path[..resolved.matched]);
        if let Some(key) = self.source_map.get_key(&pointer) {
            return key;
        }
        let span = resolved.span;
        if span.end.line > span.start.line {
            let line = self.line_span(span.start.line);
            Span::new(span.start, line.end.max(span.start))
        } else {
            span
        }
    }

    /// The text of 1-based `line` of the file, when `source` holds it.
    pub fn line(&self, line: u32) -> Option<&str> {
        if line < self.first_line && self.first_line > 1 {
            return None;
        }
        let n = line.saturating_sub(self.first_line);
        self.source.lines().nth(n as usize)
    }

    /// The span of the first line of the document: where a finding without a location goes.
    pub fn start_span(&self) -> Span {
        let start = self.span.start;
        let line_end = self
            .line(start.line)
            .map(|l| l.trim_end_matches('\r').chars().count() as u32 + 1)
            .unwrap_or(start.column);
        Span::new(start, Position::new(start.line, line_end.max(start.column)))
    }

    /// The span of a whole 1-based `line` of the file, trimmed to its text.
    pub fn line_span(&self, line: u32) -> Span {
        match self.line(line) {
            Some(text) => {
                let indent = text.chars().take_while(|c| c.is_whitespace()).count() as u32;
                let len = text.trim_end().chars().count() as u32;
                Span::new(
                    Position::new(line, indent + 1),
                    Position::new(line, len.max(indent) + 1),
                )
            }
            None => self.start_span(),
        }
    }
}

/// An input that could not be read or parsed, with its location.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{path}:{line}:{column}: {message}")]
pub struct InputError {
    /// File path.
    pub path: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// What went wrong, lower-case, saying what to do when possible.
    pub message: String,
}

impl InputError {
    /// An error at `pos` of `path`.
    pub fn new(path: impl Into<String>, pos: Position, message: impl Into<String>) -> Self {
        InputError {
            path: path.into(),
            line: pos.line,
            column: pos.column,
            message: message.into(),
        }
    }
}

/// Options that control how inputs are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOptions {
    /// Force every input to this kind instead of detecting it.
    pub kind: Option<DocumentKind>,
    /// Files larger than this are skipped with a reason.
    pub max_file_size: u64,
    /// Maximum nesting depth of YAML/JSON values.
    pub max_depth: usize,
    /// An empty YAML file (nothing but comments or `---`) is one document whose value is
    /// `null`, as conftest gives it to policies, instead of an error (`--conftest`).
    pub empty_yaml_as_null: bool,
    /// Record where every node of a YAML or JSON document is (its source map). A pass
    /// that reads only values (the first pass of a streamed run: kinds and Namespaces)
    /// turns it off: its documents then have an empty source map, and parse faster.
    pub spans: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            kind: None,
            max_file_size: 16 * 1024 * 1024,
            max_depth: 256,
            empty_yaml_as_null: false,
            spans: true,
        }
    }
}

/// What happened to one input file. Every input given to the tool ends up in exactly one
/// report: loaded (possibly with some errors), skipped with a reason, or failed.
#[derive(Debug, Clone)]
pub struct FileReport {
    /// The path as given.
    pub path: Arc<str>,
    /// Documents parsed from the file.
    pub documents: Vec<Document>,
    /// Errors (parse errors, unreadable file, ...). A file can have documents and errors
    /// when the parser recovered.
    pub errors: Vec<InputError>,
    /// Why the file was skipped, when it was.
    pub skipped: Option<String>,
    /// The file's text when it was read as text, even if no document came out of it, so
    /// that reporters can show the line of a parse error.
    pub source: Option<Arc<str>>,
}

impl FileReport {
    /// A skipped file.
    pub fn skipped(path: impl Into<Arc<str>>, reason: impl Into<String>) -> Self {
        FileReport {
            path: path.into(),
            documents: Vec::new(),
            errors: Vec::new(),
            skipped: Some(reason.into()),
            source: None,
        }
    }

    /// A file that failed as a whole.
    pub fn failed(path: impl Into<Arc<str>>, error: InputError) -> Self {
        FileReport {
            path: path.into(),
            documents: Vec::new(),
            errors: vec![error],
            skipped: None,
            source: None,
        }
    }
}

/// How a file's content should be parsed, decided from its name, content or `--kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Dockerfile syntax.
    Dockerfile,
    /// YAML (possibly multi-document).
    Yaml,
    /// JSON.
    Json,
}

/// Decides the format of a file from its name alone.
pub fn format_from_name(path: &Path) -> Option<Format> {
    let name = path.file_name()?.to_str()?;
    let lower = name.to_ascii_lowercase();
    if lower == "dockerfile"
        || lower == "containerfile"
        || lower.starts_with("dockerfile.")
        || lower.starts_with("containerfile.")
        || lower.ends_with(".dockerfile")
        || lower.ends_with(".containerfile")
    {
        return Some(Format::Dockerfile);
    }
    match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
        "yaml" | "yml" => Some(Format::Yaml),
        "json" => Some(Format::Json),
        _ => None,
    }
}

/// Decides the format of a text from its content.
pub fn format_from_content(text: &str) -> Option<Format> {
    let first = text.lines().map(str::trim).find(|l| {
        let plain_comment =
            l.starts_with('#') && !l.starts_with("# syntax") && !l.starts_with("# escape");
        !l.is_empty() && !plain_comment
    })?;
    let keyword = first
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    if first.starts_with('{') || first.starts_with('[') {
        Some(Format::Json)
    } else if matches!(keyword.as_str(), "FROM" | "ARG")
        || first.starts_with("# syntax")
        || first.starts_with("# escape")
    {
        Some(Format::Dockerfile)
    } else if first.starts_with("---")
        || first.starts_with("apiVersion:")
        || first.contains(": ")
        || first.ends_with(':')
    {
        Some(Format::Yaml)
    } else {
        None
    }
}

/// Parses already-read text. `path` is only used for messages and document paths.
pub fn load_text(path: &str, text: &str, format: Format, opts: &LoadOptions) -> FileReport {
    load_text_with(path, text, format, opts, None)
}

/// [`load_text`], a YAML text parsed reusing what `reuse` kept of its last version
/// ([`yaml::parse_yaml_reusing`]).
fn load_text_with(
    path: &str,
    text: &str,
    format: Format,
    opts: &LoadOptions,
    reuse: Option<&mut yaml::Reuse>,
) -> FileReport {
    let path: Arc<str> = Arc::from(path);
    let source: Arc<str> = Arc::from(text);
    let (mut documents, errors) = match format {
        Format::Dockerfile => match dockerfile::parse(&path, &source) {
            Ok(doc) => (vec![doc], Vec::new()),
            Err(e) => (Vec::new(), vec![e]),
        },
        Format::Yaml => match reuse {
            Some(reuse) => yaml::parse_yaml_reusing(&path, &source, opts, reuse),
            None => yaml::parse_yaml_text(&path, &source, opts),
        },
        Format::Json => yaml::parse_json(&path, &source, opts),
    };
    if let Some(kind) = opts.kind {
        for doc in &mut documents {
            doc.kind = kind;
        }
    }
    FileReport {
        path,
        documents,
        errors,
        skipped: None,
        source: Some(source),
    }
}

/// Reads a stream that has no size (a FIFO), failing once it passes `max` bytes.
fn read_capped(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(max.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(std::io::Error::other(format!(
            "the stream is larger than the {max}-byte limit"
        )));
    }
    Ok(bytes)
}

/// Reads and parses one file. Never panics and never drops the file: problems come back
/// as errors or a skip reason in the report.
pub fn load_file(path: &Path, opts: &LoadOptions, explicit: bool) -> FileReport {
    let display = path.display().to_string();
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            return FileReport::failed(
                display.as_str(),
                InputError::new(&display, Position::START, format!("cannot read file: {e}")),
            )
        }
    };
    if meta.is_dir() {
        if image::is_oci_layout(path) {
            return image::load_layout(path, opts);
        }
        return FileReport::skipped(display.as_str(), "is a directory");
    }
    if meta.len() > opts.max_file_size {
        return FileReport::skipped(
            display.as_str(),
            format!(
                "file is {} bytes, larger than the {}-byte limit",
                meta.len(),
                opts.max_file_size
            ),
        );
    }
    // A FIFO, socket or device found by walking a directory is not read: opening a FIFO
    // blocks until a writer comes, and a device may never end. Named on the command line
    // (`policy eval <(kubectl get pods -o yaml)`), it is read, up to the size limit.
    if !meta.is_file() && !explicit {
        return FileReport::skipped(
            display.as_str(),
            "not a regular file (a FIFO, socket or device): name it on the command line to read it",
        );
    }
    let by_name = format_from_name(path);
    if by_name.is_none() && opts.kind.is_none() && !explicit {
        return FileReport::skipped(display.as_str(), "not a recognised input file type");
    }
    let read = if meta.is_file() {
        std::fs::read(path)
    } else {
        read_capped(path, opts.max_file_size)
    };
    let bytes = match read {
        Ok(b) => b,
        Err(e) => {
            return FileReport::failed(
                display.as_str(),
                InputError::new(&display, Position::START, format!("cannot read file: {e}")),
            )
        }
    };
    load_bytes(&display, &bytes, by_name, opts)
}

/// Parses bytes read from a file or stdin.
pub fn load_bytes(
    display: &str,
    bytes: &[u8],
    by_name: Option<Format>,
    opts: &LoadOptions,
) -> FileReport {
    load_bytes_with(display, bytes, by_name, opts, None)
}

/// [`load_bytes`] of a text loaded again and again with small changes (an editor's
/// buffer): the same report, a YAML stream's unchanged documents not parsed again
/// ([`yaml::parse_yaml_reusing`]).
pub fn load_buffer(
    display: &str,
    text: &str,
    by_name: Option<Format>,
    opts: &LoadOptions,
    reuse: &mut yaml::Reuse,
) -> FileReport {
    load_bytes_with(display, text.as_bytes(), by_name, opts, Some(reuse))
}

fn load_bytes_with(
    display: &str,
    bytes: &[u8],
    by_name: Option<Format>,
    opts: &LoadOptions,
    reuse: Option<&mut yaml::Reuse>,
) -> FileReport {
    if let Some(nul) = bytes.iter().take(8192).position(|b| *b == 0) {
        // Locate the NUL within the text before it (lossily: binaries are rarely UTF-8).
        let before = String::from_utf8_lossy(&bytes[..nul]);
        let pos = crate::source::LineIndex::new(&before).position(&before, before.len());
        return FileReport::failed(
            display,
            InputError::new(
                display,
                pos,
                "binary file (NUL byte): expected a text input (Dockerfile, YAML or JSON)",
            ),
        );
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let valid = &bytes[..e.valid_up_to()];
            let valid = std::str::from_utf8(valid).unwrap_or_default();
            let idx = crate::source::LineIndex::new(valid);
            let pos = idx.position(valid, valid.len());
            return FileReport::failed(
                display,
                InputError::new(display, pos, "invalid UTF-8: the file must be UTF-8 text"),
            );
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        // conftest evaluates an empty YAML file (or stdin) once, with `input = null`.
        let yaml = match opts.kind {
            Some(DocumentKind::Dockerfile | DocumentKind::Json | DocumentKind::Image) => false,
            Some(_) => true,
            None => matches!(by_name, None | Some(Format::Yaml)),
        };
        if opts.empty_yaml_as_null && yaml {
            return load_text(display, text, Format::Yaml, opts);
        }
        return FileReport::failed(
            display,
            InputError::new(display, Position::START, "empty file: nothing to check"),
        );
    }
    let format = match opts.kind.map(|k| k.spec().syntax) {
        // YAML kinds read a `.json` file as JSON (JSON is YAML, with exact positions).
        Some(Format::Yaml) => by_name
            .filter(|f| *f != Format::Dockerfile)
            .unwrap_or(Format::Yaml),
        Some(syntax) => syntax,
        None => match by_name.or_else(|| format_from_content(text)) {
            Some(f) => f,
            None => {
                return FileReport::skipped(
                    display,
                    "cannot tell the input kind from the name or content; pass --kind",
                )
            }
        },
    };
    // A byte-order mark moves every part's text: parsed whole.
    let reuse = reuse.filter(|_| text.len() == bytes.len());
    load_text_with(display, text, format, opts, reuse)
}
