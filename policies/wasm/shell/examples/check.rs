//! Runs the policy natively over the output of `policy parse` (a JSON array of files with
//! their documents) and prints each finding with its source line, for tuning the rules on
//! a corpus without rebuilding the WASM module or the engine:
//!
//! ```sh
//! policy parse DIR > parsed.json
//! cargo run --manifest-path policies/wasm/shell/Cargo.toml --example check -- parsed.json [RULE]
//! ```

use policy_sdk::abi::EvaluateRequest;
use policy_sdk::Input;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(file) = args.next() else {
        eprintln!("usage: check PARSED.json [RULE]");
        std::process::exit(2);
    };
    let only = args.next();
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
    let files: serde_json::Value = serde_json::from_str(&text).expect("policy parse output");
    let mut counts = std::collections::BTreeMap::new();
    for f in files.as_array().into_iter().flatten() {
        let path = f["path"].as_str().unwrap_or("?");
        let source = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<&str> = source.lines().collect();
        for doc in f["documents"].as_array().into_iter().flatten() {
            let input = Input::new(EvaluateRequest {
                kind: doc["kind"].as_str().unwrap_or("").into(),
                path: path.into(),
                document: doc["input"].clone(),
                settings: serde_json::Value::Null,
            });
            let findings = policy_builtin_shell::evaluate(&input).expect("evaluates");
            for g in findings {
                *counts.entry(g.rule.clone()).or_insert(0) += 1;
                if only.as_deref().is_some_and(|r| r != g.rule) {
                    continue;
                }
                let line = g.line.unwrap_or(0);
                let col = g.column.unwrap_or(0);
                println!("{path}:{line}:{col}: {} {}", g.rule, g.msg);
                if let Some(src) = lines.get(line.saturating_sub(1) as usize) {
                    println!("    {src}");
                    let pad: String = src
                        .chars()
                        .take(col.saturating_sub(1) as usize)
                        .map(|c| if c == '\t' { '\t' } else { ' ' })
                        .collect();
                    let width = match (g.end_line, g.end_column) {
                        (Some(l), Some(e)) if l == line && e > col => (e - col) as usize,
                        _ => 1,
                    };
                    println!("    {pad}{}", "^".repeat(width));
                }
            }
        }
    }
    for (rule, n) in counts {
        eprintln!("{rule}: {n}");
    }
}
