//! Other renderings of a parsed Dockerfile document: conftest's input shape (so policies
//! written for `conftest` run unchanged) and BuildKit's AST dump (so the parser can be
//! checked against BuildKit's own test expectations).
//!
//! Both are computed from the document's JSON value alone, which proves the value keeps
//! everything BuildKit's AST has.

use serde_json::{json, Value};

use super::words::go_quote;
use crate::inputs::Document;

const KNOWN: [&str; 18] = [
    "add",
    "arg",
    "cmd",
    "copy",
    "entrypoint",
    "env",
    "expose",
    "from",
    "healthcheck",
    "label",
    "maintainer",
    "onbuild",
    "run",
    "shell",
    "stopsignal",
    "user",
    "volume",
    "workdir",
];

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn args_of(v: &Value) -> Vec<String> {
    v.get("args")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|s| s.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The flag words as BuildKit keeps them (`--name=value`, quotes removed).
fn flag_words(v: &Value) -> Vec<String> {
    v.get("flags")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|f| match f.get("value").and_then(Value::as_str) {
                    Some(val) => format!("--{}={}", str_of(f, "name"), val),
                    None => format!("--{}", str_of(f, "name")),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The values of BuildKit's `Next` chain for an instruction (not ONBUILD).
fn node_values(v: &Value) -> Vec<String> {
    let cmd = str_of(v, "cmd");
    let args = args_of(v);
    match cmd {
        "env" | "label" => {
            let legacy = args.first().is_some_and(|a| !a.contains('='));
            if legacy {
                let mut out = args;
                out.push(String::new());
                out
            } else {
                let mut out = Vec::new();
                for a in args {
                    let (k, val) = a.split_once('=').unwrap_or((a.as_str(), ""));
                    out.push(k.to_string());
                    out.push(val.to_string());
                    out.push("=".to_string());
                }
                out
            }
        }
        c if KNOWN.contains(&c) => args,
        // BuildKit keeps unknown instructions with one empty argument node.
        _ => vec![String::new()],
    }
}

fn dump_node(v: &Value) -> String {
    let mut s = str_of(v, "cmd").to_string();
    let flags = flag_words(v);
    if !flags.is_empty() {
        let quoted: Vec<String> = flags.iter().map(|f| go_quote(f)).collect();
        s.push_str(&format!(" [{}]", quoted.join(" ")));
    }
    if str_of(v, "cmd") == "onbuild" {
        if let Some(t) = v.get("trigger").filter(|t| !t.is_null()) {
            s.push_str(&format!(" ({})", dump_node(t)));
        }
    } else {
        for n in node_values(v) {
            s.push(' ');
            s.push_str(&go_quote(&n));
        }
    }
    s.trim().to_string()
}

/// The document in the format of BuildKit's `Node.Dump()` followed by a newline, i.e.
/// exactly the `result` files of BuildKit's parser test cases.
pub fn buildkit_dump(doc: &Document) -> String {
    let mut out = String::new();
    if let Some(list) = doc.value.get("instructions").and_then(Value::as_array) {
        for ins in list {
            out.push('(');
            out.push_str(&dump_node(ins));
            out.push_str(")\n");
        }
    }
    out
}

/// The document in conftest's Dockerfile input shape: a flat array of
/// `{Cmd, SubCmd, JSON, Flags, Value, Stage}` (comment lines before an instruction
/// become `{"Cmd": "comment", "Value": [text]}` entries), plus the source line of each
/// entry so findings on `input[i]` map back to the file.
///
/// This is what a conftest policy sees as `input` (conftest wraps it in one more array
/// and then treats that outer array as a list of documents).
pub fn conftest_view(doc: &Document) -> (Value, Vec<u32>) {
    let empty = Vec::new();
    let instructions = doc
        .value
        .get("instructions")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let comments = doc
        .value
        .get("comments")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let mut out = Vec::new();
    let mut lines = Vec::new();
    let mut prev_end = 0u64;
    let mut stages = 0usize;
    for ins in instructions {
        let line = ins.get("line").and_then(Value::as_u64).unwrap_or(0);
        if str_of(ins, "cmd") == "from" {
            stages += 1;
        }
        let stage = stages.saturating_sub(1);
        // BuildKit's PrevComment: comments since the previous instruction, reset by an
        // empty `#` line.
        let mut pending: Vec<(&str, u64)> = Vec::new();
        for c in comments {
            let cl = c.get("line").and_then(Value::as_u64).unwrap_or(0);
            if cl > prev_end && cl < line {
                let text = str_of(c, "text");
                if text.is_empty() {
                    pending.clear();
                } else {
                    pending.push((text, cl));
                }
            }
        }
        for (text, cl) in pending {
            out.push(json!({
                "Cmd": "comment", "SubCmd": "", "JSON": false, "Flags": null,
                "Value": [text], "Stage": stage,
            }));
            lines.push(cl as u32);
        }
        let flags = flag_words(ins);
        let flags = if flags.is_empty() && str_of(ins, "value").is_empty() {
            Value::Null
        } else {
            json!(flags)
        };
        let (target, sub) = match ins.get("trigger").filter(|t| !t.is_null()) {
            Some(t) => (t, str_of(t, "keyword").to_string()),
            None => (ins, String::new()),
        };
        let values = node_values(target);
        out.push(json!({
            "Cmd": str_of(ins, "cmd"),
            "SubCmd": sub,
            "JSON": target.get("json").and_then(Value::as_bool).unwrap_or(false),
            "Flags": flags,
            "Value": if values.is_empty() { Value::Null } else { json!(values) },
            "Stage": stage,
        }));
        lines.push(line as u32);
        prev_end = ins.get("end_line").and_then(Value::as_u64).unwrap_or(line);
    }
    (Value::Array(out), lines)
}
