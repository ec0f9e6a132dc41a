//! The command-line interface: argument parsing and the glue between inputs, evaluation
//! and reporters. This is the only place that uses `anyhow` and decides exit codes.
//!
//! Exit codes (documented in `--help` and the README):
//! - `0`: no finding at or above `--fail-on`;
//! - `1`: findings at or above the threshold;
//! - `2`: usage, configuration or policy errors, or an input that could not be checked.

mod args;
mod conftest;
mod eval;
mod lsp;
mod merge;
mod parse;
mod rules;
mod serve;
mod supply;
mod test;
mod watch;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use args::Cli;
use args::{
    EvalArgs, LspArgs, ParseArgs, RulesArgs, WatchArgs, EXIT_CODES, WATCH_ABOUT, WATCH_AFTER_HELP,
};

pub use crate::diagnostics::ExitStatus;

/// Subcommands: every front end is registered here, as a variant whose arguments its
/// adapter module declares, and an arm of [`run`].
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Evaluate inputs against policies and report findings.
    #[command(after_help = EXIT_CODES)]
    Eval(EvalArgs),
    /// Print the JSON documents that policies receive (like `conftest parse`).
    Parse(ParseArgs),
    /// List the loaded rules, or explain one.
    Rules(RulesArgs),
    /// Test policies: run their case files and Rego `test_*` rules (docs/testing.md).
    #[command(after_help = test::TEST_EXIT_CODES)]
    Test(test::TestArgs),
    /// Check inputs, then re-check them whenever they or the policies change.
    #[command(long_about = WATCH_ABOUT, after_help = WATCH_AFTER_HELP)]
    Watch(WatchArgs),
    /// Run the language server on stdin/stdout, for editors (see docs/lsp.md).
    Lsp(LspArgs),
    /// Serve the policies over HTTPS: a Kubernetes validating admission webhook and a
    /// JSON evaluation API (see docs/admission.md).
    #[command(long_about = serve::SERVE_ABOUT, after_help = serve::SERVE_AFTER_HELP)]
    Serve(serve::ServeArgs),
    /// Push a policy directory to an OCI registry as a (signed) bundle
    /// (see docs/supply-chain.md).
    Push(supply::PushArgs),
    /// Pull a policy bundle from an OCI registry into a directory.
    Pull(supply::PullArgs),
    /// Sign an image or a policy bundle in its registry, as `cosign sign --key` does.
    Sign(supply::SignArgs),
    /// Merge the JSON reports (or SARIF logs) of a sharded run (`policy eval --shard K/N`)
    /// into one report, with the exit code one run would have had.
    #[command(after_help = merge::MERGE_EXIT_CODES)]
    Merge(merge::MergeArgs),
}

/// Runs the CLI with `args` (including the program name), writing results to `out`.
pub fn run(cli: Cli, out: &mut dyn Write) -> anyhow::Result<ExitStatus> {
    match cli.command {
        Command::Eval(a) => eval::run(a, out),
        Command::Parse(a) => parse::run(a, out),
        Command::Rules(a) => rules::run(a, out),
        Command::Test(a) => test::run(a, out),
        Command::Watch(a) => watch::run(a, out),
        Command::Lsp(a) => lsp::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Push(a) => supply::push(a, out),
        Command::Pull(a) => supply::pull(a, out),
        Command::Sign(a) => supply::sign(a, out),
        Command::Merge(a) => merge::run(a, out),
    }
}

/// Whether `e` (anywhere in its chain, including inside a serde_json error) is a closed
/// stdout: `policy parse … | head` must end quietly, not with an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
                == Some(std::io::ErrorKind::BrokenPipe)
    })
}

/// Entry point used by `main.rs`: parses arguments, runs, prints errors, exits.
pub fn main() -> ExitCode {
    // anyhow captures a backtrace for every error when RUST_BACKTRACE is set (CI often sets
    // it). regorus re-wraps an error at every nested call, so a rule stopped at depth
    // 100,000 by its timer then spent minutes unwinding. Error records never show
    // backtraces; panics still get theirs from RUST_BACKTRACE.
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    // Not `stdout().lock()`: `policy lsp` writes to stdout from its writer thread, which
    // would wait forever for a lock held here. `Stdout` locks per write call.
    // `Stdout` is line-buffered: one system call per line. The commands that write one
    // report at the end get a block buffer instead (a JSON report of one Dockerfile was
    // 205 `write` calls); `watch` and `test` keep lines, which a user reads as they come.
    let mut out: Box<dyn Write + Send> = match &cli.command {
        Command::Eval(_) | Command::Parse(_) | Command::Rules(_) | Command::Merge(_) => Box::new(
            std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout()),
        ),
        _ => Box::new(std::io::stdout()),
    };
    // Rego evaluation recurses: every thread that may run it gets a large stack (rayon's
    // global pool for `par_iter`, and this command's own thread).
    let threads = match &cli.command {
        Command::Eval(a) => a.threads,
        Command::Watch(a) => a.threads,
        _ => 0,
    };
    limit_malloc_arenas(threads);
    crate::runtimes::rego::budget::configure_global_pool(threads);
    let result = crate::runtimes::rego::budget::on_eval_stack(|| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(cli, &mut *out)))
    });
    match result {
        Ok(Ok(status)) => match out.flush() {
            Ok(()) => ExitCode::from(status.code()),
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("policy: error: cannot write the output: {e}");
                ExitCode::from(2)
            }
        },
        Ok(Err(e)) => {
            // What was written before the error comes first, as with a line buffer.
            let _ = out.flush();
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("policy: error: {e:#}");
            ExitCode::from(2)
        }
        Err(_) => {
            eprintln!("policy: internal error (a bug): please report it with the command line that caused it");
            ExitCode::from(2)
        }
    }
}

/// Caps glibc's malloc arenas at one per thread that evaluates (the workers, at least 2,
/// and three more), before any thread starts. glibc gives each new thread its own arena,
/// up to eight per core, and grows each one page by page with `mprotect` (BENCHMARKS.md,
/// "malloc arenas"). Fewer arenas than evaluating threads made workers share one by
/// chance, and such runs took up to twice as long ("arenas, again"). `threads`: `-j`
/// (0: one per core).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn limit_malloc_arenas(threads: usize) {
    let workers = if threads == 0 {
        std::thread::available_parallelism().map_or(2, usize::from)
    } else {
        threads
    };
    // One arena per thread that allocates while evaluating: the main thread (glibc's
    // main arena), `policy-main`, each worker of the one evaluation pool
    // (`budget::install`) and the WASM epoch ticker. Fewer, and glibc hands the workers
    // shared arenas by the luck of which thread allocated first: two workers on one
    // arena ran some runs twice as long (BENCHMARKS.md, "arenas, again").
    let arenas =
        libc::c_int::try_from(workers.max(2).saturating_add(3)).unwrap_or(libc::c_int::MAX);
    // SAFETY: `mallopt` only sets a malloc tunable; called once, before this process
    // starts any thread. A refusal (return 0) leaves glibc's default, which is correct.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, arenas);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas(_threads: usize) {}
