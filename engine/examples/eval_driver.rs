//! A small driver for profiling `policy eval` (valgrind/perf) and for comparing Rego
//! engine settings side by side: loads `../shared/corpora/{k8s,dockerfiles}` once, then
//! evaluates them with the built-in policies `reps` times and prints documents/s.
//!
//! ```text
//! cargo build --release -p policy-engine --example eval_driver
//! target/release/examples/eval_driver [check_interval=16] [reps=5] [threads=1] [batch=1]
//! ```
//!
//! `batch`: 1 evaluates a document's Rego rules in one batched call (the default), 0 rule
//! by rule, 2 both, alternating round by round in this one process (for side-by-side
//! ratios).

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Instant;

use policy_engine::eval::{self, EvalOptions, PolicyOptions, PolicySet};
use policy_engine::inputs::{self, LoadOptions};
use policy_engine::runtimes::rego::RegoOptions;

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

fn main() {
    let args: Vec<u32> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let interval = args.first().copied().unwrap_or(16);
    let reps = args.get(1).copied().unwrap_or(5);
    let threads = args.get(2).copied().unwrap_or(1) as usize;
    let batch = args.get(3).copied().unwrap_or(1);
    let root = std::env::var_os("POLICY_SHARED_CORPORA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpora"));
    let mut files = Vec::new();
    walk(&root.join("k8s"), &mut files);
    walk(&root.join("dockerfiles"), &mut files);
    let opts = LoadOptions::default();
    let reports: Vec<_> = files
        .iter()
        .filter(|p| inputs::format_from_name(p).is_some())
        .map(|p| inputs::load_file(p, &opts, false))
        .collect();
    let docs: usize = reports.iter().map(|f| f.documents.len()).sum();
    let load = |batch: bool| {
        PolicySet::load(&PolicyOptions {
            builtin: true,
            rego: RegoOptions {
                check_interval: NonZeroU32::new(interval).unwrap_or(NonZeroU32::MIN),
                batch,
                ..RegoOptions::default()
            },
            ..PolicyOptions::default()
        })
    };
    let modes: Vec<bool> = match batch {
        0 => vec![false],
        2 => vec![false, true],
        _ => vec![true],
    };
    let sets: Vec<(bool, PolicySet)> = modes.iter().map(|&b| (b, load(b))).collect();
    let mut best = vec![f64::MAX; sets.len()];
    let mut findings = vec![0; sets.len()];
    for _ in 0..reps {
        for (i, (_, set)) in sets.iter().enumerate() {
            let start = Instant::now();
            let report = eval::evaluate(
                set,
                reports.clone(),
                &EvalOptions {
                    threads,
                    ..EvalOptions::default()
                },
            );
            best[i] = best[i].min(start.elapsed().as_secs_f64());
            findings[i] = report.findings.len();
        }
    }
    for (i, (batch, _)) in sets.iter().enumerate() {
        println!(
            "interval={interval} threads={threads} batch={batch} docs={docs} findings={} best={:.1} ms docs/s={:.0}",
            findings[i],
            best[i] * 1000.0,
            docs as f64 / best[i]
        );
    }
}
