//! The one fixed [`Report`] every reporter test renders, so that snapshots of all formats
//! describe the same run and can be compared side by side.
//!
//! It covers: two evaluated files with sources (a Dockerfile and a two-document YAML
//! file), every severity, a warn-level finding, a span ending at column 1 of a later
//! line, a finding after a tab, one after CJK characters, an empty (point) span, a rule
//! with remediation and references, a finding whose rule is not in the catalog, one
//! error record of each kind, a skipped input and a failed input.

use std::sync::Arc;

use crate::diagnostics::{
    ErrorKind, ErrorRecord, Finding, InputStatus, InputSummary, Level, Location, Report,
};
use crate::inputs::DocumentKind;
use crate::rules::{RuleMeta, RuleOrigin, RuntimeKind};
use crate::source::{Position, Span};
use crate::{PathSegment, Severity};

pub(crate) const DOCKERFILE: &str = "FROM ubuntu:latest\n\
RUN apt-get update && \\\n    apt-get install -y curl\n\
USER root\n\
\tEXPOSE 22\n";

pub(crate) const DEPLOY: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: café-web
spec:
  template:
    spec:
      containers:
        - {name: \"日本語\", image: nginx}
      hostPID: true
---
apiVersion: v1
kind: Service
metadata:
  name: café-web
spec:
  type: NodePort
";

pub(crate) const BROKEN: &str = "apiVersion: v1\nkind: ConfigMap\ndata: {key: value\n";

/// The span of the first `needle` on 1-based `line` of `src` (columns in characters).
fn span_of(src: &str, line: u32, needle: &str) -> Span {
    let text = src
        .lines()
        .nth(line as usize - 1)
        .expect("fixture line exists");
    let byte = text.find(needle).expect("fixture needle exists");
    let col = text[..byte].chars().count() as u32 + 1;
    Span::new(
        Position::new(line, col),
        Position::new(line, col + needle.chars().count() as u32),
    )
}

fn rule(
    id: &str,
    title: &str,
    severity: Severity,
    kind: DocumentKind,
    origin: RuleOrigin,
) -> RuleMeta {
    RuleMeta {
        id: id.to_owned(),
        title: title.to_owned(),
        description: String::new(),
        severity,
        kinds: vec![kind],
        remediation: None,
        references: Vec::new(),
        aliases: Vec::new(),
        origin,
    }
}

fn rego(file: &str, package: &str) -> RuleOrigin {
    RuleOrigin {
        builtin: true,
        runtime: RuntimeKind::Rego,
        file: file.to_owned(),
        package: Some(package.to_owned()),
    }
}

fn finding(
    rule: &Arc<RuleMeta>,
    severity: Severity,
    level: Level,
    message: &str,
    location: Location,
) -> Finding {
    Finding {
        related_rules: Vec::new(),
        rule: Arc::clone(rule),
        severity,
        level,
        message: message.to_owned(),
        location,
    }
}

fn at(file: &str, document: usize, span: Span, path: &[PathSegment]) -> Location {
    Location {
        file: Arc::from(file),
        document,
        span,
        path: path.to_vec(),
    }
}

/// The fixed report.
pub(crate) fn report() -> Report {
    use DocumentKind::{Dockerfile, Kubernetes};
    use Severity::{Critical, High, Info, Low, Medium};

    let mut df001 = rule(
        "DF001",
        "Image uses the latest tag",
        High,
        Dockerfile,
        rego(
            "dockerfile/latest_tag.rego",
            "data.builtin.dockerfile.latest_tag",
        ),
    );
    df001.description = "Pulling `:latest` makes builds irreproducible: the image can change \
                         under you between two builds."
        .to_owned();
    df001.remediation = Some("Pin the base image to a version tag or a digest.".to_owned());
    df001.references = vec![
        "https://docs.docker.com/build/building/best-practices/#from".to_owned(),
        "https://example.com/policies/DF001".to_owned(),
    ];
    let df001 = Arc::new(df001);

    let mut df002 = rule(
        "DF002",
        "apt-get install without --no-install-recommends",
        Medium,
        Dockerfile,
        rego("dockerfile/apt.rego", "data.builtin.dockerfile.apt"),
    );
    df002.remediation = Some("Add `--no-install-recommends` to `apt-get install`.".to_owned());
    let df002 = Arc::new(df002);

    let df003 = Arc::new(rule(
        "DF003",
        "Container runs as root",
        Critical,
        Dockerfile,
        rego("dockerfile/user.rego", "data.builtin.dockerfile.user"),
    ));
    let df004 = Arc::new(rule(
        "DF004",
        "SSH port exposed",
        Low,
        Dockerfile,
        rego("dockerfile/expose.rego", "data.builtin.dockerfile.expose"),
    ));
    let k8s001 = Arc::new(rule(
        "K8S001",
        "Image without a tag",
        Medium,
        Kubernetes,
        rego(
            "kubernetes/image_tag.rego",
            "data.builtin.kubernetes.image_tag",
        ),
    ));
    let k8s002 = Arc::new(rule(
        "K8S002",
        "Pod shares the host PID namespace",
        High,
        Kubernetes,
        RuleOrigin {
            builtin: false,
            runtime: RuntimeKind::Wasm,
            file: "policies/k8s.wasm".to_owned(),
            package: None,
        },
    ));
    // Not in `report.rules`: reporters must still describe it.
    let k8s003 = Arc::new(RuleMeta {
        id: "custom.nodeport".to_owned(),
        title: "Service of type NodePort".to_owned(),
        description: String::new(),
        severity: Info,
        kinds: Vec::new(),
        remediation: None,
        references: Vec::new(),
        aliases: Vec::new(),
        origin: RuleOrigin {
            builtin: false,
            runtime: RuntimeKind::Rego,
            file: "policies/custom/nodeport.rego".to_owned(),
            package: Some("data.custom.nodeport".to_owned()),
        },
    });
    // In the catalog, never fired.
    let k8s010 = Arc::new(rule(
        "K8S010",
        "Container without resource limits",
        Low,
        Kubernetes,
        rego("kubernetes/limits.rego", "data.builtin.kubernetes.limits"),
    ));

    let containers_image: Vec<PathSegment> = vec![
        "spec".into(),
        "template".into(),
        "spec".into(),
        "containers".into(),
        0.into(),
        "image".into(),
    ];
    let host_pid: Vec<PathSegment> = vec![
        "spec".into(),
        "template".into(),
        "spec".into(),
        "hostPID".into(),
    ];
    let nodeport_start = span_of(DEPLOY, 17, "NodePort").start;

    let findings = vec![
        finding(
            &df001,
            High,
            Level::Deny,
            "Image `ubuntu:latest` uses the latest tag",
            at(
                "Dockerfile",
                0,
                span_of(DOCKERFILE, 1, "ubuntu:latest"),
                &["stages".into(), 0.into(), "from".into()],
            ),
        ),
        finding(
            &df002,
            Medium,
            Level::Deny,
            "`apt-get install` without `--no-install-recommends` pulls in 100% more than needed",
            at(
                "Dockerfile",
                0,
                Span::new(Position::new(2, 1), Position::new(4, 1)),
                &["stages".into(), 0.into(), "instructions".into(), 1.into()],
            ),
        ),
        finding(
            &df003,
            Critical,
            Level::Deny,
            "The last USER is root",
            at(
                "Dockerfile",
                0,
                span_of(DOCKERFILE, 4, "USER root"),
                &["stages".into(), 0.into(), "instructions".into(), 2.into()],
            ),
        ),
        finding(
            &df004,
            Low,
            Level::Warn,
            "Port 22 is exposed, which suggests an SSH server in the image",
            at(
                "Dockerfile",
                0,
                span_of(DOCKERFILE, 5, "EXPOSE 22"),
                &["stages".into(), 0.into(), "instructions".into(), 3.into()],
            ),
        ),
        finding(
            &k8s001,
            Medium,
            Level::Deny,
            "Container \"日本語\" uses image `nginx` without a tag",
            at(
                "k8s/deploy.yaml",
                0,
                span_of(DEPLOY, 9, "nginx"),
                &containers_image,
            ),
        ),
        finding(
            &k8s002,
            High,
            Level::Deny,
            "hostPID: true lets the pod see, and signal, every process on the node",
            at(
                "k8s/deploy.yaml",
                0,
                span_of(DEPLOY, 10, "hostPID: true"),
                &host_pid,
            ),
        ),
        finding(
            &k8s003,
            Info,
            Level::Deny,
            "Service café-web is exposed on every node",
            at(
                "k8s/deploy.yaml",
                1,
                Span::point(nodeport_start),
                &["spec".into(), "type".into()],
            ),
        ),
    ];

    let errors = vec![
        ErrorRecord {
            kind: ErrorKind::ParseError,
            file: "k8s/broken.yaml".to_owned(),
            line: 3,
            column: 7,
            rule: None,
            input: None,
            message: "did not find expected ',' or '}' while parsing a flow mapping".to_owned(),
        },
        ErrorRecord {
            kind: ErrorKind::RuleError,
            file: "policies/custom/nodeport.rego".to_owned(),
            line: 12,
            column: 5,
            rule: Some("custom.nodeport".to_owned()),
            input: Some("k8s/deploy.yaml".to_owned()),
            message: "object.get: expected object, got string\nin rule custom.nodeport".to_owned(),
        },
        ErrorRecord {
            kind: ErrorKind::RuleTimeout,
            file: "policies/k8s.wasm".to_owned(),
            line: 1,
            column: 1,
            rule: Some("K8S002".to_owned()),
            input: Some("k8s/deploy.yaml".to_owned()),
            message: "rule exceeded its time limit of 1s".to_owned(),
        },
        ErrorRecord {
            kind: ErrorKind::PolicyError,
            file: "policies/custom/broken.rego".to_owned(),
            line: 4,
            column: 9,
            rule: None,
            input: None,
            message: "rego_parse_error: unexpected `}` token".to_owned(),
        },
    ];

    let inputs = vec![
        InputSummary {
            path: "Dockerfile".to_owned(),
            status: InputStatus::Evaluated { documents: 1 },
        },
        InputSummary {
            path: "k8s/deploy.yaml".to_owned(),
            status: InputStatus::Evaluated { documents: 2 },
        },
        InputSummary {
            path: "vendor/huge.json".to_owned(),
            status: InputStatus::Skipped {
                reason: "larger than --max-file-size (1048576 bytes)".to_owned(),
            },
        },
        InputSummary {
            path: "k8s/broken.yaml".to_owned(),
            status: InputStatus::Failed,
        },
    ];

    let mut report = Report {
        findings,
        errors,
        inputs,
        rules: vec![k8s010, df001, df002, df003, df004, k8s001, k8s002],
        disabled: Vec::new(),
        unloaded: Vec::new(),
        sources: [
            ("Dockerfile", DOCKERFILE),
            ("k8s/deploy.yaml", DEPLOY),
            ("k8s/broken.yaml", BROKEN),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Arc::from(v)))
        .collect(),
        suppressed: Vec::new(),
        warnings: Vec::new(),
        ..Report::default()
    };
    report.sort();
    report
}
