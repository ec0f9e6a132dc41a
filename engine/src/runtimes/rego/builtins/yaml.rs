//! `yaml.unmarshal` as OPA has it: YAML 1.1 scalars, the first document of a stream.
//!
//! OPA decodes YAML with `sigs.k8s.io/yaml` on `go-yaml` v2, which resolves plain
//! scalars by YAML 1.1 rules: `yes`/`no`/`on`/`off`/`y`/`n` are booleans, `0644` is
//! octal (420), `1_000` is 1000; non-string mapping keys become their text; a stream of
//! several documents gives the first. regorus reads YAML 1.2 (where all of these stay
//! strings) and refuses a stream, so a policy that reads an embedded manifest meant
//! something else. This builds values from saphyr-parser's events with those rules,
//! with a cap on nesting and on the nodes aliases may copy (a "billion laughs" string
//! is refused, not expanded).

use std::collections::{BTreeMap, HashMap};

use anyhow::{anyhow, bail, Result};
use regorus::Value;
use saphyr_parser::{Event, Parser, ScalarStyle};

use super::{string_arg, Registrar};

/// Deepest nesting accepted.
const MAX_DEPTH: usize = 512;
/// Most nodes aliases may copy in one call.
const MAX_ALIAS_NODES: usize = 100_000;

pub(super) fn install(r: &mut Registrar<'_>) -> Result<()> {
    r.add("yaml.unmarshal", 1, |a: &[Value]| {
        unmarshal(string_arg(a, 0)?)
    })?;
    r.add("yaml.is_valid", 1, |a: &[Value]| {
        Ok(Value::from(match a.first() {
            Some(Value::String(s)) => unmarshal(s).is_ok(),
            _ => false,
        }))
    })?;
    Ok(())
}

enum Frame {
    Seq(Vec<Value>, usize),
    Map(BTreeMap<Value, Value>, Option<(Value, bool)>, usize),
}

/// The first document of `text` as a value (`null` when there is none).
pub(super) fn unmarshal(text: &str) -> Result<Value> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, (Value, usize)> = HashMap::new();
    let mut copied = 0usize;
    let mut root: Option<Value> = None;
    while let Some(next) = parser.next_event() {
        let (event, _) =
            next.map_err(|e| anyhow!("yaml: line {}: {}", e.marker().line(), e.info()))?;
        let (value, anchor, size) = match event {
            Event::DocumentEnd if root.is_some() => break,
            Event::SequenceStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    bail!("yaml: exceeded max depth of {MAX_DEPTH}");
                }
                stack.push(Frame::Seq(Vec::new(), anchor));
                continue;
            }
            Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    bail!("yaml: exceeded max depth of {MAX_DEPTH}");
                }
                stack.push(Frame::Map(BTreeMap::new(), None, anchor));
                continue;
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(items, anchor)) => {
                    let n = items.len() + 1;
                    (Value::from(items), anchor, n)
                }
                _ => bail!("yaml: unbalanced sequence"),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(fields, _, anchor)) => {
                    let n = fields.len() + 1;
                    (Value::from(fields), anchor, n)
                }
                _ => bail!("yaml: unbalanced mapping"),
            },
            Event::Scalar(text, style, anchor, tag) => {
                let tag = tag.map(|t| t.suffix.clone());
                let merge = style == ScalarStyle::Plain && text == "<<";
                let mut v = resolve(&text, style, tag.as_deref());
                if merge {
                    v = Value::from("<<");
                }
                (v, anchor, 1)
            }
            Event::Alias(id) => {
                let (v, n) = anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| anyhow!("yaml: unknown anchor referenced"))?;
                copied = copied.saturating_add(n);
                if copied > MAX_ALIAS_NODES {
                    bail!("yaml: document contains excessive aliasing");
                }
                (v, 0, n)
            }
            _ => continue,
        };
        if anchor != 0 {
            anchors.insert(anchor, (value.clone(), size));
        }
        match stack.last_mut() {
            None => root = Some(value),
            Some(Frame::Seq(items, _)) => items.push(value),
            Some(Frame::Map(fields, pending, _)) => match pending.take() {
                None => {
                    let is_merge = value == Value::from("<<");
                    *pending = Some((key_of(value), is_merge));
                }
                Some((_, true)) => merge_into(fields, &value)?,
                Some((key, false)) => {
                    fields.insert(key, value);
                }
            },
        }
    }
    Ok(root.unwrap_or(Value::Null))
}

/// `<<: *base` (or a list of them): keys not already present are copied.
fn merge_into(fields: &mut BTreeMap<Value, Value>, value: &Value) -> Result<()> {
    match value {
        Value::Object(o) => {
            for (k, v) in o.iter() {
                fields.entry(k.clone()).or_insert_with(|| v.clone());
            }
            Ok(())
        }
        Value::Array(items) => {
            for item in items.iter() {
                merge_into(fields, item)?;
            }
            Ok(())
        }
        _ => bail!("yaml: map merge requires map or sequence of maps as the value"),
    }
}

/// JSON object keys are strings: a resolved key becomes its text.
fn key_of(v: Value) -> Value {
    match &v {
        Value::String(_) => v,
        Value::Null => Value::from("null"),
        other => Value::from(other.to_string()),
    }
}

/// A scalar by go-yaml v2's YAML 1.1 rules.
pub(super) fn resolve(text: &str, style: ScalarStyle, tag: Option<&str>) -> Value {
    match tag {
        Some("str") => return Value::from(text),
        Some("null") => return Value::Null,
        _ => {}
    }
    if style != ScalarStyle::Plain {
        return Value::from(text);
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Value::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Value::Bool(false)
        }
        _ => {}
    }
    let first = text.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return Value::from(text);
    }
    if let Some(n) = go_parse_int(&text.replace('_', "")) {
        return Value::from(n);
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    // go-yaml v2's float pattern is YAML 1.2 core's (sign stripped).
    if crate::inputs::yaml::is_core_float(digits) {
        if let Ok(f) = text.parse::<f64>() {
            return Value::from(f);
        }
    }
    Value::from(text)
}

/// Go's `strconv.ParseInt(s, 0, 64)`: `0x`, `0o`/`0`, `0b` prefixes and a sign.
fn go_parse_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if let Some(h) = body.strip_prefix("0x").or(body.strip_prefix("0X")) {
        (16, h)
    } else if let Some(b) = body.strip_prefix("0b").or(body.strip_prefix("0B")) {
        (2, b)
    } else if let Some(o) = body.strip_prefix("0o").or(body.strip_prefix("0O")) {
        (8, o)
    } else if body.len() > 1 && body.starts_with('0') {
        (8, &body[1..])
    } else {
        (10, body)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let n = i128::from_str_radix(digits, radix).ok()?;
    i64::try_from(if neg { -n } else { n }).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> String {
        unmarshal(text)
            .map(|v| v.to_string())
            .unwrap_or_else(|e| format!("error: {e}"))
    }

    #[test]
    fn yaml_1_1_scalars() {
        assert_eq!(
            json("a: yes\nb: off\nc: 0644\nd: 1_000\ne: 0x1F\nf: \"yes\"\ng: ~\nh: 1.5"),
            r#"{"a":true,"b":false,"c":420,"d":1000,"e":31,"f":"yes","g":null,"h":1.5}"#
        );
    }

    #[test]
    fn first_document_keys_and_merges() {
        assert_eq!(json("a: 1\n---\nb: 2\n"), r#"{"a":1}"#);
        // OPA (sigs.k8s.io/yaml over go-yaml v2) reads the value `y` as true as well.
        assert_eq!(json("1: x\nyes: y"), r#"{"1":"x","true":true}"#);
        assert_eq!(
            json("base: &b {x: 1}\nd:\n  <<: *b\n  y: 2"),
            r#"{"base":{"x":1},"d":{"true":2,"x":1}}"#
        );
        assert_eq!(json(""), "null");
        assert!(json("a: [").starts_with("error"));
    }
}
