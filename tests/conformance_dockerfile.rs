//! Dockerfile parser conformance: BuildKit's own parser test cases and a corpus of real
//! Dockerfiles, read from `../shared/corpora` (never copied into the repository).
//!
//! * every `buildkit/testfiles/*/Dockerfile` must dump (via `buildkit_dump`) to exactly
//!   its `result` file — no normalisation is applied;
//! * every `buildkit/testfiles-negative/*/Dockerfile` must be rejected with a message;
//! * every Dockerfile under `dockerfiles/` must parse without errors. Where the
//!   `parse-dockerfile` crate also accepts a file, the instruction start lines of both
//!   parsers are compared and differences are printed as notes (BuildKit decides: e.g.
//!   a line ending in an escaped escape `\\` is not a continuation for BuildKit, but is
//!   for parse-dockerfile).
//!
//! The corpus is located through `POLICY_SHARED_CORPORA` or
//! `<CARGO_MANIFEST_DIR>/../../shared/corpora`; when absent the test is skipped.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use policy_engine::inputs::dockerfile;

fn corpora() -> Option<PathBuf> {
    let dir = match std::env::var_os("POLICY_SHARED_CORPORA") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpora"),
    };
    dir.is_dir().then_some(dir)
}

fn sorted_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn dockerfiles_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for p in sorted_dirs(dir) {
        if p.is_dir() {
            dockerfiles_under(&p, out);
        } else if let Some(name) = p.file_name().and_then(|n| n.to_str()) {
            let lower = name.to_ascii_lowercase();
            if lower == "dockerfile"
                || lower.ends_with(".dockerfile")
                || lower.starts_with("dockerfile.")
            {
                out.push(p);
            }
        }
    }
}

/// Start lines of instructions according to `parse-dockerfile`, when it accepts the file.
fn reference_lines(text: &str) -> Option<Vec<usize>> {
    let parsed = parse_dockerfile::parse(text).ok()?;
    let lines = parsed
        .instructions
        .iter()
        .map(|i| {
            let start = instruction_start(i);
            text[..start].matches('\n').count() + 1
        })
        .collect();
    Some(lines)
}

fn instruction_start(i: &parse_dockerfile::Instruction<'_>) -> usize {
    use parse_dockerfile::Instruction as I;
    match i {
        I::Add(x) => x.add.span.start,
        I::Arg(x) => x.arg.span.start,
        I::Cmd(x) => x.cmd.span.start,
        I::Copy(x) => x.copy.span.start,
        I::Entrypoint(x) => x.entrypoint.span.start,
        I::Env(x) => x.env.span.start,
        I::Expose(x) => x.expose.span.start,
        I::From(x) => x.from.span.start,
        I::Healthcheck(x) => x.healthcheck.span.start,
        I::Label(x) => x.label.span.start,
        I::Maintainer(x) => x.maintainer.span.start,
        I::Onbuild(x) => x.onbuild.span.start,
        I::Run(x) => x.run.span.start,
        I::Shell(x) => x.shell.span.start,
        I::Stopsignal(x) => x.stopsignal.span.start,
        I::User(x) => x.user.span.start,
        I::Volume(x) => x.volume.span.start,
        I::Workdir(x) => x.workdir.span.start,
        _ => 0,
    }
}

fn main() -> ExitCode {
    let Some(root) = corpora() else {
        println!("skipped: shared corpora not found (set POLICY_SHARED_CORPORA)");
        return ExitCode::SUCCESS;
    };
    let mut failed = false;

    // Positive BuildKit cases.
    let cases = sorted_dirs(&root.join("buildkit/testfiles"));
    let mut matched = 0;
    for case in &cases {
        let name = case.file_name().and_then(|n| n.to_str()).unwrap_or("?");
        let (Ok(text), Ok(expected)) = (
            std::fs::read_to_string(case.join("Dockerfile")),
            std::fs::read_to_string(case.join("result")),
        ) else {
            println!("FAIL {name}: cannot read Dockerfile/result");
            continue;
        };
        match dockerfile::parse("Dockerfile", &text) {
            Ok(doc) => {
                let got = dockerfile::buildkit_dump(&doc);
                if got == expected {
                    matched += 1;
                } else {
                    println!("FAIL {name}:\n--- expected\n{expected}--- got\n{got}");
                }
            }
            Err(e) => println!("FAIL {name}: {e}"),
        }
    }
    println!("buildkit testfiles: {matched}/{} matched", cases.len());
    failed |= matched != cases.len() || cases.is_empty();

    // Negative BuildKit cases.
    let negatives = sorted_dirs(&root.join("buildkit/testfiles-negative"));
    let mut rejected = 0;
    for case in &negatives {
        let name = case.file_name().and_then(|n| n.to_str()).unwrap_or("?");
        let text = std::fs::read_to_string(case.join("Dockerfile")).unwrap_or_default();
        match dockerfile::parse("Dockerfile", &text) {
            Ok(_) => println!("FAIL {name}: accepted, expected an error"),
            Err(e) if e.message.is_empty() => println!("FAIL {name}: empty error message"),
            Err(e) => {
                println!("  {name}: {e}");
                rejected += 1;
            }
        }
    }
    println!("buildkit negative: {rejected}/{} rejected", negatives.len());
    failed |= rejected != negatives.len() || negatives.is_empty();

    // Real-world corpus.
    let mut files = Vec::new();
    dockerfiles_under(&root.join("dockerfiles"), &mut files);
    let mut parsed = 0;
    let mut compared = 0;
    let mut agreed = 0;
    for f in &files {
        let Ok(text) = std::fs::read_to_string(f) else {
            println!("FAIL {}: unreadable", f.display());
            continue;
        };
        match dockerfile::parse(&f.display().to_string(), &text) {
            Ok(doc) => {
                parsed += 1;
                if let Some(reference) = reference_lines(&text) {
                    compared += 1;
                    let ours: Vec<usize> = doc.value["instructions"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .map(|i| i["line"].as_u64().unwrap_or(0) as usize)
                                .collect()
                        })
                        .unwrap_or_default();
                    if ours == reference {
                        agreed += 1;
                    } else {
                        println!(
                            "note {}: instruction lines differ from parse-dockerfile (BuildKit is authoritative)",
                            f.display()
                        );
                    }
                }
            }
            Err(e) => println!("FAIL {e}"),
        }
    }
    println!("dockerfile corpus: {parsed}/{} parsed", files.len());
    println!("parse-dockerfile cross-check: {agreed}/{compared} agree on instruction lines");
    failed |= parsed != files.len() || files.is_empty();

    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
