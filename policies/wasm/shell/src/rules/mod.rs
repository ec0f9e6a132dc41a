//! The rules, one module each, and the table that registers them.
//!
//! A rule is a `check` function over the whole file ([`Checker`]) returning [`Hit`]s, plus its
//! [`Rule`] metadata (what `policy rules --explain` shows). Each module's doc comment is
//! written for users: what it does, why it matters, an example and what to write instead.

use policy_sdk::Severity;

use crate::run::{Checker, Origin};
use crate::syntax::Word;

mod apt;
mod apt_lists;
mod apt_update;
mod assume_yes;
mod cd_last;
mod cd_workdir;
mod chmod;
mod chpasswd;
mod ignored_failure;
mod packages;
mod pinning;
mod pipefail;
mod pkg_cache;
mod signatures;
mod tls;
mod unverified_exec;

/// One finding, before it is located in the source.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The rule ID.
    pub rule: &'static str,
    /// Index of the `RUN` in [`Analysis::runs`](crate::run::Analysis::runs).
    pub run: usize,
    /// Where `start..end` point.
    pub origin: Origin,
    /// Byte range of the offending words.
    pub start: usize,
    /// End of the range (exclusive).
    pub end: usize,
    /// The message.
    pub msg: String,
    /// A severity other than the rule's default, for this finding.
    pub severity: Option<Severity>,
    /// When set, the finding is about this instruction (index in the document's
    /// `instructions`, e.g. an `ENV`), not about words of a `RUN`: `run`, `origin`,
    /// `start` and `end` are then unused.
    pub instruction: Option<usize>,
}

impl Hit {
    /// A hit covering `first` through `last`.
    pub fn words(
        rule: &'static str,
        run: usize,
        origin: Origin,
        first: &Word,
        last: &Word,
        msg: String,
    ) -> Self {
        Hit {
            rule,
            run,
            origin,
            start: first.start,
            end: last.end.max(first.end),
            msg,
            severity: None,
            instruction: None,
        }
    }

    /// A hit on a whole instruction (by its index in the document's `instructions`).
    pub fn instruction(rule: &'static str, index: usize, msg: String) -> Self {
        Hit {
            rule,
            run: 0,
            origin: Origin::Value,
            start: 0,
            end: 0,
            msg,
            severity: None,
            instruction: Some(index),
        }
    }

    /// The same hit with another severity.
    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = Some(severity);
        self
    }
}

/// A rule: its metadata and its check.
#[derive(Debug)]
pub struct Rule {
    /// Stable ID.
    pub id: &'static str,
    /// One-line title.
    pub title: &'static str,
    /// Default severity.
    pub severity: Severity,
    /// Why it matters, with an example (Markdown).
    pub description: &'static str,
    /// What to do.
    pub remediation: &'static str,
    /// Reference URLs.
    pub references: &'static [&'static str],
    /// The check.
    pub check: fn(&Checker<'_, '_>) -> Vec<Hit>,
}

/// Every rule of this policy, by ID.
pub const RULES: &[&Rule] = &[
    &pipefail::RULE,
    &cd_last::RULE,
    &apt_update::RULE,
    &apt_lists::RULE,
    &unverified_exec::RULE,
    &ignored_failure::RULE,
    &pinning::RULE,
    &pkg_cache::RULE,
    &tls::RULE,
    &signatures::RULE,
    &chpasswd::RULE,
    &chmod::RULE,
    &assume_yes::RULE,
    &cd_workdir::RULE,
];

/// `` `text` `` with the text shortened to `max` characters.
pub fn code(text: &str, max: usize) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c == '\n' { ' ' } else { c })
        .collect();
    if one_line.chars().count() <= max {
        format!("`{one_line}`")
    } else {
        let cut: String = one_line.chars().take(max.saturating_sub(1)).collect();
        format!("`{cut}…`")
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Builds a Dockerfile document the way the engine does, for the rules' unit tests.

    use policy_sdk::dockerfile::Dockerfile;
    use serde_json::{json, Value};

    /// A Dockerfile view from a list of `(keyword line)` instructions; each RUN is in
    /// shell form on one line, stage 0 unless a later FROM starts another.
    pub fn dockerfile(lines: &[&str]) -> Dockerfile {
        let mut instructions = Vec::new();
        let mut stages: Vec<Value> = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            let (kw, rest) = line.split_once(' ').unwrap_or((line, ""));
            let cmd = kw.to_ascii_lowercase();
            if cmd == "from" {
                let mut parts = rest.split_whitespace();
                let image = parts.next().unwrap_or("");
                let name = match (parts.next(), parts.next()) {
                    (Some(a), Some(n)) if a.eq_ignore_ascii_case("as") => Some(n),
                    _ => None,
                };
                let parent = stages
                    .iter()
                    .position(|s| s["name"].as_str() == Some(image));
                stages.push(json!({"index": stages.len(), "name": name, "line": i + 1,
                                   "base": {"image": image, "stage": parent}}));
            }
            let exec: Option<Vec<String>> = serde_json::from_str(rest).ok();
            let json_form = exec.is_some();
            let args: Value = match exec {
                Some(args) => json!(args),
                None => json!([rest]),
            };
            instructions.push(json!({
                "cmd": cmd, "line": i + 1, "end_line": i + 1, "column": 1,
                "stage": stages.len().checked_sub(1), "original": line, "json": json_form,
                "args": args, "value": rest, "path": rest,
            }));
        }
        serde_json::from_value(json!({"stages": stages, "instructions": instructions}))
            .expect("view")
    }
}
