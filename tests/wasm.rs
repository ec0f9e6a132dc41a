//! WASM runtime tests at the `WasmHost` level: hostile modules are contained with a clear
//! error while the same host keeps evaluating a good module, broken modules are refused
//! at load, the example policies (Rust and C) produce the expected findings, and the
//! built-in WASM policy (`policies/wasm/shell`) ships in the built-in set, loads only for
//! the kinds it declares and reports exact positions.
//!
//! Fixtures: `tests/fixtures/wasm/*.wat` (compiled with the `wat` crate) and the committed
//! example modules under `examples/`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use policy_engine::inputs::DocumentKind;
use policy_engine::rules::RuntimeKind;
use policy_engine::runtimes::wasm::{
    CacheOutcome, Trap, WasmError, WasmHost, WasmLimits, WasmPolicy,
};
use policy_sdk::abi::{EvaluateRequest, GuestFinding, LogLevel, PathSegment};
use serde_json::json;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fixture(name: &str) -> (PathBuf, Vec<u8>) {
    let path = repo()
        .join("tests/fixtures/wasm")
        .join(format!("{name}.wat"));
    let bytes = wat::parse_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (path, bytes)
}

fn limits() -> WasmLimits {
    WasmLimits {
        deadline: Duration::from_millis(200),
        memory_bytes: 16 << 20,
        ..WasmLimits::default()
    }
}

fn host() -> WasmHost {
    WasmHost::without_disk_cache(limits()).expect("host")
}

fn load(host: &WasmHost, name: &str) -> Result<WasmPolicy, WasmError> {
    let (path, bytes) = fixture(name);
    host.load(&path, &bytes, false)
}

fn request() -> EvaluateRequest {
    EvaluateRequest {
        kind: "dockerfile".into(),
        path: "Dockerfile".into(),
        document: json!({"stages": [], "instructions": [{"cmd": "from", "line": 1}]}),
        settings: serde_json::Value::Null,
    }
}

/// The good module still works on `host` (the run continues after a hostile module).
fn assert_good_still_works(host: &WasmHost) {
    let good = load(host, "good").expect("good module loads");
    let findings = good.evaluate(&request()).expect("good module evaluates");
    assert_eq!(findings.len(), 2);
}

fn load_and_evaluate(host: &WasmHost, name: &str) -> WasmError {
    let policy = load(host, name).unwrap_or_else(|e| panic!("{name} should load: {e}"));
    match policy.evaluate(&request()) {
        Ok(f) => panic!("{name} should fail, got {f:?}"),
        Err(e) => e,
    }
}

#[test]
fn good_module_metadata_and_findings() {
    let host = host();
    let policy = load(&host, "good").expect("load");
    assert_eq!(policy.metadata.name, "good");
    assert_eq!(policy.rules.len(), 1);
    let rule = &policy.rules[0];
    assert_eq!(rule.id, "T001");
    assert_eq!(rule.title, "Test rule");
    assert_eq!(rule.severity, policy_engine::Severity::High);
    assert_eq!(
        rule.kinds,
        vec![DocumentKind::Dockerfile, DocumentKind::Kubernetes]
    );
    assert_eq!(rule.remediation.as_deref(), Some("Fix it."));
    assert_eq!(rule.origin.runtime, RuntimeKind::Wasm);
    assert!(!rule.origin.builtin);
    assert!(rule.origin.file.ends_with("good.wat"));
    assert_eq!(rule.origin.package, None);

    let findings = policy.evaluate(&request()).expect("evaluate");
    assert_eq!(
        findings,
        vec![
            GuestFinding::at_path(
                "T001",
                "first instruction",
                [PathSegment::from("instructions"), PathSegment::from(0)]
            ),
            GuestFinding::new("T001", "line two")
                .with_line(2)
                .with_severity(policy_engine::Severity::Low),
        ]
    );
}

#[test]
fn infinite_loop_is_interrupted_at_the_deadline() {
    let host = host();
    let policy = load(&host, "infinite_loop").expect("load");
    let start = Instant::now();
    let err = policy.evaluate(&request()).expect_err("must time out");
    let took = start.elapsed();
    assert!(err.is_timeout(), "{err}");
    assert!(
        matches!(err, WasmError::Timeout { deadline, .. } if deadline == Duration::from_millis(200))
    );
    assert!(
        took < Duration::from_millis(400),
        "stopped after {took:?} (deadline 200ms)"
    );
    assert!(
        took >= Duration::from_millis(150),
        "stopped too early: {took:?}"
    );
    assert!(
        err.to_string()
            .contains("exceeded its time limit of 200 ms"),
        "{err}"
    );
    // The interrupted policy is still usable (fresh store) and times out again.
    assert!(policy.evaluate(&request()).expect_err("again").is_timeout());
    assert_good_still_works(&host);
}

#[test]
fn memory_grow_stops_at_the_cap() {
    let host = host();
    let start = Instant::now();
    let err = load_and_evaluate(&host, "memory_grow");
    // The module traps only if memory.grow failed at or below 256 pages (16 MiB).
    assert!(
        matches!(
            err,
            WasmError::Trap {
                trap: Trap::UnreachableCodeReached,
                ..
            }
        ),
        "{err}"
    );
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_good_still_works(&host);
}

#[test]
fn initial_memory_above_the_cap_is_refused() {
    let host = host();
    let err = load(&host, "big_initial_memory").expect_err("refused");
    assert!(matches!(err, WasmError::Instantiate { .. }), "{err}");
    assert!(err.to_string().contains("cannot instantiate"), "{err}");
    assert_good_still_works(&host);
}

#[test]
fn reply_beyond_the_output_cap() {
    let host = host();
    let err = load_and_evaluate(&host, "huge_output");
    assert!(
        matches!(err, WasmError::OutputTooLarge { len: 0x4000_0000, max, .. } if max == 16 << 20),
        "{err}"
    );
    assert!(
        err.to_string().contains("exceeds the output limit"),
        "{err}"
    );
    assert_good_still_works(&host);
}

#[test]
fn reply_beyond_guest_memory() {
    // With the output cap above 1 GiB the claim fails the bounds check instead.
    let host = WasmHost::without_disk_cache(WasmLimits {
        max_output_bytes: 2 << 30,
        ..limits()
    })
    .expect("host");
    let err = load_and_evaluate(&host, "huge_output");
    assert!(matches!(err, WasmError::BadReply { .. }), "{err}");
    assert!(err.to_string().contains("outside guest memory"), "{err}");

    let err = load_and_evaluate(&host, "reply_out_of_bounds");
    assert!(matches!(err, WasmError::BadReply { .. }), "{err}");
    assert_good_still_works(&host);
}

#[test]
fn bad_allocation_pointer() {
    let host = host();
    let err = load_and_evaluate(&host, "bad_alloc");
    assert!(
        matches!(
            err,
            WasmError::BadReply {
                function: "policy_alloc",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("outside guest memory"), "{err}");
    assert_good_still_works(&host);
}

#[test]
fn trap_is_reported_by_type() {
    let host = host();
    let err = load_and_evaluate(&host, "trap");
    assert!(
        matches!(
            err,
            WasmError::Trap {
                trap: Trap::UnreachableCodeReached,
                ..
            }
        ),
        "{err}"
    );
    assert!(!err.is_timeout());
    assert!(err.to_string().contains("policy trapped"), "{err}");
    assert_good_still_works(&host);
}

#[test]
fn broken_modules_are_refused_at_load() {
    let host = host();
    type Case = (&'static str, fn(&WasmError) -> bool, &'static str);
    let cases: &[Case] = &[
        (
            "missing_export",
            |e| matches!(e, WasmError::BadExport { .. }),
            "missing export `policy_evaluate`",
        ),
        (
            "wrong_export_type",
            |e| matches!(e, WasmError::BadExport { .. }),
            "expected (i32, i32) -> i64",
        ),
        (
            "wrong_abi",
            |e| {
                matches!(
                    e,
                    WasmError::AbiVersion {
                        found: 2,
                        expected: 1,
                        ..
                    }
                )
            },
            "ABI version 2",
        ),
        (
            "unknown_import",
            |e| matches!(e, WasmError::UnsupportedImport { .. }),
            "`wasi_snapshot_preview1.fd_write`",
        ),
        (
            "bad_metadata",
            |e| matches!(e, WasmError::Metadata { .. }),
            "not a PolicyMetadata",
        ),
        (
            "unknown_kind",
            |e| matches!(e, WasmError::Metadata { .. }),
            "unknown document kind `terraform`",
        ),
    ];
    for (name, is_expected, text) in cases {
        let err = load(&host, name).expect_err(name);
        assert!(is_expected(&err), "{name}: {err:?}");
        assert!(err.is_load_error(), "{name}: {err}");
        let msg = err.to_string();
        assert!(msg.contains(text), "{name}: {msg}");
        assert!(
            msg.contains(&format!("{name}.wat")),
            "{name}: message names the module: {msg}"
        );
    }
    let err = host
        .load(Path::new("not-wasm.wasm"), b"\0asm garbage", false)
        .expect_err("garbage");
    assert!(matches!(err, WasmError::Compile { .. }), "{err}");
    assert_good_still_works(&host);
}

#[test]
fn undeclared_rules_and_guest_errors() {
    let host = host();
    let err = load_and_evaluate(&host, "undeclared_rule");
    assert!(
        matches!(&err, WasmError::UndeclaredRule { rule, .. } if rule == "NOPE"),
        "{err}"
    );
    let err = load_and_evaluate(&host, "guest_error");
    assert!(
        matches!(&err, WasmError::Guest { message, .. } if message == "document has no stages"),
        "{err}"
    );
    assert_good_still_works(&host);
}

#[test]
fn guest_state_does_not_leak_between_documents() {
    let host = host();
    let policy = load(&host, "stateful").expect("load");
    for _ in 0..3 {
        assert_eq!(policy.evaluate(&request()).expect("evaluate").len(), 2);
    }
}

#[test]
fn log_import_reaches_the_sink() {
    let seen: Arc<Mutex<Vec<(PathBuf, LogLevel, String)>>> = Arc::default();
    let sink = seen.clone();
    let host = host().with_log_sink(Arc::new(move |path, log| {
        if let Ok(mut v) = sink.lock() {
            v.push((path.to_owned(), log.level, log.message.clone()));
        }
    }));
    let policy = load(&host, "echo_log").expect("load");
    policy.evaluate(&request()).expect("evaluate");
    let seen = seen.lock().expect("lock");
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].1, LogLevel::Info);
    let logged: EvaluateRequest = serde_json::from_str(&seen[0].2).expect("the request JSON");
    assert_eq!(logged, request());
}

#[test]
fn policies_evaluate_in_parallel() {
    let host = host();
    let policy = load(&host, "good").expect("load");
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..20 {
                    assert_eq!(policy.evaluate(&request()).expect("evaluate").len(), 2);
                }
            });
        }
    });
}

#[test]
fn disk_cache_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, bytes) = fixture("good");
    let first = WasmHost::new(limits(), Some(dir.path().to_owned())).expect("host");
    assert_eq!(first.cache_dir(), Some(dir.path()));
    let (_, outcome) = first.load_traced(&path, &bytes, false).expect("load");
    assert_eq!(outcome, CacheOutcome::Compiled);
    let (_, outcome) = first.load_traced(&path, &bytes, false).expect("load");
    assert_eq!(outcome, CacheOutcome::Memory);
    let artefacts: Vec<_> = std::fs::read_dir(dir.path())
        .expect("read cache dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(artefacts.len(), 1, "{artefacts:?}");
    assert!(artefacts[0].ends_with(".cwasm"));

    // A fresh host (fresh engine, same config) reuses the artefact.
    let second = WasmHost::new(limits(), Some(dir.path().to_owned())).expect("host");
    let (policy, outcome) = second.load_traced(&path, &bytes, false).expect("load");
    assert_eq!(outcome, CacheOutcome::Disk);
    assert_eq!(policy.evaluate(&request()).expect("evaluate").len(), 2);

    drop((policy, second));

    // A corrupt artefact is discarded and the module recompiled.
    let file = dir.path().join(&artefacts[0]);
    std::fs::write(&file, b"not an artefact").expect("corrupt");
    let third = WasmHost::new(limits(), Some(dir.path().to_owned())).expect("host");
    let (policy, outcome) = third.load_traced(&path, &bytes, false).expect("load");
    assert_eq!(outcome, CacheOutcome::Recompiled);
    assert_eq!(policy.evaluate(&request()).expect("evaluate").len(), 2);
}

/// The built-in shell module is precompiled into the binary by `engine/build.rs`: a host
/// with an empty disk cache loads it without compiling, writes nothing to the cache, and
/// the module works. A user's module with the same host still goes through the cache.
#[test]
fn builtin_module_loads_from_the_artefact_embedded_at_build_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = repo().join("policies/wasm/shell/policy-builtin-shell.wasm");
    let bytes = std::fs::read(&path).expect("the committed built-in module");
    let host = WasmHost::new(limits(), Some(dir.path().to_owned())).expect("host");
    let (policy, outcome) = host.load_traced(&path, &bytes, true).expect("load");
    assert_eq!(outcome, CacheOutcome::Embedded);
    assert!(!policy.rules.is_empty());
    let (_, again) = host.load_traced(&path, &bytes, true).expect("load");
    assert_eq!(again, CacheOutcome::Memory);
    let cached = std::fs::read_dir(dir.path()).expect("cache dir").count();
    assert_eq!(cached, 0, "nothing compiled, nothing cached");

    // One changed byte is another module: not the embedded artefact.
    let (user_path, user_bytes) = fixture("good");
    let (_, outcome) = host
        .load_traced(&user_path, &user_bytes, false)
        .expect("load");
    assert_eq!(outcome, CacheOutcome::Compiled);
}

/// A fresh host on `dir` loads the `good` fixture: the outcome, the warning, and whether
/// the module still evaluates.
fn cold_load(dir: &Path) -> (CacheOutcome, Option<String>) {
    let (path, bytes) = fixture("good");
    let host = WasmHost::new(limits(), Some(dir.to_owned())).expect("host");
    let (policy, outcome) = host.load_traced(&path, &bytes, false).expect("load");
    assert_eq!(policy.evaluate(&request()).expect("evaluate").len(), 2);
    (outcome, policy.cache_warning().map(str::to_owned))
}

fn only_artefact(dir: &Path) -> PathBuf {
    let files: Vec<_> = std::fs::read_dir(dir)
        .expect("read cache dir")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

/// Each way of damaging a cache entry: it is discarded with a warning naming it, the
/// module is recompiled, and the run after that loads the rewritten entry from disk.
#[test]
fn damaged_cache_entries_are_discarded_and_recompiled() {
    type Damage = fn(&Path);
    let damages: [(&str, Damage, &str); 5] = [
        (
            "flipped bytes in the code",
            |f| {
                let mut b = std::fs::read(f).expect("read");
                let mid = b.len() / 2;
                for x in &mut b[mid..mid + 64] {
                    *x ^= 0xff;
                }
                std::fs::write(f, b).expect("write");
            },
            "integrity check failed",
        ),
        (
            "truncated",
            |f| {
                let b = std::fs::read(f).expect("read");
                std::fs::write(f, &b[..b.len() / 3]).expect("write");
            },
            "integrity check failed",
        ),
        (
            "an old entry without a header",
            |f| std::fs::write(f, b"\x7fELF and so on").expect("write"),
            "no integrity header",
        ),
        (
            "a symlink to /dev/zero",
            |f| {
                std::fs::remove_file(f).expect("rm");
                std::os::unix::fs::symlink("/dev/zero", f).expect("symlink");
            },
            "not a regular file",
        ),
        (
            "a FIFO",
            |f| {
                std::fs::remove_file(f).expect("rm");
                let status = std::process::Command::new("mkfifo")
                    .arg(f)
                    .status()
                    .expect("mkfifo");
                assert!(status.success());
            },
            "not a regular file",
        ),
    ];
    for (what, damage, reason) in damages {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(cold_load(dir.path()).0, CacheOutcome::Compiled, "{what}");
        let file = only_artefact(dir.path());
        damage(&file);
        let (outcome, warning) = cold_load(dir.path());
        assert_eq!(outcome, CacheOutcome::Recompiled, "{what}");
        let warning = warning.expect("a warning");
        assert!(
            warning.contains(&file.display().to_string()),
            "{what}: {warning}"
        );
        assert!(warning.contains(reason), "{what}: {warning}");
        assert_eq!(cold_load(dir.path()), (CacheOutcome::Disk, None), "{what}");
    }
}

/// Two cold runs at once on one cache directory never read each other's partial files:
/// both compile or load a whole artefact, and exactly one entry remains.
#[test]
fn concurrent_cold_runs_share_the_cache_safely() {
    let dir = tempfile::tempdir().expect("tempdir");
    for _ in 0..3 {
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    let (outcome, warning) = cold_load(dir.path());
                    assert!(
                        matches!(outcome, CacheOutcome::Compiled | CacheOutcome::Disk),
                        "{outcome:?}"
                    );
                    assert_eq!(warning, None);
                });
            }
        });
        only_artefact(dir.path());
    }
}

// ---------------------------------------------------------------------------------------
// The example policies, loaded from their committed modules.

fn example_module(dir: &str) -> (PathBuf, Vec<u8>) {
    let path = repo()
        .join("examples")
        .join(dir)
        .join(format!("{dir}.wasm"));
    let bytes = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run sdk/build-wasm.sh)", path.display()));
    (path, bytes)
}

fn dockerfile_request(name: &str) -> EvaluateRequest {
    let path = repo()
        .join("examples/wasm-policy-rust/fixtures")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).expect("fixture");
    EvaluateRequest {
        kind: "dockerfile".into(),
        path: format!("examples/dockerfile/{name}.Dockerfile"),
        document: serde_json::from_str(&text).expect("fixture JSON"),
        settings: serde_json::Value::Null,
    }
}

fn pointer(f: &GuestFinding) -> String {
    let mut out = String::new();
    for seg in f.path.iter().flatten() {
        match seg {
            PathSegment::Key(k) => out.push_str(&format!("/{k}")),
            PathSegment::Index(i) => out.push_str(&format!("/{i}")),
        }
    }
    out
}

#[test]
fn rust_example_policy() {
    let host = WasmHost::without_disk_cache(WasmLimits::default()).expect("host");
    let (path, bytes) = example_module("wasm-policy-rust");
    let policy = host.load(&path, &bytes, false).expect("load rust example");
    assert_eq!(policy.rules.len(), 1);
    assert_eq!(policy.rules[0].id, "WASM001");
    assert_eq!(policy.rules[0].kinds, vec![DocumentKind::Dockerfile]);
    assert_eq!(policy.rules[0].severity, policy_engine::Severity::High);

    let root = policy.evaluate(&dockerfile_request("root")).expect("root");
    assert_eq!(root.len(), 1, "{root:?}");
    assert_eq!(root[0].rule, "WASM001");
    assert_eq!(pointer(&root[0]), "/instructions/2");
    assert_eq!(root[0].line, Some(5));
    assert!(
        root[0].msg.contains("FROM debian:12-slim, line 5"),
        "{}",
        root[0].msg
    );
    assert!(
        root[0].msg.contains("Add `USER <non-root user>`"),
        "{}",
        root[0].msg
    );

    let user_root = policy
        .evaluate(&dockerfile_request("user-root"))
        .expect("user-root");
    assert_eq!(user_root.len(), 1);
    assert_eq!(pointer(&user_root[0]), "/instructions/4");
    assert_eq!(user_root[0].line, Some(5));
    assert!(
        user_root[0].msg.contains("`USER root` on line 5"),
        "{}",
        user_root[0].msg
    );

    for ok in ["nonroot", "inherited"] {
        assert_eq!(
            policy.evaluate(&dockerfile_request(ok)).expect(ok),
            vec![],
            "{ok}"
        );
    }

    let mut with_settings = dockerfile_request("nonroot");
    with_settings.settings = json!({"root_users": ["10001"]});
    assert_eq!(policy.evaluate(&with_settings).expect("settings").len(), 1);

    let mut bad_settings = dockerfile_request("nonroot");
    bad_settings.settings = json!({"root_users": "root"});
    let err = policy.evaluate(&bad_settings).expect_err("bad settings");
    assert!(
        matches!(&err, WasmError::Guest { message, .. } if message.contains("invalid settings")),
        "{err}"
    );

    let mut k8s = dockerfile_request("root");
    k8s.kind = "kubernetes".into();
    assert_eq!(policy.evaluate(&k8s).expect("other kind"), vec![]);
}

fn image_request(user: serde_json::Value) -> EvaluateRequest {
    let mut document = json!({
        "format": "docker-inspect",
        "exposed_ports": ["8080/tcp"],
        "env": ["PATH=/usr/bin"],
        "labels": {"org.opencontainers.image.title": "demo"},
        "os": "linux",
        "architecture": "amd64"
    });
    if !user.is_null() {
        document["user"] = user;
    }
    EvaluateRequest {
        kind: "image".into(),
        path: "examples/image/demo.json".into(),
        document,
        settings: serde_json::Value::Null,
    }
}

#[test]
fn c_example_policy() {
    let host = WasmHost::without_disk_cache(WasmLimits::default()).expect("host");
    let (path, bytes) = example_module("wasm-policy-c");
    let policy = host.load(&path, &bytes, false).expect("load C example");
    assert_eq!(policy.rules.len(), 1);
    assert_eq!(policy.rules[0].id, "WASM002");
    assert_eq!(policy.rules[0].kinds, vec![DocumentKind::Image]);

    let cases = [
        (serde_json::Value::Null, Some("")),
        (json!(""), Some("/user")),
        (json!("root"), Some("/user")),
        (json!("0:0"), Some("/user")),
        (json!("10001"), None),
        (json!("app:app"), None),
        (json!("rooter"), None),
    ];
    for (user, want) in cases {
        let findings = policy
            .evaluate(&image_request(user.clone()))
            .expect("evaluate");
        match want {
            None => assert_eq!(findings, vec![], "user {user}"),
            Some(ptr) => {
                assert_eq!(findings.len(), 1, "user {user}: {findings:?}");
                assert_eq!(findings[0].rule, "WASM002");
                assert_eq!(pointer(&findings[0]), ptr, "user {user}");
                assert!(findings[0].msg.contains("USER"), "{}", findings[0].msg);
            }
        }
    }
    // Other kinds are ignored; a document that is not an object is an error for the guest.
    let mut other = image_request(json!("root"));
    other.kind = "dockerfile".into();
    assert_eq!(policy.evaluate(&other).expect("other kind"), vec![]);
    let mut not_object = image_request(json!("root"));
    not_object.document = json!("root");
    let err = policy.evaluate(&not_object).expect_err("not an object");
    assert!(
        matches!(&err, WasmError::Guest { message, .. } if message.contains("not a JSON object")),
        "{err}"
    );
    // A user name with JSON metacharacters is escaped in the reply.
    let quoted = policy
        .evaluate(&image_request(json!("0:\"wheel\"")))
        .expect("escaped");
    assert_eq!(quoted.len(), 1);
    assert!(quoted[0].msg.contains("`0:\"wheel\"`"), "{}", quoted[0].msg);
}

/// Replays the worked example of `sdk/ABI.md` against the C example with plain wasmtime,
/// so the numbers in the document stay true.
#[test]
fn abi_md_worked_example() {
    use policy_sdk::abi::unpack;
    let (_, bytes) = example_module("wasm-policy-c");
    let engine = wasmtime::Engine::default();
    let module = wasmtime::Module::new(&engine, &bytes).expect("module");
    let mut store = wasmtime::Store::new(&engine, ());
    let instance = wasmtime::Instance::new(&mut store, &module, &[]).expect("instance");
    let memory = instance.get_memory(&mut store, "memory").expect("memory");
    let version = instance
        .get_typed_func::<(), i32>(&mut store, "policy_abi_version")
        .expect("export");
    assert_eq!(version.call(&mut store, ()).expect("call"), 1);
    let metadata = instance
        .get_typed_func::<(), i64>(&mut store, "policy_metadata")
        .expect("export");
    let packed = metadata.call(&mut store, ()).expect("call");
    let (ptr, len) = unpack(packed);
    let text = std::str::from_utf8(&memory.data(&store)[ptr as usize..(ptr + len) as usize])
        .expect("utf-8")
        .to_owned();
    assert!(
        text.starts_with(r#"{"name":"wasm-policy-c","rules":["#),
        "{text}"
    );
    let doc = std::fs::read_to_string(repo().join("sdk/ABI.md")).expect("ABI.md");
    let claim = |s: &str| assert!(doc.contains(s), "ABI.md should say {s}");
    claim(&format!("`{packed:#018x}`"));
    claim(&format!("ptr = {ptr:#x}` ({ptr})"));
    claim(&format!("len = {len:#x}` ({len})"));

    let request =
        r#"{"kind":"image","path":"img.json","document":{"user":"root"},"settings":null}"#;
    claim(&format!("{} bytes", request.len()));
    let alloc = instance
        .get_typed_func::<i32, i32>(&mut store, "policy_alloc")
        .expect("export");
    let p = alloc.call(&mut store, request.len() as i32).expect("alloc");
    claim(&format!("`policy_alloc({})` returns `{p}`", request.len()));
    memory
        .write(&mut store, p as usize, request.as_bytes())
        .expect("write");
    let evaluate = instance
        .get_typed_func::<(i32, i32), i64>(&mut store, "policy_evaluate")
        .expect("export");
    let packed = evaluate
        .call(&mut store, (p, request.len() as i32))
        .expect("evaluate");
    let (rptr, rlen) = unpack(packed);
    claim(&format!(
        "`policy_evaluate({p}, {})` returns `{:#018x}`",
        request.len(),
        packed
    ));
    claim(&format!(
        "ptr = {rptr:#x}` ({rptr}) and `len = {rlen:#x}` ({rlen})"
    ));
    let reply = std::str::from_utf8(&memory.data(&store)[rptr as usize..(rptr + rlen) as usize])
        .expect("utf-8")
        .to_owned();
    claim(&reply);
}

/// `good.wat` with a second rule, T002, and one finding of each rule.
fn two_rule_module() -> Vec<u8> {
    let path = repo().join("tests/fixtures/wasm/good.wat");
    let text = std::fs::read_to_string(&path).expect("good.wat");
    let t002 = r#",{\"id\":\"T002\",\"title\":\"Second rule\",\"severity\":\"low\",\"kinds\":[\"dockerfile\"]}]}"#;
    let text = text
        .replacen(
            r#"\"references\":[\"https://example.invalid/T001\"]}]}"#,
            &format!(r#"\"references\":[\"https://example.invalid/T001\"]}}{t002}"#),
            1,
        )
        .replacen(
            r#"{\"rule\":\"T001\",\"msg\":\"line two\",\"line\":2,\"severity\":\"low\"}"#,
            r#"{\"rule\":\"T002\",\"msg\":\"line two\",\"line\":2}"#,
            1,
        );
    assert!(
        text.contains("T002\\\",\\\"msg"),
        "fixture edit did not apply"
    );
    wat::parse_str(&text).expect("two-rule module")
}

/// Loads `modules` (name, bytes) as policy files with `disabled` rules off and evaluates
/// a one-line Dockerfile: the rule IDs of its findings, and its errors' rule labels.
fn eval_with_disabled(
    modules: &[(&str, Vec<u8>)],
    disabled: &[&str],
) -> (Vec<String>, Vec<String>, Duration) {
    use policy_engine::eval::{self, EvalOptions, PolicyOptions, PolicySet};
    use policy_engine::inputs::{self, Format, LoadOptions};
    let dir = tempfile::tempdir().expect("tempdir");
    let mut paths = Vec::new();
    for (name, bytes) in modules {
        let p = dir.path().join(format!("{name}.wasm"));
        std::fs::write(&p, bytes).expect("write module");
        paths.push(p);
    }
    let set = PolicySet::load(&PolicyOptions {
        paths,
        builtin: false,
        wasm: limits(),
        wasm_cache: Some(dir.path().join("cache")),
        disabled_rules: disabled.iter().map(|s| s.to_string()).collect(),
        ..PolicyOptions::default()
    });
    assert!(set.errors.is_empty(), "{:?}", set.errors);
    let file = inputs::load_text(
        "Dockerfile",
        "FROM debian:12\nUSER app\n",
        Format::Dockerfile,
        &LoadOptions::default(),
    );
    let started = Instant::now();
    let report = eval::evaluate(&set, vec![file], &EvalOptions::default());
    let took = started.elapsed();
    let findings = report.findings.iter().map(|f| f.rule.id.clone()).collect();
    let errors = report
        .errors
        .iter()
        .map(|e| e.rule.clone().unwrap_or_default())
        .collect();
    (findings, errors, took)
}

#[test]
fn disabled_rules_of_a_module_are_dropped_and_an_all_off_module_never_runs() {
    let two = two_rule_module();
    let (findings, errors, _) = eval_with_disabled(&[("two", two.clone())], &[]);
    assert_eq!(findings, ["T001", "T002"]);
    assert!(errors.is_empty(), "{errors:?}");
    // One rule off: the module still runs for the other; the off rule's results go.
    let (findings, _, _) = eval_with_disabled(&[("two", two.clone())], &["t002"]);
    assert_eq!(findings, ["T001"]);

    // A module that never returns: on, it times out (labelled with its rules that are
    // on); with its only rule off, it is not instantiated at all.
    let (_, looping) = fixture("infinite_loop");
    let (_, errors, _) = eval_with_disabled(&[("loop", looping.clone())], &[]);
    assert_eq!(errors, ["T001"]);
    let (findings, errors, took) =
        eval_with_disabled(&[("loop", looping), ("two", two)], &["T001"]);
    assert_eq!(findings, ["T002"]);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(took < limits().deadline, "the looping module ran: {took:?}");
}

/// The built-in WASM policy set (`policies/wasm/*`), loaded like `policy eval` does.
fn builtin_set(input_kinds: Option<Vec<DocumentKind>>) -> policy_engine::eval::PolicySet {
    policy_engine::eval::PolicySet::load(&policy_engine::eval::PolicyOptions {
        builtin: true,
        input_kinds,
        ..policy_engine::eval::PolicyOptions::default()
    })
}

#[test]
fn builtin_shell_policy_ships_in_the_builtin_set() {
    let set = builtin_set(None);
    assert!(set.errors.is_empty(), "{:?}", set.errors);
    let shell = set
        .modules
        .iter()
        .find(|p| p.path() == Path::new("policies/wasm/shell/policy-builtin-shell.wasm"))
        .expect("the built-in shell policy is loaded");
    let ids: Vec<&str> = shell.rules().iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "DF100", "DF101", "DF102", "DF103", "DF104", "DF105", "DF106", "DF107", "DF108",
            "DF109", "DF110", "DF111", "DF112", "DF113"
        ]
    );
    let declared = policy_engine::eval::policies::builtin_wasm_kinds(
        "policies/wasm/shell/policy-builtin-shell.wasm",
    )
    .expect("kinds declared in its Cargo.toml");
    for rule in shell.rules() {
        assert!(rule.origin.builtin, "{}", rule.id);
        assert_eq!(rule.origin.runtime, RuntimeKind::Wasm, "{}", rule.id);
        assert!(
            rule.kinds.iter().all(|k| declared.contains(k)) && !rule.kinds.is_empty(),
            "{}: kinds {:?} must be among the declared {declared:?}",
            rule.id,
            rule.kinds
        );
    }
    // The rule IDs declared in its Cargo.toml are exactly those of its metadata.
    assert_eq!(
        policy_engine::eval::policies::builtin_wasm_rule_ids(
            "policies/wasm/shell/policy-builtin-shell.wasm"
        ),
        ids.as_slice()
    );
    // Every built-in module that declares kinds declares exactly what its rules use.
    for policy in set.modules.iter().filter(|p| p.rules()[0].origin.builtin) {
        let path = policy.path().to_string_lossy().into_owned();
        if let Some(declared) = policy_engine::eval::policies::builtin_wasm_kinds(&path) {
            let mut used: Vec<DocumentKind> = policy
                .rules()
                .iter()
                .flat_map(|r| r.kinds.clone())
                .collect();
            used.sort_by_key(|k| k.as_str());
            used.dedup();
            let mut declared = declared;
            declared.sort_by_key(|k| k.as_str());
            assert_eq!(used, declared, "{path}");
        }
    }
}

#[test]
fn builtin_wasm_is_skipped_without_inputs_of_its_kind_and_with_no_builtin() {
    let k8s = builtin_set(Some(vec![DocumentKind::Kubernetes]));
    assert!(
        k8s.modules.is_empty(),
        "nothing to compile for Kubernetes inputs"
    );
    assert_eq!(
        k8s.unloaded,
        [
            "DF100", "DF101", "DF102", "DF103", "DF104", "DF105", "DF106", "DF107", "DF108",
            "DF109", "DF110", "DF111", "DF112", "DF113"
        ],
        "the rules left out stay known"
    );
    assert!(
        k8s.rules().iter().any(|r| r.id == "DF001"),
        "Rego rules still load"
    );
    let docker = builtin_set(Some(vec![
        DocumentKind::Kubernetes,
        DocumentKind::Dockerfile,
    ]));
    assert_eq!(docker.modules.len(), 1);
    let none = policy_engine::eval::PolicySet::load(&policy_engine::eval::PolicyOptions {
        builtin: false,
        ..policy_engine::eval::PolicyOptions::default()
    });
    assert!(none.modules.is_empty() && none.rules().is_empty());
}

#[test]
fn builtin_shell_findings_point_at_the_command_word() {
    use policy_engine::inputs::{load_text, Format, LoadOptions};
    let set = builtin_set(Some(vec![DocumentKind::Dockerfile]));
    let text = "FROM debian:12-slim\nRUN apt-get update \\\n && curl -fsSL https://e.x/t.tgz | tar -xz\nRUN <<EOF\nset -e\ncd /app\nEOF\n";
    let file = load_text(
        "Dockerfile",
        text,
        Format::Dockerfile,
        &LoadOptions::default(),
    );
    let report = policy_engine::eval::evaluate(
        &set,
        vec![file],
        &policy_engine::eval::EvalOptions::default(),
    );
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let located: Vec<(String, u32, u32, u32, String)> = report
        .findings
        .iter()
        .filter(|f| f.rule.id.starts_with("DF1"))
        .map(|f| {
            let s = f.location.span;
            (
                f.rule.id.clone(),
                s.start.line,
                s.start.column,
                s.end.column,
                policy_engine::source::json_pointer(&f.location.path),
            )
        })
        .collect();
    assert_eq!(
        located,
        [
            ("DF102".into(), 2, 5, 19, "/instructions/1".into()),
            ("DF100".into(), 3, 5, 33, "/instructions/1".into()),
            ("DF101".into(), 6, 1, 8, "/instructions/2".into()),
        ],
        "{:#?}",
        report.findings
    );
}
