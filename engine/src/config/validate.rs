//! Schema validation of a `.policy.yaml`, by hand over the parsed document, so that every
//! problem points at the line and column of the key or value that causes it (a serde
//! derive would lose positions). Every problem is collected, not only the first.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::options::{Config, Date, Exception, Pattern, RuleEntry, RuleOverride};
use super::Problem;
pub use crate::hint::suggest;
use crate::inputs::Document;
use crate::source::{json_pointer, Position};
use crate::{PathSegment, Severity};

/// The top-level keys, in documentation order.
pub const KEYS: [&str; 10] = [
    "policies",
    "data",
    "fail-on",
    "exclude",
    "pss",
    "rules",
    "settings",
    "exceptions",
    "images",
    "insecure-registries",
];

/// The keys of one `exceptions` entry.
const EXCEPTION_KEYS: [&str; 4] = ["rule", "path", "reason", "expires"];

struct Checker<'a> {
    doc: &'a Document,
    problems: Vec<Problem>,
}

fn ptr(path: &[PathSegment]) -> String {
    json_pointer(path)
}

fn key(k: &str) -> PathSegment {
    PathSegment::Key(k.to_string())
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn hint(word: &str, candidates: &[&str]) -> String {
    match suggest(word, candidates.iter().copied()) {
        Some(s) => format!(" (did you mean `{s}`?)"),
        None => format!(" (expected one of: {})", candidates.join(", ")),
    }
}

impl Checker<'_> {
    /// The position of the value at `path` (or its nearest recorded ancestor).
    fn value_pos(&self, path: &[PathSegment]) -> Position {
        match self.doc.source_map.get(&ptr(path)) {
            Some(span) => span.start,
            None => self.doc.source_map.resolve(path).span.start,
        }
    }

    /// The position of the key of the value at `path`, falling back to the value.
    fn key_pos(&self, path: &[PathSegment]) -> Position {
        self.doc
            .source_map
            .get_key(&ptr(path))
            .map(|s| s.start)
            .unwrap_or_else(|| self.value_pos(path))
    }

    fn at(&mut self, pos: Position, message: String) {
        self.problems.push(Problem {
            line: pos.line,
            column: pos.column,
            message,
        });
    }

    fn wrong_type(&mut self, path: &[PathSegment], what: &str, expected: &str, v: &Value) {
        let pos = self.value_pos(path);
        self.at(
            pos,
            format!("`{what}` must be {expected}, found {}", type_name(v)),
        );
    }

    fn string<'v>(&mut self, path: &[PathSegment], what: &str, v: &'v Value) -> Option<&'v str> {
        match v {
            Value::String(s) => Some(s),
            other => {
                self.wrong_type(path, what, "a string", other);
                None
            }
        }
    }

    /// A list of strings (a single string is accepted as a list of one).
    fn strings(&mut self, path: &[PathSegment], what: &str, v: &Value) -> Vec<(String, Position)> {
        match v {
            Value::String(s) => vec![(s.clone(), self.value_pos(path))],
            Value::Array(items) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let mut p = path.to_vec();
                    p.push(PathSegment::Index(i));
                    if let Some(s) = self.string(&p, &format!("{what}[{i}]"), item) {
                        out.push((s.to_string(), self.value_pos(&p)));
                    }
                }
                out
            }
            other => {
                self.wrong_type(path, what, "a list of strings", other);
                Vec::new()
            }
        }
    }

    fn severity(&mut self, path: &[PathSegment], what: &str, v: &Value) -> Option<Severity> {
        let s = self.string(path, what, v)?;
        let sev = Severity::parse(s);
        if sev.is_none() {
            let names: Vec<&str> = Severity::ALL.iter().rev().map(|s| s.as_str()).collect();
            let pos = self.value_pos(path);
            self.at(
                pos,
                format!("`{what}`: unknown severity {s:?}{}", hint(s, &names)),
            );
        }
        sev
    }

    fn rules(&mut self, v: &Value) -> BTreeMap<String, RuleEntry> {
        let path = [key("rules")];
        let mut out = BTreeMap::new();
        let Value::Object(map) = v else {
            self.wrong_type(
                &path,
                "rules",
                "a mapping of rule ID to `off` or a severity",
                v,
            );
            return out;
        };
        for (id, action) in map {
            let p = [key("rules"), key(id)];
            let position = self.key_pos(&p);
            let action = match action {
                Value::String(s) if s.eq_ignore_ascii_case("off") => Some(RuleOverride::Off),
                Value::Bool(false) => Some(RuleOverride::Off),
                _ => self
                    .severity(&p, &format!("rules.{id}"), action)
                    .map(RuleOverride::Severity),
            };
            if let Some(action) = action {
                out.insert(id.clone(), RuleEntry { action, position });
            }
        }
        out
    }

    fn exceptions(&mut self, v: &Value) -> Vec<Exception> {
        let mut out = Vec::new();
        let Value::Array(items) = v else {
            self.wrong_type(&[key("exceptions")], "exceptions", "a list", v);
            return out;
        };
        for (i, item) in items.iter().enumerate() {
            let base = [key("exceptions"), PathSegment::Index(i)];
            let what = format!("exceptions[{i}]");
            let Value::Object(map) = item else {
                self.wrong_type(
                    &base,
                    &what,
                    "a mapping with `rule`, `path` and `reason`",
                    item,
                );
                continue;
            };
            let position = self.value_pos(&base);
            for k in map.keys() {
                if !EXCEPTION_KEYS.contains(&k.as_str()) {
                    let mut p = base.to_vec();
                    p.push(key(k));
                    let pos = self.key_pos(&p);
                    self.at(
                        pos,
                        format!("unknown key `{k}` in {what}{}", hint(k, &EXCEPTION_KEYS)),
                    );
                }
            }
            let field = |k: &str| {
                let mut p = base.to_vec();
                p.push(key(k));
                p
            };
            let required = |c: &mut Self, k: &str| -> Option<String> {
                match map.get(k) {
                    None => {
                        c.at(
                            position,
                            format!("{what} has no `{k}`: every exception needs `rule`, `path` and `reason`"),
                        );
                        None
                    }
                    Some(v) => {
                        let s = c
                            .string(&field(k), &format!("{what}.{k}"), v)?
                            .trim()
                            .to_string();
                        if s.is_empty() {
                            let pos = c.value_pos(&field(k));
                            c.at(pos, format!("`{what}.{k}` must not be empty"));
                            return None;
                        }
                        Some(s)
                    }
                }
            };
            let rule = required(self, "rule");
            let path = required(self, "path");
            let reason = required(self, "reason");
            let matcher = match &path {
                Some(p) => match Pattern::new([p.as_str()]) {
                    Ok(m) => Some(m),
                    Err((_, msg)) => {
                        let pos = self.value_pos(&field("path"));
                        self.at(pos, format!("`{what}.path`: {msg}"));
                        None
                    }
                },
                None => None,
            };
            let expires = match map.get("expires") {
                None | Some(Value::Null) => Some(None),
                Some(v) => {
                    let p = field("expires");
                    match self.string(&p, &format!("{what}.expires"), v) {
                        Some(s) => match Date::parse(s.trim()) {
                            Some(d) => Some(Some(d)),
                            None => {
                                let pos = self.value_pos(&p);
                                self.at(
                                    pos,
                                    format!(
                                        "`{what}.expires`: {s:?} is not a date: use YYYY-MM-DD"
                                    ),
                                );
                                None
                            }
                        },
                        None => None,
                    }
                }
            };
            if let (Some(rule), Some(path), Some(reason), Some(matcher), Some(expires)) =
                (rule, path, reason, matcher, expires)
            {
                out.push(Exception {
                    rule,
                    path,
                    matcher,
                    reason,
                    expires,
                    position,
                });
            }
        }
        out
    }
}

/// Validates a parsed configuration `doc` read from `file`, resolving paths against
/// `base` (the file's directory as shown) and `abs_base` (the same, absolute).
pub fn validate(
    file: &Path,
    base: &Path,
    abs_base: &Path,
    doc: &Document,
) -> Result<Config, Vec<Problem>> {
    let mut c = Checker {
        doc,
        problems: Vec::new(),
    };
    let mut config = Config {
        file: file.to_path_buf(),
        base: base.to_path_buf(),
        abs_base: abs_base.to_path_buf(),
        policies: Vec::new(),
        data: Vec::new(),
        fail_on: None,
        exclude: None,
        pss: None,
        rules: BTreeMap::new(),
        settings: None,
        exceptions: Vec::new(),
        images: Vec::new(),
        insecure_registries: Vec::new(),
    };
    let map = match &doc.value {
        Value::Object(map) => map,
        Value::Null => return Ok(config),
        other => {
            c.wrong_type(&[], "the configuration", "a mapping", other);
            return Err(c.problems);
        }
    };
    // `oci://` policy bundles are references, not paths.
    let resolve = |p: &str| -> PathBuf {
        if p.starts_with("oci://") {
            PathBuf::from(p)
        } else {
            base.join(p)
        }
    };
    for (k, v) in map {
        let path = [key(k)];
        match k.as_str() {
            "policies" => {
                config.policies = c
                    .strings(&path, k, v)
                    .iter()
                    .map(|(s, _)| resolve(s))
                    .collect();
            }
            "data" => {
                config.data = c
                    .strings(&path, k, v)
                    .iter()
                    .map(|(s, _)| resolve(s))
                    .collect();
            }
            "fail-on" => config.fail_on = c.severity(&path, k, v),
            "exclude" => {
                let globs = c.strings(&path, k, v);
                match Pattern::new(globs.iter().map(|(s, _)| s.as_str())) {
                    Ok(p) => config.exclude = Some(p),
                    Err((i, msg)) => {
                        let pos = globs.get(i).map_or_else(|| c.value_pos(&path), |g| g.1);
                        c.at(pos, format!("`exclude`: {msg}"));
                    }
                }
            }
            "pss" => {
                if let Some(s) = c.string(&path, k, v) {
                    match crate::eval::pss::parse_flag(s) {
                        Ok(_) => config.pss = Some(s.to_string()),
                        Err(e) => {
                            let pos = c.value_pos(&path);
                            c.at(pos, format!("`pss`: {e} (write LEVEL or LEVEL@VERSION, e.g. restricted@v1.30)"));
                        }
                    }
                }
            }
            "rules" => config.rules = c.rules(v),
            "settings" => match v {
                Value::Object(m) => config.settings = Some(m.clone()),
                Value::Null => {}
                other => c.wrong_type(&path, k, "a mapping", other),
            },
            "exceptions" => config.exceptions = c.exceptions(v),
            "images" => config.images = c.strings(&path, k, v),
            "insecure-registries" => {
                config.insecure_registries =
                    c.strings(&path, k, v).into_iter().map(|(s, _)| s).collect()
            }
            _ => {
                let pos = c.key_pos(&path);
                c.at(pos, format!("unknown key `{k}`{}", hint(k, &KEYS)));
            }
        }
    }
    if c.problems.is_empty() {
        Ok(config)
    } else {
        c.problems.sort_by_key(|p| (p.line, p.column));
        Err(c.problems)
    }
}
