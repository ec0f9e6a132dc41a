//! Dockerfile input: turns a Dockerfile into a [`Document`] whose JSON value is the
//! instruction/stage model Rego and WASM rules see, with a source map that points every
//! instruction, flag and argument back at the file.
//!
//! Parsing follows BuildKit exactly (see [`ast`]); on top of BuildKit's AST this module
//! adds what rules need: stages with resolved base images (global `ARG` substitution),
//! parsed `--mount` flags, heredoc bodies, `ENV`/`LABEL` pairs, ports, users, and the
//! comments. [`conftest_view`] renders the same document in conftest's input shape, and
//! [`buildkit_dump`] in BuildKit's AST dump format (used by the conformance test).
//! The JSON shape is documented in `docs/inputs.md` (section `dockerfile`).

mod ast;
mod reference;
mod views;
mod words;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{json, Map, Value};

pub use reference::{parse_image_ref, ImageRef, DEFAULT_REGISTRY};
pub use views::{buildkit_dump, conftest_view};
pub use words::go_quote;

use super::kinds::{Comments, KindSpec};
use super::{Document, DocumentKind, Format, InputError};
use crate::source::{LineIndex, SourceMap, Span};
use ast::{Instr, Node};
use words::{expand_word, process_word, ExpandError, Word};

/// The `dockerfile` kind: a Dockerfile or Containerfile, in its own syntax.
pub const KIND: KindSpec = KindSpec {
    kind: DocumentKind::Dockerfile,
    name: "dockerfile",
    aliases: &["docker", "containerfile"],
    syntax: Format::Dockerfile,
    comments: Comments::Dockerfile,
    language_ids: &["dockerfile", "containerfile"],
    case_file: "Dockerfile",
    detect: None,
};

/// Parses a Dockerfile into one document (kind `dockerfile`, index 0).
///
/// Errors carry the line and column of the offending instruction or token.
pub fn parse(path: &str, text: &str) -> Result<Document, InputError> {
    let idx = LineIndex::new(text);
    let tree = ast::parse(text)
        .map_err(|e| InputError::new(path, idx.position(text, e.offset), e.message))?;
    let mut b = Builder {
        text,
        idx: &idx,
        map: SourceMap::new(),
        escape: tree.escape,
        expanded: 0,
        error: None,
    };
    let value = b.document(&tree);
    if let Some((offset, message)) = b.error {
        return Err(InputError::new(path, idx.position(text, offset), message));
    }
    let span = idx.span(text, 0, text.len());
    b.map.insert(String::new(), span);
    Ok(Document {
        kind: DocumentKind::Dockerfile,
        path: Arc::from(path),
        index: 0,
        value,
        source_map: b.map,
        source: Arc::from(text),
        first_line: 1,
        span,
    })
}

/// Relative source-map entries of one instruction object (`"/flags/0"` → span).
type Entries = Vec<(String, Span)>;

struct Builder<'a> {
    text: &'a str,
    idx: &'a LineIndex,
    map: SourceMap,
    escape: char,
    /// Bytes produced by variable expansion so far (see [`MAX_EXPANDED_PER_FILE`]).
    expanded: usize,
    /// The first expansion that was refused: source offset and message. The file then
    /// fails with POL000 there instead of growing without bound.
    error: Option<(usize, String)>,
}

/// Bytes that variable expansion may produce in one file, on top of the file's own size.
/// With [`words::MAX_EXPANDED_BYTES`] per word this keeps a file of a million `ARG` lines
/// that each copy a 64 KiB value from costing gigabytes.
pub(crate) const MAX_EXPANDED_PER_FILE: usize = 1024 * 1024;

/// What the builder knows while walking instructions: global ARGs and stage names.
#[derive(Default)]
struct Context {
    /// Name → expanded default (the last declaration wins), hashed so a file of many
    /// `ARG`s stays linear.
    global_args: HashMap<String, Option<String>>,
    stage_names: Vec<Option<String>>,
    seen_from: bool,
}

impl Context {
    fn lookup(&self, name: &str) -> Option<String> {
        self.global_args.get(name).cloned().flatten()
    }
}

impl Builder<'_> {
    fn span(&self, start: usize, end: usize) -> Span {
        self.idx.span(self.text, start, end)
    }

    fn lspan(&self, instr: &Instr, start: usize, end: usize) -> Span {
        let s = instr.logical.src(start);
        let e = instr.logical.src_end(end).max(s);
        self.span(s, e)
    }

    fn word_span(&self, instr: &Instr, w: &Word) -> Span {
        self.lspan(instr, w.start, w.end)
    }

    fn unquote(&self, s: &str) -> String {
        process_word(s, self.escape)
    }

    /// Expands `w` with `env` within the per-word and per-file budgets. A refusal is kept
    /// (the first one wins) and yields an empty string, so the walk finishes quickly.
    fn expand(
        &mut self,
        instr: &Instr,
        w: &Word,
        raw: &str,
        env: &dyn Fn(&str) -> Option<String>,
        unresolved: &mut Vec<String>,
    ) -> String {
        if self.error.is_some() {
            return String::new();
        }
        let result = expand_word(raw, self.escape, env, unresolved).and_then(|v| {
            self.expanded = self.expanded.saturating_add(v.len());
            if self.expanded > MAX_EXPANDED_PER_FILE.saturating_add(self.text.len()) {
                Err(ExpandError(format!(
                    "variable expansion in this file exceeds {} MiB plus the file's size; \
                     refusing a possible expansion bomb: shorten the ARG defaults",
                    MAX_EXPANDED_PER_FILE / (1024 * 1024)
                )))
            } else {
                Ok(v)
            }
        });
        result.unwrap_or_else(|e| {
            self.error = Some((instr.logical.src(w.start), e.0));
            String::new()
        })
    }

    fn document(&mut self, tree: &ast::Ast) -> Value {
        let mut directives = Map::new();
        for name in ["syntax", "escape", "check"] {
            let found = tree.directives.iter().find(|d| d.name == name);
            match found {
                Some(d) => {
                    directives.insert(name.into(), Value::String(d.value.clone()));
                    let sp = self.span(d.value_start, d.value_end);
                    self.map.insert(format!("/directives/{name}"), sp);
                }
                None if name == "escape" => {
                    directives.insert(name.into(), Value::String(tree.escape.to_string()));
                }
                None => {}
            }
        }

        let mut ctx = Context::default();
        let mut instructions = Vec::new();
        let mut all_entries = Vec::new();
        let mut global_args = Vec::new();
        let mut stages: Vec<(Map<String, Value>, Vec<usize>, Entries)> = Vec::new();
        for (i, instr) in tree.instrs.iter().enumerate() {
            let stage = if instr.node.cmd() == "from" {
                Some(stages.len())
            } else {
                stages.len().checked_sub(1)
            };
            let (obj, entries) = self.instruction(instr, &instr.node, stage, &mut ctx);
            let obj = Value::Object(obj);
            match instr.node.cmd().as_str() {
                "from" => {
                    let s = stages.len();
                    let image = obj.get("image").cloned().unwrap_or(Value::Null);
                    let mut st = Map::new();
                    st.insert("index".into(), json!(s));
                    st.insert(
                        "name".into(),
                        obj.get("name").cloned().unwrap_or(Value::Null),
                    );
                    st.insert("line".into(), json!(instr.start_line));
                    st.insert("end_line".into(), json!(instr.end_line));
                    st.insert(
                        "platform".into(),
                        obj.get("platform").cloned().unwrap_or(Value::Null),
                    );
                    st.insert("base".into(), image);
                    let mut st_entries = Vec::new();
                    for (k, sp) in &entries {
                        match k.as_str() {
                            "" => st_entries.push((String::new(), *sp)),
                            "/image" => st_entries.push(("/base".to_string(), *sp)),
                            "/name" | "/platform" => st_entries.push((k.clone(), *sp)),
                            _ => {}
                        }
                    }
                    stages.push((st, vec![i], st_entries));
                }
                "arg" if stage.is_none() => {
                    if let Some(pairs) = obj.get("pairs").and_then(Value::as_array) {
                        for (p, pair) in pairs.iter().enumerate() {
                            let n = global_args.len();
                            global_args.push(json!({
                                "name": pair.get("key").cloned().unwrap_or(Value::Null),
                                "default": pair.get("value").cloned().unwrap_or(Value::Null),
                                "line": instr.start_line,
                            }));
                            if let Some((_, sp)) =
                                entries.iter().find(|(k, _)| *k == format!("/pairs/{p}"))
                            {
                                self.map.insert(format!("/args/{n}"), *sp);
                            }
                        }
                    }
                }
                _ => {
                    if let Some(st) = stages.last_mut() {
                        st.1.push(i);
                    }
                }
            }
            if let Some(st) = stages.last_mut() {
                st.0.insert("end_line".into(), json!(instr.end_line));
            }
            instructions.push(obj);
            all_entries.push(entries);
        }

        for (i, entries) in all_entries.iter().enumerate() {
            for (k, sp) in entries {
                self.map.insert(format!("/instructions/{i}{k}"), *sp);
            }
        }
        let mut stage_values = Vec::new();
        for (s, (mut st, members, st_entries)) in stages.into_iter().enumerate() {
            for (k, sp) in st_entries {
                self.map.insert(format!("/stages/{s}{k}"), sp);
            }
            let mut copies = Vec::new();
            for (k, &i) in members.iter().enumerate() {
                copies.push(instructions[i].clone());
                for (suffix, sp) in &all_entries[i] {
                    self.map
                        .insert(format!("/stages/{s}/instructions/{k}{suffix}"), *sp);
                }
            }
            st.insert("instructions".into(), Value::Array(copies));
            stage_values.push(Value::Object(st));
        }

        let mut comments = Vec::new();
        for (c, comment) in tree.comments.iter().enumerate() {
            comments.push(json!({"text": comment.text, "line": comment.line}));
            let sp = self.span(comment.start, comment.end);
            self.map.insert(format!("/comments/{c}"), sp);
        }

        // Moved in, not through `json!`, which serializes a `Vec<Value>` into a copy.
        let mut doc = Map::new();
        doc.insert("directives".into(), Value::Object(directives));
        doc.insert("args".into(), Value::Array(global_args));
        doc.insert("stages".into(), Value::Array(stage_values));
        doc.insert("instructions".into(), Value::Array(instructions));
        doc.insert("comments".into(), Value::Array(comments));
        Value::Object(doc)
    }

    /// Builds one instruction object and its relative source-map entries.
    fn instruction(
        &mut self,
        instr: &Instr,
        node: &Node,
        stage: Option<usize>,
        ctx: &mut Context,
    ) -> (Map<String, Value>, Entries) {
        let mut e: Entries = Vec::new();
        let kw_src = instr.logical.src(node.kw_start);
        let whole = self.span(kw_src, instr.src_end.max(kw_src));
        e.push((String::new(), whole));
        e.push(("/cmd".into(), self.lspan(instr, node.kw_start, node.kw_end)));
        let kw_pos = self.idx.position(self.text, kw_src);
        let cmd = node.cmd();

        let mut o = Map::new();
        o.insert("cmd".into(), json!(cmd));
        o.insert("keyword".into(), json!(node.keyword));
        o.insert("line".into(), json!(instr.start_line));
        o.insert("end_line".into(), json!(instr.end_line));
        o.insert("column".into(), json!(kw_pos.column));
        o.insert("stage".into(), json!(stage));
        let original = self.text[kw_src..instr.src_end.max(kw_src)].trim_end_matches('\r');
        o.insert("original".into(), json!(original));

        let mut flags = Vec::new();
        for (j, f) in node.flags.iter().enumerate() {
            let body = f.text.strip_prefix("--").unwrap_or(&f.text);
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (body, None),
            };
            flags.push(json!({"name": name, "value": value}));
            e.push((format!("/flags/{j}"), self.word_span(instr, f)));
        }
        o.insert("flags".into(), Value::Array(flags));
        o.insert("json".into(), json!(node.json));
        let args: Vec<Value> = node.args.iter().map(|w| json!(w.text)).collect();
        for (k, w) in node.args.iter().enumerate() {
            e.push((format!("/args/{k}"), self.word_span(instr, w)));
        }
        o.insert("args".into(), Value::Array(args));
        o.insert("value".into(), json!(node.rest));
        if !node.rest.is_empty() {
            e.push((
                "/value".into(),
                self.lspan(instr, node.rest_start, node.rest_end),
            ));
        }

        let flag = |name: &str| -> Option<(usize, &str)> {
            node.flags.iter().enumerate().find_map(|(j, f)| {
                let body = f.text.strip_prefix("--")?;
                let (n, v) = body.split_once('=')?;
                (n.eq_ignore_ascii_case(name)).then_some((j, v))
            })
        };
        let heredocs = |e: &mut Entries| -> Value {
            let mut out = Vec::new();
            for (h, doc) in instr.heredocs.iter().enumerate() {
                let content = if doc.chomp {
                    doc.content
                        .split_inclusive('\n')
                        .map(|l| l.trim_start_matches('\t'))
                        .collect::<String>()
                } else {
                    doc.content.clone()
                };
                out.push(json!({
                    "delimiter": doc.name,
                    "content": content,
                    "strip_tabs": doc.chomp,
                    "quoted": !doc.expand,
                    "line": doc.line,
                    "end_line": doc.end_line,
                }));
                e.push((format!("/heredocs/{h}"), self.span(doc.body_start, doc.end)));
            }
            Value::Array(out)
        };

        match cmd.as_str() {
            "run" => {
                let mut mounts = Vec::new();
                for (j, f) in node.flags.iter().enumerate() {
                    let body = f.text.strip_prefix("--").unwrap_or(&f.text);
                    if let Some(("mount", v)) = body.split_once('=') {
                        let m = mounts.len();
                        mounts.push(parse_mount(v));
                        e.push((
                            format!("/mounts/{m}"),
                            self.word_span(instr, &node.flags[j]),
                        ));
                    }
                }
                o.insert("mounts".into(), Value::Array(mounts));
                o.insert(
                    "network".into(),
                    json!(flag("network").map(|(_, v)| v.to_string())),
                );
                o.insert("heredocs".into(), heredocs(&mut e));
            }
            "copy" | "add" => {
                let n = node.args.len();
                let sources: Vec<Value> = node
                    .args
                    .iter()
                    .take(n.saturating_sub(1))
                    .map(|w| json!(w.text))
                    .collect();
                for (k, w) in node.args.iter().take(n.saturating_sub(1)).enumerate() {
                    e.push((format!("/sources/{k}"), self.word_span(instr, w)));
                }
                o.insert("sources".into(), Value::Array(sources));
                let dest = node.args.last().filter(|_| n >= 2);
                o.insert("dest".into(), json!(dest.map(|w| w.text.clone())));
                if let Some(w) = dest {
                    e.push(("/dest".into(), self.word_span(instr, w)));
                }
                match flag("from") {
                    Some((j, v)) => {
                        o.insert("from".into(), json!(v));
                        e.push(("/from".into(), self.word_span(instr, &node.flags[j])));
                    }
                    None => {
                        o.insert("from".into(), Value::Null);
                    }
                }
                o.insert("heredocs".into(), heredocs(&mut e));
            }
            "from" => {
                let (image, image_span) = self.base_image(instr, node, ctx);
                if let Some(sp) = image_span {
                    e.push(("/image".into(), sp));
                }
                let name = if node.args.len() >= 3 && node.args[1].text.eq_ignore_ascii_case("as") {
                    e.push(("/name".into(), self.word_span(instr, &node.args[2])));
                    Some(node.args[2].text.clone())
                } else {
                    None
                };
                ctx.stage_names.push(name.clone());
                ctx.seen_from = true;
                o.insert("image".into(), image);
                o.insert("name".into(), json!(name));
                match flag("platform") {
                    Some((j, v)) => {
                        o.insert("platform".into(), json!(v));
                        e.push(("/platform".into(), self.word_span(instr, &node.flags[j])));
                    }
                    None => {
                        o.insert("platform".into(), Value::Null);
                    }
                }
            }
            "env" | "label" => {
                let mut pairs = Vec::new();
                if node.legacy_kv {
                    if let [k, v] = node.args.as_slice() {
                        pairs.push(json!({"key": k.text, "value": self.unquote(&v.text)}));
                        e.push(("/pairs/0".into(), self.lspan(instr, k.start, v.end)));
                        e.push(("/pairs/0/key".into(), self.word_span(instr, k)));
                        e.push(("/pairs/0/value".into(), self.word_span(instr, v)));
                    }
                } else {
                    for (p, w) in node.args.iter().enumerate() {
                        let Some((k, v)) = w.text.split_once('=') else {
                            continue;
                        };
                        pairs.push(json!({"key": self.unquote(k), "value": self.unquote(v)}));
                        let eq = w.start + k.len();
                        e.push((format!("/pairs/{p}"), self.word_span(instr, w)));
                        e.push((format!("/pairs/{p}/key"), self.lspan(instr, w.start, eq)));
                        e.push((
                            format!("/pairs/{p}/value"),
                            self.lspan(instr, eq + 1, w.end),
                        ));
                    }
                }
                o.insert("pairs".into(), Value::Array(pairs));
            }
            "arg" => {
                let mut pairs = Vec::new();
                for (p, w) in node.args.iter().enumerate() {
                    let (k, v) = match w.text.split_once('=') {
                        Some((k, v)) => (k.to_string(), Some(self.unquote(v))),
                        None => (w.text.clone(), None),
                    };
                    if !ctx.seen_from {
                        let resolved = v.as_ref().map(|v| {
                            let raw = w.text.split_once('=').map(|(_, r)| r).unwrap_or(v);
                            let env = |n: &str| ctx.lookup(n);
                            self.expand(instr, w, raw, &env, &mut Vec::new())
                        });
                        ctx.global_args.insert(k.clone(), resolved);
                    }
                    pairs.push(json!({"key": k, "value": v}));
                    e.push((format!("/pairs/{p}"), self.word_span(instr, w)));
                }
                let first = pairs.first().cloned().unwrap_or(Value::Null);
                o.insert(
                    "name".into(),
                    first.get("key").cloned().unwrap_or(Value::Null),
                );
                o.insert(
                    "default".into(),
                    first.get("value").cloned().unwrap_or(Value::Null),
                );
                o.insert("pairs".into(), Value::Array(pairs));
            }
            "user" => {
                let raw = node.rest.as_str();
                let (user, group) = match raw.split_once(':') {
                    Some((u, g)) => (u, Some(g)),
                    None => (raw, None),
                };
                o.insert("user".into(), json!(user));
                o.insert("group".into(), json!(group));
                if let Some(w) = node.args.first() {
                    e.push(("/user".into(), self.word_span(instr, w)));
                }
            }
            "expose" => {
                let mut ports = Vec::new();
                for (p, w) in node.args.iter().enumerate() {
                    let (port, proto) = match w.text.split_once('/') {
                        Some((p, pr)) => (p, pr.to_ascii_lowercase()),
                        None => (w.text.as_str(), "tcp".to_string()),
                    };
                    let port = match port.parse::<u64>() {
                        Ok(n) => json!(n),
                        Err(_) => json!(port),
                    };
                    ports.push(json!({"port": port, "protocol": proto}));
                    e.push((format!("/ports/{p}"), self.word_span(instr, w)));
                }
                o.insert("ports".into(), Value::Array(ports));
            }
            "workdir" => {
                o.insert("path".into(), json!(node.rest));
                if let Some(w) = node.args.first() {
                    e.push(("/path".into(), self.word_span(instr, w)));
                }
            }
            "healthcheck" => {
                let none = node
                    .args
                    .first()
                    .is_some_and(|w| w.text.eq_ignore_ascii_case("none"));
                o.insert("none".into(), json!(none));
            }
            "onbuild" => match &node.trigger {
                Some(t) => {
                    let (tobj, tentries) = self.instruction(instr, t, stage, ctx);
                    o.insert("trigger".into(), Value::Object(tobj));
                    for (k, sp) in tentries {
                        e.push((format!("/trigger{k}"), sp));
                    }
                }
                None => {
                    o.insert("trigger".into(), Value::Null);
                }
            },
            _ => {}
        }
        (o, e)
    }

    /// The `image` object of a FROM and the span of its image token.
    fn base_image(&mut self, instr: &Instr, node: &Node, ctx: &Context) -> (Value, Option<Span>) {
        let Some(w) = node.args.first() else {
            return (Value::Null, None);
        };
        let mut unresolved = Vec::new();
        let env = |n: &str| ctx.lookup(n);
        let image = self.expand(instr, w, &w.text, &env, &mut unresolved);
        let stage = ctx
            .stage_names
            .iter()
            .position(|n| n.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(&image)));
        let scratch = image.eq_ignore_ascii_case("scratch");
        let parsed =
            (!scratch && stage.is_none() && !image.is_empty()).then(|| parse_image_ref(&image));
        let v = json!({
            "raw": w.text,
            "image": image,
            "registry": parsed.as_ref().map(|p| p.registry.clone()),
            "repository": parsed.as_ref().map(|p| p.repository.clone()),
            "tag": parsed.as_ref().and_then(|p| p.tag.clone()),
            "digest": parsed.as_ref().and_then(|p| p.digest.clone()),
            "scratch": scratch,
            "stage": stage,
            "unresolved": unresolved,
        });
        (v, Some(self.word_span(instr, w)))
    }
}

/// Parses a `--mount` value (`type=cache,target=/x,ro`) into an object. Keys are
/// lower-cased; a field without `=` becomes `true`; `type` defaults to `bind` as in
/// BuildKit.
fn parse_mount(v: &str) -> Value {
    let mut m = Map::new();
    for field in split_csv(v) {
        let field = field.trim();
        if field.is_empty() {
            continue;
        }
        match field.split_once('=') {
            Some((k, val)) => {
                m.insert(k.trim().to_ascii_lowercase(), json!(val));
            }
            None => {
                m.insert(field.to_ascii_lowercase(), json!(true));
            }
        }
    }
    if !m.contains_key("type") {
        m.insert("type".into(), json!("bind"));
    }
    Value::Object(m)
}

/// Splits one CSV record (double quotes group, `""` is a literal quote).
fn split_csv(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}
