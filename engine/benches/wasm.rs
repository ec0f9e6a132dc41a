//! WASM runtime benchmarks: the per-document cost of an evaluation (fresh store,
//! instantiation, request copy, guest work, reply parse), module load time with and
//! without the precompiled-artefact cache, and the built-in shell policy over the shared
//! Dockerfile corpus.
//!
//! Run with `cargo bench -p policy-engine --bench wasm`. Uses the committed example module
//! `examples/wasm-policy-rust/wasm-policy-rust.wasm` (rebuild with `sdk/build-wasm.sh`).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use policy_engine::runtimes::wasm::{CacheOutcome, WasmHost, WasmLimits};
use policy_sdk::abi::EvaluateRequest;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_example() -> (PathBuf, Vec<u8>) {
    let path = repo().join("examples/wasm-policy-rust/wasm-policy-rust.wasm");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (path, bytes)
}

fn dockerfile_request(name: &str) -> EvaluateRequest {
    let path = repo()
        .join("examples/wasm-policy-rust/fixtures")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    EvaluateRequest {
        kind: "dockerfile".into(),
        path: format!("{name}.Dockerfile"),
        document: serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
        settings: serde_json::Value::Null,
    }
}

fn evaluate(c: &mut Criterion) {
    let host = WasmHost::without_disk_cache(WasmLimits::default()).expect("host");
    let (path, bytes) = rust_example();
    let policy = host.load(&path, &bytes, false).expect("load");
    let root = dockerfile_request("root");
    let nonroot = dockerfile_request("nonroot");
    c.bench_function("evaluate/rust-example/root (1 finding)", |b| {
        b.iter(|| black_box(policy.evaluate(black_box(&root)).expect("evaluate")))
    });
    c.bench_function("evaluate/rust-example/nonroot (no finding)", |b| {
        b.iter(|| black_box(policy.evaluate(black_box(&nonroot)).expect("evaluate")))
    });

    // The floor: a WAT guest that does no work, so this is host overhead only.
    let good = repo().join("tests/fixtures/wasm/good.wat");
    let good_bytes = wat::parse_file(&good).expect("good.wat");
    let minimal = host.load(&good, &good_bytes, false).expect("load good.wat");
    c.bench_function("evaluate/minimal-wat-guest (host overhead)", |b| {
        b.iter(|| black_box(minimal.evaluate(black_box(&root)).expect("evaluate")))
    });
}

/// Times `load` on a brand-new host per iteration (no in-process cache), optionally with a
/// disk cache directory that already holds the artefact.
fn timed_loads(iters: u64, cache: Option<&Path>, want: CacheOutcome) -> Duration {
    let (path, bytes) = rust_example();
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let host = match cache {
            Some(dir) => WasmHost::new(WasmLimits::default(), Some(dir.to_owned())),
            None => WasmHost::without_disk_cache(WasmLimits::default()),
        }
        .expect("host");
        let start = Instant::now();
        let (policy, outcome) = host.load_traced(&path, &bytes, false).expect("load");
        total += start.elapsed();
        assert_eq!(outcome, want);
        black_box(policy);
    }
    total
}

fn load(c: &mut Criterion) {
    let mut group = c.benchmark_group("load/rust-example");
    group.sample_size(10);
    group.bench_function("cold (compile)", |b| {
        b.iter_custom(|iters| timed_loads(iters, None, CacheOutcome::Compiled))
    });
    let dir = tempfile::tempdir().expect("tempdir");
    timed_loads(1, Some(dir.path()), CacheOutcome::Compiled);
    group.bench_function("cached (precompiled artefact on disk)", |b| {
        b.iter_custom(|iters| timed_loads(iters, Some(dir.path()), CacheOutcome::Disk))
    });

    // For comparison: wasmtime's built-in compilation cache (`Config::cache`), timing only
    // `Module::new` on a hit (no instantiation or metadata call, unlike the rows above).
    let (_, bytes) = rust_example();
    let builtin_dir = tempfile::tempdir().expect("tempdir");
    let engine = {
        let mut cache_config = wasmtime::CacheConfig::new();
        cache_config.with_directory(builtin_dir.path());
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        config.cache(Some(wasmtime::Cache::new(cache_config).expect("cache")));
        wasmtime::Engine::new(&config).expect("engine")
    };
    drop(wasmtime::Module::new(&engine, &bytes).expect("warm the built-in cache"));
    group.bench_function("wasmtime Config::cache hit (Module::new only)", |b| {
        b.iter(|| black_box(wasmtime::Module::new(&engine, &bytes).expect("module")))
    });
    group.finish();
}

/// The Dockerfile documents of the shared corpus (`../shared/corpora/dockerfiles`), as
/// requests; `None` when the corpus is absent.
fn corpus_requests() -> Option<Vec<EvaluateRequest>> {
    let dir = repo().join("../shared/corpora/dockerfiles");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).ok()? {
        let path = entry.ok()?.path();
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(doc) = policy_engine::inputs::dockerfile::parse(&path.to_string_lossy(), &text)
        else {
            continue;
        };
        out.push(EvaluateRequest {
            kind: "dockerfile".into(),
            path: path.to_string_lossy().into_owned(),
            document: doc.value,
            settings: serde_json::Value::Null,
        });
    }
    (!out.is_empty()).then_some(out)
}

/// The built-in shell policy (DF100-DF105) over every corpus Dockerfile, next to the Rust
/// example and the do-nothing WAT guest on the same documents: the guest's own work versus
/// the per-document host and JSON costs.
fn builtin_shell(c: &mut Criterion) {
    let Some(requests) = corpus_requests() else {
        eprintln!("skipping builtin-shell benches: ../shared/corpora/dockerfiles is absent");
        return;
    };
    let host = WasmHost::without_disk_cache(WasmLimits::default()).expect("host");
    let shell_path = repo().join("policies/wasm/shell/policy-builtin-shell.wasm");
    let shell_bytes = std::fs::read(&shell_path).expect("built-in shell module");
    let shell = host.load(&shell_path, &shell_bytes, true).expect("load");
    let (path, bytes) = rust_example();
    let rust = host.load(&path, &bytes, false).expect("load");
    let good = repo().join("tests/fixtures/wasm/good.wat");
    let minimal = host
        .load(&good, &wat::parse_file(&good).expect("good.wat"), false)
        .expect("load good.wat");
    let mut group = c.benchmark_group(format!("corpus/{} Dockerfiles", requests.len()));
    group.sample_size(10);
    for (name, policy) in [
        ("builtin-shell (DF100-DF105)", &shell),
        ("rust-example (WASM001)", &rust),
        ("minimal-wat-guest (host overhead)", &minimal),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                for r in &requests {
                    black_box(policy.evaluate(black_box(r)).expect("evaluate"));
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, evaluate, load, builtin_shell);
criterion_main!(benches);
