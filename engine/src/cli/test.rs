//! `policy test`: runs the case files and Rego `test_*` rules under policy paths (or the
//! built-in ones) through [`crate::testing`] and decides the exit code, so that policy
//! authors can test their rules without writing Rust.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};

use super::args::{ConfigArgs, DockerfileInput};
use super::eval::{load_config, policy_options};
use super::ExitStatus;
use crate::report::testing as render;
use crate::testing::{self, TestOptions};

/// Exit codes of `policy test`.
pub(super) const TEST_EXIT_CODES: &str = "Exit codes:
  0  every test passed (or was skipped)
  1  a test failed
  2  an error: a policy that does not compile, a malformed case file, a case file whose
     rule is not loaded, a test that could not run (input parse error, rule error,
     timeout), or no tests found at all (with --namespace, none matching is
     \"0 tests\" and exit 0, as conftest verify)";

/// Output format of `policy test`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum TestFormat {
    /// FAIL/ERROR lines with the difference, then a summary (PASS lines with -v).
    #[default]
    Text,
    /// The documented JSON wire format (docs/testing.md).
    Json,
    /// Test Anything Protocol (as `conftest verify -o tap`).
    Tap,
    /// A table of results (as `conftest verify -o table`).
    Table,
}

/// `policy test`.
#[derive(Debug, Clone, Args)]
pub struct TestArgs {
    /// Policy files or directories to test: their case files (YAML with `rule:` and
    /// `cases:`) run against their Rego and WASM policies, and their Rego `test_*` rules
    /// run. A case file given directly runs with the policies of its directory.
    /// [default: the configuration's `policies`, else `.`]
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Configuration file.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Also test the built-in policies with their case files (embedded in the binary).
    /// Without PATHs, only the built-in set is tested.
    #[arg(long)]
    pub builtin: bool,
    /// A data file or directory (JSON or YAML) merged into `data`; repeatable. A case's
    /// own `data:` is merged over it.
    #[arg(short = 'd', long = "data", value_name = "PATH")]
    pub data: Vec<PathBuf>,
    /// Run only the tests whose `<file>: <name>` (a case's note, a Rego test's
    /// `data.<package>.<rule>`) or rule ID matches this regular expression.
    #[arg(long = "run", value_name = "REGEX")]
    pub run: Option<String>,
    /// Run only the Rego unit tests of packages matching this glob (e.g. `main`, `k8s.*`);
    /// repeatable. Nothing matching is "0 tests" and exit 0, as `conftest verify`.
    #[arg(short = 'n', long = "namespace", value_name = "GLOB")]
    pub namespaces: Vec<String>,
    /// List passing tests too.
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// Output format.
    #[arg(short = 'f', long, value_enum, default_value_t = TestFormat::Text)]
    pub format: TestFormat,
    /// The Dockerfile input shape for packages that do not declare `custom.input`.
    #[arg(long, value_enum, default_value_t = DockerfileInput::Native)]
    pub dockerfile_input: DockerfileInput,
    /// OPA's strict mode, as `conftest verify --strict`: a policy file with an unused
    /// variable or argument, a shadowing import or a deprecated builtin is refused
    /// (POL003, exit 2); builtin errors are errors too (see `policy eval --strict`).
    #[arg(long)]
    pub strict: bool,
    /// A builtin error in a test is an error (exit 2) naming it, instead of leaving the
    /// test undefined (a failure), as `conftest verify --show-builtin-errors`.
    #[arg(long)]
    pub show_builtin_errors: bool,
    /// Explain each Rego test on stderr: its result and the rules evaluated on the way,
    /// with `file:line`, as `policy eval --trace` does for entry rules (`conftest verify
    /// --trace`).
    #[arg(long)]
    pub trace: bool,
    /// Time limit of one rule (Rego), one policy call (WASM) or one Rego test, in
    /// milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub timeout: u64,
    /// Memory budget of one Rego rule evaluation or Rego test, in MiB: a rule that
    /// allocates more is stopped and reported (POL001) while the run goes on; 0 turns
    /// the budget off.
    #[arg(long, value_name = "MIB", default_value_t = 256)]
    pub rego_memory: u64,
    /// Memory cap of a WASM policy instance, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 256)]
    pub wasm_memory: usize,
    /// Directory for precompiled WASM modules (default: $XDG_CACHE_HOME/policy/wasm or
    /// ~/.cache/policy/wasm).
    #[arg(long, value_name = "DIR")]
    pub wasm_cache: Option<PathBuf>,
}

pub(super) fn run(a: TestArgs, out: &mut dyn Write) -> anyhow::Result<ExitStatus> {
    let cfg = load_config(&a.config)?;
    let filter = match &a.run {
        Some(re) => Some(
            regex::Regex::new(re)
                .with_context(|| format!("invalid --run regular expression {re:?}"))?,
        ),
        None => None,
    };
    // Explicit PATHs, else (unless only the built-ins are asked for) the configuration's
    // policies, else the current directory.
    let paths = if !a.paths.is_empty() {
        a.paths.clone()
    } else if a.builtin {
        Vec::new()
    } else {
        match cfg.as_ref().filter(|c| !c.policies.is_empty()) {
            Some(c) => c.policies.clone(),
            None => vec![PathBuf::from(".")],
        }
    };
    // The policy flags `policy eval` has, reused so that both read them the same way.
    // The configuration's `pss` is not applied: a case turns opt-in rules on with its
    // own `data:`, so that its outcome does not depend on where it runs.
    let flags = super::args::PolicyArgs {
        policies: Vec::new(),
        no_builtin: !a.builtin,
        data: a.data.clone(),
        pss: None,
        namespaces: Vec::new(),
        all_namespaces: false,
        dockerfile_input: a.dockerfile_input,
        strict: a.strict,
        show_builtin_errors: a.show_builtin_errors,
        timeout: a.timeout,
        rego_memory: a.rego_memory,
        wasm_memory: a.wasm_memory,
        wasm_cache: a.wasm_cache.clone(),
        combine: false,
    };
    let cfg_without_policies = cfg.map(|mut c| {
        c.policies.clear();
        c.pss = None;
        c
    });
    let mut policies = policy_options(&flags, cfg_without_policies.as_ref())?;
    policies.paths = paths;
    // A rule turned off in the configuration is still tested: its cases say what it does
    // wherever it is on.
    policies.disabled_rules.clear();
    if policies.paths.is_empty() && !policies.builtin {
        bail!("nothing to test: give policy PATHs or --builtin");
    }
    let mut namespaces = Vec::new();
    for ns in &a.namespaces {
        let glob =
            globset::Glob::new(ns).with_context(|| format!("invalid --namespace glob {ns:?}"))?;
        namespaces.push(glob.compile_matcher());
    }
    let run = testing::run(&TestOptions {
        policies,
        builtin_cases: a.builtin,
        filter,
        namespaces,
        trace: a.trace,
    });
    // What Rego tests wrote with `print()`, as `opa test` and `conftest verify` show it,
    // then (--trace) each test's explanation.
    for line in run.tests.iter().flat_map(|t| &t.prints) {
        eprintln!("{line}");
    }
    for t in run.tests.iter().filter_map(|t| t.trace.as_ref()) {
        eprintln!("TRAC   {t}");
    }
    match a.format {
        TestFormat::Text => render::write_text(&run, a.verbose, out)?,
        TestFormat::Json => render::write_json(&run, env!("CARGO_PKG_VERSION"), out)?,
        TestFormat::Tap => crate::report::tap::write_test_run(&run, out)?,
        TestFormat::Table => crate::report::table::write_test_run(&run, out)?,
    }
    let s = run.summary();
    if run.tests.is_empty() && s.errors == 0 && !a.namespaces.is_empty() {
        // conftest verify: no test in the selected packages is a green, empty run.
        if a.format == TestFormat::Text {
            writeln!(
                out,
                "0 tests: no Rego test in the packages matching --namespace {}",
                a.namespaces.join(", ")
            )?;
        }
        return Ok(ExitStatus::Success);
    }
    if run.tests.is_empty() && s.errors == 0 {
        let what = match &a.run {
            Some(re) if run.filtered > 0 => {
                format!("no tests match --run {re:?} ({} found)", run.filtered)
            }
            _ => "no tests found: no case files (YAML with `rule:` and `cases:`) and no Rego \
                  `test_*` rules under the policy paths"
                .to_string(),
        };
        out.flush()?;
        eprintln!("policy: error: {what}");
        return Ok(ExitStatus::Error);
    }
    Ok(if s.errors > 0 {
        ExitStatus::Error
    } else if s.failed > 0 {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn parse(args: &[&str]) -> TestArgs {
        let mut all = vec!["policy", "test"];
        all.extend_from_slice(args);
        match Cli::try_parse_from(all).expect("parses").command {
            Command::Test(a) => a,
            other => panic!("not policy test: {other:?}"),
        }
    }

    #[test]
    fn flags() {
        let a = parse(&[
            "--run",
            "K8S0",
            "-v",
            "-f",
            "json",
            "-d",
            "data.yaml",
            "--timeout",
            "50",
            "a",
            "b",
        ]);
        assert_eq!(a.paths, vec![PathBuf::from("a"), PathBuf::from("b")]);
        assert_eq!(a.run.as_deref(), Some("K8S0"));
        assert!(a.verbose);
        assert!(!a.builtin);
        assert_eq!(a.format, TestFormat::Json);
        assert_eq!(a.data, vec![PathBuf::from("data.yaml")]);
        assert_eq!(a.timeout, 50);
        let a = parse(&["--builtin"]);
        assert!(a.builtin);
        assert!(a.paths.is_empty());
        assert_eq!(a.format, TestFormat::Text);
        assert_eq!(a.timeout, 2000);
        assert!(Cli::try_parse_from(["policy", "test", "-f", "sarif"]).is_err());
    }
}
