//! Differential test of Rego semantics against OPA's own Go engine.
//!
//! `policy` runs Rego on regorus; teams bring policies written for OPA and conftest, so
//! "the same policy means the same thing" has to be checked against OPA itself, live,
//! never against expectations written down by hand. The corpus is
//! `tests/opa_diff/cases/*.yaml`, one file per area; each case is a small module, a
//! query (a Rego expression such as `data.t.x`), and optionally `input` and `data`.
//!
//! Every case is evaluated by this project's Rego runtime (the engine `policy eval`
//! uses, in `--strict` mode, because the OPA bindings raise builtin errors) and by OPA
//! through `tests/opa_diff/opa_eval.py` (PyPI `opa-golib-python-bindings`). The two
//! must give the same set of values, or both fail. A case may carry `v0:`, the same
//! policy in Rego v0 syntax: `policy` then loads the v0 text while OPA (whose bindings
//! parse v1 only) loads the v1 `module`. A case may carry `difference: <reason>`, a
//! documented difference (docs/writing-policies.md, "Differences from OPA"): it must
//! still differ, so the documentation stays true.
//!
//! Prints `OPA agreement: A/N cases agree, D documented differences` and every
//! disagreement; exits non-zero on any undocumented disagreement. Skipped, with the
//! reason, when no Python with the bindings is found (`POLICY_OPA_PYTHON` names one;
//! else `python3.11`, then `python3`). `.ci/run` installs the bindings.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use policy_engine::runtimes::rego::{RegoOptions, RegoPolicySet, RegoSource};
use serde::Deserialize;
use serde_json::Value as Json;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    module: String,
    #[serde(default)]
    v0: Option<String>,
    query: String,
    #[serde(default)]
    input: Option<Json>,
    #[serde(default)]
    data: Option<Json>,
    #[serde(default)]
    difference: Option<String>,
}

/// What one engine said about a case.
#[derive(Debug)]
enum Outcome {
    Values(Vec<Json>),
    Error(String),
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("opa_diff")
}

fn load_cases() -> Vec<(String, Case)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir().join("cases"))
        .expect("tests/opa_diff/cases")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read case file");
        let parsed: CaseFile =
            yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let area = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        for case in parsed.cases {
            cases.push((area.clone(), case));
        }
    }
    cases
}

/// Runs every case through OPA; `Err` is the reason to skip.
fn run_opa(cases: &[(String, Case)]) -> Result<Vec<Outcome>, String> {
    let pythons: Vec<String> = match std::env::var("POLICY_OPA_PYTHON") {
        Ok(p) => vec![p],
        Err(_) => vec!["python3.11".into(), "python3".into()],
    };
    let request: Vec<Json> = cases
        .iter()
        .map(|(_, c)| {
            serde_json::json!({
                "module": c.module,
                "query": c.query,
                "input": c.input,
                "data": c.data,
            })
        })
        .collect();
    let request = serde_json::to_vec(&request).map_err(|e| e.to_string())?;
    let mut reasons = Vec::new();
    for python in pythons {
        let child = Command::new(&python)
            .arg(dir().join("opa_eval.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                reasons.push(format!("{python}: {e}"));
                continue;
            }
        };
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(&request).map_err(|e| e.to_string())?;
        }
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        if out.status.code() == Some(3) {
            reasons.push(format!(
                "{python}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
            continue;
        }
        if !out.status.success() {
            return Err(format!(
                "{python} opa_eval.py failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let answers: Vec<Json> =
            serde_json::from_slice(&out.stdout).map_err(|e| format!("opa_eval.py output: {e}"))?;
        return Ok(answers
            .into_iter()
            .map(|a| match a.get("ok") {
                Some(Json::Array(values)) => Outcome::Values(values.clone()),
                _ => Outcome::Error(
                    a.get("error")
                        .and_then(Json::as_str)
                        .unwrap_or("malformed answer")
                        .to_string(),
                ),
            })
            .collect());
    }
    Err(reasons.join("; "))
}

fn run_policy(case: &Case) -> Outcome {
    let source = RegoSource {
        path: "case.rego".into(),
        text: case.v0.clone().unwrap_or_else(|| case.module.clone()),
        builtin: false,
    };
    let data: Vec<Json> = case.data.iter().cloned().collect();
    let opts = RegoOptions {
        strict: true,
        ..RegoOptions::default()
    };
    let set = RegoPolicySet::compile(&[source], &data, &opts);
    if let Some(e) = set.errors.first() {
        return Outcome::Error(format!("{}:{}:{}: {}", e.file, e.line, e.column, e.message));
    }
    match set.query(case.input.as_ref(), &case.query) {
        Ok(values) => Outcome::Values(values),
        Err(e) => Outcome::Error(e.to_string()),
    }
}

/// JSON equality where numbers compare by value (`1` == `1.0`).
fn same(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(x), Some(y)) => x == y,
                _ => x.as_f64() == y.as_f64(),
            },
        },
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn agree(ours: &Outcome, opa: &Outcome) -> bool {
    match (ours, opa) {
        (Outcome::Error(_), Outcome::Error(_)) => true,
        (Outcome::Values(a), Outcome::Values(b)) => {
            a.len() == b.len() && a.iter().all(|x| b.iter().any(|y| same(x, y)))
        }
        _ => false,
    }
}

fn show(o: &Outcome) -> String {
    match o {
        Outcome::Values(v) => serde_json::to_string(v).unwrap_or_default(),
        Outcome::Error(e) => format!("error: {e}"),
    }
}

fn main() -> ExitCode {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let cases: Vec<(String, Case)> = load_cases()
        .into_iter()
        .filter(|(area, c)| {
            filter
                .as_deref()
                .is_none_or(|f| area.contains(f) || c.name.contains(f))
        })
        .collect();
    let opa = match run_opa(&cases) {
        Ok(o) => o,
        Err(reason) => {
            println!(
                "opa_diff: skipped: OPA bindings not available ({reason}); \
                 install with `pip install --ignore-requires-python opa-golib-python-bindings`"
            );
            return ExitCode::SUCCESS;
        }
    };
    let mut agreed = 0;
    let mut documented = 0;
    let mut failures = Vec::new();
    let mut per_area: Vec<(String, usize, usize)> = Vec::new();
    for ((area, case), theirs) in cases.iter().zip(&opa) {
        let ours = run_policy(case);
        let same = agree(&ours, theirs);
        if per_area.last().is_none_or(|(a, _, _)| a != area) {
            per_area.push((area.clone(), 0, 0));
        }
        if let Some(entry) = per_area.last_mut() {
            entry.2 += 1;
            if same {
                entry.1 += 1;
            }
        }
        match (&case.difference, same) {
            (None, true) => agreed += 1,
            (Some(_), false) => documented += 1,
            (None, false) => failures.push(format!(
                "{area}/{}: policy {} but OPA {}",
                case.name,
                show(&ours),
                show(theirs)
            )),
            (Some(reason), true) => failures.push(format!(
                "{area}/{}: documented as a difference ({reason}) but now agrees with OPA \
                 ({}); drop `difference:` and update docs/writing-policies.md",
                case.name,
                show(&ours)
            )),
        }
    }
    for (area, ok, total) in &per_area {
        println!("  {area}: {ok}/{total}");
    }
    for f in &failures {
        println!("DISAGREE {f}");
    }
    println!(
        "OPA agreement: {agreed}/{} cases agree, {documented} documented differences, {} undocumented",
        cases.len(),
        failures.len()
    );
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
