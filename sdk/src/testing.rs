//! Native test helpers: run a policy's evaluate function on fixture files under plain
//! `cargo test`, with no wasm toolchain and no engine.
//!
//! The request and reply go through the same JSON encoding as the real ABI
//! ([`handle_evaluate`]), so what passes here behaves the
//! same inside the host. Modelled on kubewarden's `policy-sdk-rust` `Testcase`.
//!
//! ```
//! use policy_sdk::abi::{GuestFinding, PolicyMetadata, RuleMetadata};
//! use policy_sdk::testing::{Expected, Testcase};
//! use policy_sdk::{Error, Input};
//!
//! fn metadata() -> PolicyMetadata {
//!     PolicyMetadata { name: "demo".into(), rules: vec![RuleMetadata {
//!         id: "DEMO1".into(), title: "needs a user".into(), ..Default::default() }] }
//! }
//! fn evaluate(input: &Input) -> Result<Vec<GuestFinding>, Error> {
//!     let img = input.image()?.unwrap_or_default();
//!     Ok(if img.runs_as_root() {
//!         vec![GuestFinding::at_path("DEMO1", "set a user", ["user".into()])]
//!     } else { vec![] })
//! }
//!
//! let dir = std::env::temp_dir().join("policy-sdk-doctest");
//! std::fs::create_dir_all(&dir).unwrap();
//! std::fs::write(dir.join("root.json"), r#"{"user": "root"}"#).unwrap();
//! Testcase::new("root image", dir.join("root.json"), "image")
//!     .expect(Expected::rule("DEMO1").at_pointer("/user"))
//!     .run(metadata, evaluate);
//! ```

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::abi::{EvaluateRequest, EvaluateResponse, GuestFinding, PathSegment};
use crate::export::{handle_evaluate, EvaluateFn, MetadataFn};
use crate::JsonPath;

/// What one finding must look like. Unset fields are not checked.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Expected {
    /// Rule ID.
    pub rule: String,
    /// Location as a JSON Pointer (`/instructions/3`).
    pub pointer: Option<String>,
    /// Location as a line.
    pub line: Option<u32>,
    /// Start column on that line.
    pub column: Option<u32>,
    /// A substring of the message.
    pub msg_contains: Option<String>,
}

impl Expected {
    /// A finding of `rule`.
    pub fn rule(rule: impl Into<String>) -> Self {
        Expected {
            rule: rule.into(),
            ..Expected::default()
        }
    }

    /// ... located at this JSON Pointer.
    pub fn at_pointer(mut self, pointer: impl Into<String>) -> Self {
        self.pointer = Some(pointer.into());
        self
    }

    /// ... located at this line.
    pub fn at_line(mut self, line: u32) -> Self {
        self.line = Some(line);
        self
    }

    /// ... starting at this column.
    pub fn at_column(mut self, column: u32) -> Self {
        self.column = Some(column);
        self
    }

    /// ... whose message contains `text`.
    pub fn msg_contains(mut self, text: impl Into<String>) -> Self {
        self.msg_contains = Some(text.into());
        self
    }

    fn mismatch(&self, got: &GuestFinding) -> Option<String> {
        let pointer = got.path.clone().map(|p| JsonPath::from(p).pointer());
        if got.rule != self.rule {
            return Some(format!("rule {} != expected {}", got.rule, self.rule));
        }
        if let Some(want) = &self.pointer {
            if pointer.as_deref() != Some(want.as_str()) {
                return Some(format!("path {pointer:?} != expected {want:?}"));
            }
        }
        if let Some(want) = self.line {
            if got.line != Some(want) {
                return Some(format!("line {:?} != expected {want}", got.line));
            }
        }
        if let Some(want) = self.column {
            if got.column != Some(want) {
                return Some(format!("column {:?} != expected {want}", got.column));
            }
        }
        if let Some(want) = &self.msg_contains {
            if !got.msg.contains(want.as_str()) {
                return Some(format!("message {:?} lacks {want:?}", got.msg));
            }
        }
        None
    }
}

/// One test: a fixture file holding a document's JSON, its kind, settings, and the
/// findings expected, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Testcase {
    /// Name shown on failure.
    pub name: String,
    /// JSON file with the document (relative paths are relative to the crate root under
    /// `cargo test`).
    pub fixture: PathBuf,
    /// Document kind (`dockerfile`, `kubernetes`, `image`, ...).
    pub kind: String,
    /// Settings passed to the policy.
    pub settings: serde_json::Value,
    /// Expected findings, in the order the policy returns them.
    pub expected: Vec<Expected>,
}

impl Testcase {
    /// A case expecting no findings (add some with [`Testcase::expect`]).
    pub fn new(
        name: impl Into<String>,
        fixture: impl Into<PathBuf>,
        kind: impl Into<String>,
    ) -> Self {
        Testcase {
            name: name.into(),
            fixture: fixture.into(),
            kind: kind.into(),
            settings: serde_json::Value::Null,
            expected: Vec::new(),
        }
    }

    /// Adds an expected finding.
    pub fn expect(mut self, expected: Expected) -> Self {
        self.expected.push(expected);
        self
    }

    /// Sets the settings.
    pub fn settings(mut self, settings: serde_json::Value) -> Self {
        self.settings = settings;
        self
    }

    /// Runs the policy on the fixture and returns its findings, or why they do not match
    /// (including findings of rules the metadata does not declare, which the host rejects).
    pub fn eval(
        &self,
        metadata: MetadataFn,
        evaluate: EvaluateFn,
    ) -> Result<Vec<GuestFinding>, String> {
        let text = std::fs::read_to_string(&self.fixture).map_err(|e| {
            format!(
                "{}: cannot read fixture {}: {e}",
                self.name,
                self.fixture.display()
            )
        })?;
        let document: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            format!(
                "{}: fixture {} is not JSON: {e}",
                self.name,
                self.fixture.display()
            )
        })?;
        let request = EvaluateRequest {
            kind: self.kind.clone(),
            path: self.fixture.display().to_string(),
            document,
            settings: self.settings.clone(),
        };
        let bytes = serde_json::to_vec(&request).map_err(|e| format!("{}: {e}", self.name))?;
        let reply = handle_evaluate(&bytes, evaluate);
        let findings = match serde_json::from_slice::<EvaluateResponse>(&reply)
            .map_err(|e| format!("{}: reply is not a valid EvaluateResponse: {e}", self.name))?
        {
            EvaluateResponse::Findings { findings } => findings,
            EvaluateResponse::Error { error } => {
                return Err(format!("{}: policy error: {error}", self.name))
            }
        };
        let declared = metadata();
        let mut problems = String::new();
        for f in &findings {
            if !declared.rules.iter().any(|r| r.id == f.rule) {
                let _ = writeln!(problems, "  finding of undeclared rule {:?}", f.rule);
            }
        }
        if findings.len() != self.expected.len() {
            let _ = writeln!(
                problems,
                "  expected {} finding(s), got {}",
                self.expected.len(),
                findings.len()
            );
        }
        for (i, (want, got)) in self.expected.iter().zip(&findings).enumerate() {
            if let Some(why) = want.mismatch(got) {
                let _ = writeln!(problems, "  finding #{i}: {why}");
            }
        }
        if problems.is_empty() {
            Ok(findings)
        } else {
            let _ = writeln!(problems, "  got: {}", describe(&findings));
            Err(format!("{}:\n{problems}", self.name))
        }
    }

    /// Like [`Testcase::eval`], panicking with the mismatch (for use inside `#[test]`).
    #[track_caller]
    pub fn run(&self, metadata: MetadataFn, evaluate: EvaluateFn) -> Vec<GuestFinding> {
        match self.eval(metadata, evaluate) {
            Ok(findings) => findings,
            Err(why) => panic!("{why}"),
        }
    }
}

fn describe(findings: &[GuestFinding]) -> String {
    let items: Vec<String> = findings
        .iter()
        .map(|f| {
            let at = match (&f.path, f.line, f.column) {
                (_, Some(l), Some(c)) => format!("{l}:{c}"),
                (Some(p), _, _) => JsonPath::from(p.clone()).pointer(),
                (None, Some(l), None) => format!("line {l}"),
                (None, None, _) => "<document>".to_owned(),
            };
            format!("{} at {at}: {}", f.rule, f.msg)
        })
        .collect();
    format!("[{}]", items.join("; "))
}

/// Convenience for building expected paths in tests.
pub fn pointer(path: &[PathSegment]) -> String {
    JsonPath::from(path.to_vec()).pointer()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_checks_line_and_column() {
        let got = GuestFinding::new("DF100", "set pipefail")
            .with_position(3, 9)
            .with_end(3, 13);
        assert_eq!(
            Expected::rule("DF100")
                .at_line(3)
                .at_column(9)
                .mismatch(&got),
            None
        );
        assert_eq!(
            Expected::rule("DF100").at_column(5).mismatch(&got),
            Some("column Some(9) != expected 5".to_owned())
        );
        assert_eq!(describe(&[got]), "[DF100 at 3:9: set pipefail]");
    }
}
