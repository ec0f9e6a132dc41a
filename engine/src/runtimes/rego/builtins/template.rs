//! `strings.render_template`, OPA's Go `text/template` builtin, for the subset policies
//! use: `{{.field.path}}`, `{{.}}`, `{{range .list}}…{{end}}`, `{{if .x}}…{{else}}…{{end}}`
//! and the `{{-`/`-}}` trim markers. Anything else is an error naming the action, not
//! a silently wrong string.

use anyhow::{bail, Result};
use regorus::Value;

use super::{string_arg, Registrar};

pub(super) fn install(r: &mut Registrar<'_>) -> Result<()> {
    r.add("strings.render_template", 2, |a: &[Value]| {
        let template = string_arg(a, 0)?;
        let vars = a.get(1).cloned().unwrap_or(Value::Null);
        let nodes = parse(template)?;
        let mut out = String::new();
        render(&nodes, &vars, &mut out)?;
        Ok(Value::from(out))
    })?;
    Ok(())
}

enum Node {
    Text(String),
    Field(Vec<String>),
    Range(Vec<String>, Vec<Node>),
    If(Vec<String>, Vec<Node>, Vec<Node>),
}

enum Token {
    Text(String),
    Action(String),
}

fn tokens(t: &str) -> Result<Vec<Token>> {
    let mut out = Vec::new();
    let mut rest = t;
    while let Some(open) = rest.find("{{") {
        let mut text = rest[..open].to_string();
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            bail!("template: unclosed action");
        };
        let mut action = &after[..close];
        if let Some(a) = action.strip_prefix('-') {
            text = text.trim_end().to_string();
            action = a;
        }
        let mut trim_next = false;
        if let Some(a) = action.strip_suffix('-') {
            trim_next = true;
            action = a;
        }
        out.push(Token::Text(text));
        out.push(Token::Action(action.trim().to_string()));
        rest = &after[close + 2..];
        if trim_next {
            rest = rest.trim_start();
        }
    }
    out.push(Token::Text(rest.to_string()));
    Ok(out)
}

fn field(expr: &str) -> Result<Vec<String>> {
    if expr == "." {
        return Ok(Vec::new());
    }
    let Some(path) = expr.strip_prefix('.') else {
        bail!("template: unsupported action {{{{{expr}}}}}");
    };
    if path.is_empty() || path.contains(|c: char| c.is_whitespace() || c == '(' || c == '|') {
        bail!("template: unsupported action {{{{{expr}}}}}");
    }
    Ok(path.split('.').map(str::to_string).collect())
}

fn parse(t: &str) -> Result<Vec<Node>> {
    let toks = tokens(t)?;
    let mut it = toks.into_iter().peekable();
    let (nodes, end) = parse_until(&mut it)?;
    if end.is_some() {
        bail!("template: unexpected {{{{end}}}}");
    }
    Ok(nodes)
}

/// Nodes up to `{{end}}`/`{{else}}` (returned) or the end of input (`None`).
fn parse_until(
    it: &mut std::iter::Peekable<std::vec::IntoIter<Token>>,
) -> Result<(Vec<Node>, Option<String>)> {
    let mut nodes = Vec::new();
    while let Some(tok) = it.next() {
        match tok {
            Token::Text(s) => nodes.push(Node::Text(s)),
            Token::Action(a) if a == "end" || a == "else" => return Ok((nodes, Some(a))),
            Token::Action(a) => {
                if let Some(e) = a.strip_prefix("range ") {
                    let (body, end) = parse_until(it)?;
                    if end.as_deref() != Some("end") {
                        bail!("template: range without {{{{end}}}}");
                    }
                    nodes.push(Node::Range(field(e.trim())?, body));
                } else if let Some(e) = a.strip_prefix("if ") {
                    let (then, end) = parse_until(it)?;
                    let otherwise = match end.as_deref() {
                        Some("else") => {
                            let (body, end) = parse_until(it)?;
                            if end.as_deref() != Some("end") {
                                bail!("template: if without {{{{end}}}}");
                            }
                            body
                        }
                        Some("end") => Vec::new(),
                        _ => bail!("template: if without {{{{end}}}}"),
                    };
                    nodes.push(Node::If(field(e.trim())?, then, otherwise));
                } else {
                    nodes.push(Node::Field(field(&a)?));
                }
            }
        }
    }
    Ok((nodes, None))
}

fn lookup<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut cur = v;
    for p in path {
        match cur {
            Value::Object(o) => cur = o.get(&Value::from(p.as_str()))?,
            _ => return None,
        }
    }
    Some(cur)
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null | Value::Undefined | Value::Bool(false)) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Set(s)) => !s.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
        Some(Value::Number(n)) => n.as_f64() != Some(0.0),
        Some(Value::Bool(true)) => true,
    }
}

/// Go's `%v` of a decoded JSON value.
fn go_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        Value::Null | Value::Undefined => "<nil>".into(),
        Value::Array(a) => format!("[{}]", a.iter().map(go_value).collect::<Vec<_>>().join(" ")),
        Value::Set(a) => format!("[{}]", a.iter().map(go_value).collect::<Vec<_>>().join(" ")),
        Value::Object(o) => format!(
            "map[{}]",
            o.iter()
                .map(|(k, v)| format!("{}:{}", go_value(k), go_value(v)))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        other => other.to_string(),
    }
}

fn render(nodes: &[Node], dot: &Value, out: &mut String) -> Result<()> {
    for n in nodes {
        match n {
            Node::Text(s) => out.push_str(s),
            Node::Field(path) => match lookup(dot, path) {
                Some(v) => out.push_str(&go_value(v)),
                None => out.push_str("<no value>"),
            },
            Node::Range(path, body) => match lookup(dot, path) {
                Some(Value::Array(items)) => {
                    for item in items.iter() {
                        render(body, item, out)?;
                    }
                }
                Some(Value::Set(items)) => {
                    for item in items.iter() {
                        render(body, item, out)?;
                    }
                }
                Some(Value::Object(fields)) => {
                    for (_, item) in fields.iter() {
                        render(body, item, out)?;
                    }
                }
                None | Some(Value::Null) => {}
                Some(_) => bail!("template: range can't iterate over a scalar"),
            },
            Node::If(path, then, otherwise) => {
                if truthy(lookup(dot, path)) {
                    render(then, dot, out)?;
                } else {
                    render(otherwise, dot, out)?;
                }
            }
        }
    }
    Ok(())
}
