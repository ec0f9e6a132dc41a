//! Measures how far past its time limit a runaway Rego rule runs before the engine stops
//! it, and how much memory it takes meanwhile (issue 3, "bound runaway Rego").
//!
//! Run one case per process, in release, under an address-space cap so that a case that
//! allocates without bound fails here instead of taking the machine down:
//!
//! ```text
//! cargo build --release -p policy-engine --example rego_limits
//! prlimit --as=4294967296 target/release/examples/rego_limits nested 500 16
//! ```
//!
//! Arguments: case name (`list` prints them), limit in ms, regorus check interval.
//! Output: one tab-separated line `case limit_ms interval elapsed_ms ratio outcome
//! peak_rss_mb message`.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use policy_engine::inputs::DocumentKind;
use policy_engine::runtimes::rego::{RegoOptions, RegoPolicySet, RegoSource};

/// `(name, rule body, input)`.
fn cases() -> Vec<(&'static str, String, serde_json::Value)> {
    let s = |t: &str| t.to_string();
    let empty = serde_json::json!({});
    let mut deep = String::from("f0(x) := x + 1\n");
    for i in 1..40 {
        deep.push_str(&format!("f{i}(x) := f{p}(x) + f{p}(x)\n", p = i - 1));
    }
    vec![
        (
            "nested",
            s("some a in numbers.range(1, 100000)\n  some b in numbers.range(1, 100000)\n  x := a + b\n  x < 0"),
            empty.clone(),
        ),
        ("range_1e6", s("x := count(numbers.range(1, 1000000))\n  x < 0"), empty.clone()),
        ("range_1e7", s("x := count(numbers.range(1, 10000000))\n  x < 0"), empty.clone()),
        ("range_1e8", s("x := count(numbers.range(1, 100000000))\n  x < 0"), empty.clone()),
        ("range_1e9", s("x := count(numbers.range(1, 1000000000))\n  x < 0"), empty.clone()),
        (
            "range_step_1e8",
            s("x := count(numbers.range_step(1, 100000000, 1))\n  x < 0"),
            empty.clone(),
        ),
        (
            "set_comprehension",
            s("s := {y | some y in numbers.range(1, 5000000)}\n  x := count(s)\n  x < 0"),
            empty.clone(),
        ),
        (
            "concat_big",
            s("a := [sprintf(\"%d\", [i]) | some i in numbers.range(1, 300000)]\n  b := concat(\",\", [concat(\",\", a) | some _ in numbers.range(1, 50)])\n  x := count(b)\n  x < 0"),
            empty.clone(),
        ),
        (
            "replace_20k_x_20k",
            s("a := concat(\"\", [\"a\" | some _ in numbers.range(1, 20000)])\n  b := replace(a, \"a\", a)\n  x := count(b)\n  x < 0"),
            empty.clone(),
        ),
        (
            "replace_100k_x_100k",
            s("a := concat(\"\", [\"a\" | some _ in numbers.range(1, 100000)])\n  b := replace(a, \"a\", a)\n  x := count(b)\n  x < 0"),
            empty.clone(),
        ),
        (
            "replace_n_20k_x_20k",
            s("a := concat(\"\", [\"a\" | some _ in numbers.range(1, 20000)])\n  b := strings.replace_n({\"a\": a}, a)\n  x := count(b)\n  x < 0"),
            empty.clone(),
        ),
        (
            "regex_replace_20k_x_20k",
            s("a := concat(\"\", [\"a\" | some _ in numbers.range(1, 20000)])\n  b := regex.replace(a, \"a\", a)\n  x := count(b)\n  x < 0"),
            empty.clone(),
        ),
        (
            "regex_find_all",
            s("a := concat(\"\", [\"ab\" | some _ in numbers.range(1, 500000)])\n  b := regex.find_n(\"a+b\", a, -1)\n  x := count(b)\n  x < 0"),
            empty.clone(),
        ),
        (
            "sprintf_width",
            s("b := sprintf(\"%0400000000d\", [1])\n  x := count(b)\n  x < 0"),
            empty.clone(),
        ),
        (
            "walk_1m",
            s("x := count([p | walk(input, [p, _])])\n  x < 0"),
            serde_json::Value::Null,
        ),
        ("deep_functions", s("x := f39(1)\n  x < 0"), empty.clone()),
    ]
    .into_iter()
    .map(|(n, body, input)| {
        let prelude = if n == "deep_functions" { deep.clone() } else { String::new() };
        (n, format!("{prelude}deny contains x if {{\n  {body}\n}}\n"), input)
    })
    .collect()
}

/// ~1.1 M nodes: 1,000 objects of 1,000 small leaves each (built only for `walk_1m`).
fn big_input() -> serde_json::Value {
    let inner: serde_json::Map<String, serde_json::Value> = (0..1000)
        .map(|i| (format!("k{i}"), serde_json::json!(i)))
        .collect();
    let outer: Vec<serde_json::Value> = (0..1000)
        .map(|_| serde_json::Value::Object(inner.clone()))
        .collect();
    serde_json::json!({ "items": outer })
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let all = cases();
    if args.get(1).is_none_or(|a| a == "list") {
        for (n, _, _) in &all {
            println!("{n}");
        }
        return;
    }
    let name = args[1].as_str();
    let limit_ms: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(500);
    let interval: u32 = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(16);
    let Some((_, body, input)) = all.iter().find(|(n, _, _)| *n == name) else {
        eprintln!("unknown case {name}");
        std::process::exit(2);
    };
    let text = format!("package t\nimport rego.v1\n{body}");
    let set = RegoPolicySet::compile(
        &[RegoSource {
            path: format!("{name}.rego"),
            text,
            builtin: false,
        }],
        &[],
        &RegoOptions {
            timeout: Duration::from_millis(limit_ms),
            check_interval: NonZeroU32::new(interval).unwrap_or(NonZeroU32::MIN),
            ..RegoOptions::default()
        },
    );
    if !set.errors.is_empty() || set.packages.is_empty() {
        eprintln!("policy did not load: {:?}", set.errors);
        std::process::exit(2);
    }
    let mut ev = set.evaluator();
    if input.is_null() {
        ev.set_input(&big_input());
    } else {
        ev.set_input(input);
    }
    let start = Instant::now();
    let (results, failures) = ev.evaluate(&set.packages[0], DocumentKind::Json);
    let took = start.elapsed();
    let (outcome, message) = match failures.first() {
        Some(f) if f.timeout => ("timeout", f.message.clone()),
        Some(f) => ("error", f.message.clone()),
        None => ("ok", format!("{} results", results.len())),
    };
    let ms = took.as_secs_f64() * 1000.0;
    println!(
        "{name}\t{limit_ms}\t{interval}\t{ms:.0}\t{:.2}\t{outcome}\t{:.0}\t{}",
        ms / limit_ms as f64,
        peak_rss_mb(),
        message.chars().take(160).collect::<String>()
    );
}
