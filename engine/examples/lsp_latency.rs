//! The editor-latency bench behind the `policy lsp` numbers in BENCHMARKS.md: a scripted
//! LSP client over stdio that types into a 500-line Kubernetes manifest and measures, for
//! each keystroke, the time until the server publishes diagnostics for that version.
//!
//! It exists because the criterion bench (`benches/lsp.rs`) times one evaluation inside
//! the process, while what a user feels is keystroke → diagnostics through the whole
//! server: framing, the debounce, the evaluation, the publication. Two patterns:
//!
//! * `single`: one keystroke, then a pause of `gap` ms (longer than an evaluation), so each
//!   keystroke is measured on an idle server;
//! * `burst`: ten keystrokes 20 ms apart (faster than a release evaluation of the buffer
//!   with cross-document rules on a loaded machine), timed from the *last* keystroke of the
//!   burst to the diagnostics of its version: the backlog a fast typist leaves. (Until
//!   session 6 the timer also counted a 20 ms pause after the last keystroke.)
//! * `value`: single keystrokes into a container name of the middle Deployment, so that
//!   document's value (and the whole run's) changes with each one;
//! * `newline`: single line breaks typed above the Deployments, so that every document
//!   moves down a line while no value changes.
//!
//! The first two type into a comment line: no document's value changes.
//!
//! The server is started with the built-in rules in an empty temporary workspace (no
//! `.policy.yaml`), so every run checks the same thing. Any `policy` binary can be given,
//! so two builds can be compared side by side in one run.
//!
//! ```text
//! cargo build --release -p policy-engine --bin policy --example lsp_latency
//! target/release/examples/lsp_latency target/release/policy [keystrokes=200] [gap_ms=250] [other-policy-binary]
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const DEPLOYMENT: &str = "---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-N
  labels: {app: web-N}
spec:
  replicas: 3
  selector:
    matchLabels: {app: web-N}
  template:
    metadata:
      labels: {app: web-N}
    spec:
      containers:
        - name: app
          image: registry.example.com/web:1.4.2
          ports:
            - containerPort: 8080
          securityContext:
            privileged: true
            allowPrivilegeEscalation: true
          resources:
            requests: {cpu: 100m, memory: 128Mi}
";

/// A 500-line manifest: a comment line to type into, then Deployments.
fn manifest() -> String {
    let mut text = String::from("# typing here\n");
    let mut n = 0;
    while text.lines().count() + DEPLOYMENT.lines().count() <= 500 {
        text.push_str(&DEPLOYMENT.replace("web-N", &format!("web-{n}")));
        n += 1;
    }
    while text.lines().count() < 500 {
        text.push_str("# padding\n");
    }
    text
}

struct Client {
    child: Child,
    stdin: ChildStdin,
    rx: mpsc::Receiver<Value>,
    next_id: i64,
}

impl Client {
    fn spawn(policy: &str, dir: &std::path::Path) -> Client {
        let mut child = Command::new(policy)
            .arg("lsp")
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {policy} lsp: {e}"));
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            loop {
                let mut len = None;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(v) = line.strip_prefix("Content-Length: ") {
                        len = v.parse::<usize>().ok();
                    }
                }
                let mut body = vec![0; len.expect("Content-Length")];
                if r.read_exact(&mut body).is_err() {
                    return;
                }
                let Ok(msg) = serde_json::from_slice::<Value>(&body) else {
                    return;
                };
                if tx.send(msg).is_err() {
                    return;
                }
            }
        });
        Client {
            child,
            stdin,
            rx,
            next_id: 0,
        }
    }

    fn send(&mut self, mut msg: Value) {
        msg["jsonrpc"] = json!("2.0");
        let body = serde_json::to_vec(&msg).expect("serialize");
        let mut frame = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
        frame.extend(body);
        self.stdin.write_all(&frame).expect("write to the server");
        self.stdin.flush().expect("flush");
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"method": method, "params": params}));
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({"id": id, "method": method, "params": params}));
        self.wait(|m| m["id"] == id && m.get("method").is_none())
    }

    fn wait(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(msg) if pred(&msg) => return msg,
                Ok(_) => {}
                Err(_) => panic!("the server did not answer within 60 s"),
            }
        }
    }

    /// Waits for the diagnostics of `uri` at `version`.
    fn published(&mut self, uri: &str, version: i64) {
        self.wait(|m| {
            m["method"] == "textDocument/publishDiagnostics"
                && m["params"]["uri"] == uri
                && m["params"]["version"] == version
        });
    }

    fn keystroke(&mut self, uri: &str, version: i64, column: i64) {
        self.type_at(uri, version, 0, column, "x");
    }

    fn type_at(&mut self, uri: &str, version: i64, line: i64, column: i64, text: &str) {
        self.notify(
            "textDocument/didChange",
            json!({
                "textDocument": {"uri": uri, "version": version},
                "contentChanges": [{
                    "range": {"start": {"line": line, "character": column}, "end": {"line": line, "character": column}},
                    "text": text,
                }],
            }),
        );
    }

    fn stop(mut self) {
        let _ = self.request("shutdown", Value::Null);
        self.notify("exit", Value::Null);
        let _ = self.child.wait();
    }
}

/// The server's CPU time so far (user + system), from `/proc/PID/stat` (Linux; zero
/// elsewhere). Clock ticks are taken as 100 per second, the Linux default.
fn cpu_time(pid: u32) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    // Fields after the `(comm)`, which may hold spaces: utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|i| fields.get(*i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    Duration::from_millis(ticks * 10)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn report(label: &str, mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let (p50, p95) = (percentile(&samples, 0.5), percentile(&samples, 0.95));
    println!(
        "{label:<40} n={:<4} p50={:>7.1} ms  p95={:>7.1} ms  max={:>7.1} ms",
        samples.len(),
        ms(p50),
        ms(p95),
        ms(*samples.last().expect("samples"))
    );
    (p50, p95)
}

/// Runs both patterns against one binary; returns the p50 and p95 of each.
fn run(policy: &str, keystrokes: usize, gap: Duration) -> [(Duration, Duration); 4] {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("deploy.yaml");
    let text = manifest();
    std::fs::write(&path, &text).expect("write");
    let uri = format!("file://{}", path.display());
    let mut c = Client::spawn(policy, dir.path());
    c.request(
        "initialize",
        json!({"processId": null, "rootUri": format!("file://{}", dir.path().display()),
               "capabilities": {}, "initializationOptions": {"failOn": "low"}}),
    );
    c.notify("initialized", json!({}));
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}}),
    );
    c.published(&uri, 1);
    let mut version = 1;
    let mut column = "# typing here".len() as i64;

    // Warm-up: the first evaluations load lazily compiled rules.
    for _ in 0..5 {
        version += 1;
        c.keystroke(&uri, version, column);
        column += 1;
        c.published(&uri, version);
    }

    let pid = c.child.id();
    let cpu_before = cpu_time(pid);
    let mut single = Vec::new();
    for _ in 0..keystrokes {
        std::thread::sleep(gap);
        version += 1;
        let sent = Instant::now();
        c.keystroke(&uri, version, column);
        column += 1;
        c.published(&uri, version);
        single.push(sent.elapsed());
    }
    let cpu_single = cpu_time(pid).saturating_sub(cpu_before);
    let mut burst = Vec::new();
    for _ in 0..(keystrokes / 10).max(1) {
        std::thread::sleep(gap);
        let mut last = Instant::now();
        for i in 0..10 {
            if i > 0 {
                std::thread::sleep(Duration::from_millis(20));
            }
            version += 1;
            last = Instant::now();
            c.keystroke(&uri, version, column);
            column += 1;
        }
        c.published(&uri, version);
        burst.push(last.elapsed());
    }
    // Typing into the middle Deployment's container name (`- name: app`): its value
    // changes with every keystroke.
    let (line, mut col) = {
        let current = manifest();
        let hits: Vec<(usize, &str)> = current
            .lines()
            .enumerate()
            .filter(|(_, l)| l.trim_start() == "- name: app")
            .collect();
        let (line, text) = hits[hits.len() / 2];
        (line as i64, text.len() as i64)
    };
    let mut value = Vec::new();
    for _ in 0..keystrokes {
        std::thread::sleep(gap);
        version += 1;
        let sent = Instant::now();
        c.type_at(&uri, version, line, col, "x");
        col += 1;
        c.published(&uri, version);
        value.push(sent.elapsed());
    }
    // Line breaks above the Deployments (after the comment line; the name typed into
    // is below, so the line found above moves too, but is no longer typed into).
    let mut newline = Vec::new();
    for _ in 0..keystrokes {
        std::thread::sleep(gap);
        version += 1;
        let sent = Instant::now();
        c.type_at(&uri, version, 1, 0, "\n");
        c.published(&uri, version);
        newline.push(sent.elapsed());
    }
    c.stop();
    println!(
        "{policy}: server CPU {:.1} ms per single keystroke",
        ms(cpu_single) / keystrokes as f64
    );
    [
        report("  single keystroke -> diagnostics", single),
        report("  last of a 10-key burst -> diagnostics", burst),
        report("  keystroke in a Deployment -> diagnostics", value),
        report("  line break above all -> diagnostics", newline),
    ]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(policy) = args.get(1) else {
        eprintln!("usage: lsp_latency POLICY-BINARY [keystrokes=200] [gap_ms=250] [OTHER-BINARY]");
        std::process::exit(2);
    };
    let keystrokes = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(200);
    let gap = Duration::from_millis(args.get(3).and_then(|s| s.parse().ok()).unwrap_or(250));
    println!(
        "500-line manifest ({} lines), built-in rules, {keystrokes} keystrokes {} ms apart",
        manifest().lines().count(),
        gap.as_millis()
    );
    let a = run(policy, keystrokes, gap);
    if let Some(other) = args.get(4) {
        let b = run(other, keystrokes, gap);
        for (i, name) in ["single", "burst", "value", "newline"].iter().enumerate() {
            println!(
                "{name}: p50 {:.2}x, p95 {:.2}x ({} / {})",
                ms(b[i].0) / ms(a[i].0),
                ms(b[i].1) / ms(a[i].1),
                other,
                policy
            );
        }
    }
}
