//! Turning the values of entry rules into [`RawResult`]s.
//!
//! Results follow conftest's conventions: a string, or an object with `msg`. On top of
//! that an object may say where it points: `path` (an array of keys and indices, a JSON
//! Pointer string, or a dotted path), `line` (plus optional `end_line`/`column`), or an
//! instruction-like object under `instruction`, `node`, `resource` or `location` that
//! carries `line`. It may also override `severity` or pick another declared `id`.

use serde_json::Value;

use crate::runtimes::{RawLocation, RawResult};
use crate::{PathSegment, Severity};

use super::{EntryRule, RegoPackage};

/// Collects the results of one entry rule.
pub(crate) fn collect(
    value: &regorus::Value,
    entry: &EntryRule,
    _pkg: &RegoPackage,
    out: &mut Vec<RawResult>,
) {
    if matches!(value, regorus::Value::Undefined) {
        return;
    }
    let json = match serde_json::to_value(value) {
        Ok(j) => j,
        Err(_) => return,
    };
    match json {
        Value::Array(items) => items.iter().for_each(|i| push(i, entry, out)),
        // A boolean rule (`deny if { … }`) has no message: conftest counts it as a test
        // that passed, whatever its value, and so does this engine.
        Value::Bool(_) | Value::Null => {}
        Value::Object(ref map) if !map.contains_key("msg") && !map.contains_key("message") => {
            // A partial object rule (`deny[key] := value`): every value is a result.
            map.values().for_each(|i| push(i, entry, out));
        }
        other => push(&other, entry, out),
    }
}

fn push(item: &Value, entry: &EntryRule, out: &mut Vec<RawResult>) {
    let (message, location, severity) = match item {
        Value::String(s) => (s.clone(), RawLocation::default(), None),
        Value::Object(map) => {
            let message = map
                .get("msg")
                .or_else(|| map.get("message"))
                .map(|m| match m {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .unwrap_or_else(|| entry.meta.title.clone());
            let severity = map
                .get("severity")
                .and_then(Value::as_str)
                .and_then(Severity::parse);
            (message, location_of(map), severity)
        }
        Value::Bool(false) | Value::Null => return,
        other => (other.to_string(), RawLocation::default(), None),
    };
    out.push(RawResult {
        rule: entry.meta.clone(),
        level: entry.level,
        message,
        location,
        severity,
    });
}

fn as_u32(v: Option<&Value>) -> Option<u32> {
    v.and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n > 0)
}

/// Reads a location from a result object.
pub(crate) fn location_of(map: &serde_json::Map<String, Value>) -> RawLocation {
    let mut loc = RawLocation {
        path: map.get("path").and_then(parse_path),
        line: as_u32(map.get("line")).or_else(|| as_u32(map.get("StartLine"))),
        end_line: as_u32(map.get("end_line")).or_else(|| as_u32(map.get("EndLine"))),
        column: as_u32(map.get("column")),
        end_column: as_u32(map.get("end_column")),
    };
    if loc.path.is_none() && loc.line.is_none() {
        for key in ["instruction", "node", "resource", "location", "cmd"] {
            if let Some(Value::Object(inner)) = map.get(key) {
                let inner_loc = location_of(inner);
                if inner_loc.path.is_some() || inner_loc.line.is_some() {
                    loc = inner_loc;
                    break;
                }
            }
        }
    }
    loc
}

/// Parses `path`: an array of keys/indices, a JSON Pointer, or a dotted path with `[n]`.
pub(crate) fn parse_path(v: &Value) -> Option<Vec<PathSegment>> {
    match v {
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Some(PathSegment::Key(s.clone())),
                Value::Number(n) => n.as_u64().map(|n| PathSegment::Index(n as usize)),
                _ => None,
            })
            .collect(),
        Value::String(s) if s.starts_with('/') => Some(
            s[1..]
                .split('/')
                .map(|p| {
                    let p = p.replace("~1", "/").replace("~0", "~");
                    match p.parse::<usize>() {
                        Ok(i) => PathSegment::Index(i),
                        Err(_) => PathSegment::Key(p),
                    }
                })
                .collect(),
        ),
        Value::String(s) => {
            let mut out = Vec::new();
            for part in s.split('.').filter(|p| !p.is_empty()) {
                let mut rest = part;
                if let Some(br) = rest.find('[') {
                    if br > 0 {
                        out.push(PathSegment::Key(rest[..br].to_string()));
                    }
                    rest = &rest[br..];
                    while let Some(stripped) = rest.strip_prefix('[') {
                        let end = stripped.find(']')?;
                        out.push(PathSegment::Index(stripped[..end].parse().ok()?));
                        rest = &stripped[end + 1..];
                    }
                } else {
                    out.push(PathSegment::Key(rest.to_string()));
                }
            }
            Some(out)
        }
        _ => None,
    }
}

/// Flattens the value of conftest `exception` rules (a set of arrays of names).
pub(super) fn exception_names(value: &regorus::Value) -> Vec<String> {
    let Ok(json) = serde_json::to_value(value) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    walk(&json, &mut out);
    out
}
