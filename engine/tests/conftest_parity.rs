//! conftest parity: runs conftest's own acceptance tests and examples through `policy`.
//!
//! conftest's `acceptance.bats` and `tests/*/test.bats` (Apache-2.0, read in place from
//! `$POLICY_SHARED_CORPORA/conftest`, never copied) specify which command on which files
//! passes or fails, with which messages and counts. This test parses every `@test` block,
//! translates its conftest command into the `policy` equivalent (`conftest test` →
//! `policy eval --conftest`, `conftest verify` → `policy test`, `conftest parse` →
//! `policy parse --format conftest`, flags as in the table of docs/writing-policies.md),
//! runs it from the same directory and checks conftest's expectations on the combined
//! output (stdout and stderr through one pipe, as bats' `run` sees them).
//!
//! Cases for formats `policy` does not parse (HCL, TOML, INI, …) or features it does not
//! claim (remote policies, plugins, `conftest doc`, …) are out of scope; each is listed
//! with its reason. The known differences still open are listed in [`KNOWN`] with theirs:
//! the test fails when a case outside that list differs, and when a listed case starts to
//! agree (so the list stays true). Run with `--nocapture` to see the tally:
//!
//! ```sh
//! POLICY_SHARED_CORPORA=/path/to/shared/corpora cargo test -p policy-engine --test engine conftest_parity -- --nocapture
//! ```

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Cases that still behave differently, with the reason (none: every case in scope
/// agrees; a difference found later goes here with its reason until it is fixed).
const KNOWN: &[(&str, &str)] = &[];

/// Cases whose conftest exit code 1 reports an *error* (conftest exits 1 for errors and
/// failures alike); `policy` exits 2 for something that could not be checked.
const ERROR_EXITS: &[&str] = &[
    "Fail when testing with no policies path",
    "Fail when verifying with no policies path",
    "Error is raised when if is used without contains",
    "Should fail if strict is set and there are unused variables in the policy",
    "Should fail when verifying if strict is set and there are unused variables in the policy",
    "Parsing error with show-builtin-errors flag returns builtin error",
    "Should fail evaluation if a builtin function returns error",
];

/// Example directories holding formats `policy` does not parse.
const FOREIGN_FORMATS: &[(&str, &str)] = &[
    ("examples/hcl1", "HCL 1"),
    ("examples/hcl2", "HCL 2"),
    ("examples/terraform", "HCL 2"),
    ("examples/traefik", "TOML"),
    ("examples/edn", "EDN"),
    ("examples/xml", "XML"),
    ("examples/hocon", "HOCON"),
    ("examples/vcl", "VCL"),
    ("examples/jsonnet", "Jsonnet"),
    ("examples/ignore", ".dockerignore/.gitignore"),
    ("examples/cue", "CUE"),
    ("examples/ini", "INI"),
    ("examples/properties", "Java properties"),
    ("examples/spdx", "SPDX"),
    ("examples/cyclonedx", "CycloneDX"),
    ("examples/dotenv", ".env"),
    ("examples/jenkins", "Groovy (Jenkinsfile)"),
    ("examples/textproto", "textproto"),
    ("grafana.ini", "INI"),
];

/// conftest flags and subcommands for features `policy` does not claim.
const FOREIGN_FEATURES: &[(&str, &str)] = &[
    (
        "--update",
        "downloading policies (--update / pull): policy loads local paths only",
    ),
    (
        "pull",
        "downloading policies (--update / pull): policy loads local paths only",
    ),
    ("plugin", "conftest plugins"),
    (
        "doc",
        "conftest doc (Markdown from METADATA): policy rules --explain instead",
    ),
    ("pre-commit", "pre-commit hooks"),
    ("reformat", "conftest reformat"),
    ("--capabilities", "OPA capabilities files"),
    (
        "-c",
        "conftest.toml configuration: policy reads .policy.yaml (docs/configuration.md)",
    ),
    (
        "conftest.toml",
        "conftest.toml configuration: policy reads .policy.yaml (docs/configuration.md)",
    ),
    (
        "--rego-version",
        "--rego-version: policy detects v0/v1 per file",
    ),
    ("--report", "verify --report (OPA's test report layout)"),
    ("--proto-file-dirs", "textproto"),
    ("--parser", "--parser other than yaml, json, dockerfile"),
];

fn corpus() -> Option<PathBuf> {
    let dir = match std::env::var_os("POLICY_SHARED_CORPORA") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpora"),
    };
    let dir = dir.join("conftest");
    dir.join("acceptance.bats").is_file().then_some(dir)
}

/// One `@test` block.
#[derive(Debug)]
struct Case {
    /// The `.bats` file, relative to the corpus.
    file: String,
    /// The directory bats runs it from.
    dir: PathBuf,
    name: String,
    body: Vec<String>,
}

fn parse_bats(file: &str, text: &str, dir: &Path) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut current: Option<Case> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("@test \"") {
            let name = rest.rsplit_once("\" {").map_or(rest, |(n, _)| n);
            current = Some(Case {
                file: file.to_owned(),
                dir: dir.to_path_buf(),
                name: name.replace("\\\"", "\""),
                body: Vec::new(),
            });
        } else if line == "}" {
            if let Some(c) = current.take() {
                cases.push(c);
            }
        } else if let Some(c) = &mut current {
            c.body.push(line.to_owned());
        }
    }
    cases
}

/// Splits shell words: single and double quotes, backslash escapes in double quotes.
fn shell_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    cur.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => {
                            if let Some(&n) = chars.peek() {
                                if matches!(n, '"' | '\\' | '$' | '`') {
                                    cur.push(n);
                                    chars.next();
                                    continue;
                                }
                            }
                            cur.push('\\');
                        }
                        c => cur.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

/// What the case checks.
#[derive(Debug)]
enum Expect {
    Status(i32),
    StatusNot(i32),
    Contains(String),
    NotContains(String),
    Equals(String),
    Line(usize, String),
    LineContains(usize, String),
    LineCount(usize),
    /// conftest verify's `N tests, P passed[, W warnings, F failures]`, checked against
    /// `policy test -f json`'s summary (failures: failed plus errored tests).
    Counts {
        tests: u64,
        passed: u64,
        failures: Option<u64>,
    },
}

/// Reads conftest's summary `4 tests, 4 passed, 0 warnings, 0 failures…` from an expected
/// substring.
fn conftest_counts(s: &str) -> Option<Expect> {
    let re = regex::Regex::new(r"^(\d+) tests?, (\d+) passed(?:, \d+ warnings?, (\d+) failures?)?")
        .expect("valid regex");
    let c = re.captures(s)?;
    let n = |i: usize| c.get(i).and_then(|m| m.as_str().parse().ok());
    Some(Expect::Counts {
        tests: n(1)?,
        passed: n(2)?,
        failures: n(3),
    })
}

/// How the command's output is post-processed (bats pipes it through jq).
#[derive(Debug, Clone, PartialEq)]
enum Jq {
    None,
    Field(String),
    Keys,
}

/// A translated command.
#[derive(Debug)]
struct Run {
    /// The directory to run in (the case's, after any `cd`).
    dir: PathBuf,
    args: Vec<String>,
    stdin: Option<Vec<u8>>,
    jq: Jq,
}

/// Why a case is not run.
#[derive(Debug)]
struct OutOfScope(String);

fn unquote_assert(s: &str) -> String {
    shell_words(s).join(" ")
}

/// The `run` command of `body` starting at line `i`, joined with the lines that follow
/// while its double quotes are open (a heredoc inside `bash -c "…"`), and the number of
/// lines it spans.
fn run_text(body: &[String], i: usize) -> (String, usize) {
    let mut text = body[i].trim().to_owned();
    let mut n = 1;
    let open = |t: &str| {
        let mut quotes = 0;
        let mut prev = ' ';
        for c in t.chars() {
            if c == '"' && prev != '\\' {
                quotes += 1;
            }
            prev = c;
        }
        quotes % 2 == 1
    };
    while open(&text) && i + n < body.len() {
        text.push('\n');
        text.push_str(&body[i + n]);
        n += 1;
    }
    (text, n)
}

fn parse_expectations(body: &[String]) -> Result<Vec<Expect>, String> {
    let mut out = Vec::new();
    let mut counting = false;
    let mut skip = 0;
    for (i, raw) in body.iter().enumerate() {
        if skip > 0 {
            skip -= 1;
            continue;
        }
        let line = raw.trim();
        if line.starts_with("run ") {
            skip = run_text(body, i).1 - 1;
            continue;
        }
        if line.is_empty()
            || line.starts_with("run ")
            || line.starts_with("echo ")
            || line.starts_with("rm ")
            || line.starts_with('#')
            || line.starts_with("cd ")
            || line.starts_with("DIR=")
        {
            continue;
        }
        if line == "count=\"${#lines[@]}\"" {
            counting = true;
            continue;
        }
        let inner = line
            .strip_prefix("[[ ")
            .and_then(|l| l.strip_suffix(" ]]"))
            .or_else(|| line.strip_prefix("[ ").and_then(|l| l.strip_suffix(" ]")))
            .ok_or_else(|| format!("unknown line: {line}"))?;
        let words = shell_words(inner);
        let w: Vec<&str> = words.iter().map(String::as_str).collect();
        let e = match w.as_slice() {
            ["$status", "-eq", n] => Expect::Status(n.parse().map_err(|_| line.to_owned())?),
            ["$status", "-ne", n] => Expect::StatusNot(n.parse().map_err(|_| line.to_owned())?),
            ["$count", "-eq", n] if counting => {
                Expect::LineCount(n.parse().map_err(|_| line.to_owned())?)
            }
            ["$output", "=~", _] => {
                Expect::Contains(unquote_assert(&inner[inner.find("=~").unwrap() + 2..]))
            }
            ["!", "$output", "=~", _] => {
                Expect::NotContains(unquote_assert(&inner[inner.find("=~").unwrap() + 2..]))
            }
            ["$output", "!=", pat] if pat.starts_with('*') && pat.ends_with('*') => {
                Expect::NotContains(pat.trim_matches('*').to_owned())
            }
            ["$output", "=", s] | ["$output", "==", s] => Expect::Equals((*s).to_owned()),
            [l, op, s] if l.starts_with("${lines[") => {
                let n: usize = l
                    .trim_start_matches("${lines[")
                    .trim_end_matches("]}")
                    .parse()
                    .map_err(|_| line.to_owned())?;
                match *op {
                    "=" | "==" => Expect::Line(n, (*s).to_owned()),
                    "=~" => Expect::LineContains(n, (*s).to_owned()),
                    _ => return Err(format!("unknown line: {line}")),
                }
            }
            _ => return Err(format!("unknown line: {line}")),
        };
        out.push(e);
    }
    Ok(out)
}

/// The `run` line(s) of a case, and the stdin a heredoc gives.
/// A command's words, its stdin and its jq post-processing.
type Command3 = (Vec<String>, Option<Vec<u8>>, Jq);

fn command_of(case: &Case) -> Result<Command3, OutOfScope> {
    let runs: Vec<usize> = case
        .body
        .iter()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with("run "))
        .map(|(i, _)| i)
        .collect();
    if runs.len() != 1 {
        return Err(OutOfScope("several commands in one case".into()));
    }
    let (text, _) = run_text(&case.body, runs[0]);
    let words = shell_words(text.strip_prefix("run ").unwrap_or_default());
    if words.first().map(String::as_str) != Some("bash") {
        // `cmd ... - < file`
        let mut words = words;
        let mut stdin = None;
        if let Some(i) = words.iter().position(|w| w == "<") {
            let file = words.get(i + 1).cloned().unwrap_or_default();
            stdin = Some(std::fs::read(case.dir.join(&file)).unwrap_or_default());
            words.truncate(i);
        }
        return Ok((words, stdin, Jq::None));
    }
    // run bash -c "…": a heredoc into conftest, `cat x | conftest`, or `conftest | jq`.
    let script = words.get(2).cloned().unwrap_or_default();
    let mut stdin = None;
    let mut script = script;
    if let Some(rest) = script.clone().strip_prefix("cat <<EOF | ") {
        let (cmd, heredoc) = rest.split_once('\n').unwrap_or((rest, ""));
        let body: String = heredoc
            .lines()
            .take_while(|l| *l != "EOF")
            .map(|l| format!("{l}\n"))
            .collect();
        stdin = Some(body.into_bytes());
        script = cmd.to_owned();
    } else if script.starts_with("cat ") {
        let (cat, cmd) = script.split_once(" | ").unwrap_or((&script, ""));
        let file = cat.trim_start_matches("cat ").trim();
        stdin = Some(std::fs::read(case.dir.join(file)).unwrap_or_default());
        script = cmd.to_owned();
    }
    let mut jq = Jq::None;
    if let Some((cmd, filter)) = script.clone().split_once(" | jq ") {
        let filter = shell_words(filter);
        jq = match filter.as_slice() {
            [f] if f == "keys" => Jq::Keys,
            [f] if f.starts_with('.') && f[1..].chars().all(char::is_alphanumeric) => {
                Jq::Field(f[1..].to_owned())
            }
            _ => return Err(OutOfScope(format!("jq filter {filter:?}"))),
        };
        script = cmd.to_owned();
    }
    let mut words = shell_words(&script);
    if let Some(i) = words.iter().position(|w| w == "<") {
        let file = words.get(i + 1).cloned().unwrap_or_default();
        stdin = Some(std::fs::read(case.dir.join(&file)).unwrap_or_default());
        words.truncate(i);
    }
    Ok((words, stdin, jq))
}

/// Translates a conftest command line into `policy` arguments.
fn translate(case: &Case) -> Result<Run, OutOfScope> {
    let text = case.body.join("\n");
    for (needle, reason) in FOREIGN_FORMATS {
        if text.contains(needle) || case.file.contains(needle) {
            return Err(OutOfScope(format!(
                "format policy does not parse: {reason}"
            )));
        }
    }
    let mut dir = case.dir.clone();
    for line in &case.body {
        if let Some(to) = line.trim().strip_prefix("cd ") {
            dir = dir.join(to.trim());
        }
    }
    if dir.join("conftest.toml").is_file() {
        return Err(OutOfScope(
            "conftest.toml configuration: policy reads .policy.yaml (docs/configuration.md)".into(),
        ));
    }
    let (words, stdin, jq) = command_of(case)?;
    let Some((bin, rest)) = words.split_first() else {
        return Err(OutOfScope("no command".into()));
    };
    if !bin.ends_with("conftest") && bin != "$CONFTEST" {
        return Err(OutOfScope(format!("runs {bin}, not conftest")));
    }
    for w in rest {
        let flag = w.split('=').next().unwrap_or(w);
        if let Some((_, reason)) = FOREIGN_FEATURES.iter().find(|(f, _)| *f == flag) {
            if flag == "--parser" {
                let value = w.split_once('=').map(|(_, v)| v.to_owned()).or_else(|| {
                    rest.iter()
                        .position(|x| x == w)
                        .and_then(|i| rest.get(i + 1).cloned())
                });
                if matches!(value.as_deref(), Some("yaml" | "json" | "dockerfile")) {
                    continue;
                }
            }
            return Err(OutOfScope((*reason).to_owned()));
        }
    }
    let Some((sub, rest)) = rest.split_first() else {
        return Err(OutOfScope("no subcommand".into()));
    };
    if sub == "test" {
        let mut it = rest.iter();
        while let Some(w) = it.next() {
            let format = match w.as_str() {
                "-o" | "--output" => it.next().cloned(),
                w => w.strip_prefix("--output=").map(str::to_owned),
            };
            if let Some(f) = format.filter(|f| !matches!(f.as_str(), "stdout" | "tap" | "table")) {
                return Err(OutOfScope(format!(
                    "conftest's -o {f} wire format: policy's json, junit, github and sarif formats are its own (docs/output-formats.md)"
                )));
            }
        }
    }
    let mut args: Vec<String> = Vec::new();
    match sub.as_str() {
        "--version" => {
            return Ok(Run {
                dir,
                args: vec!["--version".into()],
                stdin,
                jq,
            })
        }
        "--help" => {
            return Ok(Run {
                dir,
                args: vec!["--help".into()],
                stdin,
                jq,
            })
        }
        "test" => args.extend(["eval", "--no-config", "--conftest"].map(String::from)),
        "verify" => args.extend(["test", "--no-config"].map(String::from)),
        "parse" => args.extend(["parse", "--no-config", "--format", "conftest"].map(String::from)),
        other => return Err(OutOfScope(format!("conftest {other}"))),
    }
    let verify = sub == "verify";
    let mut policies = Vec::new();
    let mut positional = Vec::new();
    let mut it = rest.iter();
    while let Some(w) = it.next() {
        let (flag, inline) = match w.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (w.clone(), None),
        };
        let mut value = || -> Result<String, OutOfScope> {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| OutOfScope(format!("{flag} without a value")))
        };
        match flag.as_str() {
            "-p" | "--policy" => policies.push(value()?),
            "-d" | "--data" => {
                args.push("-d".into());
                args.push(value()?);
            }
            "--namespace" | "-n" => {
                args.push("--namespace".into());
                args.push(value()?);
            }
            "--all-namespaces"
            | "--fail-on-warn"
            | "--trace"
            | "--strict"
            | "--quiet"
            | "--combine"
            | "--suppress-exceptions" => args.push(flag.clone()),
            "--show-builtin-errors" => {
                let v = inline.clone().unwrap_or_else(|| "true".into());
                if v == "true" {
                    args.push("--show-builtin-errors".into());
                }
            }
            "--no-color" => args.extend(["--color".into(), "never".into()]),
            "-o" | "--output" => {
                let v = value()?;
                args.push("-f".into());
                args.push(if v == "stdout" { "conftest".into() } else { v });
            }
            "--parser" => {
                args.push("--kind".into());
                args.push(value()?);
            }
            f if f.starts_with('-') && f != "-" => {
                return Err(OutOfScope(format!("conftest flag {f}")))
            }
            _ => positional.push(w.clone()),
        }
    }
    if policies.is_empty() && sub != "parse" {
        // conftest's default --policy.
        policies.push("policy".into());
    }
    if verify {
        // `conftest verify` takes policy paths; positional arguments are not read.
        args.extend(policies);
    } else {
        for p in policies {
            args.push("-p".into());
            args.push(p);
        }
        args.extend(positional);
    }
    Ok(Run {
        dir,
        args,
        stdin,
        jq,
    })
}

/// Runs `policy` with stdout and stderr through one pipe, as bats' `run` captures them.
fn run_policy(run: &Run) -> (i32, String) {
    let (mut reader, writer) = std::io::pipe().expect("pipe");
    // POLICY_BIN runs another build (to measure a baseline); the default is this one.
    let bin = std::env::var_os("POLICY_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_policy")),
        PathBuf::from,
    );
    let mut cmd = Command::new(bin);
    cmd.args(&run.args)
        .current_dir(&run.dir)
        .env("NO_COLOR", "1")
        .stdin(if run.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    if run.jq == Jq::None {
        cmd.stdout(writer.try_clone().expect("dup pipe"))
            .stderr(writer);
    } else {
        cmd.stdout(writer).stderr(Stdio::null());
    }
    let mut child = cmd.spawn().expect("spawn policy");
    drop(cmd);
    if let Some(input) = &run.stdin {
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(input).expect("write stdin");
    }
    let mut output = String::new();
    reader.read_to_string(&mut output).expect("read output");
    let status = child.wait().expect("wait").code().unwrap_or(-1);
    match &run.jq {
        Jq::None => (status, output),
        jq => {
            let value: Result<serde_json::Value, _> = serde_json::from_str(&output);
            let Ok(value) = value else {
                return (5, format!("jq: not JSON: {output}"));
            };
            let out = match jq {
                Jq::Field(f) => {
                    serde_json::to_string_pretty(&value[f.as_str()]).unwrap_or_default()
                }
                Jq::Keys => {
                    let mut keys: Vec<&String> = value
                        .as_object()
                        .map(|o| o.keys().collect())
                        .unwrap_or_default();
                    keys.sort();
                    serde_json::to_string_pretty(&keys).unwrap_or_default()
                }
                Jq::None => unreachable!(),
            };
            // `a | jq` has jq's status: 0 when it printed.
            (0, out)
        }
    }
}

/// Checks `expects` against a run; the differences, if any.
fn check(case: &Case, expects: &[Expect], status: i32, output: &str) -> Vec<String> {
    // bats: `output` without trailing newlines; `lines` without empty lines.
    let output = output.trim_end_matches('\n');
    let lines: Vec<&str> = output.lines().filter(|l| !l.is_empty()).collect();
    let mut diffs = Vec::new();
    for e in expects {
        let ok = match e {
            Expect::Status(n) => {
                let want = if *n == 1 && ERROR_EXITS.contains(&case.name.as_str()) {
                    2
                } else {
                    *n
                };
                status == want
            }
            Expect::StatusNot(n) => status != *n,
            Expect::Contains(s) => output.contains(s.as_str()),
            Expect::NotContains(s) => !output.contains(s.as_str()),
            Expect::Equals(s) => output == s,
            Expect::Line(n, s) => lines.get(*n) == Some(&s.as_str()),
            Expect::LineContains(n, s) => lines.get(*n).is_some_and(|l| l.contains(s.as_str())),
            Expect::LineCount(n) => lines.len() == *n,
            Expect::Counts { .. } => true,
        };
        if !ok {
            diffs.push(format!("{e:?}"));
        }
    }
    if !diffs.is_empty() {
        diffs.push(format!("got exit {status}, output:\n{output}"));
    }
    diffs
}

#[test]
fn conftest_acceptance_and_examples() {
    let Some(root) = corpus() else {
        eprintln!("conftest parity: corpus not found (set POLICY_SHARED_CORPORA); skipped");
        return;
    };
    let mut cases = Vec::new();
    let text = std::fs::read_to_string(root.join("acceptance.bats")).expect("acceptance.bats");
    cases.extend(parse_bats("acceptance.bats", &text, &root));
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join("tests"))
        .expect("tests/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("test.bats").is_file())
        .collect();
    dirs.sort();
    for d in dirs {
        let rel = d.strip_prefix(&root).unwrap_or(&d).join("test.bats");
        let text = std::fs::read_to_string(d.join("test.bats")).expect("test.bats");
        cases.extend(parse_bats(&rel.to_string_lossy(), &text, &d));
    }
    assert!(cases.len() > 100, "found only {} cases", cases.len());

    let (mut pass, mut known, mut out_of_scope) = (0, 0, Vec::new());
    let mut unexpected = Vec::new();
    for case in &cases {
        let run = match translate(case) {
            Ok(run) => run,
            Err(OutOfScope(reason)) => {
                out_of_scope.push((case.name.clone(), reason));
                continue;
            }
        };
        let mut expects = parse_expectations(&case.body)
            .unwrap_or_else(|e| panic!("{}: {}: {e}", case.file, case.name));
        let verify = run.args.first().map(String::as_str) == Some("test");
        if verify {
            for e in &mut expects {
                if let Expect::Contains(s) = e {
                    if let Some(counts) = conftest_counts(s) {
                        *e = counts;
                    }
                }
            }
        }
        let (status, output) = run_policy(&run);
        let mut diffs = check(case, &expects, status, &output);
        for e in &expects {
            let Expect::Counts {
                tests,
                passed,
                failures,
            } = e
            else {
                continue;
            };
            let json_run = Run {
                dir: run.dir.clone(),
                args: run
                    .args
                    .iter()
                    .cloned()
                    .chain(["-f".into(), "json".into()])
                    .collect(),
                stdin: None,
                jq: Jq::Field("summary".into()),
            };
            let (_, summary) = run_policy(&json_run);
            let v: serde_json::Value = serde_json::from_str(&summary).unwrap_or_default();
            let num = |k: &str| v[k].as_u64().unwrap_or(u64::MAX);
            let got_failures = num("failed").saturating_add(num("errors"));
            if num("tests") != *tests
                || num("passed") != *passed
                || failures.is_some_and(|f| f != got_failures)
            {
                diffs.push(format!("{e:?}: policy test -f json summary: {summary}"));
            }
        }
        let known_reason = KNOWN.iter().find(|(n, _)| *n == case.name).map(|(_, r)| r);
        match (diffs.is_empty(), known_reason) {
            (true, None) => pass += 1,
            (false, Some(_)) => known += 1,
            (true, Some(_)) => unexpected.push(format!(
                "{}: {:?} now agrees with conftest: remove it from KNOWN",
                case.file, case.name
            )),
            (false, None) => unexpected.push(format!(
                "{}: {:?}\n  policy {}\n  {}",
                case.file,
                case.name,
                run.args.join(" "),
                diffs.join("\n  ")
            )),
        }
    }
    let in_scope = cases.len() - out_of_scope.len();
    eprintln!("conftest parity: out of scope:");
    for (name, reason) in &out_of_scope {
        eprintln!("  {name:?}: {reason}");
    }
    eprintln!("conftest parity: known differences:");
    for (name, reason) in KNOWN {
        eprintln!("  {name:?}: {reason}");
    }
    eprintln!(
        "conftest parity: {} cases, {} out of scope, {in_scope} in scope: {pass} agree, {known} known differences, {} unexpected",
        cases.len(),
        out_of_scope.len(),
        unexpected.len()
    );
    assert!(unexpected.is_empty(), "{}", unexpected.join("\n\n"));
}
