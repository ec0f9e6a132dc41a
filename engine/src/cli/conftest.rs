//! conftest compatibility of `policy eval`: `--conftest` turns a `conftest test` command
//! line into a `policy eval` one with the same meaning, so that teams migrating run their
//! policies unchanged (docs/writing-policies.md has the flag table).
//!
//! `--conftest` means, unless the flag named is given explicitly:
//! - only the policies given with `-p` (no built-in rules), and `-p policy` when none is
//!   given (conftest's default policy directory);
//! - only the `main` package, as conftest's default `--namespace main` (`-n GLOB` or
//!   `--all-namespaces` choose others);
//! - conftest's Dockerfile input shape (`--dockerfile-input conftest`);
//! - an empty YAML file is one document whose `input` is `null`, as conftest parses it;
//! - conftest's output (`-f conftest`): FAIL/WARN/EXCP lines and its test counts.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde_json::Value;

use super::args::{DockerfileInput, EvalArgs};
use super::ExitStatus;
use crate::inputs::FileReport;
use crate::report::Format;

/// Shows what policies wrote with `print()` on stderr, each line with the policy's
/// `file:line` (`PRNT   ` first in conftest's format, as conftest shows it).
pub(super) fn print_lines(report: &crate::diagnostics::Report, format: Format) {
    let prefix = if format == Format::Conftest {
        "PRNT   "
    } else {
        ""
    };
    for p in &report.prints {
        eprintln!("{prefix}{}", p.text);
    }
    for t in &report.traces {
        let doc = if t.document > 0 {
            format!("#{}", t.document)
        } else {
            String::new()
        };
        eprintln!("TRAC   {}{doc}: {}", t.input, t.text);
    }
}

/// Output format of `policy parse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ParseFormat {
    /// Every file with its documents (kind, index, input), errors and skip reasons.
    #[default]
    Policy,
    /// What `conftest parse` prints.
    Conftest,
}

/// `policy parse --format conftest`: one file prints its configuration, several an
/// object keyed by path. Errors go to stderr (exit 2), as `policy parse` does.
pub(super) fn write_parsed(
    files: &[FileReport],
    out: &mut dyn Write,
) -> anyhow::Result<ExitStatus> {
    let mut status = ExitStatus::Success;
    for f in files {
        for e in &f.errors {
            eprintln!("{e}");
            status = ExitStatus::Error;
        }
        if let Some(reason) = &f.skipped {
            eprintln!("{}: skipped: {reason}", f.path);
            status = ExitStatus::Error;
        }
    }
    let value = match files {
        [one] => crate::runtimes::rego::conftest::config_value(one),
        many => Value::Object(
            many.iter()
                .map(|f| {
                    (
                        f.path.to_string(),
                        crate::runtimes::rego::conftest::config_value(f),
                    )
                })
                .collect(),
        ),
    };
    serde_json::to_writer_pretty(&mut *out, &value)?;
    writeln!(out)?;
    Ok(status)
}

/// conftest's switches.
#[derive(Debug, Clone, Default, Args)]
pub struct ConftestArgs {
    /// Run like `conftest test`: only -p policies (default `-p policy`), only package
    /// `main` unless -n/--all-namespaces, conftest's Dockerfile shape, `input = null` for
    /// an empty YAML file, and conftest's output format.
    #[arg(long)]
    pub conftest: bool,
    /// conftest output: print nothing when nothing failed or warned.
    #[arg(long)]
    pub quiet: bool,
    /// conftest output: count exceptions without listing them.
    #[arg(long)]
    pub suppress_exceptions: bool,
    /// Explain each Rego entry rule's outcome on each document on stderr: its results and
    /// the rules evaluated on the way, with file:line.
    #[arg(long)]
    pub trace: bool,
}

/// Applies `--conftest` to the arguments: the defaults above, where the flag is not given.
pub(super) fn apply(a: &mut EvalArgs) {
    if !a.conftest.conftest {
        return;
    }
    let p = &mut a.policy;
    p.no_builtin = true;
    if p.policies.is_empty() {
        p.policies.push(PathBuf::from("policy"));
    }
    if p.namespaces.is_empty() && !p.all_namespaces {
        p.namespaces.push("main".to_owned());
    }
    p.dockerfile_input = DockerfileInput::Conftest;
    a.input.empty_yaml_as_null = true;
    if a.format.is_none() {
        a.format = Some(Format::Conftest);
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn eval(args: &[&str]) -> EvalArgs {
        let mut all = vec!["policy", "eval"];
        all.extend_from_slice(args);
        match Cli::try_parse_from(all).expect("parses").command {
            Command::Eval(mut a) => {
                apply(&mut a);
                a
            }
            other => panic!("not policy eval: {other:?}"),
        }
    }

    #[test]
    fn conftest_defaults() {
        let a = eval(&["--conftest", "x.yaml"]);
        assert!(a.policy.no_builtin);
        assert_eq!(a.policy.policies, vec![PathBuf::from("policy")]);
        assert_eq!(a.policy.namespaces, vec!["main".to_owned()]);
        assert_eq!(a.policy.dockerfile_input, DockerfileInput::Conftest);
        assert!(a.input.empty_yaml_as_null);
        assert_eq!(a.format, Some(Format::Conftest));
    }

    #[test]
    fn explicit_flags_win() {
        let a = eval(&[
            "--conftest",
            "-p",
            "p",
            "--all-namespaces",
            "-f",
            "json",
            "x",
        ]);
        assert_eq!(a.policy.policies, vec![PathBuf::from("p")]);
        assert!(a.policy.namespaces.is_empty());
        assert_eq!(a.format, Some(Format::Json));
        let a = eval(&["--conftest", "-n", "k8s.*"]);
        assert_eq!(a.policy.namespaces, vec!["k8s.*".to_owned()]);
    }

    #[test]
    fn without_conftest_nothing_changes() {
        let a = eval(&["x.yaml"]);
        assert!(!a.policy.no_builtin);
        assert!(a.policy.policies.is_empty());
        assert!(a.policy.namespaces.is_empty());
        assert!(!a.input.empty_yaml_as_null);
        assert_eq!(a.format, None);
    }
}
