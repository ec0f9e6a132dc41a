//! Input conformance over third-party corpora (`harness = false`).
//!
//! Loads every Kubernetes manifest under `<shared>/corpora/k8s` and every file under
//! `<shared>/corpora/image-metadata` through the same code path as the CLI, prints
//! per-corpus totals, and exits non-zero when any file fails. The corpora are not part of
//! the repository: they are found through `POLICY_SHARED_CORPORA` or
//! `<repo>/../shared/corpora`, and the run is skipped with a message when they are absent.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use policy_engine::inputs::{load_file, DocumentKind, FileReport, LoadOptions};

fn corpora_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("POLICY_SHARED_CORPORA") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpora"),
    };
    dir.is_dir().then_some(dir)
}

/// Every file under `dir` with one of `exts`, sorted.
fn files(dir: &Path, exts: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| exts.contains(&x))
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn print_errors(report: &FileReport) {
    for e in &report.errors {
        eprintln!("  error: {e}");
    }
    if let Some(reason) = &report.skipped {
        eprintln!("  skipped: {}: {reason}", report.path);
    }
}

fn main() -> ExitCode {
    let Some(corpora) = corpora_dir() else {
        println!(
            "conformance-inputs: shared corpora not found (set POLICY_SHARED_CORPORA); skipped"
        );
        return ExitCode::SUCCESS;
    };
    let opts = LoadOptions::default();
    let mut failed = false;

    let k8s = files(&corpora.join("k8s"), &["yaml", "yml", "json"]);
    let (mut ok, mut docs) = (0, 0);
    for f in &k8s {
        let r = load_file(f, &opts, true);
        if r.errors.is_empty() && r.skipped.is_none() {
            ok += 1;
            docs += r.documents.len();
        } else {
            print_errors(&r);
        }
    }
    println!(
        "k8s corpus: {ok}/{} files parsed ({docs} documents)",
        k8s.len()
    );
    failed |= ok != k8s.len() || k8s.is_empty();

    let images = files(&corpora.join("image-metadata"), &["json"]);
    let (mut ok, mut image, mut json) = (0, 0, 0);
    for f in &images {
        let r = load_file(f, &opts, true);
        if r.errors.is_empty() && r.skipped.is_none() && !r.documents.is_empty() {
            ok += 1;
            if r.documents.iter().all(|d| d.kind == DocumentKind::Image) {
                image += 1;
            } else {
                json += 1;
            }
            if std::env::var_os("CONFORMANCE_VERBOSE").is_some() {
                let formats: Vec<String> = r
                    .documents
                    .iter()
                    .map(|d| match d.value.get("format") {
                        Some(serde_json::Value::String(s)) if d.kind == DocumentKind::Image => {
                            s.clone()
                        }
                        _ => d.kind.to_string(),
                    })
                    .collect();
                println!("  {}: {}", f.display(), formats.join(", "));
            }
        } else {
            print_errors(&r);
        }
    }
    println!(
        "image-metadata corpus: {ok}/{} loaded ({image} image, {json} json)",
        images.len()
    );
    failed |= ok != images.len() || images.is_empty();

    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
