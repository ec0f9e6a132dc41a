//! The hostile suite: inputs, policies and data that once crashed, hung or exhausted
//! `policy`, run through the real binary. Each case is a file in `tests/hostile/` (see its
//! README); every case must end with the expected exit code (never a crash signal), the
//! expected error records at exact file:line:col, a peak RSS under its bound (the child's
//! own `rusage`, from `wait4`), and the sibling file's known finding still reported.

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
struct Case {
    description: String,
    files: Vec<CaseFile>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    paths: Vec<String>,
    expect: Expect,
}

#[derive(Debug, Deserialize)]
struct CaseFile {
    name: String,
    parts: Vec<Part>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Part {
    Text {
        text: String,
    },
    Repeat {
        repeat: String,
        times: usize,
        #[serde(default)]
        from: usize,
    },
}

#[derive(Debug, Deserialize)]
struct Expect {
    exit: i32,
    errors: Vec<ExpectError>,
    /// At least one of these (for behaviour that may move, e.g. from run time to load
    /// time).
    #[serde(default)]
    errors_one_of: Vec<ExpectError>,
    #[serde(default)]
    findings_contain: Vec<String>,
    max_rss_mib: u64,
    #[serde(default = "default_seconds")]
    max_seconds: u64,
}

fn default_seconds() -> u64 {
    120
}

#[derive(Debug, Deserialize)]
struct ExpectError {
    id: String,
    file: String,
    line: u64,
    column: u64,
    contains: String,
}

fn render(parts: &[Part]) -> String {
    let mut out = String::new();
    for part in parts {
        match part {
            Part::Text { text } => out.push_str(text),
            Part::Repeat {
                repeat,
                times,
                from,
            } => {
                for i in *from..from + times {
                    out.push_str(
                        &repeat
                            .replace("{i}", &i.to_string())
                            .replace("{j}", &i.saturating_sub(1).to_string())
                            .replace("{k}", &(i + 1).to_string()),
                    );
                }
            }
        }
    }
    out
}

/// What a finished child left behind.
pub(crate) struct Run {
    pub(crate) code: Option<i32>,
    pub(crate) signal: Option<i32>,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: Vec<u8>,
    pub(crate) max_rss_kib: u64,
    pub(crate) took: Duration,
    /// User plus system CPU time of the child (and its threads): unlike `took`, it does
    /// not grow when the machine is loaded.
    pub(crate) cpu: Duration,
}

/// Runs `policy` in `dir` and reaps it with `wait4`, which reports its peak RSS.
#[allow(unsafe_code)]
#[allow(clippy::zombie_processes)] // reaped by `wait4`, which std cannot see
pub(crate) fn run_policy(dir: &Path, args: &[String]) -> Run {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_policy"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn policy");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out.read_to_end(&mut buf);
        buf
    });
    let mut stderr = Vec::new();
    let _ = err.read_to_end(&mut stderr);
    let stdout = reader.join().expect("stdout reader");
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our child, not yet reaped (std reaps only in wait/try_wait, which
    // are not called), and both pointers are to live locals.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4");
    let took = start.elapsed();
    let (code, signal) = if libc::WIFEXITED(status) {
        (Some(libc::WEXITSTATUS(status)), None)
    } else {
        (None, Some(libc::WTERMSIG(status)))
    };
    Run {
        code,
        signal,
        stdout,
        stderr,
        max_rss_kib: usage.ru_maxrss as u64,
        took,
        cpu: timeval(usage.ru_utime) + timeval(usage.ru_stime),
    }
}

fn timeval(t: libc::timeval) -> Duration {
    Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
}

fn case_files() -> Vec<PathBuf> {
    let dir = support::repo().join("engine/tests/hostile");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/hostile")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn strip_dot(p: &str) -> &str {
    p.strip_prefix("./").unwrap_or(p)
}

/// Runs one case; returns what is wrong with it (empty when it passes).
fn check_case(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("read case");
    let case: Case = yaml_serde::from_str(&text)
        .unwrap_or_else(|e| panic!("{}: bad case file: {e}", path.display()));
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("case");
    for f in &case.files {
        let p = dir.join(&f.name);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, render(&f.parts)).expect("write case file");
    }
    let sibling = tmp.path().join("sibling");
    std::fs::create_dir_all(&sibling).expect("mkdir sibling");
    std::fs::write(
        sibling.join("Dockerfile"),
        "FROM ubuntu:latest\nUSER 1000\n",
    )
    .expect("write");

    let mut args: Vec<String> = ["eval", "-f", "json", "--no-config"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    // Rule timeouts are wall time: on a loaded CI machine the default 2 s could stop the
    // sibling's rule. A case that is about timeouts sets its own.
    if !case.args.iter().any(|a| a == "--timeout") {
        args.extend(["--timeout".to_string(), "30000".to_string()]);
    }
    args.extend(case.args.iter().cloned());
    if case.paths.is_empty() {
        args.push(".".into());
    } else {
        args.extend(case.paths.iter().cloned());
    }
    args.push("../sibling".into());
    let run = run_policy(&dir, &args);

    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let mut wrong = Vec::new();
    let stderr = String::from_utf8_lossy(&run.stderr);
    if let Some(sig) = run.signal {
        wrong.push(format!("killed by signal {sig}"));
    }
    if run.code != Some(case.expect.exit) {
        wrong.push(format!(
            "exit code {:?}, expected {}",
            run.code, case.expect.exit
        ));
    }
    if stderr.contains("panicked at") {
        wrong.push(format!("a panic reached stderr: {stderr}"));
    }
    let rss_mib = run.max_rss_kib / 1024;
    if rss_mib > case.expect.max_rss_mib {
        wrong.push(format!(
            "peak RSS {rss_mib} MiB, over the bound of {} MiB",
            case.expect.max_rss_mib
        ));
    }
    if run.took > Duration::from_secs(case.expect.max_seconds) {
        wrong.push(format!(
            "took {:?}, over {} s",
            run.took, case.expect.max_seconds
        ));
    }
    let report: Value = match serde_json::from_slice(&run.stdout) {
        Ok(v) => v,
        Err(e) => {
            wrong.push(format!(
                "stdout is not a JSON report ({e}); stderr: {stderr}"
            ));
            return prefixed(&name, &case.description, wrong);
        }
    };
    let errors = report["errors"].as_array().cloned().unwrap_or_default();
    let matches = |want: &ExpectError| {
        errors.iter().any(|e| {
            e["id"] == want.id.as_str()
                && strip_dot(e["file"].as_str().unwrap_or_default()) == want.file
                && e["line"] == want.line
                && e["column"] == want.column
                && e["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(&want.contains))
        })
    };
    for want in &case.expect.errors {
        if !matches(want) {
            wrong.push(format!("no error record {want:?} in {errors:#?}"));
        }
    }
    if !case.expect.errors_one_of.is_empty() && !case.expect.errors_one_of.iter().any(matches) {
        wrong.push(format!(
            "none of the error records {:?} in {errors:#?}",
            case.expect.errors_one_of
        ));
    }
    if case.expect.errors.is_empty() && case.expect.errors_one_of.is_empty() && !errors.is_empty() {
        wrong.push(format!("unexpected errors: {errors:#?}"));
    }
    let findings = support::findings(&report);
    let messages: Vec<&str> = report["findings"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["message"].as_str()).collect())
        .unwrap_or_default();
    let sibling_file = |f: &Value| {
        f["file"]
            .as_str()
            .is_some_and(|p| p.ends_with("sibling/Dockerfile"))
    };
    let sibling_found = report["findings"].as_array().is_some_and(|a| {
        a.iter().any(|f| {
            sibling_file(f)
                && f["rule_id"] == "DF001"
                && f["start_line"] == 1
                && f["start_column"] == 6
        })
    });
    if !sibling_found {
        wrong.push(format!(
            "the sibling's DF001 at 1:6 is missing: {findings:?}"
        ));
    }
    for want in &case.expect.findings_contain {
        if !messages.iter().any(|m| m.contains(want.as_str())) {
            wrong.push(format!("no finding says {want:?}: {messages:?}"));
        }
    }
    eprintln!(
        "{name}: exit {:?}, peak RSS {rss_mib} MiB, {:?}",
        run.code, run.took
    );
    prefixed(&name, &case.description, wrong)
}

fn prefixed(name: &str, description: &str, wrong: Vec<String>) -> Vec<String> {
    wrong
        .into_iter()
        .map(|w| format!("{name} ({description}): {w}"))
        .collect()
}

/// Every case file, one after another (so that each child's peak RSS is its own and the
/// machine is not asked for several hostile runs at once).
#[test]
fn hostile_cases() {
    let files = case_files();
    assert!(files.len() >= 8, "{files:?}");
    let mut wrong = Vec::new();
    for f in &files {
        wrong.extend(check_case(f));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

/// A symbolic link inside a walked directory that points outside it is not followed: it is
/// listed as skipped with its target (exit 2, every input accounted for), its text never
/// reaches the report, and the flag follows it.
#[test]
fn symlinks_leaving_the_walked_directory_are_skipped() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(outside.join("dir")).expect("mkdir");
    std::fs::write(outside.join("secret.yaml"), "token: hunter2-secret-value\n").expect("write");
    std::fs::write(outside.join("dir/Dockerfile"), "FROM ubuntu:latest\n").expect("write");
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(&repo).expect("mkdir");
    std::fs::write(repo.join("Dockerfile"), "FROM ubuntu:latest\nUSER 1000\n").expect("write");
    std::os::unix::fs::symlink(outside.join("secret.yaml"), repo.join("leak.yaml"))
        .expect("symlink");
    std::os::unix::fs::symlink(outside.join("dir"), repo.join("linked")).expect("symlink");
    // A link that stays inside is followed as before.
    std::os::unix::fs::symlink(repo.join("Dockerfile"), repo.join("inside.dockerfile"))
        .expect("symlink");

    let args = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = ["eval", "-f", "json", "--no-config", "."]
            .iter()
            .map(|s| s.to_string())
            .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let run = run_policy(&repo, &args(&[]));
    let text = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.code, Some(2), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    let report: Value = serde_json::from_str(&text).expect("json");
    let inputs = report["inputs"].as_array().expect("inputs");
    let skipped = |name: &str| {
        inputs
            .iter()
            .find(|i| i["path"].as_str().is_some_and(|p| strip_dot(p) == name))
    };
    for (name, target) in [("leak.yaml", "secret.yaml"), ("linked", "dir")] {
        let i = skipped(name).unwrap_or_else(|| panic!("{name} not listed: {inputs:#?}"));
        assert_eq!(i["status"], "skipped", "{i}");
        let reason = i["reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains("outside the directory being checked") && reason.contains(target),
            "{reason}"
        );
    }
    let files: Vec<(String, String)> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap_or_default().to_string(),
                strip_dot(f["file"].as_str().unwrap_or_default()).to_string(),
            )
        })
        .collect();
    assert!(
        files.contains(&("DF001".into(), "Dockerfile".into())),
        "{files:?}"
    );
    assert!(
        files.contains(&("DF001".into(), "inside.dockerfile".into())),
        "{files:?}"
    );
    assert!(
        !files.iter().any(|(_, f)| f.starts_with("linked")),
        "{files:?}"
    );

    let run = run_policy(&repo, &args(&["--follow-outside-symlinks"]));
    let text = String::from_utf8_lossy(&run.stdout);
    let report: Value = serde_json::from_str(&text).expect("json");
    assert!(
        support::findings(&report).len() >= 3,
        "the linked Dockerfile is checked with the flag: {text}"
    );
    assert!(
        report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["file"]
                .as_str()
                .is_some_and(|p| p.contains("linked/Dockerfile"))),
        "{text}"
    );
}

/// `-j` above the cap is a usage error with a clear message, not 45 s of thread start-up.
#[test]
fn thread_count_is_capped() {
    let out = support::policy(&["eval", "-j", "5000", "examples/dockerfile"]);
    assert_eq!(support::code(&out), 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("more than the maximum of 256"), "{err}");
    let out = support::policy(&[
        "eval",
        "-j",
        "256",
        "--no-config",
        "examples/kubernetes/hardened-pod.yaml",
    ]);
    assert_eq!(
        support::code(&out),
        0,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A corrupt WASM compile cache entry: the next run recompiles, says so naming the file,
/// and reports the same findings; the run after that is quiet again. (A user's module:
/// the built-in ones are precompiled into the binary and never touch the disk cache.)
#[test]
fn corrupt_wasm_cache_entry_is_recompiled_with_a_warning() {
    let cache = tempfile::tempdir().expect("tempdir");
    let cache_arg = cache.path().to_str().expect("utf8").to_string();
    let run = |format: &str| {
        support::policy(&[
            "eval",
            "--no-config",
            "-p",
            "examples/wasm-policy-rust",
            "--wasm-cache",
            &cache_arg,
            "-f",
            format,
            "examples/dockerfile/Dockerfile",
        ])
    };
    let first = run("json");
    let baseline = support::findings(&support::json_of(&first));
    assert!(
        baseline.iter().any(|(id, _, _)| id == "WASM001"),
        "{baseline:?}"
    );
    let entries: Vec<PathBuf> = std::fs::read_dir(cache.path())
        .expect("cache dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    assert_eq!(
        entries.len(),
        1,
        "only the user's module is cached: {entries:?}"
    );
    for entry in &entries {
        let mut bytes = std::fs::read(entry).expect("read");
        let mid = bytes.len() / 2;
        for b in &mut bytes[mid..mid + 256] {
            *b = !*b;
        }
        std::fs::write(entry, bytes).expect("corrupt");
    }
    let second = run("text");
    assert_eq!(support::code(&second), support::code(&first));
    let err = String::from_utf8_lossy(&second.stderr);
    let out = String::from_utf8_lossy(&second.stdout);
    let all = format!("{out}{err}");
    assert!(
        all.contains("discarded the WASM compile cache entry")
            && all.contains(&entries[0].display().to_string())
            && all.contains("recompiled"),
        "{all}"
    );
    let third = run("json");
    assert_eq!(support::findings(&support::json_of(&third)), baseline);
    assert!(support::json_of(&third)["warnings"]
        .as_array()
        .is_none_or(|w| w.is_empty()));
}
