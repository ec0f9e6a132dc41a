//! Inline suppressions: `# policy:ignore=ID[,ID…] reason` comments in Dockerfiles and YAML,
//! and the `policy.dev/ignore` annotation of Kubernetes objects.
//!
//! Exceptions in `.policy.yaml` suppress by file path, away from the code. An inline
//! suppression sits next to the construct it accepts, so it moves with it, is reviewed with
//! it, and disappears with it. This module finds them ([`scan`], a pure function of a file's
//! documents, usable by an editor on an unsaved buffer) and applies them to a finished
//! report ([`apply`], which [`super::evaluate`] calls, so every consumer of the library gets
//! them). It only reads the source text and the document values; it never formats: problems
//! come back as positions and messages, and reach people as [`Warning`]s in the report.
//!
//! What counts as a comment follows each language, because a false comment would silently
//! hide findings:
//!
//! * Dockerfile: `#` starts a comment only as the first non-blank character of a line
//!   (`RUN echo # x` is part of the command), and never inside a heredoc body. Parser
//!   directives (`# syntax=…`) are comments that are never suppressions.
//! * YAML: `#` at the start of a line or after whitespace, outside quoted scalars (which
//!   may span lines) and outside block scalars (`|`/`>` content, recognised by indentation).
//!
//! docs/configuration.md ("Suppressing findings in the source") is the user documentation.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::diagnostics::{Finding, Report, Suppressed, SuppressionSource, Warning};
use crate::inputs::kinds::Comments;
use crate::inputs::{Document, DocumentKind};
use crate::source::Position;

/// What a suppression comment starts with (after `#` and optional blanks).
pub const MARKER: &str = "policy:ignore";
/// The Kubernetes annotation that suppresses rules for a whole object.
pub const ANNOTATION: &str = "policy.dev/ignore";
/// The reason recorded for a suppression that gives none.
pub const NO_REASON: &str = "no reason given";

/// Where a directive was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A `# policy:ignore=` comment.
    Comment,
    /// A `policy.dev/ignore` annotation.
    Annotation,
}

/// Which findings a directive covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Findings of the file whose start line is in `first..=last`.
    Lines {
        /// First line covered.
        first: u32,
        /// Last line covered (inclusive).
        last: u32,
    },
    /// Every finding of the document with this index in the file.
    Document(usize),
}

impl Scope {
    fn covers(&self, f: &Finding) -> bool {
        match *self {
            Scope::Lines { first, last } => (first..=last).contains(&f.location.span.start.line),
            Scope::Document(index) => f.location.document == index,
        }
    }

    fn describe(&self) -> String {
        match *self {
            Scope::Lines { first, last } if first == last => format!("on line {first}"),
            Scope::Lines { first, last } => format!("on lines {first}-{last}"),
            Scope::Document(_) => "in this object".to_string(),
        }
    }
}

/// A rule ID as written in a directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRef {
    /// The ID as written (matched case-insensitively).
    pub id: String,
    /// Where it is written.
    pub position: Position,
}

/// One suppression: rules, a reason and the findings it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// Comment or annotation.
    pub origin: Origin,
    /// The comment's `#`, or the annotation's value.
    pub position: Position,
    /// The rules it names (never empty).
    pub rules: Vec<RuleRef>,
    /// The text after the rule IDs, if any.
    pub reason: Option<String>,
    /// The findings it covers.
    pub scope: Scope,
}

/// A malformed or misplaced suppression, reported as a warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where.
    pub position: Position,
    /// What is wrong and what to do.
    pub message: String,
}

/// The suppressions of one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    /// Comments first, in file order, then annotations in document order.
    pub directives: Vec<Directive>,
    /// Problems, in file order.
    pub problems: Vec<Problem>,
}

/// Finds the suppressions of one file, given all the documents parsed from it (they share
/// its path and source text; pass them all so that comments are read once and every
/// object's annotation is seen).
///
/// Comments are read from the source text; their scope is a range of lines. Dockerfiles
/// use the instruction ranges of the document (`instructions[].line`/`end_line`, heredoc
/// bodies); YAML (Kubernetes, workflows, plain YAML) is scanned line by line. Image and
/// JSON documents have no comments.
///
/// ```
/// use policy_engine::eval::suppress::{scan, Scope};
/// use policy_engine::inputs::dockerfile;
///
/// let src = "# policy:ignore=DF001 pinned by renovate\nFROM debian:latest\nRUN echo # not a comment\n";
/// let doc = dockerfile::parse("Dockerfile", src).unwrap();
/// let found = scan(&[&doc]);
/// let d = &found.directives[0];
/// assert_eq!(d.rules[0].id, "DF001");
/// assert_eq!(d.reason.as_deref(), Some("pinned by renovate"));
/// assert_eq!(d.scope, Scope::Lines { first: 2, last: 2 });
/// assert_eq!(found.directives.len(), 1);
/// ```
pub fn scan(documents: &[&Document]) -> Scan {
    let mut out = Scan::default();
    let Some(first) = documents.first() else {
        return out;
    };
    // Most files have no suppression comment: do not classify their lines.
    if first.source.contains(MARKER) {
        match first.kind.spec().comments {
            Comments::Dockerfile => scan_dockerfile(first, &mut out),
            Comments::Yaml => scan_yaml(&first.source, first.first_line, &mut out),
            Comments::None => {}
        }
    }
    for doc in documents {
        if doc.kind == DocumentKind::Kubernetes {
            scan_annotation(doc, &mut out);
        }
    }
    out.problems.sort_by_key(|p| p.position);
    out
}

/// Moves the findings that inline suppressions of `documents` cover from
/// `report.findings` to `report.suppressed`, and adds a [`Warning`] for every problem:
/// a malformed or misplaced suppression, a rule ID that names no loaded rule (with a
/// "did you mean" hint), a suppression without a reason, and a rule named by a
/// suppression that suppressed nothing (unless that rule failed on the file, since its
/// findings are then unknown, or is turned off, see [`Report::disabled`]).
///
/// `documents` are the evaluated documents of the report, of any number of files. Call it
/// once per report, before configuration exceptions, with the rule catalog filled in.
pub fn apply(report: &mut Report, documents: &[&Document]) {
    apply_scans(report, &scans(documents));
}

/// The suppressions [`apply`] finds in `documents`: one [`Scan`] per path that has any,
/// by path. A streamed run ([`super::stream`]) keeps them and drops the documents.
pub fn scans(documents: &[&Document]) -> Vec<(Arc<str>, Scan)> {
    let mut by_file: BTreeMap<&str, Vec<&Document>> = BTreeMap::new();
    for doc in documents {
        by_file.entry(&doc.path).or_default().push(doc);
    }
    by_file
        .into_values()
        .map(|docs| (docs[0].path.clone(), scan(&docs)))
        .filter(|(_, s)| !s.directives.is_empty() || !s.problems.is_empty())
        .collect()
}

impl Scan {
    /// Adds the scan of the next part of the same file (a batch, `inputs::batch`): the
    /// result is the scan of both parts' documents at once (comments in file order,
    /// then annotations in document order; problems in file order).
    pub fn merge(&mut self, next: Scan) {
        let comments = self
            .directives
            .iter()
            .take_while(|d| d.origin == Origin::Comment)
            .count();
        let (theirs, annotations): (Vec<Directive>, Vec<Directive>) = next
            .directives
            .into_iter()
            .partition(|d| d.origin == Origin::Comment);
        self.directives.splice(comments..comments, theirs);
        self.directives.extend(annotations);
        self.problems.extend(next.problems);
        self.problems.sort_by_key(|p| p.position);
    }

    /// Every position a warning about these suppressions can point at.
    pub fn positions(&self) -> impl Iterator<Item = Position> + '_ {
        self.problems.iter().map(|p| p.position).chain(
            self.directives.iter().flat_map(|d| {
                std::iter::once(d.position).chain(d.rules.iter().map(|r| r.position))
            }),
        )
    }
}

/// [`apply`] with the suppressions already found ([`scans`], by path).
pub fn apply_scans(report: &mut Report, scans: &[(Arc<str>, Scan)]) {
    if scans.is_empty() {
        return;
    }
    let mut known: Vec<String> = report.rules.iter().map(|r| r.id.clone()).collect();
    known.extend(report.findings.iter().map(|f| f.rule.id.clone()));
    // Rules turned off are known (naming one is no typo) but never run, so a suppression
    // of one has nothing to suppress and is not reported as unused.
    let off: Vec<String> = report.disabled.iter().map(|r| r.id.clone()).collect();
    known.extend(off.iter().cloned());
    known.extend(report.unloaded.iter().cloned());
    known.sort();
    known.dedup();

    for (path, scan) in scans {
        let warn = |pos: Position, message: String| Warning {
            file: path.to_string(),
            line: pos.line,
            column: pos.column,
            message,
        };
        let mut warnings: Vec<Warning> = scan
            .problems
            .iter()
            .map(|p| warn(p.position, p.message.clone()))
            .collect();
        // Which rule references can suppress: those naming a known rule.
        let mut active: Vec<Vec<bool>> = Vec::new();
        for d in &scan.directives {
            let what = match d.origin {
                Origin::Comment => format!("`{MARKER}`"),
                Origin::Annotation => format!("the `{ANNOTATION}` annotation"),
            };
            let mut flags = Vec::new();
            for r in &d.rules {
                let is_known = known.iter().any(|k| k.eq_ignore_ascii_case(&r.id));
                if !is_known {
                    warnings.push(warn(r.position, unknown_message(&what, &r.id, &known)));
                }
                flags.push(is_known);
            }
            if d.reason.is_none() {
                let fix = match d.origin {
                    Origin::Comment => "after the rule IDs",
                    Origin::Annotation => "after the rule IDs in the value",
                };
                warnings.push(warn(
                    d.position,
                    format!(
                        "{what} gives no reason; say why the finding is accepted {fix} (recorded as \"{NO_REASON}\")"
                    ),
                ));
            }
            active.push(flags);
        }

        let mut used: Vec<Vec<bool>> = active.iter().map(|a| vec![false; a.len()]).collect();
        let findings = std::mem::take(&mut report.findings);
        for f in findings {
            if *f.location.file != **path {
                report.findings.push(f);
                continue;
            }
            let mut by: Option<&Directive> = None;
            for (i, d) in scan.directives.iter().enumerate() {
                if !d.scope.covers(&f) {
                    continue;
                }
                for (j, r) in d.rules.iter().enumerate() {
                    if active[i][j] && f.has_rule(&r.id) {
                        used[i][j] = true;
                        by.get_or_insert(d);
                    }
                }
            }
            match by {
                Some(d) => report.suppressed.push(Suppressed {
                    finding: f,
                    reason: d.reason.clone().unwrap_or_else(|| NO_REASON.to_string()),
                    source: SuppressionSource::InSource {
                        file: path.clone(),
                        line: d.position.line,
                        column: d.position.column,
                    },
                }),
                None => report.findings.push(f),
            }
        }

        for (i, d) in scan.directives.iter().enumerate() {
            for (j, r) in d.rules.iter().enumerate() {
                if !active[i][j]
                    || used[i][j]
                    || off.iter().any(|id| id.eq_ignore_ascii_case(&r.id))
                {
                    continue;
                }
                let failed = report.errors.iter().any(|e| {
                    e.input.as_deref() == Some(&**path)
                        && e.rule
                            .as_deref()
                            .is_some_and(|id| id.eq_ignore_ascii_case(&r.id))
                });
                if failed {
                    continue;
                }
                let what = match d.origin {
                    Origin::Comment => format!("`{MARKER}={}`", r.id),
                    Origin::Annotation => format!("`{}` in the `{ANNOTATION}` annotation", r.id),
                };
                warnings.push(warn(
                    r.position,
                    format!(
                        "{what} suppresses nothing: no {} finding starts {} (remove it, or move it to the line it is about)",
                        r.id,
                        d.scope.describe()
                    ),
                ));
            }
        }
        report.warnings.extend(warnings);
    }
    report.sort();
}

fn unknown_message(what: &str, id: &str, known: &[String]) -> String {
    let reserved = id.len() == 6
        && id[..3].eq_ignore_ascii_case("POL")
        && id[3..].bytes().all(|b| b.is_ascii_digit());
    if reserved {
        return format!(
            "{what} names `{id}`, an error, not a rule: errors cannot be suppressed (fix what causes them)"
        );
    }
    let hint = crate::hint::suggest(id, known.iter().map(String::as_str))
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default();
    format!("{what} names rule `{id}`, which is not loaded{hint}")
}

// ---------------------------------------------------------------------------------------
// Parsing the text of a directive.

/// The lines of a source text, without terminators (`\n`, `\r\n`) or a leading BOM.
fn lines(source: &str) -> Vec<&str> {
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    source
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect()
}

/// 1-based character column of byte `offset` of `line`.
fn column(line: &str, offset: usize) -> u32 {
    line.get(..offset).map_or(0, |s| s.chars().count()) as u32 + 1
}

/// How a comment suppression is written.
const COMMENT_USAGE: &str = "`# policy:ignore=ID[,ID…] reason`";
/// How the annotation is written.
const ANNOTATION_USAGE: &str = "`policy.dev/ignore: \"ID[,ID…] reason\"`";

/// `ID[,ID…] reason`: the rule IDs (with positions) and the reason. `base` is the position
/// of `text`'s first character; `usage` shows the syntax in messages. Wildcards and empty
/// IDs are problems, not rules.
fn parse_list(
    text: &str,
    base: Position,
    usage: &str,
    problems: &mut Vec<Problem>,
) -> (Vec<RuleRef>, Option<String>) {
    let at = |offset: usize| {
        Position::new(
            base.line,
            base.column + text[..offset].chars().count() as u32,
        )
    };
    let mut rules = Vec::new();
    let mut i = 0;
    loop {
        let start = i;
        while let Some(c) = text[i..].chars().next() {
            if c.is_whitespace() || c == ',' {
                break;
            }
            i += c.len_utf8();
        }
        let id = &text[start..i];
        if id.is_empty() {
            problems.push(Problem {
                position: at(start),
                message: format!("expected rule IDs separated by commas: write {usage}"),
            });
        } else if id == "*" || id.eq_ignore_ascii_case("all") {
            problems.push(Problem {
                position: at(start),
                message: format!(
                    "`{id}` is not supported: a suppression must name the rules it suppresses"
                ),
            });
        } else {
            rules.push(RuleRef {
                id: id.to_string(),
                position: at(start),
            });
        }
        if text[i..].starts_with(',') {
            i += 1;
            i += text[i..].len() - text[i..].trim_start().len();
            continue;
        }
        break;
    }
    let reason = text[i..].trim();
    (rules, (!reason.is_empty()).then(|| reason.to_string()))
}

/// The rules and reason of a comment whose `#` is at byte `hash` of `line` (1-based
/// `number`), if it is a `policy:ignore` comment with at least one valid rule.
fn comment_directive(
    line: &str,
    hash: usize,
    number: u32,
    problems: &mut Vec<Problem>,
) -> Option<(Vec<RuleRef>, Option<String>)> {
    let body = &line[hash + 1..];
    let lead = body.len() - body.trim_start().len();
    let after = body[lead..].strip_prefix(MARKER)?;
    match after.chars().next() {
        Some('=') => {}
        // `policy:ignored`, `policy:ignore-file`: some other word, not ours.
        Some(c) if c.is_alphanumeric() || c == '-' || c == '_' => return None,
        _ => {
            problems.push(Problem {
                position: Position::new(number, column(line, hash)),
                message: format!("malformed suppression: write {COMMENT_USAGE}"),
            });
            return None;
        }
    }
    let list = hash + 1 + lead + MARKER.len() + 1;
    let (rules, reason) = parse_list(
        &line[list..],
        Position::new(number, column(line, list)),
        COMMENT_USAGE,
        problems,
    );
    (!rules.is_empty()).then_some((rules, reason))
}

fn misplaced(position: Position, what: &str) -> Problem {
    Problem {
        position,
        message: format!(
            "this `{MARKER}` comment applies to nothing: it must be followed by the {what} it is about"
        ),
    }
}

// ---------------------------------------------------------------------------------------
// Dockerfiles.

fn scan_dockerfile(doc: &Document, out: &mut Scan) {
    let number = |v: &Value, key: &str| v.get(key).and_then(Value::as_u64).map(|n| n as u32);
    let mut instrs: Vec<(u32, u32)> = Vec::new();
    let mut heredocs: Vec<(u32, u32)> = Vec::new();
    for ins in doc.value["instructions"].as_array().into_iter().flatten() {
        if let (Some(l), Some(e)) = (number(ins, "line"), number(ins, "end_line")) {
            instrs.push((l, e));
        }
        let own = ins["heredocs"].as_array().into_iter().flatten();
        let trigger = ins["trigger"]["heredocs"].as_array().into_iter().flatten();
        for h in own.chain(trigger) {
            if let (Some(l), Some(e)) = (number(h, "line"), number(h, "end_line")) {
                heredocs.push((l, e));
            }
        }
    }
    let mut next = 0;
    // Whether a suppression comment came before the first instruction: BuildKit reads
    // parser directives only until the first other comment, so one below it is ignored.
    let mut marker_on_top = false;
    for (i, text) in lines(&doc.source).into_iter().enumerate() {
        let n = i as u32 + 1;
        while instrs.get(next).is_some_and(|(_, end)| *end < n) {
            next += 1;
        }
        let within = instrs.get(next).copied().filter(|(l, _)| *l <= n);
        if heredocs.iter().any(|(l, e)| (*l..=*e).contains(&n)) {
            continue; // a heredoc body is data (a script, a file), not Dockerfile syntax
        }
        let trimmed = text.trim_start();
        let own_line_comment = trimmed.starts_with('#') && within.is_none_or(|(l, _)| l != n);
        if own_line_comment {
            let hash = text.len() - trimmed.len();
            let before_instructions = within.is_none() && next == 0;
            if before_instructions && marker_on_top && is_parser_directive(trimmed) {
                out.problems.push(Problem {
                    position: Position::new(n, column(text, hash)),
                    message: format!(
                        "this parser directive follows a `{MARKER}` comment, so BuildKit treats it as a plain comment; put suppression comments below the parser directives"
                    ),
                });
            }
            if before_instructions && trimmed[1..].trim_start().starts_with(MARKER) {
                marker_on_top = true;
            }
            let Some((rules, reason)) = comment_directive(text, hash, n, &mut out.problems) else {
                continue;
            };
            let position = Position::new(n, column(text, hash));
            // Inside an instruction (between continuation lines) it is about that
            // instruction; otherwise about the next one.
            let Some((first, last)) = within.or_else(|| instrs.get(next).copied()) else {
                out.problems.push(misplaced(position, "instruction"));
                continue;
            };
            out.directives.push(Directive {
                origin: Origin::Comment,
                position,
                rules,
                reason,
                scope: Scope::Lines { first, last },
            });
        } else if within.is_some() {
            if let Some(hash) = trailing_marker(text) {
                out.problems.push(Problem {
                    position: Position::new(n, column(text, hash)),
                    message: format!(
                        "in a Dockerfile `#` starts a comment only at the beginning of a line: this `{MARKER}` is part of the instruction and suppresses nothing; put it on its own line above the instruction"
                    ),
                });
            }
        }
    }
}

/// Whether a comment line looks like a parser directive (`# syntax=`, `# escape=`,
/// `# check=`), as BuildKit matches them.
fn is_parser_directive(comment: &str) -> bool {
    let body = comment.strip_prefix('#').unwrap_or(comment).trim_start();
    let name_len = body
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(body.len());
    let name = body[..name_len].to_ascii_lowercase();
    matches!(name.as_str(), "syntax" | "escape" | "check")
        && body[name_len..].trim_start().starts_with('=')
}

/// The byte offset of a `#` that follows whitespace and starts `policy:ignore`, in a line
/// that is not a comment.
fn trailing_marker(text: &str) -> Option<usize> {
    text.match_indices('#').map(|(i, _)| i).find(|&i| {
        i > 0
            && text[..i].ends_with(char::is_whitespace)
            && text[i + 1..].trim_start().starts_with(MARKER)
    })
}

// ---------------------------------------------------------------------------------------
// YAML.

/// What a physical line of a YAML stream is, for suppressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Empty or whitespace only.
    Blank,
    /// Only a comment.
    Comment,
    /// A node's text (possibly with a trailing comment), or block scalar content.
    Code,
    /// `---`, `...` or a `%` directive: a document boundary.
    Marker,
}

#[derive(Debug, Clone, Copy)]
struct Line {
    kind: Kind,
    /// Leading spaces.
    indent: usize,
    /// Whether the line starts a block sequence entry (`- `).
    dash: bool,
    /// Byte offset of a comment's `#`.
    comment: Option<usize>,
}

fn is_marker(text: &str) -> bool {
    let boundary = |rest: &str| rest.is_empty() || rest.starts_with(char::is_whitespace);
    text.starts_with('%')
        || text.strip_prefix("---").is_some_and(boundary)
        || text.strip_prefix("...").is_some_and(boundary)
}

fn starts_entry(trimmed: &str) -> bool {
    trimmed
        .strip_prefix('-')
        .is_some_and(|r| r.is_empty() || r.starts_with(char::is_whitespace))
}

/// Whether a quote at byte `i` of `text` opens a quoted scalar (rather than sitting inside
/// a plain scalar, as in `don't`).
fn opens_quote(text: &str, i: usize) -> bool {
    let before = &text[..i];
    if before.ends_with(['[', '{', ',', ':']) {
        return true;
    }
    if !(before.is_empty() || before.ends_with(char::is_whitespace)) {
        return false;
    }
    let prev = before.trim_end();
    let token = prev.rsplit(char::is_whitespace).next().unwrap_or("");
    prev.is_empty()
        || token.ends_with([':', ',', '[', '{', '?'])
        || token == "-"
        || token.starts_with(['!', '&'])
}

/// Finds a comment in `text`, starting inside a quoted scalar when `quote` is set.
/// Returns the `#` offset and the quote still open at the end of the line.
fn scan_line(text: &str, mut quote: Option<char>) -> (Option<usize>, Option<char>) {
    let mut chars = text.char_indices().peekable();
    let mut prev: Option<char> = None;
    while let Some((i, c)) = chars.next() {
        match quote {
            Some('\'') => {
                if c == '\'' {
                    if chars.peek().is_some_and(|(_, n)| *n == '\'') {
                        chars.next();
                    } else {
                        quote = None;
                    }
                }
            }
            Some(_) => {
                if c == '\\' {
                    chars.next();
                } else if c == '"' {
                    quote = None;
                }
            }
            None => {
                if c == '#' && prev.is_none_or(char::is_whitespace) {
                    return (Some(i), None);
                }
                if (c == '\'' || c == '"') && opens_quote(text, i) {
                    quote = Some(c);
                }
            }
        }
        prev = Some(c);
    }
    (None, quote)
}

/// When `code` (a line without its comment) ends with a block scalar indicator (`|`, `>-`,
/// `|2`, ...), the indentation its content must exceed.
fn block_scalar(code: &str, indent: usize) -> Option<usize> {
    let code = code.trim_end();
    let last = code.rsplit(char::is_whitespace).next()?;
    let mut chars = last.chars();
    if !matches!(chars.next(), Some('|' | '>'))
        || last.len() > 3
        || !chars.all(|c| c == '+' || c == '-' || c.is_ascii_digit())
    {
        return None;
    }
    let before = code[..code.len() - last.len()].trim_end();
    let token = before.rsplit(char::is_whitespace).next().unwrap_or("");
    let after_node =
        before.is_empty() || before.ends_with(':') || token == "-" || token.starts_with(['!', '&']);
    if !after_node {
        return None;
    }
    // The owner of the scalar: the first key after any `- ` entries, or the last `-`.
    let mut col = indent;
    let mut rest = &code[indent.min(code.len())..];
    let mut dash = None;
    while starts_entry(rest) {
        dash = Some(col);
        let after = &rest[1..];
        let ws = after.len() - after.trim_start().len();
        col += 1 + ws;
        rest = &after[ws..];
    }
    if rest.starts_with(['|', '>']) {
        Some(dash.unwrap_or(indent))
    } else {
        Some(col)
    }
}

/// Classifies every line of a YAML stream.
fn classify(lines: &[&str]) -> Vec<Line> {
    // The indentation block scalar content must exceed, and the content's own once seen.
    let mut block: Option<(usize, Option<usize>)> = None;
    let mut quote: Option<char> = None;
    let mut out = Vec::with_capacity(lines.len());
    for text in lines {
        let indent = text.len() - text.trim_start_matches(' ').len();
        let trimmed = text.trim();
        let mut line = Line {
            kind: Kind::Code,
            indent,
            dash: starts_entry(trimmed),
            comment: None,
        };
        if is_marker(text) {
            block = None;
            quote = None;
            line.kind = Kind::Marker;
            line.comment = scan_line(text, None).0;
            out.push(line);
            continue;
        }
        if let Some((parent, content)) = block {
            if trimmed.is_empty() {
                line.kind = Kind::Blank;
                out.push(line);
                continue;
            }
            let inside = match content {
                None => indent > parent,
                Some(c) => indent >= c,
            };
            if inside {
                block = Some((parent, Some(content.unwrap_or(indent))));
                out.push(line);
                continue;
            }
            block = None;
        }
        if quote.is_none() && trimmed.is_empty() {
            line.kind = Kind::Blank;
            out.push(line);
            continue;
        }
        let was_quoted = quote.is_some();
        let (comment, open) = scan_line(text, quote);
        quote = open;
        line.comment = comment;
        let code = &text[..comment.unwrap_or(text.len())];
        if !was_quoted && comment.is_some() && code.trim().is_empty() {
            line.kind = Kind::Comment;
        } else if quote.is_none() {
            if let Some(parent) = block_scalar(code, indent) {
                block = Some((parent, None));
            }
        }
        out.push(line);
    }
    out
}

/// The last line of the node that line `at` (0-based) opens: every following line that is
/// more indented (or a `- ` entry at the same indentation, for a key whose value is a
/// sequence), through blank and comment lines, up to a document boundary.
fn extent(lines: &[Line], at: usize) -> usize {
    let open = lines[at];
    let mut last = at;
    for (i, l) in lines.iter().enumerate().skip(at + 1) {
        match l.kind {
            Kind::Blank | Kind::Comment => {}
            Kind::Marker => break,
            Kind::Code => {
                if l.indent > open.indent || (!open.dash && l.dash && l.indent == open.indent) {
                    last = i;
                } else {
                    break;
                }
            }
        }
    }
    last
}

/// `first_line`: the line of the file `source` starts at (a batch, [`Document::first_line`]).
fn scan_yaml(source: &str, first_line: u32, out: &mut Scan) {
    let texts = lines(source);
    let classes = classify(&texts);
    let offset = first_line.saturating_sub(1);
    for (i, line) in classes.iter().enumerate() {
        let Some(hash) = line.comment else {
            continue;
        };
        let n = i as u32 + first_line.max(1);
        let Some((rules, reason)) = comment_directive(texts[i], hash, n, &mut out.problems) else {
            continue;
        };
        let position = Position::new(n, column(texts[i], hash));
        let target = match line.kind {
            Kind::Code => Some(i),
            Kind::Marker => None,
            // The next line that is not blank or a comment, within the document.
            _ => classes
                .iter()
                .enumerate()
                .skip(i + 1)
                .find(|(_, l)| !matches!(l.kind, Kind::Blank | Kind::Comment))
                .filter(|(_, l)| l.kind == Kind::Code)
                .map(|(j, _)| j),
        };
        let Some(target) = target else {
            out.problems
                .push(misplaced(position, "YAML line (in the same document)"));
            continue;
        };
        out.directives.push(Directive {
            origin: Origin::Comment,
            position,
            rules,
            reason,
            scope: Scope::Lines {
                first: target as u32 + 1 + offset,
                last: extent(&classes, target) as u32 + 1 + offset,
            },
        });
    }
}

// ---------------------------------------------------------------------------------------
// Kubernetes annotations.

fn scan_annotation(doc: &Document, out: &mut Scan) {
    let key = ANNOTATION.replace('~', "~0").replace('/', "~1");
    let pointer = format!("/metadata/annotations/{key}");
    let position_of = |pointer: &str| {
        doc.source_map
            .get(pointer)
            .or_else(|| doc.source_map.get_key(pointer))
            .map_or_else(|| doc.start_span().start, |s| s.start)
    };
    for template in ["/spec/template", "/spec/jobTemplate/spec/template"] {
        let nested = format!("{template}/metadata/annotations/{key}");
        if doc.value.pointer(&nested).is_some() {
            out.problems.push(Problem {
                position: position_of(&nested),
                message: format!(
                    "`{ANNOTATION}` is read only from the object's own `metadata.annotations`, not from a pod template; move it there"
                ),
            });
        }
    }
    let Some(value) = doc.value.pointer(&pointer) else {
        return;
    };
    let position = position_of(&pointer);
    let Some(text) = value.as_str() else {
        out.problems.push(Problem {
            position,
            message: format!(
                "the `{ANNOTATION}` annotation must be a string: write {ANNOTATION_USAGE}"
            ),
        });
        return;
    };
    // Columns of the IDs: skip the opening quote of a quoted scalar.
    let quoted = doc
        .line(position.line)
        .and_then(|l| l.chars().nth(position.column.saturating_sub(1) as usize))
        .is_some_and(|c| c == '"' || c == '\'');
    let base = Position::new(position.line, position.column + u32::from(quoted));
    let lead = text.len() - text.trim_start().len();
    let base = Position::new(base.line, base.column + text[..lead].chars().count() as u32);
    let (rules, reason) = parse_list(&text[lead..], base, ANNOTATION_USAGE, &mut out.problems);
    if rules.is_empty() {
        return;
    }
    out.directives.push(Directive {
        origin: Origin::Annotation,
        position,
        rules,
        reason,
        scope: Scope::Document(doc.index),
    });
}

#[cfg(test)]
mod tests;
