//! Inline ignores written for hadolint and checkov, honoured for the rules that cover
//! the ignored checks.
//!
//! A team that moves from hadolint or checkov has its accepted findings written down as
//! `# hadolint ignore=DL3008` and `#checkov:skip=CKV_K8S_20:reason` comments. Making them
//! rewrite every one before `policy` is usable would keep them on the old tool; ignoring
//! the comments would flood them with findings they already accepted. So a finding of a
//! rule whose aliases ([`RuleMeta::aliases`](crate::rules::RuleMeta)) include an ignored
//! peer check is suppressed, with the comment as its source and a reason that names the
//! peer check, so the report shows it as such. `.policy.yaml` `peer-ignores: false` turns
//! this off ([`super::EvalOptions::no_peer_ignores`]).
//!
//! The scopes follow the peers:
//!
//! * `# hadolint ignore=DL3008,DL3015` covers the next instruction of the Dockerfile;
//!   `# hadolint global ignore=…` covers the whole file.
//! * `#checkov:skip=CKV_X:reason` covers its resource: in a Dockerfile the whole file, in
//!   YAML the document the comment is in (or the next one, for a comment above it).
//!
//! Dockerfile comments come from the document's `comments` (full-line comments outside
//! instructions and heredocs); YAML comments are lines whose first non-blank character
//! is `#`. Peer IDs that no loaded rule covers are the peer's business and are left alone.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::diagnostics::{Report, Suppressed, SuppressionSource};
use crate::inputs::kinds::Comments;
use crate::inputs::Document;

/// One peer ignore comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIgnore {
    /// `hadolint` or `checkov`.
    pub tool: &'static str,
    /// The peer check IDs it names.
    pub ids: Vec<String>,
    /// The reason written after the ID (checkov only).
    pub reason: Option<String>,
    /// 1-based line and column of the comment's `#`.
    pub line: u32,
    /// Column of the `#`.
    pub column: u32,
    /// The lines of the file it covers (inclusive).
    pub first: u32,
    /// Last covered line.
    pub last: u32,
}

/// The peer ignore comments of one file, given all its documents.
pub fn scan(documents: &[&Document]) -> Vec<PeerIgnore> {
    let Some(first) = documents.first() else {
        return Vec::new();
    };
    if !first.source.contains("hadolint") && !first.source.contains("checkov") {
        return Vec::new();
    }
    match first.kind.spec().comments {
        Comments::Dockerfile => scan_dockerfile(first),
        Comments::Yaml => scan_yaml(first, documents),
        Comments::None => Vec::new(),
    }
}

/// Splits `hadolint ignore=DL3008,DL3015 rest` / `checkov:skip=CKV_1:reason` comment text
/// (after the `#`, trimmed).
fn parse(text: &str) -> Option<(&'static str, Vec<String>, Option<String>, bool)> {
    if let Some(rest) = text.strip_prefix("hadolint") {
        let rest = rest.trim_start();
        let (global, rest) = match rest.strip_prefix("global") {
            Some(r) => (true, r.trim_start()),
            None => (false, rest),
        };
        let list = rest.strip_prefix("ignore=")?;
        let list = list.split_whitespace().next().unwrap_or("");
        let ids: Vec<String> = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        return (!ids.is_empty()).then_some(("hadolint", ids, None, global));
    }
    let rest = text.strip_prefix("checkov:skip=")?;
    let (id, reason) = match rest.split_once(':') {
        Some((id, reason)) => (id.trim(), Some(reason.trim().to_string())),
        None => (rest.split_whitespace().next().unwrap_or(""), None),
    };
    let reason = reason.filter(|r| !r.is_empty());
    (!id.is_empty()).then(|| ("checkov", vec![id.to_string()], reason, true))
}

fn scan_dockerfile(doc: &Document) -> Vec<PeerIgnore> {
    let mut out = Vec::new();
    let Some(comments) = doc.value.get("comments").and_then(|c| c.as_array()) else {
        return out;
    };
    let instructions = doc
        .value
        .get("instructions")
        .and_then(|i| i.as_array())
        .cloned()
        .unwrap_or_default();
    let lines: Vec<&str> = doc.source.lines().collect();
    for c in comments {
        let (Some(text), Some(line)) = (
            c.get("text").and_then(|t| t.as_str()),
            c.get("line").and_then(|l| l.as_u64()),
        ) else {
            continue;
        };
        let line = line as u32;
        let Some((tool, ids, reason, whole)) = parse(text.trim()) else {
            continue;
        };
        let (first, last) = if whole {
            (1, u32::MAX)
        } else {
            // The next instruction after the comment.
            let next = instructions.iter().find_map(|i| {
                let l = i.get("line")?.as_u64()? as u32;
                let e = i.get("end_line")?.as_u64()? as u32;
                (l > line).then_some((l, e))
            });
            match next {
                Some(range) => range,
                None => continue,
            }
        };
        let column = lines
            .get(line as usize - 1)
            .and_then(|l| l.find('#'))
            .map_or(1, |c| l_column(&lines, line, c));
        out.push(PeerIgnore {
            tool,
            ids,
            reason,
            line,
            column,
            first,
            last,
        });
    }
    out
}

fn l_column(lines: &[&str], line: u32, byte: usize) -> u32 {
    lines
        .get(line as usize - 1)
        .map_or(1, |l| l[..byte].chars().count() as u32 + 1)
}

fn scan_yaml(first: &Document, documents: &[&Document]) -> Vec<PeerIgnore> {
    let mut out = Vec::new();
    for (k, text) in first.source.lines().enumerate() {
        let trimmed = text.trim_start();
        let Some(body) = trimmed.strip_prefix('#') else {
            continue;
        };
        let Some((tool, ids, reason, _)) = parse(body.trim()) else {
            continue;
        };
        if tool != "checkov" {
            continue;
        }
        let line = k as u32 + first.first_line.max(1);
        // The document holding the line, else the first one starting after it.
        let doc = documents
            .iter()
            .find(|d| d.span.start.line <= line && line <= d.span.end.line)
            .or_else(|| {
                documents
                    .iter()
                    .filter(|d| d.span.start.line > line)
                    .min_by_key(|d| d.span.start.line)
            });
        let Some(doc) = doc else {
            continue;
        };
        out.push(PeerIgnore {
            tool,
            ids,
            reason,
            line,
            column: (text.len() - trimmed.len()) as u32 + 1,
            first: doc.span.start.line.min(line),
            last: doc.span.end.line,
        });
    }
    out
}

/// Moves the findings that peer ignores of `documents` cover from `report.findings` to
/// `report.suppressed`. A finding is covered when it starts on a covered line and its
/// rule's aliases include an ignored peer check (compared ignoring ASCII case).
pub fn apply(report: &mut Report, documents: &[&Document]) {
    apply_scans(report, &scans(documents));
}

/// The peer ignores [`apply`] finds in `documents`, per path that has any, by path. A
/// streamed run ([`super::stream`]) keeps them and drops the documents.
pub fn scans(documents: &[&Document]) -> Vec<(Arc<str>, Vec<PeerIgnore>)> {
    let mut by_file: BTreeMap<&str, Vec<&Document>> = BTreeMap::new();
    for doc in documents {
        by_file.entry(&doc.path).or_default().push(doc);
    }
    by_file
        .into_values()
        .map(|docs| (docs[0].path.clone(), scan(&docs)))
        .filter(|(_, s)| !s.is_empty())
        .collect()
}

/// [`apply`] with the peer ignores already found ([`scans`], by path).
pub fn apply_scans(report: &mut Report, scans: &[(Arc<str>, Vec<PeerIgnore>)]) {
    if scans.is_empty() {
        return;
    }
    let findings = std::mem::take(&mut report.findings);
    for f in findings {
        let hit = scans
            .iter()
            .filter(|(path, _)| **path == *f.location.file)
            .flat_map(|(path, ignores)| ignores.iter().map(move |i| (path, i)))
            .find_map(|(path, ig)| {
                let line = f.location.span.start.line;
                if line < ig.first || line > ig.last {
                    return None;
                }
                let id = ig
                    .ids
                    .iter()
                    .find(|id| f.rule.aliases.iter().any(|a| a.eq_ignore_ascii_case(id)))?;
                Some((path.clone(), ig, id.clone()))
            });
        match hit {
            Some((path, ig, id)) => {
                let why = ig
                    .reason
                    .clone()
                    .unwrap_or_else(|| "no reason given".into());
                report.suppressed.push(Suppressed {
                    reason: format!(
                        "{} inline ignore of {id} (covered by {}): {why}",
                        ig.tool, f.rule.id
                    ),
                    source: SuppressionSource::InSource {
                        file: path,
                        line: ig.line,
                        column: ig.column,
                    },
                    finding: f,
                });
            }
            None => report.findings.push(f),
        }
    }
    report.sort();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_forms() {
        assert_eq!(
            parse("hadolint ignore=DL3008,DL3015 pinned elsewhere"),
            Some((
                "hadolint",
                vec!["DL3008".into(), "DL3015".into()],
                None,
                false
            ))
        );
        assert_eq!(
            parse("hadolint global ignore=DL3059"),
            Some(("hadolint", vec!["DL3059".into()], None, true))
        );
        assert_eq!(
            parse("checkov:skip=CKV_K8S_20:the agent needs it"),
            Some((
                "checkov",
                vec!["CKV_K8S_20".into()],
                Some("the agent needs it".into()),
                true
            ))
        );
        assert_eq!(
            parse("checkov:skip=CKV_DOCKER_2"),
            Some(("checkov", vec!["CKV_DOCKER_2".into()], None, true))
        );
        assert_eq!(parse("hadolint ignore="), None);
        assert_eq!(parse("ignore hadolint"), None);
    }

    #[test]
    fn dockerfile_scopes() {
        let src = "FROM debian:12\n# hadolint ignore=DL3008\nRUN apt-get install -y curl \\\n  git\n#checkov:skip=CKV_DOCKER_2:no healthcheck\nCMD [\"x\"]\n";
        let doc = crate::inputs::dockerfile::parse("Dockerfile", src).expect("parses");
        let found = scan(&[&doc]);
        assert_eq!(found.len(), 2);
        assert_eq!((found[0].first, found[0].last), (3, 4));
        assert_eq!((found[0].line, found[0].column), (2, 1));
        assert_eq!(found[1].ids, ["CKV_DOCKER_2"]);
        assert_eq!((found[1].first, found[1].last), (1, u32::MAX));
    }
}
