//! Throughput of the position-tracking YAML loader over the Kubernetes corpus.
//!
//! Reads every `*.yaml`/`*.yml` file under `<shared>/corpora/k8s` (env
//! `POLICY_SHARED_CORPORA`, or `<repo>/../shared/corpora`) into memory once, then measures
//! `parse_yaml` over all of them, reporting bytes per second. Skips with a message when the
//! corpus is absent.
//!
//! `editor_buffer` (no corpus needed): a 500-line buffer of 20 Deployments, one character
//! typed into one of them, loaded whole (`load_bytes`) against loaded reusing the last
//! version's parts (`load_buffer`, what `policy lsp` does), side by side.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use policy_engine::inputs::yaml::parse_yaml;
use policy_engine::inputs::LoadOptions;

fn corpus() -> Option<PathBuf> {
    let dir = match std::env::var_os("POLICY_SHARED_CORPORA") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpora"),
    };
    let k8s = dir.join("k8s");
    k8s.is_dir().then_some(k8s)
}

fn read_all(dir: &Path) -> Vec<(String, String)> {
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
            } else if matches!(p.extension().and_then(|x| x.to_str()), Some("yaml" | "yml")) {
                if let Ok(text) = std::fs::read_to_string(&p) {
                    out.push((p.display().to_string(), text));
                }
            }
        }
    }
    out.sort();
    out
}

fn editor_buffer(c: &mut Criterion) {
    use policy_engine::inputs::yaml::Reuse;
    use policy_engine::inputs::{load_buffer, load_bytes, Format};
    let doc = |i: usize| {
        format!(
            "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web-{i}\n  labels: {{app: web-{i}}}\n\
             spec:\n  replicas: 3\n  selector:\n    matchLabels: {{app: web-{i}}}\n  template:\n    metadata:\n\
             \x20     labels: {{app: web-{i}}}\n    spec:\n      containers:\n        - name: app\n\
             \x20         image: registry.example.com/web:1.4.2\n          ports:\n            - containerPort: 8080\n\
             \x20         securityContext:\n            privileged: true\n          resources:\n\
             \x20           requests: {{cpu: 100m, memory: 128Mi}}\n            limits: {{memory: 256Mi}}\n"
        )
    };
    let text: String = (0..20).map(doc).collect();
    // Two versions: a character typed into the name of the middle Deployment, or not.
    let edited = text.replacen("name: web-10\n", "name: web-10x\n", 1);
    assert_ne!(text, edited);
    let opts = LoadOptions::default();
    let mut group = c.benchmark_group("editor_buffer");
    // Each load is of the other version than the last.
    let versions = [&text, &edited];
    group.bench_function(format!("whole ({} lines)", text.lines().count()), |b| {
        let mut next = versions.iter().cycle();
        b.iter(|| {
            let t = next.next().expect("cycle");
            black_box(load_bytes(
                "b.yaml",
                t.as_bytes(),
                Some(Format::Yaml),
                &opts,
            ))
        })
    });
    group.bench_function("reusing the last version's parts", |b| {
        let mut reuse = Reuse::default();
        let mut next = versions.iter().cycle();
        b.iter(|| {
            let t = next.next().expect("cycle");
            black_box(load_buffer(
                "b.yaml",
                t,
                Some(Format::Yaml),
                &opts,
                &mut reuse,
            ))
        })
    });
    group.finish();
}

fn bench(c: &mut Criterion) {
    let Some(dir) = corpus() else {
        eprintln!("parse_yaml: shared k8s corpus not found (set POLICY_SHARED_CORPORA); skipped");
        return;
    };
    let files = read_all(&dir);
    let bytes: usize = files.iter().map(|(_, t)| t.len()).sum();
    let opts = LoadOptions::default();
    let mut group = c.benchmark_group("parse_yaml");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.sample_size(10);
    group.bench_function(format!("k8s corpus ({} files)", files.len()), |b| {
        b.iter(|| {
            let mut docs = 0;
            for (path, text) in &files {
                docs += parse_yaml(path, black_box(text), &opts).0.len();
            }
            black_box(docs)
        })
    });
    group.finish();
}

criterion_group!(benches, editor_buffer, bench);
criterion_main!(benches);
