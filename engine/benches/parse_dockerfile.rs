//! Throughput of the Dockerfile parser over the shared corpus of real Dockerfiles
//! (`../shared/corpora/dockerfiles`, or `POLICY_SHARED_CORPORA`); falls back to the
//! repository's own fixtures when the corpus is absent.

use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use policy_engine::inputs::dockerfile;

fn collect(dir: &Path, out: &mut Vec<(String, String)>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            collect(&p, out);
        } else if p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.to_ascii_lowercase().contains("dockerfile"))
        {
            if let Ok(text) = std::fs::read_to_string(&p) {
                out.push((p.display().to_string(), text));
            }
        }
    }
}

fn corpus() -> Vec<(String, String)> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = std::env::var_os("POLICY_SHARED_CORPORA")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../shared/corpora"));
    let mut files = Vec::new();
    collect(&shared.join("dockerfiles"), &mut files);
    if files.is_empty() {
        collect(&manifest.join("../tests/fixtures/dockerfile"), &mut files);
    }
    files
}

fn bench(c: &mut Criterion) {
    let files = corpus();
    let bytes: usize = files.iter().map(|(_, t)| t.len()).sum();
    let mut group = c.benchmark_group("parse_dockerfile");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function(format!("corpus_{}_files", files.len()), |b| {
        b.iter(|| {
            let mut instructions = 0usize;
            for (path, text) in &files {
                if let Ok(doc) = dockerfile::parse(path, text) {
                    instructions += doc.value["instructions"].as_array().map_or(0, Vec::len);
                }
            }
            std::hint::black_box(instructions)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
