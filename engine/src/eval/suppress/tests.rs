//! Unit tests of the suppression scanner: which lines are comments, what each directive
//! covers, and the traps (heredocs, block scalars, quotes, documents).

use std::sync::Arc;

use super::*;
use crate::diagnostics::{ErrorKind, ErrorRecord, Level, Location};
use crate::inputs::{dockerfile, yaml, LoadOptions};
use crate::rules::{RuleMeta, RuleOrigin, RuntimeKind};
use crate::source::Span;
use crate::Severity;

fn dockerfile_scan(src: &str) -> Scan {
    let doc = dockerfile::parse("Dockerfile", src).expect("valid Dockerfile");
    scan(&[&doc])
}

fn yaml_docs(src: &str) -> Vec<Document> {
    let (docs, errors) = yaml::parse_yaml("k.yaml", src, &LoadOptions::default());
    assert!(errors.is_empty(), "{errors:?}");
    docs
}

fn yaml_scan(src: &str) -> Scan {
    let docs = yaml_docs(src);
    let refs: Vec<&Document> = docs.iter().collect();
    scan(&refs)
}

/// `(first, last, ids, reason)` of every directive.
fn summary(scan: &Scan) -> Vec<(u32, u32, Vec<&str>, Option<&str>)> {
    scan.directives
        .iter()
        .map(|d| {
            let (first, last) = match d.scope {
                Scope::Lines { first, last } => (first, last),
                Scope::Document(i) => (0, i as u32),
            };
            let ids = d.rules.iter().map(|r| r.id.as_str()).collect();
            (first, last, ids, d.reason.as_deref())
        })
        .collect()
}

/// `(line, column, message start)` of every problem.
fn problems(scan: &Scan) -> Vec<(u32, u32, &str)> {
    scan.problems
        .iter()
        .map(|p| (p.position.line, p.position.column, p.message.as_str()))
        .collect()
}

// ---------------------------------------------------------------------------------------
// The text of a directive.

#[test]
fn ids_reason_and_positions() {
    let mut probs = Vec::new();
    let (rules, reason) = parse_list(
        "DF001,k8s002, DF003 pinned by renovate ",
        Position::new(4, 17),
        COMMENT_USAGE,
        &mut probs,
    );
    let got: Vec<(&str, u32)> = rules
        .iter()
        .map(|r| (r.id.as_str(), r.position.column))
        .collect();
    assert_eq!(got, [("DF001", 17), ("k8s002", 23), ("DF003", 31)]);
    assert_eq!(reason.as_deref(), Some("pinned by renovate"));
    assert!(probs.is_empty(), "{probs:?}");

    let (rules, reason) = parse_list("DF001", Position::START, COMMENT_USAGE, &mut probs);
    assert_eq!(rules.len(), 1);
    assert_eq!(reason, None);
}

#[test]
fn wildcards_and_empty_ids_are_problems_not_rules() {
    let s = dockerfile_scan(
        "# policy:ignore=* everything\n# policy:ignore=all\n# policy:ignore=DF001,,ALL keep\n# policy:ignore=\nFROM alpine\n",
    );
    assert_eq!(summary(&s), [(5, 5, vec!["DF001"], Some("keep"))]);
    let got = problems(&s);
    assert_eq!(got.len(), 5, "{got:?}");
    assert_eq!((got[0].0, got[0].1), (1, 17));
    assert!(got[0].2.starts_with("`*` is not supported"), "{got:?}");
    assert!(got[1].2.starts_with("`all` is not supported"), "{got:?}");
    assert_eq!((got[2].0, got[2].1), (3, 23));
    assert!(got[2].2.starts_with("expected rule IDs"), "{got:?}");
    assert_eq!((got[3].0, got[3].1), (3, 24));
    assert!(got[3].2.starts_with("`ALL` is not supported"), "{got:?}");
    assert_eq!((got[4].0, got[4].1), (4, 17));
}

#[test]
fn only_the_marker_at_the_start_of_a_comment_counts() {
    let s = dockerfile_scan(
        "# syntax=docker/dockerfile:1\n# see policy:ignore=DF001 docs\n# policy:ignored=DF001\n#policy:ignore=DF002 tight\n# policy:ignore DF003\nFROM alpine\n",
    );
    assert_eq!(summary(&s), [(6, 6, vec!["DF002"], Some("tight"))]);
    assert_eq!(problems(&s).len(), 1);
    let (line, col, msg) = problems(&s)[0];
    assert_eq!((line, col), (5, 1));
    assert!(msg.starts_with("malformed suppression"), "{msg}");
}

// ---------------------------------------------------------------------------------------
// Dockerfiles.

#[test]
fn dockerfile_comment_covers_the_whole_next_instruction() {
    let s = dockerfile_scan(
        "# policy:ignore=DF001 pinned by renovate\nFROM debian:latest\n\n# policy:ignore=DF005 vendor script\n\n# policy:ignore=DF004\nRUN curl -fsSL https://x.invalid/i.sh \\\n    | sh \\\n    && true\nUSER app\n",
    );
    assert_eq!(
        summary(&s),
        [
            (2, 2, vec!["DF001"], Some("pinned by renovate")),
            (7, 9, vec!["DF005"], Some("vendor script")),
            (7, 9, vec!["DF004"], None),
        ]
    );
    assert!(s.problems.is_empty(), "{:?}", s.problems);
    assert_eq!(s.directives[1].position, Position::new(4, 1));
}

#[test]
fn dockerfile_comment_between_continuation_lines_covers_its_instruction() {
    let s = dockerfile_scan(
        "FROM alpine\nRUN apk add curl \\\n  # policy:ignore=DF005 reviewed\n  && curl x | sh\nUSER app\n",
    );
    assert_eq!(summary(&s), [(2, 4, vec!["DF005"], Some("reviewed"))]);
}

#[test]
fn dockerfile_heredoc_bodies_are_not_comments() {
    let src = "FROM alpine\nRUN <<EOF\n# policy:ignore=DF005 inside the script\ncurl x | sh\nEOF\nCOPY <<-CFG /etc/app.yaml\n\t# policy:ignore=K8S001 data\nCFG\n# policy:ignore=DF002 after the heredoc\nUSER root\n";
    let s = dockerfile_scan(src);
    assert_eq!(
        summary(&s),
        [(10, 10, vec!["DF002"], Some("after the heredoc"))]
    );
    assert!(s.problems.is_empty(), "{:?}", s.problems);
}

#[test]
fn dockerfile_hash_after_an_instruction_is_not_a_comment() {
    let s = dockerfile_scan(
        "FROM alpine\nRUN curl x | sh # policy:ignore=DF005 not a comment\nRUN echo '#policy:ignore=DF005'\n",
    );
    assert!(s.directives.is_empty(), "{:?}", s.directives);
    assert_eq!(problems(&s).len(), 1, "{:?}", s.problems);
    let (line, col, msg) = problems(&s)[0];
    assert_eq!((line, col), (2, 17));
    assert!(
        msg.starts_with("in a Dockerfile `#` starts a comment only"),
        "{msg}"
    );
}

#[test]
fn dockerfile_comment_at_the_end_applies_to_nothing() {
    let s = dockerfile_scan("FROM alpine\n# policy:ignore=DF002 trailing\n\n");
    assert!(s.directives.is_empty());
    let (line, col, msg) = problems(&s)[0];
    assert_eq!((line, col), (2, 1));
    assert!(msg.contains("applies to nothing"), "{msg}");
}

#[test]
fn dockerfile_suppression_above_parser_directives_is_flagged() {
    // Below the directives: fine.
    let s = dockerfile_scan(
        "# syntax=docker/dockerfile:1\n# policy:ignore=DF001 r\nFROM debian:latest\n",
    );
    assert_eq!(summary(&s), [(3, 3, vec!["DF001"], Some("r"))]);
    assert!(s.problems.is_empty(), "{:?}", s.problems);
    // Above them: the directive is no longer one, and the user is told.
    let src = "# policy:ignore=DF001 r\n# syntax=docker/dockerfile:1\nFROM debian:latest\n";
    let doc = dockerfile::parse("Dockerfile", src).expect("valid");
    assert!(doc.value["directives"].get("syntax").is_none());
    let s = scan(&[&doc]);
    assert_eq!(summary(&s), [(3, 3, vec!["DF001"], Some("r"))]);
    let (line, col, msg) = problems(&s)[0];
    assert_eq!((line, col), (2, 1));
    assert!(msg.starts_with("this parser directive follows"), "{msg}");
}

// ---------------------------------------------------------------------------------------
// YAML.

const DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      # policy:ignore=K8S006 limits come from a LimitRange
      containers:
      - name: web
        image: nginx:1.27
        securityContext:  # policy:ignore=K8S003 writes to /tmp
          readOnlyRootFilesystem: false
          privileged: true  # policy:ignore=K8S001 needed for CNI
      # policy:ignore=K8S002 sidecar runs as root
      # policy:ignore=K8S004
      - name: sidecar

        image: busybox:1.36
      volumes: []
";

#[test]
fn yaml_comment_covers_the_next_line_and_the_block_it_opens() {
    let s = yaml_scan(DEPLOYMENT);
    assert_eq!(
        summary(&s),
        [
            // `containers:` and its sequence, written at the same indentation.
            (9, 19, vec!["K8S006"], Some("limits come from a LimitRange")),
            // A trailing comment on a line that opens a mapping covers the mapping.
            (12, 14, vec!["K8S003"], Some("writes to /tmp")),
            (14, 14, vec!["K8S001"], Some("needed for CNI")),
            // Stacked comments both apply to the next entry, blank line included.
            (17, 19, vec!["K8S002"], Some("sidecar runs as root")),
            (17, 19, vec!["K8S004"], None),
        ]
    );
    assert_eq!(s.directives[2].position, Position::new(14, 29));
    assert_eq!(s.directives[2].rules[0].position, Position::new(14, 45));
    assert!(s.problems.is_empty(), "{:?}", s.problems);
}

#[test]
fn yaml_block_scalars_hold_no_comments() {
    let src = "\
steps:
  - run: |
      # policy:ignore=WF001 this is shell
      echo hi

      # policy:ignore=WF001 still shell
  - run: >-
      # folded
    # policy:ignore=WF001 a real comment
  - uses: actions/checkout@v4
  - |
    # policy:ignore=WF001 entry content
  - name: last
";
    let s = yaml_scan(src);
    assert_eq!(
        summary(&s),
        [(10, 10, vec!["WF001"], Some("a real comment"))]
    );
}

#[test]
fn yaml_quoted_scalars_hold_no_comments() {
    let src = "\
a: \"x # policy:ignore=R1 in double quotes\"
b: 'it''s # policy:ignore=R1 in single quotes'
c: \"first line
  # policy:ignore=R1 inside a multi-line string
  last\"  # policy:ignore=R2 after the string
d: don't # policy:ignore=R3 a plain scalar with an apostrophe
e: http://x.invalid/#policy:ignore=R1
f: [\"# policy:ignore=R1\", 'x'] # policy:ignore=R4 flow
g: !!str \"# policy:ignore=R1\"
";
    let s = yaml_scan(src);
    let got: Vec<(u32, Vec<&str>)> = summary(&s)
        .into_iter()
        .map(|(first, _, ids, _)| (first, ids))
        .collect();
    assert_eq!(got, [(5, vec!["R2"]), (6, vec!["R3"]), (8, vec!["R4"]),]);
}

#[test]
fn yaml_comments_stay_in_their_document() {
    let src = "\
apiVersion: v1
kind: Pod
metadata:
  name: one
# policy:ignore=K8S001 ends the document: applies to nothing
---
# policy:ignore=K8S002 second pod only
apiVersion: v1
kind: Pod
metadata:
  name: two
";
    let docs = yaml_docs(src);
    assert_eq!(docs.len(), 2);
    let s = yaml_scan(src);
    assert_eq!(
        summary(&s),
        [(8, 8, vec!["K8S002"], Some("second pod only"))]
    );
    let (line, _, msg) = problems(&s)[0];
    assert_eq!(line, 5);
    assert!(msg.contains("applies to nothing"), "{msg}");
    // The covered lines are all inside the second document.
    assert!(docs[1].span.start.line <= 8 && docs[0].span.end.line < 8);
}

#[test]
fn annotation_covers_its_object() {
    let src = "\
apiVersion: v1
kind: Pod
metadata:
  name: one
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: two
  annotations:
    policy.dev/ignore: \"K8S001,K8S003 the CNI agent\"
spec:
  template:
    metadata:
      annotations:
        policy.dev/ignore: K8S002
";
    let s = yaml_scan(src);
    assert_eq!(
        summary(&s),
        [(0, 1, vec!["K8S001", "K8S003"], Some("the CNI agent"))]
    );
    let d = &s.directives[0];
    assert_eq!(d.origin, Origin::Annotation);
    assert_eq!(d.position, Position::new(11, 24));
    assert_eq!(d.rules[1].position, Position::new(11, 32));
    let (line, col, msg) = problems(&s)[0];
    assert_eq!((line, col), (16, 28));
    assert!(msg.contains("not from a pod template"), "{msg}");

    let s = yaml_scan(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  annotations:\n    policy.dev/ignore: 3\n",
    );
    assert!(s.directives.is_empty());
    assert!(problems(&s)[0].2.contains("must be a string"));
}

// ---------------------------------------------------------------------------------------
// Applying to a report.

fn rule(id: &str) -> Arc<RuleMeta> {
    Arc::new(RuleMeta {
        id: id.to_string(),
        title: id.to_string(),
        description: String::new(),
        severity: Severity::High,
        kinds: Vec::new(),
        remediation: None,
        references: Vec::new(),
        aliases: Vec::new(),
        origin: RuleOrigin {
            builtin: true,
            runtime: RuntimeKind::Rego,
            file: "x.rego".to_string(),
            package: None,
        },
    })
}

fn finding(rule: &Arc<RuleMeta>, doc: &Document, line: u32) -> Finding {
    Finding {
        related_rules: Vec::new(),
        rule: rule.clone(),
        severity: rule.severity,
        level: Level::Deny,
        message: format!("{} at {line}", rule.id),
        location: Location {
            file: doc.path.clone(),
            document: doc.index,
            span: Span::line(line),
            path: Vec::new(),
        },
    }
}

#[test]
fn apply_moves_covered_findings_and_warns() {
    let docs = yaml_docs(
        "\
apiVersion: v1
kind: Pod
metadata:
  name: a
spec:
  hostNetwork: true  # policy:ignore=K8S008,K8S0001 node exporter
---
apiVersion: v1
kind: Pod
metadata:
  name: b
  annotations:
    policy.dev/ignore: K8S002
spec:
  hostNetwork: true  # policy:ignore=K8S007 unused here
",
    );
    let (k8s008, k8s002, k8s007) = (rule("K8S008"), rule("K8S002"), rule("K8S007"));
    let mut report = Report {
        rules: vec![
            k8s008.clone(),
            k8s002.clone(),
            k8s007.clone(),
            rule("K8S001"),
        ],
        findings: vec![
            finding(&k8s008, &docs[0], 6),
            finding(&k8s002, &docs[0], 1),
            finding(&k8s008, &docs[1], 15),
            finding(&k8s002, &docs[1], 8),
        ],
        ..Report::default()
    };
    let refs: Vec<&Document> = docs.iter().collect();
    apply(&mut report, &refs);

    let kept: Vec<(&str, u32)> = report
        .findings
        .iter()
        .map(|f| (f.rule.id.as_str(), f.location.span.start.line))
        .collect();
    assert_eq!(kept, [("K8S002", 1), ("K8S008", 15)]);
    let suppressed: Vec<(&str, u32, &str, &SuppressionSource)> = report
        .suppressed
        .iter()
        .map(|s| {
            (
                s.finding.rule.id.as_str(),
                s.finding.location.span.start.line,
                s.reason.as_str(),
                &s.source,
            )
        })
        .collect();
    let at = |line, column| SuppressionSource::InSource {
        file: Arc::from("k.yaml"),
        line,
        column,
    };
    assert_eq!(
        suppressed,
        [
            ("K8S008", 6, "node exporter", &at(6, 22)),
            ("K8S002", 8, NO_REASON, &at(13, 24)),
        ]
    );
    let warnings: Vec<(u32, u32, &str)> = report
        .warnings
        .iter()
        .map(|w| (w.line, w.column, w.message.as_str()))
        .collect();
    assert_eq!(
        warnings,
        [
            (
                6,
                45,
                "`policy:ignore` names rule `K8S0001`, which is not loaded (did you mean `K8S001`?)"
            ),
            (
                13,
                24,
                "the `policy.dev/ignore` annotation gives no reason; say why the finding is accepted after the rule IDs in the value (recorded as \"no reason given\")"
            ),
            (
                15,
                38,
                "`policy:ignore=K8S007` suppresses nothing: no K8S007 finding starts on line 15 (remove it, or move it to the line it is about)"
            ),
        ]
    );
    assert!(report.warnings.iter().all(|w| w.file == "k.yaml"));
}

#[test]
fn a_rule_that_failed_on_the_file_is_not_called_unused() {
    let doc = dockerfile::parse(
        "Dockerfile",
        "# policy:ignore=DF001 r\nFROM alpine\n# policy:ignore=POL001 r\nUSER app\n",
    )
    .expect("valid");
    let mut report = Report {
        rules: vec![rule("DF001")],
        errors: vec![ErrorRecord {
            kind: ErrorKind::RuleError,
            file: "Dockerfile".to_string(),
            line: 1,
            column: 1,
            rule: Some("DF001".to_string()),
            input: Some("Dockerfile".to_string()),
            message: "boom".to_string(),
        }],
        ..Report::default()
    };
    apply(&mut report, &[&doc]);
    let messages: Vec<&str> = report.warnings.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(
        messages,
        ["`policy:ignore` names `POL001`, an error, not a rule: errors cannot be suppressed (fix what causes them)"]
    );
}

#[test]
fn crlf_and_list_items() {
    let s = yaml_scan("a: 1\r\nb: true  # policy:ignore=R1 why\r\nc: 3\r\n");
    assert_eq!(summary(&s), [(2, 2, vec!["R1"], Some("why"))]);
    assert_eq!(s.directives[0].rules[0].position, Position::new(2, 26));

    // In a `kind: List`, a comment above an item covers that item only.
    let src = "\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: a}
# policy:ignore=K8S001 b only
- apiVersion: v1
  kind: Pod
  metadata: {name: b}
";
    let docs = yaml_docs(src);
    assert_eq!(docs.len(), 2);
    let s = yaml_scan(src);
    assert_eq!(summary(&s), [(8, 10, vec!["K8S001"], Some("b only"))]);
}
