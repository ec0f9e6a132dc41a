//! Command-line arguments (clap derive). Raw parsing only; validation happens in each
//! subcommand.

use std::path::PathBuf;

use clap::{Args, Parser, ValueEnum};

use crate::report::Format;

pub(super) const EXIT_CODES: &str = "Exit codes:
  0  no finding at or above --fail-on (warn results only count with --fail-on-warn)
  1  findings at or above --fail-on
  2  usage, configuration or policy errors, or an input that could not be checked
     (a parse error, a skipped file, a rule that failed or timed out)";

/// Policy-as-code for container security: checks Dockerfiles, Kubernetes manifests,
/// image metadata and CI workflows against Rego and WASM policies.
#[derive(Debug, Parser)]
#[command(name = "policy", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: super::Command,
}

/// Colour choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ColorChoice {
    /// Colour on a terminal, unless NO_COLOR is set.
    #[default]
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// The Dockerfile input shape for Rego packages that do not declare one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum DockerfileInput {
    /// This project's shape with stages, instructions and locations (docs/inputs.md).
    #[default]
    Native,
    /// conftest's flat command array (Cmd, Flags, Value, JSON, SubCmd, Stage).
    Conftest,
}

/// Options that choose inputs.
#[derive(Debug, Clone, Args)]
pub struct InputArgs {
    /// Files or directories to check (`-` reads stdin). Directories are walked
    /// recursively, honouring .gitignore.
    // An empty argument is accepted here and left out later, as conftest does.
    #[arg(default_value = ".", value_parser = clap::builder::TypedValueParser::map(clap::builder::OsStringValueParser::new(), PathBuf::from))]
    pub paths: Vec<PathBuf>,
    /// Treat every input as this kind instead of detecting it
    /// (dockerfile, kubernetes, image, workflow, yaml, json).
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// The file name to report for stdin (also used to detect its kind).
    #[arg(long, value_name = "NAME")]
    pub stdin_filename: Option<String>,
    /// Skip files larger than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_file_size: u64,
    /// An empty YAML file is one document with `input = null` (set by `--conftest`).
    #[arg(skip)]
    pub empty_yaml_as_null: bool,
    /// Follow symbolic links found while walking a directory that point outside it
    /// (default: such links are skipped with a reason, so a checked-out pull request
    /// cannot make the run read files elsewhere on the machine).
    #[arg(long)]
    pub follow_outside_symlinks: bool,
}

/// The most worker threads `-j` accepts. More threads than cores only add memory and
/// scheduling: `-j 5000` spent 45 s starting threads.
pub const MAX_THREADS: usize = 256;

/// Parses `-j N`: 0 (one per core) up to [`MAX_THREADS`].
fn parse_threads(s: &str) -> Result<usize, String> {
    let n: usize = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of threads"))?;
    if n > MAX_THREADS {
        return Err(format!(
            "{n} threads is more than the maximum of {MAX_THREADS}; use 0 for one per core"
        ));
    }
    Ok(n)
}

fn parse_shard(s: &str) -> Result<crate::eval::shard::Shard, String> {
    s.parse()
        .map_err(|e: crate::eval::shard::ShardError| e.to_string())
}

/// Options that choose the configuration file.
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// Read this configuration file instead of the nearest `.policy.yaml` (looked for
    /// from the current directory up to the repository root). See docs/configuration.md.
    #[arg(long, value_name = "FILE", conflicts_with = "no_config")]
    pub config: Option<PathBuf>,
    /// Ignore any configuration file.
    #[arg(long)]
    pub no_config: bool,
}

/// Options that choose policies.
#[derive(Debug, Clone, Args)]
pub struct PolicyArgs {
    /// A policy file or directory (`*.rego`, `*.wasm`); repeatable.
    #[arg(short = 'p', long = "policy", value_name = "PATH")]
    pub policies: Vec<PathBuf>,
    /// Run only the policies given with --policy, not the built-in set.
    #[arg(long)]
    pub no_builtin: bool,
    /// A data file or directory (JSON or YAML) merged into `data`; repeatable.
    #[arg(short = 'd', long = "data", value_name = "PATH")]
    pub data: Vec<PathBuf>,
    /// Check Kubernetes workloads against the Pod Security Standards: LEVEL is baseline
    /// or restricted, VERSION the Kubernetes version whose checks apply (latest, or
    /// v1.N); e.g. `--pss restricted`, `--pss baseline@v1.24`. Sets `data.pss`.
    #[arg(long, value_name = "LEVEL[@VERSION]")]
    pub pss: Option<String>,
    /// Only evaluate Rego packages matching this glob (e.g. `main`, `k8s.*`); repeatable.
    #[arg(short = 'n', long = "namespace", value_name = "GLOB")]
    pub namespaces: Vec<String>,
    /// Evaluate every package (the default; accepted for conftest compatibility).
    #[arg(long)]
    pub all_namespaces: bool,
    /// The Dockerfile input shape for packages that do not declare `custom.input`.
    #[arg(long, value_enum, default_value_t = DockerfileInput::Native)]
    pub dockerfile_input: DockerfileInput,
    /// OPA's strict mode, as `conftest --strict`/`opa check --strict`: a policy file with
    /// an unused assigned or declared variable, an unused function argument, an import
    /// that shadows another or a deprecated builtin is refused when it loads (POL003).
    /// Also makes Rego builtin errors rule errors, as --show-builtin-errors.
    #[arg(long)]
    pub strict: bool,
    /// Make Rego builtin errors (`to_number("x")`, `1/0`, a bad regex) rule errors
    /// (POL001 "built-in error", exit 2), as `conftest --show-builtin-errors`/`opa eval
    /// --strict-builtin-errors`. By default they leave the expression undefined, as in
    /// conftest and OPA.
    #[arg(long)]
    pub show_builtin_errors: bool,
    /// Time limit of one rule (Rego) or one policy call (WASM) on one document, in
    /// milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub timeout: u64,
    /// Memory budget of one Rego rule evaluation on one document, in MiB: a rule that
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
    /// conftest's `--combine`: every package of the --policy files receives the whole
    /// run at once, as `input = [{path, contents}]`, and is evaluated once (see
    /// docs/inputs.md). A package can opt in alone with `custom.input: combined`.
    #[arg(long)]
    pub combine: bool,
}

/// `policy eval`.
#[derive(Debug, Clone, Args)]
pub struct EvalArgs {
    /// Configuration file.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Inputs.
    #[command(flatten)]
    pub input: InputArgs,
    /// Policies.
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Output format [default: text; conftest with --conftest].
    #[arg(short = 'f', long, value_enum)]
    pub format: Option<Format>,
    /// Write the report to this file instead of stdout.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Fail (exit 1) on findings at or above this severity
    /// (critical, high, medium, low, info) [default: the configuration's `fail-on`, or low].
    #[arg(long, value_name = "SEVERITY")]
    pub fail_on: Option<String>,
    /// Let warn results fail the run too.
    #[arg(long)]
    pub fail_on_warn: bool,
    /// Worker threads (default: one per core; at most 256).
    #[arg(short = 'j', long, value_name = "N", default_value_t = 0, value_parser = parse_threads)]
    pub threads: usize,
    /// Evaluate and report only shard K of N (1 <= K <= N): inputs are split by a hash
    /// of their path relative to the current directory; rules that look across
    /// documents still see every input. Combine the shards' JSON reports with
    /// `policy merge`.
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<crate::eval::shard::Shard>,
    /// When to use colour in text output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// conftest compatibility.
    #[command(flatten)]
    pub conftest: super::conftest::ConftestArgs,
    /// Registry images, signatures and policy bundles.
    #[command(flatten)]
    pub supply: super::supply::SupplyArgs,
}

/// `policy parse`.
#[derive(Debug, Clone, Args)]
pub struct ParseArgs {
    /// Configuration file.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Inputs.
    #[command(flatten)]
    pub input: InputArgs,
    /// Include each document's source map (JSON Pointer → line/column range).
    #[arg(long)]
    pub spans: bool,
    /// Print the conftest Dockerfile shape instead of the native one.
    #[arg(long, value_enum, default_value_t = DockerfileInput::Native)]
    pub dockerfile_input: DockerfileInput,
    /// Print the run's combined view instead: `{"inventory": ...}`, what rules read as
    /// `data.inventory` (docs/inputs.md), built from the Kubernetes documents of all
    /// inputs.
    #[arg(long, conflicts_with = "spans")]
    pub inventory: bool,
    /// `policy`: every file with its documents, kinds and errors. `conftest`: what
    /// `conftest parse` prints (one file: its configuration; several: an object keyed
    /// by path), with conftest's Dockerfile shape and `null` for an empty YAML file.
    #[arg(long, value_enum, default_value_t = super::conftest::ParseFormat::Policy)]
    pub format: super::conftest::ParseFormat,
}

/// Output format of `policy rules`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum RulesFormat {
    /// A table, or the documentation of one rule with --explain.
    #[default]
    Text,
    /// JSON.
    Json,
}

/// `policy rules`.
#[derive(Debug, Clone, Args)]
pub struct RulesArgs {
    /// Configuration file.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Policies.
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Show the full documentation of one rule.
    #[arg(long, value_name = "ID")]
    pub explain: Option<String>,
    /// Print how another tool's checks map to ours: `hadolint` or `checkov` (every check
    /// of the tool, the rules that cover it, or why none does).
    #[arg(long, value_name = "TOOL", conflicts_with = "explain")]
    pub peer: Option<String>,
    /// Output format.
    #[arg(short = 'f', long, value_enum, default_value_t = RulesFormat::Text)]
    pub format: RulesFormat,
}

pub(super) const WATCH_ABOUT: &str =
    "Check inputs, then re-check them whenever they or the policies change.

Runs a full check first, then watches the input paths and the policy and data paths
(recursively, honouring .gitignore and the configuration's `exclude`). A burst of changes
is handled as one cycle: changed or new inputs are re-checked, removed ones reported as
removed; a change to a policy or data file reloads the policies and re-checks every input.
A reload that breaks a policy or data file that loaded before is rejected: its errors are
reported with file:line:col and the last good policies stay in use.";

pub(super) const WATCH_AFTER_HELP: &str = "Output (--format):
  text   a `[HH:MM:SS] N files re-checked: F findings, E errors` header per cycle, then the
         findings and errors as `policy eval` shows them
  jsonl  one JSON object per line, flushed at once: `policies`, `removed`, `file` and
         `cycle` events (see docs/watch.md)

Stops cleanly (exit code 0) on Ctrl-C or SIGTERM, or when standard input is closed with
--exit-on-stdin-close. Exit code 2: the configuration or arguments are invalid, or files
cannot be watched. Changes to the configuration file need a restart.";

/// Output format of `policy watch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum WatchFormat {
    /// A header line per cycle, then findings as `policy eval` shows them.
    #[default]
    Text,
    /// One JSON event per line (docs/watch.md).
    Jsonl,
}

/// `policy watch`.
#[derive(Debug, Clone, Args)]
pub struct WatchArgs {
    /// Configuration file.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Inputs.
    #[command(flatten)]
    pub input: InputArgs,
    /// Policies.
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Output format.
    #[arg(short = 'f', long, value_enum, default_value_t = WatchFormat::Text)]
    pub format: WatchFormat,
    /// Wait until files have been quiet for this long before checking (editors write a
    /// file in several steps), in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 150)]
    pub debounce: u64,
    /// Stop (exit code 0) when standard input is closed: for editors and scripts that
    /// run the watcher as a child process.
    #[arg(long)]
    pub exit_on_stdin_close: bool,
    /// Worker threads (default: one per core; at most 256).
    #[arg(short = 'j', long, value_name = "N", default_value_t = 0, value_parser = parse_threads)]
    pub threads: usize,
    /// When to use colour in text output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// `oci://` policy bundles: verification and refresh.
    #[command(flatten)]
    pub bundles: super::supply::LiveArgs,
}

/// `policy lsp`. Policies, data and the rest come from the client's
/// `initializationOptions` and the workspace's `.policy.yaml` (docs/lsp.md).
#[derive(Debug, Clone, Args)]
pub struct LspArgs {
    /// Talk over stdin/stdout (the only transport; accepted because editor clients such
    /// as vscode-languageclient pass it).
    #[arg(long)]
    pub stdio: bool,
    /// `oci://` policy bundles (in `policyPaths` or `.policy.yaml`): verification and
    /// refresh.
    #[command(flatten)]
    pub bundles: super::supply::LiveArgs,
}
