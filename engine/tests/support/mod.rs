//! Helpers shared by the binary's end-to-end tests: run `policy` from the repository
//! root and read its JSON report.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn policy(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_policy"))
        .args(args)
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .output()
        .expect("run policy")
}

/// Runs `policy` with `dir` as the current directory.
pub fn policy_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_policy"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("run policy")
}

pub fn policy_stdin(args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_policy"))
        .args(args)
        .current_dir(repo())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn policy");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

pub fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// `(rule_id, line, column)` of every finding in a JSON report.
pub fn findings(report: &Value) -> Vec<(String, u64, u64)> {
    report["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap_or_default().to_string(),
                f["start_line"].as_u64().unwrap_or_default(),
                f["start_column"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}

/// The rules a JSON finding reports: its own, then those merged into it
/// (`related_rules`: a PSS check and the K8S rule for the same node, reported once).
pub fn rule_ids(finding: &Value) -> Vec<String> {
    std::iter::once(&finding["rule_id"])
        .chain(finding["related_rules"].as_array().into_iter().flatten())
        .filter_map(|id| id.as_str().map(str::to_owned))
        .collect()
}

pub fn code(out: &Output) -> i32 {
    out.status.code().expect("exit code")
}

pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(&p, text).expect("write");
    p
}

/// Validates a SARIF log against the official schema in `../shared/schemas` (skipped, with
/// a note, when it is not there).
pub fn assert_valid_sarif(sarif: &Value) {
    let schema_path = repo().join("../shared/schemas/sarif-2.1.0.json");
    let Ok(schema) = std::fs::read_to_string(&schema_path) else {
        eprintln!("skipped: {} not found", schema_path.display());
        return;
    };
    let schema: Value = serde_json::from_str(&schema).expect("schema json");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(sarif)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}
