//! `policy eval`: inputs → policies → report → exit code.

use std::io::{IsTerminal, Write};

use anyhow::{bail, Context};

use super::args::{ColorChoice, ConfigArgs, DockerfileInput, EvalArgs, InputArgs, PolicyArgs};
use super::ExitStatus;
use crate::config::{self, Config};
use crate::diagnostics::Report;
use crate::eval::{self, EvalOptions, PolicyOptions, PolicySet};
use crate::inputs::{self, DocumentKind, FileReport, LoadOptions};
use crate::report::{self, ReportOptions};
use crate::runtimes::rego::{DockerfileShape, RegoOptions};
use crate::runtimes::wasm::WasmLimits;
use crate::Severity;

/// The configuration file in effect: `--config FILE`, else the nearest `.policy.yaml`,
/// unless `--no-config`. A bad file is an error whose text names `file:line:col`.
pub(super) fn load_config(c: &ConfigArgs) -> anyhow::Result<Option<Config>> {
    if c.no_config {
        return Ok(None);
    }
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let file = match &c.config {
        Some(f) => f.clone(),
        None => match config::discover(&cwd) {
            Some(f) => f,
            None => return Ok(None),
        },
    };
    Ok(Some(config::load(&cwd, &file)?))
}

/// Prints the configuration's warnings to stderr as `file:line:col: warning: ...`.
pub(super) fn print_config_warnings(cfg: &Config, warnings: &[config::Warning]) {
    for w in warnings {
        eprintln!(
            "{}:{}:{}: warning: {}",
            cfg.file.display(),
            w.line,
            w.column,
            w.message
        );
    }
}

/// The command line's policy options over the configuration's: `-p` and `-d` add to the
/// configuration's lists, `--pss` replaces its `pss`.
fn merged_policy_args(p: &PolicyArgs, cfg: Option<&Config>) -> PolicyArgs {
    let mut p = p.clone();
    if let Some(cfg) = cfg {
        p.policies = cfg.policies.iter().cloned().chain(p.policies).collect();
        p.data = cfg.data.iter().cloned().chain(p.data).collect();
        if p.pss.is_none() {
            p.pss = cfg.pss.clone();
        }
    }
    p
}

/// Builds the policy options from the command line and the configuration file.
pub(super) fn policy_options(
    p: &PolicyArgs,
    cfg: Option<&Config>,
) -> anyhow::Result<PolicyOptions> {
    let p = &merged_policy_args(p, cfg);
    let mut namespaces = Vec::new();
    for ns in &p.namespaces {
        let glob =
            globset::Glob::new(ns).with_context(|| format!("invalid --namespace glob {ns:?}"))?;
        namespaces.push(glob.compile_matcher());
    }
    if p.timeout == 0 {
        bail!("--timeout must be at least 1 millisecond");
    }
    let mut extra_data = Vec::new();
    if let Some(flag) = &p.pss {
        extra_data.push(eval::pss::parse_flag(flag).with_context(|| {
            format!(
                "invalid --pss {flag:?} (use LEVEL[@VERSION], e.g. restricted or baseline@v1.24)"
            )
        })?);
    }
    if let Some(settings) = cfg.and_then(|c| c.settings.clone()) {
        extra_data.push(serde_json::json!({ "settings": settings }));
    }
    Ok(PolicyOptions {
        paths: p.policies.clone(),
        builtin: !p.no_builtin,
        data: p.data.clone(),
        extra_data,
        rego: RegoOptions {
            timeout: std::time::Duration::from_millis(p.timeout),
            namespaces,
            dockerfile_shape: match p.dockerfile_input {
                DockerfileInput::Native => DockerfileShape::Native,
                DockerfileInput::Conftest => DockerfileShape::Conftest,
            },
            strict: p.strict,
            ..RegoOptions::default()
        },
        wasm: WasmLimits {
            deadline: std::time::Duration::from_millis(p.timeout),
            memory_bytes: p
                .wasm_memory
                .checked_mul(1 << 20)
                .context("--wasm-memory is too large")?,
            ..WasmLimits::default()
        },
        wasm_cache: p.wasm_cache.clone(),
        // `rules: {ID: off}`: not evaluated at all (config::apply drops the rest).
        disabled_rules: cfg.map(Config::disabled_rules).unwrap_or_default(),
        input_kinds: None,
    })
}

/// How inputs are found and loaded, as the command line says, leaving out what the
/// configuration's `exclude` matches (before it is opened).
pub(super) fn discover_options(
    a: &InputArgs,
    cfg: Option<&Config>,
) -> anyhow::Result<inputs::discover::DiscoverOptions> {
    let kind = match &a.kind {
        Some(k) => Some(DocumentKind::parse(k).with_context(|| {
            format!(
                "unknown --kind {k:?}: use dockerfile, kubernetes, image, workflow, yaml or json"
            )
        })?),
        None => None,
    };
    let exclude = match cfg.filter(|c| c.exclude.is_some()) {
        Some(cfg) => {
            let cwd = std::env::current_dir().context("cannot read the current directory")?;
            cfg.exclude_filter(&cwd)
        }
        None => None,
    };
    Ok(inputs::discover::DiscoverOptions {
        stdin_filename: a.stdin_filename.clone(),
        load: LoadOptions {
            kind,
            max_file_size: a.max_file_size,
            ..LoadOptions::default()
        },
        exclude,
    })
}

/// Reads every input named on the command line, except those the configuration's
/// `exclude` matches, which are not even opened.
pub(super) fn collect_inputs(
    a: &InputArgs,
    cfg: Option<&Config>,
) -> anyhow::Result<Vec<FileReport>> {
    let opts = discover_options(a, cfg)?;
    Ok(inputs::discover::collect(&a.paths, &opts))
}

/// The kinds of the documents among `files`.
fn input_kinds(files: &[FileReport]) -> Vec<DocumentKind> {
    let mut kinds: Vec<DocumentKind> = Vec::new();
    for doc in files.iter().flat_map(|f| &f.documents) {
        if !kinds.contains(&doc.kind) {
            kinds.push(doc.kind);
        }
    }
    kinds
}

/// The exit status a report deserves. An input that was skipped (too large, or of a kind
/// that cannot be told) was not checked, so it counts like an error: CI must not pass
/// because a file was silently left out.
pub fn exit_status(report: &Report, opts: &ReportOptions) -> ExitStatus {
    let skipped = report
        .inputs
        .iter()
        .any(|i| matches!(i.status, crate::diagnostics::InputStatus::Skipped { .. }));
    if !report.errors.is_empty() || skipped {
        ExitStatus::Error
    } else if report.findings.iter().any(|f| opts.is_failing(f)) {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    }
}

pub(super) fn run(a: EvalArgs, out: &mut dyn Write) -> anyhow::Result<ExitStatus> {
    let cfg = load_config(&a.config)?;
    let fail_on = match &a.fail_on {
        Some(flag) => Severity::parse(flag).with_context(|| {
            format!("unknown --fail-on {flag:?}: use critical, high, medium, low or info")
        })?,
        None => cfg
            .as_ref()
            .and_then(|c| c.fail_on)
            .unwrap_or(Severity::Low),
    };
    let popts = policy_options(&a.policy, cfg.as_ref())?;
    if !popts.builtin && popts.paths.is_empty() {
        bail!("no policies to run: --no-builtin needs at least one -p/--policy PATH");
    }
    let files = collect_inputs(&a.input, cfg.as_ref())?;
    // The inputs are known: built-in WASM modules for other kinds need not be compiled.
    let mut popts = popts;
    popts.input_kinds = Some(input_kinds(&files));
    let set = PolicySet::load(&popts);
    let mut report = eval::evaluate(&set, files, &EvalOptions { threads: a.threads });
    if let Some(cfg) = &cfg {
        let cwd = std::env::current_dir().context("cannot read the current directory")?;
        let warnings = config::apply(cfg, &mut report, &cwd, config::Date::today());
        print_config_warnings(cfg, &warnings);
    }

    let to_terminal = a.output.is_none() && std::io::stdout().is_terminal();
    let color = match a.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            to_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    let ropts = ReportOptions {
        color,
        fail_on,
        fail_on_warn: a.fail_on_warn,
        ..ReportOptions::default()
    };
    // Every format but JUnit carries the report's warnings; for JUnit they go to stderr.
    if a.format == report::Format::Junit {
        for w in &report.warnings {
            eprintln!("{}:{}:{}: warning: {}", w.file, w.line, w.column, w.message);
        }
    }
    let reporter = report::reporter(a.format, &ropts);
    match &a.output {
        Some(path) => {
            let mut buf = Vec::new();
            reporter.write(&report, &mut buf)?;
            std::fs::write(path, buf)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        None => reporter.write(&report, out)?,
    }
    Ok(exit_status(&report, &ropts))
}
