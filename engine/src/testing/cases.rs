//! Case files: the data-driven tests that sit beside a rule (`<slug>.yaml` next to
//! `<slug>.rego`, or next to a `.wasm` module), parsed strictly and located.
//!
//! A YAML file is a case file when its top level is a mapping with a `cases` key; any
//! other YAML (data files, manifests used as fixtures) is not ours and is ignored. Once a
//! file is a case file it must be well-formed: unknown keys, a missing `rule` or `note`,
//! or a case with not exactly one of `want`, `error` and `skip` is an error naming the
//! file, line and column, never a silently skipped test.
//!
//! ```yaml
//! rule: DF001
//! cases:
//!   - note: explicit latest
//!     filename: Dockerfile          # optional: decides the input kind
//!     input: "FROM debian:latest\n"
//!     want: [{line: 1, column: 6, message: "is not pinned"}]   # or error: / skip:
//!     data: {pss: {level: restricted}}                          # optional
//! ```

use serde::{Deserialize, Serialize};

use crate::diagnostics::{ErrorKind, ErrorRecord};
use crate::inputs::{yaml, DocumentKind, LoadOptions};
use crate::source::Position;
use crate::PathSegment;

/// A case file as written (`deny_unknown_fields` throughout, as in regorus's YAML tests).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCaseFile {
    rule: String,
    cases: Vec<RawCase>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    note: String,
    #[serde(default)]
    filename: Option<String>,
    input: String,
    #[serde(default)]
    want: Option<Vec<Want>>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    skip: Option<String>,
    #[serde(default)]
    data: Option<serde_json::Value>,
}

/// One expected finding of the case's rule.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Want {
    /// 1-based line of the finding's start (any line when absent).
    #[serde(default)]
    pub line: Option<u32>,
    /// 1-based column of the finding's start (any column when absent).
    #[serde(default)]
    pub column: Option<u32>,
    /// A substring of the finding's message.
    pub message: String,
}

/// What a case expects: exactly one of `want`, `error` or `skip`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Exactly these findings of the rule, in order (`want: []` for none).
    Findings(Vec<Want>),
    /// An error record whose message contains this text.
    Error(String),
    /// Not run, for this reason.
    Skip(String),
}

/// One validated case.
#[derive(Debug, Clone)]
pub struct Case {
    /// What the case shows (its test name).
    pub note: String,
    /// The file name the input is parsed as (decides its kind), if given.
    pub filename: Option<String>,
    /// The input text.
    pub input: String,
    /// Data merged into `data` for this case only.
    pub data: Option<serde_json::Value>,
    /// The expectation.
    pub expect: Expect,
    /// Where the case starts in the case file.
    pub position: Position,
}

/// One validated case file.
#[derive(Debug, Clone)]
pub struct CaseFile {
    /// The file, as shown in messages.
    pub path: String,
    /// The rule ID whose findings the cases compare.
    pub rule: String,
    /// Where the `rule:` key is written.
    pub rule_position: Position,
    /// The cases, in file order.
    pub cases: Vec<Case>,
}

/// The file name a case's input is parsed as when the case gives none, from the first
/// kind its rule selects.
pub fn default_filename(kind: Option<DocumentKind>) -> &'static str {
    kind.map_or("Dockerfile", |k| k.spec().case_file)
}

fn case_file_error(path: &str, pos: Position, message: impl Into<String>) -> ErrorRecord {
    ErrorRecord {
        kind: ErrorKind::PolicyError,
        file: path.to_string(),
        line: pos.line,
        column: pos.column,
        rule: None,
        input: None,
        message: message.into(),
    }
}

/// Whether some line of `text` starts a top-level `cases:` key (for files that are not
/// valid YAML, where the parsed top level cannot tell).
fn mentions_cases(text: &str) -> bool {
    text.lines().any(|l| {
        l.strip_prefix("cases")
            .is_some_and(|rest| rest.trim_start().starts_with(':'))
    })
}

/// A yaml_serde error as `(position, message without the trailing "at line L column C")`.
fn yaml_error(e: &yaml_serde::Error) -> (Position, String) {
    let pos = e
        .location()
        .map(|l| Position::new(l.line() as u32, l.column() as u32))
        .unwrap_or(Position::START);
    let text = e.to_string();
    let message = match text.rsplit_once(" at line ") {
        Some((head, tail)) if tail.contains(" column ") => head.to_string(),
        _ => text,
    };
    (pos, message)
}

/// Parses one YAML file. `Ok(None)`: not a case file (ignored). `Err`: a case file that
/// is malformed, with every problem found, each at its file:line:col.
pub fn parse(path: &str, text: &str) -> Result<Option<CaseFile>, Vec<ErrorRecord>> {
    let top: serde_json::Value = match yaml_serde::from_str(text) {
        Ok(v) => v,
        Err(e) if mentions_cases(text) => {
            let (pos, message) = yaml_error(&e);
            return Err(vec![case_file_error(
                path,
                pos,
                format!("invalid case file: {message}"),
            )]);
        }
        Err(_) => return Ok(None),
    };
    if !top.as_object().is_some_and(|o| o.contains_key("cases")) {
        return Ok(None);
    }
    let raw: RawCaseFile = yaml_serde::from_str(text).map_err(|e| {
        let (pos, message) = yaml_error(&e);
        vec![case_file_error(
            path,
            pos,
            format!("invalid case file: {message}"),
        )]
    })?;
    // The same text again, with a source map, to say where each case starts.
    let (docs, _) = yaml::parse_yaml(path, text, &LoadOptions::default());
    let locate = |segments: &[PathSegment]| {
        docs.first()
            .map(|d| d.locate(segments).start)
            .unwrap_or(Position::START)
    };
    let mut errors = Vec::new();
    let mut cases = Vec::new();
    for (i, c) in raw.cases.into_iter().enumerate() {
        let position = locate(&[PathSegment::from("cases"), PathSegment::from(i)]);
        let expect = match (c.want, c.error, c.skip) {
            (Some(w), None, None) => Expect::Findings(w),
            (None, Some(e), None) => Expect::Error(e),
            (None, None, Some(s)) => Expect::Skip(s),
            (w, e, s) => {
                let given: Vec<&str> = [
                    ("want", w.is_some()),
                    ("error", e.is_some()),
                    ("skip", s.is_some()),
                ]
                .iter()
                .filter(|(_, on)| *on)
                .map(|(k, _)| *k)
                .collect();
                let detail = if given.is_empty() {
                    "none is given".to_string()
                } else {
                    format!("it gives {}", given.join(", "))
                };
                errors.push(case_file_error(
                    path,
                    position,
                    format!(
                        "invalid case file: cases[{i}] ({:?}): give exactly one of want, error, skip; {detail}",
                        c.note
                    ),
                ));
                continue;
            }
        };
        if let Some(data) = &c.data {
            if !data.is_object() {
                errors.push(case_file_error(
                    path,
                    locate(&[
                        PathSegment::from("cases"),
                        PathSegment::from(i),
                        PathSegment::from("data"),
                    ]),
                    format!(
                        "invalid case file: cases[{i}].data: expected a mapping (merged into `data`)"
                    ),
                ));
                continue;
            }
        }
        cases.push(Case {
            note: c.note,
            filename: c.filename,
            input: c.input,
            data: c.data,
            expect,
            position,
        });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Some(CaseFile {
        path: path.to_string(),
        rule: raw.rule,
        rule_position: locate(&[PathSegment::from("rule")]),
        cases,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_yaml_is_not_a_case_file() {
        assert!(parse("d.yaml", "registries:\n  allowed: [a]\n")
            .expect("ok")
            .is_none());
        assert!(parse("m.yaml", "a: 1\n---\nb: 2\n").expect("ok").is_none());
        assert!(parse("e.yaml", "").expect("ok").is_none());
        assert!(parse("bad.yaml", "a: [1\n").expect("ok").is_none());
    }

    #[test]
    fn parses_and_locates_cases() {
        let text = "rule: X1\ncases:\n  - note: one\n    input: a\n    want: []\n  - note: two\n    input: b\n    error: boom\n  - note: three\n    input: c\n    skip: later\n";
        let f = parse("c.yaml", text).expect("valid").expect("a case file");
        assert_eq!(f.rule, "X1");
        assert_eq!(f.rule_position, Position::new(1, 1));
        let got: Vec<_> = f
            .cases
            .iter()
            .map(|c| {
                (
                    c.note.as_str(),
                    c.position.line,
                    c.position.column,
                    c.expect.clone(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("one", 3, 5, Expect::Findings(Vec::new())),
                ("two", 6, 5, Expect::Error("boom".into())),
                ("three", 9, 5, Expect::Skip("later".into())),
            ]
        );
    }

    #[test]
    fn unknown_field_is_an_error_with_line_and_column() {
        let text = "rule: X1\ncases:\n  - note: one\n    input: a\n    wnat: []\n";
        let errs = parse("c.yaml", text).expect_err("malformed");
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!((errs[0].line, errs[0].column), (5, 5), "{errs:?}");
        assert!(
            errs[0]
                .message
                .starts_with("invalid case file: cases[0]: unknown field `wnat`"),
            "{}",
            errs[0].message
        );
    }

    #[test]
    fn exactly_one_expectation() {
        let text = "rule: X1\ncases:\n  - note: ok\n    input: a\n    want: []\n  - note: both\n    input: a\n    want: []\n    skip: no\n  - note: none\n    input: a\n";
        let errs = parse("c.yaml", text).expect_err("malformed");
        let got: Vec<_> = errs.iter().map(|e| (e.line, e.message.clone())).collect();
        assert_eq!(
            got,
            vec![
                (6, "invalid case file: cases[1] (\"both\"): give exactly one of want, error, skip; it gives want, skip".to_string()),
                (10, "invalid case file: cases[2] (\"none\"): give exactly one of want, error, skip; none is given".to_string()),
            ]
        );
    }

    #[test]
    fn a_broken_file_that_mentions_cases_is_an_error() {
        let errs = parse("c.yaml", "rule: X1\ncases:\n  - note: [unclosed\n").expect_err("bad");
        assert_eq!(errs[0].line, 4, "{errs:?}");
        let errs = parse(
            "c.yaml",
            "cases:\n  - note: a\n    input: b\n    want: []\n",
        )
        .expect_err("no rule");
        assert!(errs[0].message.contains("missing field `rule`"), "{errs:?}");
    }
}
