//! Size checks in front of the regorus builtins that can build a huge value in one call.
//!
//! [`super::limits`] explains why: the per-rule timer cannot interrupt a builtin, and an
//! allocation the machine cannot satisfy aborts the process. Measured before this module
//! (release, `examples/rego_limits.rs`-style single rules): `sprintf("%999999999d", [1])`,
//! `net.cidr_expand("10.0.0.0/8")`, a loop of `concat`/`array.concat` doublings,
//! `graph.reachable_paths` on a dense graph, `json.marshal_with_options` with a long indent
//! and `bits.lsh(1, 1e9)` each grew RSS past 3 GiB.
//!
//! Each builtin here is an extension (regorus looks extensions up before its builtins) that
//! first bounds the size of the result from its arguments and refuses, with an error that
//! names the builtin and the limit, when it is too large. Within the bounds it runs the
//! original builtin, unchanged, through a private engine that has no extensions
//! ([`original`]), so results and error messages stay regorus's own.

use std::cell::RefCell;
use std::net::IpAddr;

use anyhow::{anyhow, bail, Result};
use regorus::Value;

use super::limits::MAX_STRING_BYTES;

/// Widest `sprintf` field width or precision (`%5000d`). Go has no limit; a message
/// never needs more than this.
pub const MAX_FORMAT_WIDTH: u64 = 10_000;

/// Most addresses `net.cidr_expand` may list (a /16 of IPv4).
pub const MAX_CIDR_HOSTS: u128 = 65_536;

/// Most elements an `array.concat` result may have.
pub const MAX_ARRAY_ELEMENTS: usize = 1_000_000;

/// Most paths `graph.reachable_paths` may return.
pub const MAX_GRAPH_PATHS: usize = 100_000;

/// Most bits a `bits.lsh` result may have. Decimal conversion of a huge integer is
/// quadratic (a 10-million-bit integer took 34 s to print).
pub const MAX_INTEGER_BITS: u64 = 4096;

/// The builtins replaced here, their arity and the Rego that calls the original.
const ORIGINALS: &[(&str, u8)] = &[
    ("sprintf", 2),
    ("net.cidr_expand", 1),
    ("concat", 2),
    ("array.concat", 2),
    ("graph.reachable_paths", 2),
    ("json.marshal_with_options", 2),
    ("bits.lsh", 2),
];

/// Installs the checked builtins into `engine`.
pub(super) fn install(engine: &mut regorus::Engine) -> Result<()> {
    // Already taken by the Go-compatible versions (`builtins/`), which bound their output
    // themselves; these wrappers stay for an engine without them.
    let _ = engine.add_extension("sprintf".into(), 2, Box::new(sprintf));
    let _ = engine.add_extension("net.cidr_expand".into(), 1, Box::new(cidr_expand));
    engine.add_extension("concat".into(), 2, Box::new(concat))?;
    engine.add_extension("array.concat".into(), 2, Box::new(array_concat))?;
    engine.add_extension("graph.reachable_paths".into(), 2, Box::new(reachable_paths))?;
    engine.add_extension(
        "json.marshal_with_options".into(),
        2,
        Box::new(marshal_with_options),
    )?;
    engine.add_extension("bits.lsh".into(), 2, Box::new(lsh))?;
    Ok(())
}

/// The Rego module of the private engine: one rule per original builtin.
fn originals_module() -> String {
    let mut m = String::from("package originals\n");
    for (i, (name, arity)) in ORIGINALS.iter().enumerate() {
        let args: Vec<String> = (0..*arity).map(|a| format!("input[{a}]")).collect();
        m.push_str(&format!("r{i} := {name}({})\n", args.join(", ")));
    }
    m
}

thread_local! {
    /// One private engine per thread, with regorus's own builtins only.
    static ORIGINAL: RefCell<Option<regorus::Engine>> = const { RefCell::new(None) };
}

/// Calls regorus's own `name` on `args`.
fn original(name: &str, args: Vec<Value>) -> Result<Value> {
    let index = ORIGINALS
        .iter()
        .position(|(n, _)| *n == name)
        .ok_or_else(|| anyhow!("`{name}` has no original"))?;
    ORIGINAL.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let mut engine = regorus::Engine::new();
            engine.set_rego_v0(false);
            engine.add_policy("originals.rego".into(), originals_module())?;
            *slot = Some(engine);
        }
        let engine = slot.as_mut().ok_or_else(|| anyhow!("no engine"))?;
        engine.set_input(Value::from(args));
        // A panic inside the builtin (caught by the evaluator) must not leave a half-used
        // engine behind for the next call.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            engine.eval_rule(format!("data.originals.r{index}"))
        }));
        match result {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(anyhow!("{}", builtin_error(&format!("{e:#}")))),
            Err(payload) => {
                *slot = None;
                std::panic::resume_unwind(payload)
            }
        }
    })
}

/// The message of an error from the private engine, without its code frame (which would
/// point into the private module).
fn builtin_error(text: &str) -> String {
    let errors: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("error:"))
        .map(str::trim)
        .collect();
    if errors.is_empty() {
        text.lines().next().unwrap_or("error").to_string()
    } else {
        errors.join("; ")
    }
}

fn refuse(name: &str, what: std::fmt::Arguments<'_>) -> anyhow::Error {
    anyhow!("`{name}` {what}; the call was refused before it ran away")
}

/// `sprintf`: every field width and precision at most [`MAX_FORMAT_WIDTH`].
fn sprintf(args: Vec<Value>) -> Result<Value> {
    if let Some(Value::String(fmt)) = args.first() {
        let mut chars = fmt.chars().peekable();
        fn number(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> u64 {
            let mut n: u64 = 0;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                n = n.saturating_mul(10).saturating_add(u64::from(d));
                chars.next();
            }
            n
        }
        while let Some(c) = chars.next() {
            if c != '%' {
                continue;
            }
            while chars
                .peek()
                .is_some_and(|c| matches!(c, '+' | '-' | '#' | ' '))
            {
                chars.next();
            }
            let mut width = number(&mut chars);
            if chars.peek() == Some(&'.') {
                chars.next();
                width = width.max(number(&mut chars));
            }
            if width > MAX_FORMAT_WIDTH {
                return Err(refuse(
                    "sprintf",
                    format_args!("field width {width} is over the limit of {MAX_FORMAT_WIDTH}"),
                ));
            }
            if chars.peek() == Some(&'%') {
                chars.next();
            }
        }
    }
    original("sprintf", args)
}

/// `net.cidr_expand`: at most [`MAX_CIDR_HOSTS`] addresses.
fn cidr_expand(args: Vec<Value>) -> Result<Value> {
    if let Some(Value::String(cidr)) = args.first() {
        if let Some((addr, prefix)) = cidr.split_once('/') {
            if let (Ok(addr), Ok(prefix)) = (addr.parse::<IpAddr>(), prefix.parse::<u32>()) {
                let bits: u32 = if addr.is_ipv4() { 32 } else { 128 };
                let host_bits = bits.saturating_sub(prefix);
                if host_bits >= 127 || (1u128 << host_bits) > MAX_CIDR_HOSTS {
                    return Err(refuse(
                        "net.cidr_expand",
                        format_args!(
                            "of {cidr} would list 2^{host_bits} addresses, over the limit of \
                             {MAX_CIDR_HOSTS}"
                        ),
                    ));
                }
            }
        }
    }
    original("net.cidr_expand", args)
}

/// `concat`: a result of at most [`MAX_STRING_BYTES`].
fn concat(args: Vec<Value>) -> Result<Value> {
    if let (Some(Value::String(delim)), Some(coll)) = (args.first(), args.get(1)) {
        let (count, bytes) = match coll {
            Value::Array(a) => a.iter().fold((0usize, 0usize), |(n, b), v| {
                (n + 1, b.saturating_add(string_len(v)))
            }),
            Value::Set(s) => s.iter().fold((0usize, 0usize), |(n, b), v| {
                (n + 1, b.saturating_add(string_len(v)))
            }),
            _ => (0, 0),
        };
        let total = bytes.saturating_add(count.saturating_sub(1).saturating_mul(delim.len()));
        if total > MAX_STRING_BYTES {
            return Err(refuse(
                "concat",
                format_args!(
                    "would build a string of {total} bytes, over the limit of {MAX_STRING_BYTES}"
                ),
            ));
        }
        // The common case, joined here (the built-in rules call `concat` often): every
        // element a string, in array order or the set's sorted order, as regorus does.
        let items: Vec<&Value> = match coll {
            Value::Array(a) => a.iter().collect(),
            Value::Set(s) => s.iter().collect(),
            _ => Vec::new(),
        };
        if matches!(coll, Value::Array(_) | Value::Set(_))
            && items.iter().all(|v| matches!(v, Value::String(_)))
        {
            let mut out = String::with_capacity(total);
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(delim);
                }
                if let Value::String(s) = v {
                    out.push_str(s);
                }
            }
            return Ok(Value::String(out.into()));
        }
    }
    original("concat", args)
}

fn string_len(v: &Value) -> usize {
    match v {
        Value::String(s) => s.len(),
        _ => 0,
    }
}

/// `array.concat`: a result of at most [`MAX_ARRAY_ELEMENTS`].
fn array_concat(args: Vec<Value>) -> Result<Value> {
    let len = |v: Option<&Value>| match v {
        Some(Value::Array(a)) => a.len(),
        _ => 0,
    };
    let total = len(args.first()).saturating_add(len(args.get(1)));
    if total > MAX_ARRAY_ELEMENTS {
        return Err(refuse(
            "array.concat",
            format_args!(
                "would build an array of {total} elements, over the limit of {MAX_ARRAY_ELEMENTS}"
            ),
        ));
    }
    // The common case, joined here (the built-in rules call `array.concat` often, and the
    // round trip through the private engine cost more than the rule): two arrays.
    if let (Some(Value::Array(a)), Some(Value::Array(b))) = (args.first(), args.get(1)) {
        let mut out = Vec::with_capacity(total);
        out.extend(a.iter().cloned());
        out.extend(b.iter().cloned());
        return Ok(Value::from(out));
    }
    original("array.concat", args)
}

/// `graph.reachable_paths`: at most [`MAX_GRAPH_PATHS`] paths. Counts them first with the
/// same walk regorus does (depth-first, a node at most once per path), without building
/// them.
fn reachable_paths(args: Vec<Value>) -> Result<Value> {
    if let (Some(graph @ Value::Object(_)), Some(starts)) = (args.first(), args.get(1)) {
        let starts: Vec<&Value> = match starts {
            Value::Array(a) => a.iter().collect(),
            Value::Set(s) => s.iter().collect(),
            _ => Vec::new(),
        };
        let mut counter = PathCounter {
            graph,
            on_path: std::collections::BTreeSet::new(),
            paths: 0,
        };
        for start in starts {
            if counter.visit(start, 0).is_err() {
                return Err(refuse(
                    "graph.reachable_paths",
                    format_args!("would build more than {MAX_GRAPH_PATHS} paths"),
                ));
            }
        }
    }
    original("graph.reachable_paths", args)
}

/// Counts the paths of regorus's `graph.reachable_paths` walk, failing past the limit.
struct PathCounter<'a> {
    /// The graph object.
    graph: &'a Value,
    on_path: std::collections::BTreeSet<&'a Value>,
    paths: usize,
}

impl<'a> PathCounter<'a> {
    fn found(&mut self) -> std::result::Result<(), ()> {
        self.paths += 1;
        if self.paths > MAX_GRAPH_PATHS {
            Err(())
        } else {
            Ok(())
        }
    }

    fn visit(&mut self, node: &'a Value, depth: usize) -> std::result::Result<(), ()> {
        if matches!(node, Value::String(s) if s.is_empty()) {
            return if depth > 0 { self.found() } else { Ok(()) };
        }
        let neighbors = match self.graph {
            Value::Object(o) => o.get(node),
            _ => None,
        };
        let Some(neighbors) = neighbors else {
            return if depth > 0 { self.found() } else { Ok(()) };
        };
        if self.on_path.contains(node) {
            return self.found();
        }
        let next: Vec<&'a Value> = match neighbors {
            Value::Array(a) => a.iter().collect(),
            Value::Set(s) => s.iter().collect(),
            // regorus reports the type error itself.
            _ => return Ok(()),
        };
        self.on_path.insert(node);
        for n in &next {
            self.visit(n, depth + 1)?;
        }
        if next.is_empty() {
            self.found()?;
        }
        self.on_path.remove(node);
        Ok(())
    }
}

/// `json.marshal_with_options`: an indented result of at most [`MAX_STRING_BYTES`],
/// bounded by (values × (prefix + depth × indent)) plus the compact size.
fn marshal_with_options(args: Vec<Value>) -> Result<Value> {
    if let (Some(value), Some(Value::Object(opts))) = (args.first(), args.get(1)) {
        let text = |key: &str| match opts.get(&Value::from(key)) {
            Some(Value::String(s)) => s.len(),
            _ => 0,
        };
        let (indent, prefix) = (text("indent").max(1), text("prefix"));
        let (mut values, mut depth_sum, mut compact) = (0usize, 0usize, 0usize);
        let mut stack = vec![(value, 1usize)];
        while let Some((v, depth)) = stack.pop() {
            values += 1;
            depth_sum = depth_sum.saturating_add(depth);
            match v {
                Value::Array(a) => stack.extend(a.iter().map(|c| (c, depth + 1))),
                Value::Set(s) => stack.extend(s.iter().map(|c| (c, depth + 1))),
                Value::Object(o) => {
                    for (k, c) in o.iter() {
                        compact = compact.saturating_add(string_len(k) + 4);
                        stack.push((c, depth + 1));
                    }
                }
                Value::String(s) => compact = compact.saturating_add(s.len() + 2),
                _ => compact = compact.saturating_add(24),
            }
            let bound = compact
                .saturating_add(values.saturating_mul(prefix + 2))
                .saturating_add(depth_sum.saturating_mul(indent));
            if bound > MAX_STRING_BYTES {
                return Err(refuse(
                    "json.marshal_with_options",
                    format_args!(
                        "would build more than {MAX_STRING_BYTES} bytes with this indent and \
                         prefix"
                    ),
                ));
            }
        }
    }
    original("json.marshal_with_options", args)
}

/// `bits.lsh`: a result of at most [`MAX_INTEGER_BITS`] bits.
fn lsh(args: Vec<Value>) -> Result<Value> {
    if let (Some(Value::Number(x)), Some(Value::Number(n))) = (args.first(), args.get(1)) {
        let shift = n.as_u64().unwrap_or(u64::MAX);
        let bits = match x.as_u64().or_else(|| x.as_i64().map(i64::unsigned_abs)) {
            Some(v) => u64::from(64 - v.leading_zeros()),
            None => MAX_INTEGER_BITS,
        };
        if n.is_integer() && x.is_integer() && bits.saturating_add(shift) > MAX_INTEGER_BITS {
            bail!(
                "`bits.lsh` would build an integer of more than {MAX_INTEGER_BITS} bits; the \
                 call was refused before it ran away"
            );
        }
    }
    original("bits.lsh", args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(expr: &str) -> Result<Value> {
        let mut engine = regorus::Engine::new();
        engine.set_rego_v0(false);
        install(&mut engine)?;
        engine.add_policy("t.rego".into(), format!("package t\nx := {expr}\n"))?;
        engine.eval_rule("data.t.x".into())
    }

    fn refused(expr: &str) -> String {
        let e = eval(expr).expect_err(expr);
        let text = format!("{e:#}");
        assert!(
            text.contains("refused before it ran away"),
            "{expr}: {text}"
        );
        text
    }

    #[test]
    fn small_calls_give_regorus_results() {
        assert_eq!(
            eval(r#"sprintf("%05d-%s", [42, "x"])"#).unwrap(),
            Value::from("00042-x")
        );
        assert_eq!(
            eval(r#"count(net.cidr_expand("10.0.0.0/30"))"#).unwrap(),
            Value::from(4u64)
        );
        assert_eq!(
            eval(r#"concat("-", ["a", "b"])"#).unwrap(),
            Value::from("a-b")
        );
        assert_eq!(
            eval("count(array.concat([1], [2, 3]))").unwrap(),
            Value::from(3u64)
        );
        // Joined natively: the same value and order as regorus's own; a non-array
        // argument still gets regorus's error.
        let cases: [(&str, &str, &str); 2] = [
            (
                r#"[1, "a"]"#,
                r#"[{"b": 2}, [3]]"#,
                r#"[1, "a", {"b": 2}, [3]]"#,
            ),
            ("[]", "[]", "[]"),
        ];
        for (a, b, joined) in cases {
            let args = vec![
                Value::from_json_str(a).unwrap(),
                Value::from_json_str(b).unwrap(),
            ];
            let want = original("array.concat", args).unwrap();
            assert_eq!(want, Value::from_json_str(joined).unwrap());
            assert_eq!(eval(&format!("array.concat({a}, {b})")).unwrap(), want);
        }
        assert!(eval(r#"array.concat("a", [1])"#).is_err());
        assert_eq!(eval("bits.lsh(1, 10)").unwrap(), Value::from(1024u64));
        assert_eq!(
            eval(r#"count(graph.reachable_paths({"a": ["b"], "b": []}, ["a"]))"#).unwrap(),
            Value::from(1u64)
        );
        assert_eq!(
            eval(r#"json.marshal_with_options([1], {"indent": " "})"#).unwrap(),
            Value::from("[\n 1\n]")
        );
    }

    #[test]
    fn huge_results_are_refused() {
        refused(r#"sprintf("%999999999d", [1])"#);
        refused(r#"sprintf("%.99999999999999999999f", [1])"#);
        refused(r#"net.cidr_expand("10.0.0.0/8")"#);
        refused(r#"net.cidr_expand("2001:db8::/64")"#);
        refused("bits.lsh(1, 1000000000)");
        refused(r#"array.concat(numbers.range(1, 600000), numbers.range(1, 600000))"#);
        refused(
            r#"json.marshal_with_options([[[[[[[[numbers.range(1, 100000)]]]]]]]], {"indent": concat("", [" " | numbers.range(1, 100)[_]])})"#,
        );
        // A complete graph of 12 nodes has 12! paths from one node.
        let names: Vec<String> = (0..12).map(|i| format!("\"n{i}\"")).collect();
        let graph: Vec<String> = names
            .iter()
            .map(|n| format!("{n}: [{}]", names.join(", ")))
            .collect();
        refused(&format!(
            "graph.reachable_paths({{{}}}, [\"n0\"])",
            graph.join(", ")
        ));
    }
}
