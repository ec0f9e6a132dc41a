//! Why this exists: it measures what regorus's compiled form (the RVM, `rvm` feature)
//! would give the built-in Kubernetes rules, against the tree-walking interpreter that
//! `policy` uses, on the same inputs and the same batch rule shape, and shows the two
//! reasons `policy` does not use it yet (BENCHMARKS.md, "Regorus's compiled form").
//!
//! ```sh
//! python3 bench/throughput/gen_deployments.py /tmp/wl2k 2000 20
//! cd bench/rvm && cargo run --release -- ../../policies /tmp/wl2k
//! ```

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use regorus::languages::rego::compiler::Compiler;
use regorus::rvm::vm::{ExecutionMode, ExecutionState, RegoVM, SuspendReason};
use regorus::{Engine, Value};
use serde::Deserialize;

/// Builtins `policy` replaces with OPA-compatible or size-checked versions
/// (`engine/src/runtimes/rego/builtins`, `sizecheck.rs`): the RVM would call regorus's.
const REPLACED: &[&str] = &[
    "all",
    "any",
    "cast_array",
    "cast_set",
    "count",
    "crypto.hmac.equal",
    "crypto.md5",
    "crypto.sha1",
    "crypto.sha256",
    "glob.quote_meta",
    "json.marshal",
    "lower",
    "net.cidr_expand",
    "net.cidr_intersects",
    "re_match",
    "semver.compare",
    "semver.is_valid",
    "set_diff",
    "sprintf",
    "strings.count",
    "upper",
    "yaml.is_valid",
    "yaml.unmarshal",
    "concat",
    "array.concat",
    "graph.reachable_paths",
    "json.marshal_with_options",
    "bits.lsh",
];

const DATA: &str = r#"{"inventory": {"namespaces": {}}, "settings": {}}"#;

fn rego_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    out.retain(|p| {
        let n = p.to_string_lossy();
        n.ends_with(".rego") && !n.ends_with("_test.rego")
    });
    out.sort();
    Ok(out)
}

fn documents(dir: &Path, limit: usize) -> Result<Vec<Value>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f)?;
        for doc in yaml_serde::Deserializer::from_str(&text) {
            let v = serde_json::Value::deserialize(doc).with_context(|| f.display().to_string())?;
            if !v.is_null() {
                out.push(Value::from_json_str(&v.to_string())?);
            }
            if out.len() == limit {
                return Ok(out);
            }
        }
    }
    Ok(out)
}

fn per_doc(d: Duration, n: usize) -> String {
    format!("{:.1} µs/doc", d.as_secs_f64() * 1e6 / n as f64)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let policies = Path::new(args.get(1).map_or("../../policies", String::as_str));
    let workload = Path::new(args.get(2).map_or("/tmp/wl2k", String::as_str));
    let limit: usize = args.get(3).map_or(Ok(usize::MAX), |s| s.parse())?;
    let rounds: usize = args.get(4).map_or(Ok(3), |s| s.parse())?;

    // The Kubernetes group of the built-in set, as `policy`'s per-kind engine holds it
    // (without the Pod Security files), and one batch rule over every rule package.
    let mut engine = Engine::new();
    engine.set_rego_v0(false);
    let mut packages = Vec::new();
    let lib = ["kubernetes", "cluster", "rbac", "registries"]
        .map(|n| policies.join("lib").join(format!("{n}.rego")));
    for f in rego_files(&policies.join("kubernetes"))?
        .into_iter()
        .chain(lib)
    {
        let text = std::fs::read_to_string(&f)?;
        let pkg = engine.add_policy(f.display().to_string(), text)?;
        if let Some(p) = pkg.strip_prefix("data.builtin.") {
            packages.push(format!("builtin.{p}"));
        }
    }
    // `namespace_psa` reads `object.get(data, [...])`; the RVM compiler refuses a read
    // of the data root, so it stays out of the comparison.
    let (skipped, packages): (Vec<_>, Vec<_>) = packages
        .into_iter()
        .partition(|p| p.ends_with("namespace_psa"));
    let batch = format!(
        "package rvmbench\n\nall := [\n{}\n]\n",
        packages
            .iter()
            .map(|p| format!("\tdata.{p}.deny"))
            .collect::<Vec<_>>()
            .join(",\n")
    );
    engine.add_policy("rvmbench.rego".into(), batch)?;
    engine.add_data(Value::from_json_str(DATA)?)?;
    let inputs = documents(workload, limit)?;
    println!(
        "{} rule packages in one batch rule ({} left out: {}), {} documents",
        packages.len(),
        skipped.len(),
        skipped.join(", "),
        inputs.len()
    );

    let entry = "data.rvmbench.all";
    let compiled = engine.clone().compile_with_entrypoint(&entry.into())?;
    let program = Compiler::compile_from_policy(&compiled, &[entry])
        .map_err(|e| anyhow!("RVM compile: {e}"))?;
    let mut calls: Vec<&str> = program
        .builtin_info_table
        .iter()
        .map(|b| b.name.as_str())
        .filter(|n| REPLACED.contains(n))
        .collect();
    calls.sort_unstable();
    calls.dedup();
    println!(
        "builtins the program calls that policy replaces with OPA's semantics: {}",
        calls.join(", ")
    );

    let mut vm = RegoVM::new();
    vm.load_program(program);
    vm.set_data(Value::from_json_str(DATA)?)?;
    vm.set_max_instructions(usize::MAX);

    let (mut best_i, mut best_r) = (Duration::MAX, Duration::MAX);
    let mut differ = 0;
    for _ in 0..rounds {
        let mut interp = engine.clone();
        let t = Instant::now();
        let mut expected = Vec::with_capacity(inputs.len());
        for i in &inputs {
            interp.set_input(i.clone());
            expected.push(interp.eval_rule(entry.into())?);
        }
        best_i = best_i.min(t.elapsed());
        let t = Instant::now();
        let mut got = Vec::with_capacity(inputs.len());
        for i in &inputs {
            vm.set_input(i.clone());
            got.push(vm.execute().map_err(|e| anyhow!("RVM: {e}"))?);
        }
        best_r = best_r.min(t.elapsed());
        differ = expected.iter().zip(&got).filter(|(a, b)| a != b).count();
    }
    let n = inputs.len();
    println!(
        "interpreter (eval_rule of the batch rule): {} (best of {rounds})",
        per_doc(best_i, n)
    );
    println!(
        "RVM, run to completion:                    {} (best of {rounds})",
        per_doc(best_r, n)
    );
    println!(
        "ratio RVM/interpreter: {:.2}x; documents whose results differ: {differ} of {n}",
        best_r.as_secs_f64() / best_i.as_secs_f64()
    );
    suspendable_host_calls()
}

/// The RVM's way to call host functions: builtins registered as "host await" suspend the
/// VM, the host computes the value and resumes it. `policy` would register its
/// OPA-compatible builtins that way. With a rule of one package calling a helper of
/// another, the resumed values land in the wrong place (regorus 0.14.1).
fn suspendable_host_calls() -> Result<()> {
    let modules = [
        "package lib\nimport rego.v1\ncs contains c if some c in input.cs\nname(c) := sprintf(\"n%v\", [c])\n",
        "package t.a\nimport rego.v1\nimport data.lib\ndeny contains msg if { some c in lib.cs; c > 1; msg := lib.name(c) }\n",
        "package t.b\nimport rego.v1\nimport data.lib\ndeny contains msg if { some c in lib.cs; count(input.cs) > 2; msg := sprintf(\"b%v\", [c]) }\n",
        "package t\nall := [data.t.a.deny, data.t.b.deny]\n",
    ];
    let mut engine = Engine::new();
    engine.set_rego_v0(false);
    for (i, m) in modules.iter().enumerate() {
        engine.add_policy(format!("m{i}.rego"), (*m).to_string())?;
    }
    let input = Value::from_json_str(r#"{"cs": [1, 2, 3]}"#)?;
    let mut interp = engine.clone();
    interp.set_input(input.clone());
    let want = interp.eval_rule("data.t.all".into())?;
    let compiled = engine.compile_with_entrypoint(&"data.t.all".into())?;
    let program = Compiler::compile_from_policy_with_host_await(
        &compiled,
        &["data.t.all"],
        &[("sprintf", 2), ("count", 1)],
    )
    .map_err(|e| anyhow!("RVM compile: {e}"))?;
    let mut vm = RegoVM::new();
    vm.load_program(program);
    vm.set_execution_mode(ExecutionMode::Suspendable);
    vm.set_input(input.clone());
    // The host answers with regorus's own builtins, so the results must equal `want`.
    let mut host = Engine::new();
    host.set_rego_v0(false);
    host.add_policy(
        "host.rego".into(),
        "package host\nsprintf := sprintf(input[0], input[1])\ncount := count(input[0])\n".into(),
    )?;
    let mut got = vm.execute().map_err(|e| anyhow!("RVM: {e}"))?;
    while let ExecutionState::Suspended {
        reason:
            SuspendReason::HostAwait {
                argument,
                identifier,
                ..
            },
        ..
    } = vm.execution_state().clone()
    {
        host.set_input(argument);
        let name = identifier.as_string().map_err(|e| anyhow!("{e}"))?;
        let value = host.eval_rule(format!("data.host.{name}"))?;
        got = vm.resume(Some(value)).map_err(|e| anyhow!("RVM: {e}"))?;
    }
    println!("suspendable RVM with host calls, three packages:");
    println!("  interpreter: {want}");
    println!(
        "  RVM:         {got}  ({})",
        if got == want { "same" } else { "DIFFERENT" }
    );
    Ok(())
}
