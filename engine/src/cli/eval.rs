//! `policy eval`: inputs → policies → report → exit code, a thin adapter over
//! [`Session`]: the command line's layers in, a formatted report and an exit code out.

use std::io::{IsTerminal, Write};
use std::ops::ControlFlow;

use anyhow::{bail, Context};

use super::args::{ColorChoice, ConfigArgs, DockerfileInput, EvalArgs, InputArgs, PolicyArgs};
use super::ExitStatus;
use crate::config::resolve::{ConfigSource, Flags, Layers};
use crate::config::{self, Config};
use crate::eval::{stream, PolicyOptions};
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
        f.rego_memory_mib = p.rego_memory;
        f.wasm_cache.clone_from(&p.wasm_cache);
        f.combine = p.combine;
        f.strict = p.strict;
        f.show_builtin_errors = p.show_builtin_errors;
    }
    if let Some(i) = i {
        f.kind.clone_from(&i.kind);
        f.stdin_filename.clone_from(&i.stdin_filename);
        f.max_file_size = i.max_file_size;
        f.follow_outside_symlinks = i.follow_outside_symlinks;
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
    let mut opts = discover_options(a, cfg)?;
    opts.load.empty_yaml_as_null = a.empty_yaml_as_null;
    Ok(inputs::discover::collect(&input_paths(a)?, &opts))
}

/// The path arguments. An empty one (`policy eval x.yaml ""`, from a shell variable that
/// is unset) names no file: it is left out, as conftest does, unless nothing else is given.
fn input_paths(a: &InputArgs) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let paths: Vec<_> = a
        .paths
        .iter()
        .filter(|p| !p.as_os_str().is_empty())
        .cloned()
        .collect();
    if paths.is_empty() {
        bail!("no input paths: every path argument is empty");
    }
    Ok(paths)
}

/// What the writer of a streamed run is handed.
enum Written {
    /// An input's part of the report.
    Part(Box<crate::diagnostics::Report>),
    /// Nothing new for a while: what was written should be seen now.
    Idle,
}

/// Runs `session`'s streamed check of `plan` and calls `write` with each input's part of
/// the report as it is finished, on this thread (the output is not `Send`), while the
/// evaluation goes on on another; returns the rest of the report
/// ([`Session::check_plan_streaming`]). At most a few parts wait to be written: the
/// evaluation waits for the writer beyond. `write` is told when the output should be
/// flushed: when a part has waited [`report::stream::FLUSH_EVERY`] in its buffer (so
/// output shows as the run goes, without a system call per part). When `write` breaks
/// (the output is closed: `policy eval … | head`), the inputs not started yet are not
/// evaluated.
fn streamed(
    session: &Session,
    set: &crate::eval::PolicySet,
    plan: &inputs::discover::Plan,
    scan: &stream::Scan,
    mut write: impl FnMut(Written) -> ControlFlow<()>,
) -> crate::diagnostics::Report {
    use std::sync::mpsc::RecvTimeoutError;
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel(16);
        let evaluation = std::thread::Builder::new()
            .name("policy-eval".into())
            .stack_size(crate::runtimes::rego::budget::EVAL_STACK_BYTES)
            .spawn_scoped(s, move || {
                // The writer is gone when it stopped reading: so does the evaluation.
                let mut sink = move |part| match tx.send(part) {
                    Ok(()) => ControlFlow::Continue(()),
                    Err(_) => ControlFlow::Break(()),
                };
                session.check_plan_streaming(set, plan, scan, &mut sink)
            });
        match evaluation {
            Ok(handle) => {
                // When the oldest part not flushed yet was written.
                let mut unflushed: Option<std::time::Instant> = None;
                loop {
                    let next = match unflushed {
                        Some(since) => rx.recv_timeout(
                            report::stream::FLUSH_EVERY.saturating_sub(since.elapsed()),
                        ),
                        None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                    };
                    let mut written = match next {
                        Ok(part) => {
                            unflushed.get_or_insert_with(std::time::Instant::now);
                            write(Written::Part(Box::new(part)))
                        }
                        Err(RecvTimeoutError::Timeout) => {
                            unflushed = None;
                            write(Written::Idle)
                        }
                        Err(RecvTimeoutError::Disconnected) => break,
                    };
                    if written.is_continue()
                        && unflushed.is_some_and(|t| t.elapsed() >= report::stream::FLUSH_EVERY)
                    {
                        unflushed = None;
                        written = write(Written::Idle);
                    }
                    if written.is_break() {
                        break;
                    }
                }
                drop(rx);
                match handle.join() {
                    Ok(rest) => rest,
                    Err(payload) => std::panic::resume_unwind(payload),
                }
            }
            // No thread: on this one, every part written at the end.
            Err(_) => {
                let (tx, rx) = std::sync::mpsc::channel();
                let mut sink = move |part| {
                    let _ = tx.send(part);
                    ControlFlow::Continue(())
                };
                let rest = session.check_plan_streaming(set, plan, scan, &mut sink);
                for part in rx.try_iter() {
                    if write(Written::Part(Box::new(part))).is_break() {
                        break;
                    }
                }
                rest
            }
        }
    })
}

/// The inputs of a run: found and scanned, to be loaded one at a time as they are
/// evaluated, or all loaded at once.
enum Inputs {
    Streamed(inputs::discover::Plan, Box<stream::Scan>),
    Loaded(Vec<FileReport>),
}

pub(super) fn run(mut a: EvalArgs, out: &mut dyn Write) -> anyhow::Result<ExitStatus> {
    super::conftest::apply(&mut a);
    let format = a.format.unwrap_or_default();
    let mut layers = layers(&a.config, Some(&a.policy), Some(&a.input))?;
    layers.flags.fail_on.clone_from(&a.fail_on);
    layers.flags.threads = a.threads;
    layers.flags.shard = a.shard;
    layers.require_policies = true;
    let mut settings = layers.resolve()?;
    settings.discover.load.empty_yaml_as_null = a.input.empty_yaml_as_null;
    settings.trace = a.conftest.trace;
    let fail_on = settings.fail_on;
    // Registry images, `oci://` policy bundles and `--verify-images` (docs/supply-chain.md).
    let mut supply = super::supply::Supply::new(&a.supply, settings.config.as_ref())?;
    // Inputs are streamed (loaded, evaluated and dropped one at a time, in bounded
    // memory) unless registry images or their verification need every document at once.
    let inputs = if !supply.has_images() && !a.supply.verify_images {
        let plan = inputs::discover::Plan::new(&input_paths(&a.input)?, &settings.discover);
        let scan = stream::scan(&plan, settings.threads, settings.policy.builtin);
        Inputs::Streamed(plan, Box::new(scan))
    } else {
        let mut files = if super::supply::only_images(&supply, &a.input.paths) {
            Vec::new()
        } else {
            inputs::discover::collect(&input_paths(&a.input)?, &settings.discover)
        };
        files.extend(supply.image_inputs()?);
        Inputs::Loaded(files)
    };
    let bundle_errors = supply.resolve_bundles(&mut settings.policy.paths)?;
    if let Inputs::Loaded(files) = &inputs {
        settings
            .policy
            .extra_data
            .extend(supply.workload_verification(files)?);
    }
    // The inputs are known: built-in WASM modules for other kinds need not be compiled.
    let session = match &inputs {
        Inputs::Streamed(_, scan) => {
            settings.policy.compile_ahead = scan.small();
            Session::for_kinds(settings, scan.kinds.clone())?
        }
        Inputs::Loaded(files) => Session::for_files(settings, files)?,
    };
    let set = session.policies();
    if !session.settings().policy.builtin
        && set.user_files == 0
        && set.errors.is_empty()
        && bundle_errors.is_empty()
    {
        let paths: Vec<String> = (session.settings().policy.paths.iter())
            .map(|p| p.display().to_string())
            .collect();
        bail!(
            "no policies to run: no .rego or .wasm file under {}",
            paths.join(", ")
        );
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
    // The formats whose items stand alone are written as the run goes, input by input.
    let inputs = match (inputs, report::stream::streaming(format, &ropts)) {
        (Inputs::Streamed(plan, scan), Some(streaming)) => {
            let mut file_out = match &a.output {
                Some(path) => Some(std::io::BufWriter::new(
                    std::fs::File::create(path)
                        .with_context(|| format!("cannot write {}", path.display()))?,
                )),
                None => None,
            };
            if let Some(cfg) = session.config() {
                print_config_warnings(cfg, &session.config_warnings());
            }
            let mut writer = report::stream::StreamWriter::new(streaming, ropts);
            let mut rest = streamed(&session, &set, &plan, &scan, |written| {
                let out: &mut dyn Write = match &mut file_out {
                    Some(f) => f,
                    None => out,
                };
                match written {
                    Written::Part(part) => {
                        super::conftest::print_lines(&part, format);
                        writer.part(*part, out);
                    }
                    Written::Idle => writer.flush(out),
                }
                // Nothing more can be written: the rest need not be evaluated.
                if writer.failed() {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            });
            rest.errors.extend(bundle_errors);
            super::conftest::print_lines(&rest, format);
            let status = match &mut file_out {
                Some(f) => writer.finish(rest, f),
                None => writer.finish(rest, out),
            };
            return status.with_context(|| match &a.output {
                Some(path) => format!("cannot write {}", path.display()),
                None => "cannot write the output".to_string(),
            });
        }
        (inputs, _) => inputs,
    };
    let mut report = match inputs {
        Inputs::Streamed(plan, scan) => {
            // The conftest formats count passed tests from the packages evaluated.
            let checks = matches!(
                format,
                report::Format::Conftest | report::Format::Tap | report::Format::Table
            );
            session.check_plan(&set, &plan, &scan, checks)
        }
        Inputs::Loaded(files) => session.check_with(&set, files),
    };
    if !bundle_errors.is_empty() {
        // Sorted among the others, as a report written as the run goes has them.
        report.errors.extend(bundle_errors);
        report.sort();
    }
    if let Some(cfg) = session.config() {
        print_config_warnings(cfg, &session.config_warnings());
    }

    super::conftest::print_lines(&report, format);
    // Every format but JUnit carries the report's warnings; for JUnit they go to stderr.
    if format == report::Format::Junit {
        for w in &report.warnings {
            eprintln!("{}:{}:{}: warning: {}", w.file, w.line, w.column, w.message);
        }
    }
    let reporter = match format {
        report::Format::Conftest => Box::new(report::conftest::ConftestReporter::new(
            ropts.clone(),
            report::conftest::ConftestOptions {
                quiet: a.conftest.quiet,
                suppress_exceptions: a.conftest.suppress_exceptions,
            },
        )),
        _ => report::reporter(format, &ropts),
    };
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
