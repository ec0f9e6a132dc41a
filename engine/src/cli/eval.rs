//! `policy eval`: inputs → policies → report → exit code, a thin adapter over
//! [`Session`]: the command line's layers in, a formatted report and an exit code out.

use std::io::{IsTerminal, Write};

use anyhow::Context;

use super::args::{ColorChoice, ConfigArgs, DockerfileInput, EvalArgs, InputArgs, PolicyArgs};
use super::ExitStatus;
use crate::config::resolve::{ConfigSource, Flags, Layers};
use crate::config::{self, Config};
use crate::eval::PolicyOptions;
use crate::inputs::{self, FileReport};
use crate::report::{self, ReportOptions};
use crate::runtimes::rego::DockerfileShape;
use crate::session::Session;

/// The configuration file in effect: `--config FILE`, else the nearest `.policy.yaml`,
/// unless `--no-config`. A bad file is an error whose text names `file:line:col`.
pub(super) fn load_config(c: &ConfigArgs) -> anyhow::Result<Option<Config>> {
    Ok(layers(c, None, None)?.resolve()?.config)
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

/// The command line's layers: the current directory, the configuration file it names
/// (`--config`, `--no-config`, else the nearest `.policy.yaml`), and its flags.
pub(super) fn layers(
    c: &ConfigArgs,
    p: Option<&PolicyArgs>,
    i: Option<&InputArgs>,
) -> anyhow::Result<Layers> {
    let root = std::env::current_dir().context("cannot read the current directory")?;
    let config = if c.no_config {
        ConfigSource::None
    } else {
        match &c.config {
            Some(f) => ConfigSource::File(f.clone()),
            None => ConfigSource::Discover,
        }
    };
    Ok(Layers {
        root,
        config,
        flags: flags(p, i),
        ..Layers::default()
    })
}

/// The command line's policy and input options as the flag layer.
fn flags(p: Option<&PolicyArgs>, i: Option<&InputArgs>) -> Flags {
    let mut f = Flags::default();
    if let Some(p) = p {
        f.policies.clone_from(&p.policies);
        f.no_builtin = p.no_builtin;
        f.data.clone_from(&p.data);
        f.pss.clone_from(&p.pss);
        f.namespaces.clone_from(&p.namespaces);
        f.dockerfile_shape = match p.dockerfile_input {
            DockerfileInput::Native => DockerfileShape::Native,
            DockerfileInput::Conftest => DockerfileShape::Conftest,
        };
        f.timeout_ms = p.timeout;
        f.wasm_memory_mib = p.wasm_memory;
        f.wasm_cache.clone_from(&p.wasm_cache);
    }
    if let Some(i) = i {
        f.kind.clone_from(&i.kind);
        f.stdin_filename.clone_from(&i.stdin_filename);
        f.max_file_size = i.max_file_size;
    }
    f
}

/// Builds the policy options from the command line and an already loaded configuration
/// file (layered by [`crate::config::resolve`]).
pub(super) fn policy_options(
    p: &PolicyArgs,
    cfg: Option<&Config>,
) -> anyhow::Result<PolicyOptions> {
    Ok(with_config(layers(&no_config(), Some(p), None)?, cfg)
        .resolve()?
        .policy)
}

/// How inputs are found and loaded, as the command line says, leaving out what the
/// configuration's `exclude` matches (before it is opened).
pub(super) fn discover_options(
    a: &InputArgs,
    cfg: Option<&Config>,
) -> anyhow::Result<inputs::discover::DiscoverOptions> {
    Ok(with_config(layers(&no_config(), None, Some(a))?, cfg)
        .resolve()?
        .discover)
}

fn no_config() -> ConfigArgs {
    ConfigArgs {
        config: None,
        no_config: true,
    }
}

/// `layers` with a configuration that is already loaded (or none).
fn with_config(layers: Layers, cfg: Option<&Config>) -> Layers {
    Layers {
        config: match cfg {
            Some(c) => ConfigSource::Loaded(Box::new(c.clone())),
            None => ConfigSource::None,
        },
        ..layers
    }
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

pub(super) fn run(a: EvalArgs, out: &mut dyn Write) -> anyhow::Result<ExitStatus> {
    let mut layers = layers(&a.config, Some(&a.policy), Some(&a.input))?;
    layers.flags.fail_on.clone_from(&a.fail_on);
    layers.flags.threads = a.threads;
    layers.require_policies = true;
    let settings = layers.resolve()?;
    let fail_on = settings.fail_on;
    let files = inputs::discover::collect(&a.input.paths, &settings.discover);
    // The inputs are known: built-in WASM modules for other kinds need not be compiled.
    let session = Session::for_files(settings, &files)?;
    let report = session.check_files(files);
    if let Some(cfg) = session.config() {
        print_config_warnings(cfg, &session.config_warnings());
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
    Ok(report.exit_status(&ropts))
}
