//! Pod Security Standards conformance: the built-in PSS rules (`policies/pss`) against the
//! Pod Security Admission fixtures of `kubernetes/pod-security-admission`, read from
//! `../shared/corpora/psa` (never copied into the repository).
//!
//! Layout: `<level>/<vX.Y>/{pass,fail}/<check><n>.yaml`, one Pod per file. For every
//! level and version the built-in policies are loaded with `data.pss = {level, version}`
//! and every fixture is evaluated:
//!
//! * a `pass` fixture must produce no `PSS-*` finding;
//! * a `fail` fixture must produce a finding of the check its name gives, or of the
//!   check that replaces it at that level and version (at restricted,
//!   `restrictedVolumes` replaces `hostPathVolumes`, `capabilities_restricted` replaces
//!   `capabilities_baseline` from 1.22, `seccompProfile_restricted` replaces
//!   `seccompProfile_baseline` from 1.19 and `procMount_restricted` replaces `procMount`
//!   from 1.35);
//! * every PSS finding points at a real line of the fixture: at the offending node when
//!   it exists, else at its nearest existing parent, never at the document start.
//!
//! Prints `psa fixtures: N/N agree (baseline B/B, restricted R/R)` and every
//! disagreement.
//!
//! Second mode, Pod Security from Namespace labels (docs/pss.md): every fixture is
//! placed in a Namespace of its own labelled `pod-security.kubernetes.io/enforce:
//! <level>` and `enforce-version: <version>`, as a Pod and wrapped in a Deployment and a
//! CronJob, and all of them (every level and version) are evaluated in one run with no
//! `--pss` at all. Each of the three workloads must get the fixture's verdict, with its
//! findings inside its own document. Prints `psa fixtures in labelled namespaces: N/N
//! agree`. Exits non-zero unless both modes agree on every fixture. The corpus is located through
//! `POLICY_SHARED_CORPORA` or `<CARGO_MANIFEST_DIR>/../../shared/corpora`; when absent
//! the test is skipped.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use policy_engine::diagnostics::Finding;
use policy_engine::eval::{self, PolicyOptions, PolicySet, Worker};
use policy_engine::inputs::{self, Document, LoadOptions};
use policy_engine::PathSegment;

fn corpora() -> Option<PathBuf> {
    let dir = match std::env::var_os("POLICY_SHARED_CORPORA") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpora"),
    };
    dir.is_dir().then_some(dir)
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// `v1.23` → 23.
fn minor(version: &str) -> Option<u32> {
    version.strip_prefix("v1.")?.parse().ok()
}

/// PSA check IDs (lower-cased, as in fixture names) → this project's rule IDs.
const CHECKS: &[(&str, &str)] = &[
    ("hostnamespaces", "PSS-HOST-NAMESPACES"),
    ("privileged", "PSS-PRIVILEGED"),
    ("capabilities_baseline", "PSS-CAPABILITIES-BASELINE"),
    ("hostpathvolumes", "PSS-HOST-PATH-VOLUMES"),
    ("hostports", "PSS-HOST-PORTS"),
    ("apparmorprofile", "PSS-APPARMOR-PROFILE"),
    ("selinuxoptions", "PSS-SELINUX-OPTIONS"),
    ("procmount", "PSS-PROC-MOUNT"),
    ("seccompprofile_baseline", "PSS-SECCOMP-PROFILE-BASELINE"),
    ("sysctls", "PSS-SYSCTLS"),
    ("windowshostprocess", "PSS-WINDOWS-HOST-PROCESS"),
    (
        "hostprobesandhostlifecycle",
        "PSS-HOST-PROBES-AND-LIFECYCLE",
    ),
    ("restrictedvolumes", "PSS-RESTRICTED-VOLUMES"),
    ("runasnonroot", "PSS-RUN-AS-NON-ROOT"),
    ("allowprivilegeescalation", "PSS-ALLOW-PRIVILEGE-ESCALATION"),
    (
        "seccompprofile_restricted",
        "PSS-SECCOMP-PROFILE-RESTRICTED",
    ),
    ("capabilities_restricted", "PSS-CAPABILITIES-RESTRICTED"),
    ("runasuser", "PSS-RUN-AS-USER"),
    ("procmount_restricted", "PSS-PROC-MOUNT-RESTRICTED"),
];

/// Restricted checks that replace a baseline check from a version on (CHECKS.md).
const OVERRIDES: &[(&str, &str, u32)] = &[
    ("hostpathvolumes", "restrictedvolumes", 0),
    ("capabilities_baseline", "capabilities_restricted", 22),
    ("seccompprofile_baseline", "seccompprofile_restricted", 19),
    ("procmount", "procmount_restricted", 35),
];

/// The rule a fail fixture must trigger, from its file name (`hostports2.yaml`).
fn expected_rule(file: &Path, level: &str, minor: u32) -> Option<&'static str> {
    let stem = file.file_stem()?.to_str()?;
    let check = stem.trim_end_matches(|c: char| c.is_ascii_digit());
    let check = OVERRIDES
        .iter()
        .find(|(base, _, from)| level == "restricted" && *base == check && minor >= *from)
        .map_or(check, |(_, over, _)| *over);
    CHECKS.iter().find(|(c, _)| *c == check).map(|(_, id)| *id)
}

fn pointer_exists(value: &serde_json::Value, path: &[PathSegment]) -> bool {
    let mut v = value;
    for seg in path {
        let next = match seg {
            PathSegment::Key(k) => v.get(k.as_str()),
            PathSegment::Index(i) => v.get(*i),
        };
        match next {
            Some(n) => v = n,
            None => return false,
        }
    }
    true
}

/// Checks that a finding points at a real line of its document.
fn location_problem(f: &Finding, doc: &Document) -> Option<String> {
    let path = &f.location.path;
    if path.is_empty() {
        return Some(format!("{} has no path", f.rule.id));
    }
    let resolved = doc.source_map.resolve(path);
    if pointer_exists(&doc.value, path) && resolved.matched != path.len() {
        return Some(format!(
            "{} path {path:?} exists but resolved only {} segments",
            f.rule.id, resolved.matched
        ));
    }
    if resolved.matched == 0 || f.location.span.start.line <= doc.span.start.line {
        return Some(format!(
            "{} at {}:{} is the document start (path {path:?})",
            f.rule.id, f.location.span.start.line, f.location.span.start.column
        ));
    }
    None
}

#[derive(Default)]
struct Tally {
    total: usize,
    agree: usize,
}

fn main() -> ExitCode {
    let Some(root) = corpora().map(|c| c.join("psa")).filter(|p| p.is_dir()) else {
        println!("psa fixtures: corpus not found (set POLICY_SHARED_CORPORA); skipped");
        return ExitCode::SUCCESS;
    };
    let mut disagreements = Vec::new();
    let mut baseline = Tally::default();
    let mut restricted = Tally::default();
    for level in ["baseline", "restricted"] {
        let tally = if level == "baseline" {
            &mut baseline
        } else {
            &mut restricted
        };
        let mut versions: Vec<(u32, PathBuf)> = sorted_entries(&root.join(level))
            .into_iter()
            .filter_map(|p| {
                let m = minor(p.file_name()?.to_str()?)?;
                Some((m, p))
            })
            .collect();
        versions.sort();
        for (minor, dir) in versions {
            let version = format!("v1.{minor}");
            let set = PolicySet::load(&PolicyOptions {
                builtin: true,
                extra_data: vec![serde_json::json!({"pss": {"level": level, "version": version}})],
                ..PolicyOptions::default()
            });
            if !set.errors.is_empty() {
                eprintln!("built-in policies failed to load: {:?}", set.errors);
                return ExitCode::FAILURE;
            }
            let mut worker = Worker::new(&set);
            for outcome in ["pass", "fail"] {
                for file in sorted_entries(&dir.join(outcome)) {
                    if file.extension().is_none_or(|e| e != "yaml") {
                        continue;
                    }
                    tally.total += 1;
                    let name = format!("{level}/{version}/{outcome}/{}", file_label(&file));
                    let report = inputs::load_file(&file, &LoadOptions::default(), true);
                    if !report.errors.is_empty() || report.documents.len() != 1 {
                        disagreements.push(format!(
                            "{name}: expected one document, got {} ({:?})",
                            report.documents.len(),
                            report.errors
                        ));
                        continue;
                    }
                    let doc = &report.documents[0];
                    let (findings, errors) = eval::evaluate_document(&set, &mut worker, doc);
                    if !errors.is_empty() {
                        disagreements.push(format!("{name}: evaluation errors {errors:?}"));
                        continue;
                    }
                    let pss: Vec<&Finding> = findings
                        .iter()
                        .filter(|f| f.rule.id.starts_with("PSS-"))
                        .collect();
                    let mut problems: Vec<String> = pss
                        .iter()
                        .filter_map(|f| location_problem(f, doc))
                        .collect();
                    if outcome == "pass" && !pss.is_empty() {
                        problems.push(format!(
                            "admitted by PSA, but got {}",
                            render(&pss).join("; ")
                        ));
                    }
                    if outcome == "fail" {
                        match expected_rule(&file, level, minor) {
                            Some(id) if !pss.iter().any(|f| f.rule.id == id) => {
                                problems.push(format!(
                                    "rejected by PSA ({id}), but got [{}]",
                                    render(&pss).join("; ")
                                ));
                            }
                            None if pss.is_empty() => {
                                problems.push("rejected by PSA, but no PSS finding".into());
                            }
                            _ => {}
                        }
                    }
                    if problems.is_empty() {
                        tally.agree += 1;
                    } else {
                        disagreements.push(format!("{name}: {}", problems.join(" | ")));
                    }
                }
            }
        }
    }
    let total = baseline.total + restricted.total;
    let agree = baseline.agree + restricted.agree;
    println!(
        "psa fixtures: {agree}/{total} agree (baseline {}/{}, restricted {}/{})",
        baseline.agree, baseline.total, restricted.agree, restricted.total
    );
    for d in &disagreements {
        println!("  disagree: {d}");
    }
    if total == 0 {
        println!("psa fixtures: no fixtures found under {}", root.display());
        return ExitCode::FAILURE;
    }
    let labelled = namespace_mode(&root);
    if agree == total && labelled {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// A fixture of the corpus: level, version, outcome, file.
struct Fixture {
    level: &'static str,
    minor: u32,
    outcome: &'static str,
    file: PathBuf,
}

fn fixtures(root: &Path) -> Vec<Fixture> {
    let mut out = Vec::new();
    for level in ["baseline", "restricted"] {
        for dir in sorted_entries(&root.join(level)) {
            let Some(minor) = dir.file_name().and_then(|n| n.to_str()).and_then(minor) else {
                continue;
            };
            for outcome in ["pass", "fail"] {
                for file in sorted_entries(&dir.join(outcome)) {
                    if file.extension().is_some_and(|e| e == "yaml") {
                        out.push(Fixture {
                            level,
                            minor,
                            outcome,
                            file,
                        });
                    }
                }
            }
        }
    }
    out
}

/// The Namespace and the three workloads of fixture `n`, as one multi-document file
/// (pretty JSON documents, which are YAML, so findings have real lines).
fn labelled_file(n: usize, fx: &Fixture, pod: &serde_json::Value) -> String {
    let ns = format!("f{n}");
    let namespace = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": ns, "labels": {
            "pod-security.kubernetes.io/enforce": fx.level,
            "pod-security.kubernetes.io/enforce-version": format!("v1.{}", fx.minor),
        }},
    });
    let mut bare = pod.clone();
    bare["metadata"]["namespace"] = serde_json::json!(ns);
    let template = serde_json::json!({
        "metadata": {
            "labels": {"app": "x"},
            "annotations": pod.pointer("/metadata/annotations").cloned().unwrap_or(serde_json::json!({})),
        },
        "spec": pod.get("spec").cloned().unwrap_or(serde_json::Value::Null),
    });
    let deployment = serde_json::json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": ns},
        "spec": {"selector": {"matchLabels": {"app": "x"}}, "template": template},
    });
    let cronjob = serde_json::json!({
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "c", "namespace": ns},
        "spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": template}}},
    });
    [namespace, bare, deployment, cronjob]
        .iter()
        .map(|d| serde_json::to_string_pretty(d).expect("JSON"))
        .collect::<Vec<_>>()
        .join("\n---\n")
}

/// The second mode; true when every fixture agrees.
fn namespace_mode(root: &Path) -> bool {
    use policy_engine::eval::EvalOptions;
    use policy_engine::inputs::Format;
    let fixtures = fixtures(root);
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for (n, fx) in fixtures.iter().enumerate() {
        let report = inputs::load_file(&fx.file, &LoadOptions::default(), true);
        let Some(doc) = report.documents.first() else {
            problems.push(format!("{}: no document", fx.file.display()));
            continue;
        };
        let text = labelled_file(n, fx, &doc.value);
        files.push(inputs::load_text(
            &format!("ns{n}.yaml"),
            &text,
            Format::Yaml,
            &LoadOptions::default(),
        ));
    }
    let loaded: Vec<Vec<Document>> = files.iter().map(|f| f.documents.clone()).collect();
    let set = PolicySet::load(&PolicyOptions {
        builtin: true,
        ..PolicyOptions::default()
    });
    let report = eval::evaluate(&set, files, &EvalOptions::default());
    if !report.errors.is_empty() {
        problems.push(format!(
            "errors: {:?}",
            &report.errors[..report.errors.len().min(5)]
        ));
    }
    let mut by_doc: std::collections::HashMap<(String, usize), Vec<&Finding>> =
        std::collections::HashMap::new();
    // A PSS check may be merged into the K8S finding for the same node (one finding per
    // root cause): it is then one of that finding's `related_rules`.
    let reports_pss = |f: &&Finding| {
        std::iter::once(&f.rule.id)
            .chain(&f.related_rules)
            .any(|id| id.starts_with("PSS-"))
    };
    for f in report.findings.iter().filter(reports_pss) {
        by_doc
            .entry((f.location.file.to_string(), f.location.document))
            .or_default()
            .push(f);
    }
    let mut agree = 0;
    let total = fixtures.len() * 3;
    for (n, fx) in fixtures.iter().enumerate() {
        let file = format!("ns{n}.yaml");
        let name = format!(
            "{}/v1.{}/{}/{}",
            fx.level,
            fx.minor,
            fx.outcome,
            file_label(&fx.file)
        );
        if by_doc.contains_key(&(file.clone(), 0)) {
            problems.push(format!("{name}: a PSS finding on the Namespace"));
        }
        for (index, wrapper) in [(1, "Pod"), (2, "Deployment"), (3, "CronJob")] {
            let pss = by_doc
                .get(&(file.clone(), index))
                .cloned()
                .unwrap_or_default();
            let mut wrong: Vec<String> = match loaded.get(n).and_then(|d| d.get(index)) {
                Some(doc) => pss
                    .iter()
                    .filter_map(|f| location_problem(f, doc))
                    .collect(),
                None => vec!["document missing".into()],
            };
            if fx.outcome == "pass" && !pss.is_empty() {
                wrong.push(format!(
                    "admitted by PSA, but got {}",
                    render(&pss).join("; ")
                ));
            }
            if fx.outcome == "fail" {
                match expected_rule(&fx.file, fx.level, fx.minor) {
                    Some(id) if !pss.iter().any(|f| f.has_rule(id)) => wrong.push(format!(
                        "rejected by PSA ({id}), but got [{}]",
                        render(&pss).join("; ")
                    )),
                    None if pss.is_empty() => {
                        wrong.push("rejected by PSA, but no PSS finding".into())
                    }
                    _ => {}
                }
            }
            if wrong.is_empty() {
                agree += 1;
            } else {
                problems.push(format!("{name} as {wrapper}: {}", wrong.join(" | ")));
            }
        }
    }
    println!("psa fixtures in labelled namespaces: {agree}/{total} agree (Pod, Deployment, CronJob; no --pss)");
    for p in &problems {
        println!("  disagree: {p}");
    }
    total > 0 && agree == total && problems.is_empty()
}

fn file_label(file: &Path) -> String {
    file.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn render(findings: &[&Finding]) -> Vec<String> {
    findings
        .iter()
        .map(|f| {
            let mut ids = f.rule.id.clone();
            for r in &f.related_rules {
                ids.push_str(", ");
                ids.push_str(r);
            }
            format!(
                "{ids} {}:{} {}",
                f.location.span.start.line, f.location.span.start.column, f.message
            )
        })
        .collect()
}
