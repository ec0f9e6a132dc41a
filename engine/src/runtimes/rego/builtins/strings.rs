//! String and JSON builtins with Go's semantics, as OPA has them.
//!
//! * `count` of a string counts code points (regorus counted UTF-16 units).
//! * `strings.count` counts non-overlapping matches, and an empty substring counts
//!   code points + 1, as Go's `strings.Count`.
//! * `upper`/`lower` use Go's one-rune-to-one-rune (simple) case mapping: `ß` stays `ß`.
//! * `json.marshal` escapes `<`, `>`, `&`, U+2028 and U+2029 as Go's encoder does.
//! * `glob.quote_meta` escapes every glob metacharacter, not only `*`.

use anyhow::{bail, Result};
use regorus::Value;

use super::{string_arg, type_name, Registrar};

pub(super) fn install(r: &mut Registrar<'_>) -> Result<()> {
    r.add("count", 1, count)?;
    r.add("strings.count", 2, strings_count)?;
    r.add("upper", 1, |a: &[Value]| {
        let s = string_arg(a, 0)?;
        Ok(Value::from(if s.is_ascii() {
            s.to_ascii_uppercase()
        } else {
            map_chars(s, upper_char)
        }))
    })?;
    // ASCII text (nearly all of it: Dockerfile scripts, image names) maps byte by byte,
    // as Go does; the per-character Unicode path was 2% of a Dockerfile run.
    r.add("lower", 1, |a: &[Value]| {
        let s = string_arg(a, 0)?;
        Ok(Value::from(if s.is_ascii() {
            s.to_ascii_lowercase()
        } else {
            map_chars(s, lower_char)
        }))
    })?;
    r.add("json.marshal", 1, |a: &[Value]| {
        Ok(Value::from(go_json(a.first().unwrap_or(&Value::Null))?))
    })?;
    r.add("glob.quote_meta", 1, |a: &[Value]| {
        let s = string_arg(a, 0)?;
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            if matches!(c, '*' | '?' | '[' | ']' | '{' | '}' | '\\') {
                out.push('\\');
            }
            out.push(c);
        }
        Ok(Value::from(out))
    })?;
    Ok(())
}

fn count(args: &[Value]) -> Result<Value> {
    let n = match args.first() {
        Some(Value::String(s)) => s.chars().count(),
        Some(Value::Array(a)) => a.len(),
        Some(Value::Set(s)) => s.len(),
        Some(Value::Object(o)) => o.len(),
        Some(other) => bail!(
            "operand 1 must be one of {{array, object, set, string}} but got {}",
            type_name(other)
        ),
        None => bail!("missing operand"),
    };
    Ok(Value::from(n))
}

fn strings_count(args: &[Value]) -> Result<Value> {
    let s = string_arg(args, 0)?;
    let sub = string_arg(args, 1)?;
    let n = if sub.is_empty() {
        s.chars().count() + 1
    } else {
        s.matches(sub).count()
    };
    Ok(Value::from(n))
}

fn map_chars(s: &str, f: fn(char) -> char) -> String {
    let mut out = String::with_capacity(s.len());
    out.extend(s.chars().map(f));
    out
}

/// Go's `unicode.ToUpper`: a rune maps to one rune, or to itself.
fn upper_char(c: char) -> char {
    let mut it = c.to_uppercase();
    match (it.next(), it.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// Go's `unicode.ToLower`.
fn lower_char(c: char) -> char {
    if c == '\u{130}' {
        return 'i';
    }
    let mut it = c.to_lowercase();
    match (it.next(), it.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// JSON text as Go's `encoding/json` writes it (object keys sorted, HTML-safe escapes).
pub(super) fn go_json(v: &Value) -> Result<String> {
    let text = serde_json::to_string(v)?;
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    Ok(out)
}
