//! `policy watch --format jsonl` from the outside: a real process on a temporary
//! directory, edited the way editors and people edit, read line by line.
//!
//! Every wait has a generous deadline (the machine running the tests may be slow and
//! busy) but returns as soon as the awaited state is reached. Checks look at the state
//! the stream has reached, not at exact event sequences: the debounce may merge two
//! edits into one cycle or split one edit over two, and a file may be re-checked twice.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long any one expected state may take to show up.
const DEADLINE: Duration = Duration::from_secs(30);

const ECHO_RULE: &str = r#"# METADATA
# title: RUN uses echo
# custom:
#   id: USR001
#   severity: high
#   kinds: [dockerfile]
package user.echo

import rego.v1

deny contains {"msg": "RUN uses echo", "path": ["instructions", i]} if {
	some i, ins in input.instructions
	ins.cmd == "run"
	contains(ins.value, "echo")
}
"#;

/// Replaces the echo rule: same package, a different rule.
const ALPINE_RULE: &str = r#"# METADATA
# title: Base image is alpine
# custom:
#   id: USR002
#   severity: low
#   kinds: [dockerfile]
package user.echo

import rego.v1

deny contains {"msg": "alpine base", "path": ["instructions", i]} if {
	some i, ins in input.instructions
	ins.cmd == "from"
	startswith(ins.value, "alpine")
}
"#;

/// Does not parse: the assignment on line 12 has no right-hand side.
const BROKEN_RULE: &str = r#"# METADATA
# title: RUN uses echo
# custom:
#   id: USR001
#   severity: high
#   kinds: [dockerfile]
package user.echo

import rego.v1

deny contains msg if {
	msg :=
}
"#;

/// A running `policy watch` and what it has printed so far.
struct Watch {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Value>,
    /// Every event so far.
    log: Vec<Value>,
    /// `log[..seen]` was consumed by earlier waits.
    seen: usize,
    stderr: Arc<Mutex<String>>,
}

impl Watch {
    fn start(dir: &Path) -> Watch {
        Watch::start_with(dir, &["--no-builtin", "-p", "policies"])
    }

    /// `policy watch --format jsonl --no-config --exit-on-stdin-close ARGS inputs`.
    fn start_with(dir: &Path, args: &[&str]) -> Watch {
        let mut child = Command::new(env!("CARGO_BIN_EXE_policy"))
            .args([
                "watch",
                "--format",
                "jsonl",
                "--no-config",
                "--exit-on-stdin-close",
            ])
            .args(args)
            .arg("inputs")
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn policy watch");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let value: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {line}"));
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        let err = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap_or_else(|e| e.into_inner());
                s.push_str(&line);
                s.push('\n');
            }
        });
        Watch {
            stdin: child.stdin.take(),
            child,
            lines,
            log: Vec::new(),
            seen: 0,
            stderr,
        }
    }

    /// Reads events until `done` holds for the events since the last wait, checked at
    /// the end of each cycle; returns those events.
    fn wait_for(&mut self, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let start = self.seen;
        let deadline = Instant::now() + DEADLINE;
        loop {
            let at_cycle_end = self.log.last().is_some_and(|e| e["event"] == "cycle");
            if self.log.len() > start && at_cycle_end && done(&self.log[start..]) {
                self.seen = self.log.len();
                return self.log[start..].to_vec();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(event) => self.log.push(event),
                Err(RecvTimeoutError::Timeout) => {
                    self.fail(&format!("timed out waiting for {what}"))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.fail(&format!("the watcher stopped before {what}"))
                }
            }
        }
    }

    fn fail(&self, why: &str) -> ! {
        let events: Vec<String> = self.log.iter().map(Value::to_string).collect();
        panic!(
            "{why}\nevents:\n{}\nstderr:\n{}",
            events.join("\n"),
            self.stderr.lock().unwrap_or_else(|e| e.into_inner())
        );
    }

    /// Closes stdin and expects a clean exit.
    fn stop(mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + DEADLINE;
        loop {
            match self.child.try_wait().expect("wait") {
                Some(status) => {
                    assert_eq!(status.code(), Some(0), "exit status {status}");
                    return;
                }
                None if Instant::now() > deadline => {
                    let _ = self.child.kill();
                    self.fail("the watcher did not exit after stdin was closed");
                }
                None => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        // A failed test must not leave the watcher running.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The latest `file` event for `path` among `events`.
fn last_file_event<'a>(events: &'a [Value], path: &str) -> Option<&'a Value> {
    events
        .iter()
        .rev()
        .find(|e| e["event"] == "file" && e["path"] == path)
}

/// `(rule_id, start_line)` of a `file` event's findings.
fn findings(event: &Value) -> Vec<(String, u64)> {
    event["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap_or_default().to_owned(),
                f["start_line"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}

/// The rule IDs of the findings of the last `file` event for `path` in `events`, the
/// rules merged into a finding (`related_rules`) included.
fn rules_of(events: &[Value], path: &str) -> Option<Vec<String>> {
    last_file_event(events, path).map(|e| {
        e["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|f| {
                std::iter::once(&f["rule_id"])
                    .chain(f["related_rules"].as_array().into_iter().flatten())
            })
            .filter_map(|id| id.as_str().map(str::to_owned))
            .collect()
    })
}

/// Writes `text` to `path` as many editors do: to a temporary file, then a rename.
fn save_via_rename(path: &Path, text: &str) {
    let tmp = path.with_file_name(format!(
        ".{}.swp",
        path.file_name().expect("file name").to_string_lossy()
    ));
    std::fs::write(&tmp, text).expect("write temporary file");
    std::fs::rename(&tmp, path).expect("rename over the file");
}

/// A project with one policy and one Dockerfile that breaks it on line 2.
fn project() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("policies")).expect("mkdir");
    std::fs::create_dir_all(dir.path().join("inputs")).expect("mkdir");
    std::fs::write(dir.path().join("policies/echo.rego"), ECHO_RULE).expect("write");
    let dockerfile = dir.path().join("inputs/Dockerfile");
    std::fs::write(&dockerfile, "FROM alpine:3.20\nRUN echo hello\n").expect("write");
    (dir, dockerfile)
}

/// The initial cycle: policies loaded, then every input, then the cycle summary.
fn expect_initial(watch: &mut Watch) {
    let events = watch.wait_for("the initial cycle", |events| {
        events.iter().any(|e| e["event"] == "cycle")
    });
    assert_eq!(events[0]["event"], "policies", "{events:?}");
    assert_eq!(events[0]["status"], "loaded");
    assert_eq!(events[0]["rules"], 1);
    assert_eq!(events[0]["errors"], serde_json::json!([]));
    let file = last_file_event(&events, "inputs/Dockerfile").expect("a file event");
    assert_eq!(file["status"], "evaluated");
    assert_eq!(findings(file), [("USR001".to_owned(), 2)]);
    assert_eq!(file["findings"][0]["file"], "inputs/Dockerfile");
    assert_eq!(file["errors"], serde_json::json!([]));
    let cycle = events.last().expect("cycle");
    assert_eq!(cycle["event"], "cycle");
    assert_eq!(cycle["initial"], true);
    assert_eq!(cycle["files"], 1);
    assert_eq!(cycle["findings"], 1);
    assert_eq!(cycle["errors"], 0);
    assert!(cycle["duration_ms"].is_u64(), "{cycle}");
}

#[test]
fn edits_new_files_and_removals_are_reported_per_file() {
    let (dir, dockerfile) = project();
    let mut watch = Watch::start(dir.path());
    expect_initial(&mut watch);

    // Fixing the finding, saved through a temporary file and a rename.
    save_via_rename(&dockerfile, "FROM alpine:3.20\nRUN true\n");
    watch.wait_for("the fixed Dockerfile without its finding", |events| {
        rules_of(events, "inputs/Dockerfile").is_some_and(|r| r.is_empty())
    });

    // A new file in a new directory is picked up and checked.
    std::fs::create_dir_all(dir.path().join("inputs/svc")).expect("mkdir");
    std::fs::write(
        dir.path().join("inputs/svc/Dockerfile"),
        "FROM alpine:3.20\nRUN true\nRUN echo two\n",
    )
    .expect("write");
    let events = watch.wait_for("the new Dockerfile", |events| {
        last_file_event(events, "inputs/svc/Dockerfile").is_some()
    });
    let new = last_file_event(&events, "inputs/svc/Dockerfile").expect("file event");
    assert_eq!(findings(new), [("USR001".to_owned(), 3)]);

    // A file that is not an input changes nothing, and a removed input says so.
    std::fs::write(dir.path().join("inputs/README.md"), "notes\n").expect("write");
    std::fs::remove_file(&dockerfile).expect("remove");
    let events = watch.wait_for("the removed event", |events| {
        events
            .iter()
            .any(|e| e["event"] == "removed" && e["path"] == "inputs/Dockerfile")
    });
    assert!(
        !events
            .iter()
            .any(|e| e["event"] == "file" && e["path"] == "inputs/README.md"),
        "{events:?}"
    );
    let cycle = events
        .iter()
        .rev()
        .find(|e| e["event"] == "cycle" && e["removed"] == 1)
        .expect("a cycle counting the removal");
    assert_eq!(cycle["initial"], false);

    watch.stop();
}

/// Cross-document rules (issue 9): relabelling a Namespace re-reports the Deployment in
/// another file whose Pod Security findings depend on it, and nothing whose outcome did
/// not change.
#[test]
fn a_namespace_edit_re_reports_the_workloads_it_governs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let inputs = dir.path().join("inputs");
    std::fs::create_dir_all(&inputs).expect("mkdir");
    let namespace = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels:\n    pod-security.kubernetes.io/enforce: restricted\n";
    std::fs::write(inputs.join("namespace.yaml"), namespace).expect("write");
    std::fs::write(
        inputs.join("web.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n        - name: web\n          image: nginx:1.27\n",
    )
    .expect("write");
    std::fs::write(inputs.join("Dockerfile"), "FROM alpine:3.20\n").expect("write");
    let pss = |events: &[Value]| {
        rules_of(events, "inputs/web.yaml").map(|r| r.iter().any(|id| id.starts_with("PSS-")))
    };
    let mut watch = Watch::start_with(dir.path(), &[]);
    let events = watch.wait_for("the initial cycle", |events| {
        events.iter().any(|e| e["event"] == "cycle")
    });
    assert_eq!(pss(&events), Some(true), "restricted applies: {events:?}");

    // Only the Namespace file changes on disk.
    save_via_rename(
        &inputs.join("namespace.yaml"),
        &namespace.replace("enforce: restricted", "enforce: baseline"),
    );
    let events = watch.wait_for("the Deployment re-reported under baseline", |events| {
        pss(events) == Some(false)
    });
    assert!(
        last_file_event(&events, "inputs/namespace.yaml").is_some(),
        "the changed file is reported: {events:?}"
    );
    assert!(
        last_file_event(&events, "inputs/Dockerfile").is_none(),
        "an input whose outcome did not change is not reported again: {events:?}"
    );
    watch.stop();
}

#[test]
fn a_broken_policy_is_rejected_and_the_last_good_rules_keep_working() {
    let (dir, dockerfile) = project();
    let policy = dir.path().join("policies/echo.rego");
    let mut watch = Watch::start(dir.path());
    expect_initial(&mut watch);

    // A broken edit: rejected, with the file, line and column of the error.
    save_via_rename(&policy, BROKEN_RULE);
    let events = watch.wait_for("the rejected reload", |events| {
        events
            .iter()
            .any(|e| e["event"] == "policies" && e["status"] == "rejected")
    });
    let rejected = events
        .iter()
        .find(|e| e["event"] == "policies" && e["status"] == "rejected")
        .expect("rejected");
    assert_eq!(rejected["rules"], 1, "the last good set stays: {rejected}");
    let error = &rejected["errors"][0];
    assert_eq!(error["id"], "POL003");
    assert_eq!(error["kind"], "policy-error");
    assert_eq!(error["file"], "policies/echo.rego");
    let line = error["line"].as_u64().expect("line");
    assert!((12..=13).contains(&line), "{error}");
    assert!(error["column"].as_u64().is_some_and(|c| c >= 1), "{error}");
    // The inputs were not re-checked with a broken set.
    assert!(!events.iter().any(|e| e["event"] == "file"), "{events:?}");

    // The last good rule still runs on the next edit.
    std::fs::write(
        &dockerfile,
        "FROM alpine:3.20\nRUN echo hello\nRUN echo again\n",
    )
    .expect("write");
    let events = watch.wait_for("the edited Dockerfile, checked by the old rule", |events| {
        last_file_event(events, "inputs/Dockerfile").is_some_and(|e| findings(e).len() == 2)
    });
    let file = last_file_event(&events, "inputs/Dockerfile").expect("file event");
    assert_eq!(
        findings(file),
        [("USR001".to_owned(), 2), ("USR001".to_owned(), 3)]
    );

    // Fixing the policy (with a different rule) reloads it and re-checks every input.
    save_via_rename(&policy, ALPINE_RULE);
    let events = watch.wait_for("the reload and the re-check", |events| {
        let reloaded = events
            .iter()
            .any(|e| e["event"] == "policies" && e["status"] == "reloaded");
        reloaded && rules_of(events, "inputs/Dockerfile").is_some_and(|r| r == ["USR002"])
    });
    let reloaded = events
        .iter()
        .rev()
        .find(|e| e["event"] == "policies" && e["status"] == "reloaded")
        .expect("reloaded");
    assert_eq!(reloaded["rules"], 1);
    assert_eq!(reloaded["errors"], serde_json::json!([]));
    let file = last_file_event(&events, "inputs/Dockerfile").expect("file event");
    assert_eq!(findings(file), [("USR002".to_owned(), 1)]);

    watch.stop();
}

/// Two rules in one file, both on `RUN`; `tag` makes each save's text different.
fn two_rule_policy(tag: usize) -> String {
    format!(
        r#"# METADATA
# title: RUN uses echo ({tag})
# custom:
#   id: USR001
#   severity: high
#   kinds: [dockerfile]
package user.echo

import rego.v1

deny contains {{"msg": "RUN uses echo", "path": ["instructions", i]}} if {{
	some i, ins in input.instructions
	ins.cmd == "run"
	contains(ins.value, "echo")
}}

# METADATA
# title: RUN says hello ({tag})
# custom:
#   id: USR003
#   severity: low
#   kinds: [dockerfile]
deny_hello contains {{"msg": "RUN says hello", "path": ["instructions", i]}} if {{
	some i, ins in input.instructions
	ins.cmd == "run"
	contains(ins.value, "hello")
}}
"#
    )
}

#[test]
fn a_storm_of_in_place_saves_never_loads_a_half_written_policy() {
    let (dir, _dockerfile) = project();
    let policy = dir.path().join("policies/echo.rego");
    std::fs::write(&policy, two_rule_policy(0)).expect("write");
    let mut watch = Watch::start(dir.path());
    watch.wait_for("the initial cycle", |events| {
        events.iter().any(|e| e["event"] == "cycle")
    });
    // 3 s of saves in place (truncate, then write, in two halves), longer than the
    // watcher's longest batch, so reloads happen while files are being written.
    let started = Instant::now();
    let mut n = 0;
    while started.elapsed() < Duration::from_secs(3) {
        n += 1;
        let text = two_rule_policy(n);
        let (a, b) = text.split_at(text.len() / 2);
        let mut f = std::fs::File::create(&policy).expect("create");
        std::io::Write::write_all(&mut f, a.as_bytes()).expect("write");
        std::thread::sleep(Duration::from_millis(2));
        std::io::Write::write_all(&mut f, b.as_bytes()).expect("write");
        drop(f);
        std::thread::sleep(Duration::from_millis(5));
    }
    let events = watch.wait_for("the reload of the last save", |events| {
        last_file_event(events, "inputs/Dockerfile").is_some_and(|e| {
            findings(e).len() == 2 && events.iter().any(|e| e["event"] == "policies")
        })
    });
    let mut all = watch.log.clone();
    all.extend(events);
    for e in all.iter().filter(|e| e["event"] == "policies") {
        if e["status"] == "reloaded" {
            assert_eq!(e["rules"], 2, "a reload saw a half-written file: {e}");
            assert_eq!(e["errors"], serde_json::json!([]), "{e}");
        }
    }
    for e in all.iter().filter(|e| e["event"] == "file") {
        assert_eq!(
            findings(e).len(),
            2,
            "an evaluation used a partial set: {e}"
        );
    }
    watch.stop();
}

#[test]
fn a_policy_directory_deleted_and_made_again_is_still_watched() {
    let (dir, _dockerfile) = project();
    let mut watch = Watch::start(dir.path());
    expect_initial(&mut watch);
    let policies = dir.path().join("policies");
    std::fs::remove_dir_all(&policies).expect("rm -rf");
    std::fs::create_dir(&policies).expect("mkdir");
    std::fs::write(policies.join("echo.rego"), ECHO_RULE).expect("write");
    watch.wait_for("the reload of the new directory", |events| {
        events.iter().any(|e| e["event"] == "policies")
    });
    // Edits in the new directory are seen: the final one decides.
    std::thread::sleep(Duration::from_millis(300));
    save_via_rename(&policies.join("echo.rego"), ALPINE_RULE);
    watch.wait_for("the edit in the made-again directory", |events| {
        rules_of(events, "inputs/Dockerfile").is_some_and(|r| r == ["USR002"])
    });
    watch.stop();
}

#[test]
fn a_recursive_policy_saved_while_watching_is_rejected_and_the_watcher_lives() {
    let (dir, dockerfile) = project();
    let policy = dir.path().join("policies/echo.rego");
    let mut watch = Watch::start(dir.path());
    expect_initial(&mut watch);
    let recursive = ECHO_RULE.replace(
        "deny contains",
        "f(x) := y if { y := f(x + 1) }

deny contains",
    );
    save_via_rename(&policy, &recursive);
    let events = watch.wait_for("the rejected recursive policy", |events| {
        events
            .iter()
            .any(|e| e["event"] == "policies" && e["status"] == "rejected")
    });
    let rejected = events
        .iter()
        .find(|e| e["event"] == "policies" && e["status"] == "rejected")
        .expect("rejected");
    assert_eq!(rejected["rules"], 1, "{rejected}");
    assert_eq!(
        rejected["errors"][0]["file"], "policies/echo.rego",
        "{rejected}"
    );
    // The watcher is alive and still uses the last good rule.
    std::fs::write(
        &dockerfile,
        "FROM alpine:3.20
RUN true
RUN echo again
",
    )
    .expect("write");
    watch.wait_for(
        "the edited Dockerfile, checked by the last good rule",
        |events| {
            last_file_event(events, "inputs/Dockerfile")
                .is_some_and(|e| findings(e) == [("USR001".to_owned(), 3)])
        },
    );
    watch.stop();
}

#[test]
fn watch_refuses_stdin_as_an_input() {
    let out = support::policy(&["watch", "--no-config", "-"]);
    assert_eq!(support::code(&out), 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot watch standard input"), "{stderr}");
}

#[test]
fn watch_help_documents_the_event_stream() {
    let out = support::policy(&["watch", "--help"]);
    assert_eq!(support::code(&out), 0);
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--format",
        "jsonl",
        "--exit-on-stdin-close",
        "--debounce",
        "-p, --policy",
        "docs/watch.md",
    ] {
        assert!(help.contains(needle), "`{needle}` missing from:\n{help}");
    }
}
