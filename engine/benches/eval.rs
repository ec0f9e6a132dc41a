//! Evaluation throughput: documents per second through the built-in policy set, on one
//! and on two worker threads, side by side in one run.
//!
//! Input: every manifest and Dockerfile of `../shared/corpora/{k8s,dockerfiles}` when
//! that folder exists, else 10,000 generated Deployments. Parsing happens once, outside
//! the measurement.

use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use policy_engine::eval::{self, EvalOptions, PolicyOptions, PolicySet};
use policy_engine::inputs::{self, FileReport, LoadOptions};

fn corpus() -> Option<PathBuf> {
    let p = std::env::var_os("POLICY_SHARED_CORPORA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpora"));
    p.is_dir().then_some(p)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn generated(n: usize) -> Vec<FileReport> {
    (0..n)
        .map(|i| {
            let text = format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{i}\n  labels: {{app: a{i}}}\nspec:\n  replicas: 2\n  template:\n    spec:\n      containers:\n        - name: web\n          image: nginx:1.{i}\n          securityContext:\n            privileged: {}\n          resources:\n            limits: {{memory: 128Mi}}\n        - name: sidecar\n          image: envoy:latest\n",
                i % 2 == 0
            );
            inputs::load_text(&format!("gen/{i}.yaml"), &text, inputs::Format::Yaml, &LoadOptions::default())
        })
        .collect()
}

fn load_inputs() -> (Vec<FileReport>, &'static str) {
    match corpus() {
        Some(root) => {
            let mut files = Vec::new();
            walk(&root.join("k8s"), &mut files);
            walk(&root.join("dockerfiles"), &mut files);
            let opts = LoadOptions::default();
            let reports = files
                .iter()
                .filter(|p| inputs::format_from_name(p).is_some())
                .map(|p| inputs::load_file(p, &opts, false))
                .collect();
            (reports, "shared corpora (k8s + dockerfiles)")
        }
        None => (generated(10_000), "10,000 generated Deployments"),
    }
}

fn bench_eval(c: &mut Criterion) {
    let (files, label) = load_inputs();
    let docs: usize = files.iter().map(|f| f.documents.len()).sum();
    let set = PolicySet::load(&PolicyOptions {
        builtin: true,
        ..PolicyOptions::default()
    });
    assert!(set.errors.is_empty(), "{:?}", set.errors);
    eprintln!(
        "eval bench: {docs} documents from {label}, {} rules",
        set.rules().len()
    );
    let mut group = c.benchmark_group("eval");
    group.throughput(Throughput::Elements(docs as u64));
    group.sample_size(10);
    for threads in [1, 2] {
        group.bench_function(format!("builtin_{threads}_thread"), |b| {
            // The input clone is setup, not measured (it was ~11% of the samples).
            b.iter_batched(
                || files.clone(),
                |files| {
                    eval::evaluate(
                        &set,
                        files,
                        &EvalOptions {
                            threads,
                            ..EvalOptions::default()
                        },
                    )
                },
                criterion::BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench_eval);
criterion_main!(benches);
