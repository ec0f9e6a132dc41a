//! The built-in Rego policies compiled per document kind, on first use (issue 14): a run
//! compiles only the kinds it has, a run with several kinds still reports every one of
//! them, and the findings are those of the whole set compiled into one engine.

use std::path::{Path, PathBuf};

use policy_engine::eval::{self, EvalOptions, PolicyOptions, PolicySet};
use policy_engine::inputs::{self, DocumentKind, FileReport, LoadOptions};
use policy_engine::runtimes::rego::RegoOptions;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read_dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else if inputs::format_from_name(&p).is_some() {
            out.push(p);
        }
    }
}

fn load(paths: &[PathBuf]) -> Vec<FileReport> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut files);
        } else {
            files.push(p.clone());
        }
    }
    files
        .iter()
        .map(|p| inputs::load_file(p, &LoadOptions::default(), true))
        .collect()
}

fn set(per_kind: bool, pss: Option<&str>) -> PolicySet {
    set_with(Vec::new(), per_kind, pss)
}

/// The built-in set plus the Rego files under `paths` (`-p`), per kind or whole.
fn set_with(paths: Vec<std::path::PathBuf>, per_kind: bool, pss: Option<&str>) -> PolicySet {
    PolicySet::load(&PolicyOptions {
        paths,
        builtin: true,
        extra_data: pss
            .map(|level| serde_json::json!({"pss": {"level": level}}))
            .into_iter()
            .collect(),
        rego: RegoOptions {
            per_kind,
            ..RegoOptions::default()
        },
        ..PolicyOptions::default()
    })
}

/// What a report says, as text: findings with their rules and locations, and errors.
fn outcome(report: &policy_engine::diagnostics::Report) -> String {
    format!("{:#?}\n{:#?}", report.findings, report.errors)
}

#[test]
fn a_dockerfile_run_compiles_only_the_dockerfile_rules() {
    let set = set(true, None);
    assert!(set.errors.is_empty(), "{:?}", set.errors);
    assert!(set.rego.is_per_kind());
    // Listing the rules compiles nothing: every kind's rules are known from metadata.
    let rules = set.rules();
    assert!(rules.iter().any(|r| r.id == "K8S001"), "{rules:?}");
    assert!(set.rego.compiled_kinds().is_empty());
    let files = load(&[repo().join("examples/dockerfile/root.Dockerfile")]);
    let report = eval::evaluate(&set, files, &EvalOptions::default());
    assert!(
        report.findings.iter().any(|f| f.rule.id.starts_with("DF")),
        "{:?}",
        report.findings
    );
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(set.rego.compiled_kinds(), [DocumentKind::Dockerfile]);
    // The report still lists every rule, compiled or not.
    assert_eq!(report.rules.len(), rules.len());
}

#[test]
fn a_run_with_several_kinds_reports_them_all_as_the_whole_set_does() {
    let inputs = every_kind();
    for pss in [None, Some("restricted")] {
        let lazy = set(true, pss);
        let whole = set(false, pss);
        assert!(lazy.rego.is_per_kind() && !whole.rego.is_per_kind());
        let a = eval::evaluate(&lazy, load(&inputs), &EvalOptions::default());
        let b = eval::evaluate(&whole, load(&inputs), &EvalOptions::default());
        for prefix in ["DF", "K8S", "IMG", "WF"] {
            assert!(
                a.findings.iter().any(|f| f.rule.id.starts_with(prefix)),
                "no {prefix} finding: {:?}",
                a.findings
            );
        }
        if pss.is_some() {
            assert!(a.findings.iter().any(|f| f.rule.id.starts_with("PSS-")
                || f.related_rules.iter().any(|r| r.starts_with("PSS-"))));
        }
        assert_eq!(outcome(&a), outcome(&b), "pss: {pss:?}");
        assert_eq!(a.checks.len(), b.checks.len());
    }
}

#[test]
fn the_corpora_give_the_same_findings_per_kind_as_whole() {
    let Some(root) = std::env::var_os("POLICY_SHARED_CORPORA").map(PathBuf::from) else {
        return;
    };
    if !root.is_dir() {
        return;
    }
    let inputs = [root.join("k8s"), root.join("dockerfiles")];
    let a = eval::evaluate(&set(true, None), load(&inputs), &EvalOptions::default());
    let b = eval::evaluate(&set(false, None), load(&inputs), &EvalOptions::default());
    assert!(a.findings.len() > 1000, "{}", a.findings.len());
    assert_eq!(outcome(&a), outcome(&b));
}

/// The built-in set plus the example user policies (`-p examples/policies`).
fn set_with_users(per_kind: bool, pss: Option<&str>) -> PolicySet {
    set_with(vec![repo().join("examples/policies")], per_kind, pss)
}

#[test]
fn a_set_with_user_policies_compiles_per_kind_with_the_same_findings() {
    let inputs = every_kind();
    for pss in [None, Some("restricted")] {
        let lazy = set_with_users(true, pss);
        let whole = set_with_users(false, pss);
        assert!(lazy.errors.is_empty(), "{:?}", lazy.errors);
        assert!(lazy.rego.is_per_kind() && !whole.rego.is_per_kind());
        assert!(lazy.rego.compiled_kinds().is_empty());
        let a = eval::evaluate(&lazy, load(&inputs), &EvalOptions::default());
        let b = eval::evaluate(&whole, load(&inputs), &EvalOptions::default());
        // The user's rules (ORG-*) fire alongside the built-in ones.
        for prefix in ["ORG-", "DF", "K8S"] {
            assert!(
                a.findings.iter().any(|f| f.rule.id.starts_with(prefix)),
                "no {prefix} finding: {:?}",
                a.findings
            );
        }
        assert_eq!(outcome(&a), outcome(&b), "pss: {pss:?}");
        assert_eq!(a.checks.len(), b.checks.len());
    }
    // A Dockerfile run compiles the Dockerfile engine only, users' files included.
    let lazy = set_with_users(true, None);
    let files = load(&[repo().join("examples/dockerfile/root.Dockerfile")]);
    let a = eval::evaluate(&lazy, files.clone(), &EvalOptions::default());
    let b = eval::evaluate(&set_with_users(false, None), files, &EvalOptions::default());
    assert_eq!(lazy.rego.compiled_kinds(), [DocumentKind::Dockerfile]);
    assert!(a.findings.iter().any(|f| f.rule.id.starts_with("DF")));
    assert_eq!(outcome(&a), outcome(&b));
}

#[test]
fn a_user_package_inside_a_built_in_one_keeps_the_whole_set() {
    let dir = std::env::temp_dir().join(format!("perkind-extend-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("extend.rego"),
        "package lib.kubernetes.extra\nimport rego.v1\nx := 1\n",
    )
    .expect("write");
    let set = PolicySet::load(&PolicyOptions {
        paths: vec![dir.clone()],
        builtin: true,
        ..PolicyOptions::default()
    });
    std::fs::remove_dir_all(&dir).ok();
    assert!(set.errors.is_empty(), "{:?}", set.errors);
    assert!(!set.rego.is_per_kind());
}

/// The examples of every document kind: Dockerfiles, Kubernetes, image metadata, workflows.
fn every_kind() -> [std::path::PathBuf; 4] {
    [
        repo().join("examples/dockerfile"),
        repo().join("examples/kubernetes"),
        repo().join("examples/image"),
        repo().join("examples/workflows"),
    ]
}
