//! Configuration layering in one place: `.policy.yaml` < editor options < command-line
//! flags.
//!
//! Every front end (`policy eval`, `policy watch`, `policy lsp`, `policy serve`) checks
//! with the same knobs: which policies and data, the Pod Security level, the failure
//! threshold, how inputs are found. They come from up to three layers, and this module
//! is the only place that merges them, so that a value means the same thing whichever
//! front end reads it:
//!
//! | setting | configuration file | editor (`initializationOptions`) | flags |
//! |---|---|---|---|
//! | policy paths, data paths | first | appended | appended |
//! | `pss`, `fail-on` | lowest | overrides the file | overrides both |
//! | built-in rules | on | `noBuiltin` turns off | `--no-builtin` turns off |
//! | rules turned `off` | not evaluated | | |
//! | `exclude` | inputs left out | | |
//!
//! [`Layers`] holds the raw layers; [`Layers::resolve`] validates them strictly (the
//! command line: the first bad value is an error), [`Layers::resolve_lenient`] skips bad
//! values and reports each one (the editor: the server carries on with what is valid).
//! The result, [`ResolvedSettings`], is what a [`crate::session::Session`] is built from.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;

use super::options::normalize;
use super::{Config, ConfigError};
use crate::eval::policies::{DATA_EXTENSIONS, POLICY_EXTENSIONS};
use crate::eval::pss::{self, PssError};
use crate::eval::PolicyOptions;
use crate::inputs::discover::DiscoverOptions;
use crate::inputs::{DocumentKind, LoadOptions};
use crate::runtimes::rego::{DockerfileShape, RegoOptions};
use crate::runtimes::wasm::WasmLimits;
use crate::Severity;

/// Where the configuration file comes from.
#[derive(Debug, Clone, Default)]
pub enum ConfigSource {
    /// The nearest `.policy.yaml` from the root upwards ([`super::discover`]).
    #[default]
    Discover,
    /// This file (relative to the root, or absolute); an error when it cannot be read.
    File(PathBuf),
    /// No configuration file (`--no-config`).
    None,
    /// A configuration the front end already loaded (and perhaps adjusted, as
    /// `policy test` does).
    Loaded(Box<Config>),
}

/// The editor layer: a language client's `initializationOptions`, all optional. Unknown
/// keys are ignored. Relative paths resolve against the workspace root.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EditorOptions {
    /// Policy files or directories, added after the configuration's `policies`.
    pub policy_paths: OneOrMany,
    /// Data files or directories, added after the configuration's `data`.
    pub data: OneOrMany,
    /// Findings below this severity are shown as hints (default: the configuration's
    /// `fail-on`, else `low`).
    pub fail_on: Option<String>,
    /// Run only `policyPaths`, not the built-in rules.
    pub no_builtin: bool,
    /// Pod Security Standards level (`baseline`, `restricted`, optionally `@v1.N`).
    pub pss: Option<String>,
}

/// A list of paths, or one path as a plain string.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(from = "OneOrManyRepr")]
pub struct OneOrMany(pub Vec<String>);

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrManyRepr {
    One(String),
    Many(Vec<String>),
}

impl From<OneOrManyRepr> for OneOrMany {
    fn from(r: OneOrManyRepr) -> Self {
        match r {
            OneOrManyRepr::One(s) => OneOrMany(vec![s]),
            OneOrManyRepr::Many(v) => OneOrMany(v),
        }
    }
}

/// The command-line layer, as raw values (parsed and validated by [`Layers::resolve`]).
/// Paths stay as given: reports name files the way the user typed them.
#[derive(Debug, Clone)]
pub struct Flags {
    /// `-p/--policy`: added after the configuration's and the editor's policies.
    pub policies: Vec<PathBuf>,
    /// `--no-builtin`.
    pub no_builtin: bool,
    /// `-d/--data`: added after the configuration's and the editor's data.
    pub data: Vec<PathBuf>,
    /// `--pss LEVEL[@VERSION]`: replaces the other layers' `pss`.
    pub pss: Option<String>,
    /// `-n/--namespace` globs.
    pub namespaces: Vec<String>,
    /// `--dockerfile-input`.
    pub dockerfile_shape: DockerfileShape,
    /// `--timeout`, in milliseconds (at least 1).
    pub timeout_ms: u64,
    /// `--wasm-memory`, in MiB.
    pub wasm_memory_mib: usize,
    /// `--rego-memory`, in MiB (0: no budget).
    pub rego_memory_mib: u64,
    /// `--wasm-cache`.
    pub wasm_cache: Option<PathBuf>,
    /// `--fail-on`: replaces the other layers' `fail-on`.
    pub fail_on: Option<String>,
    /// `--kind`.
    pub kind: Option<String>,
    /// `--stdin-filename`.
    pub stdin_filename: Option<String>,
    /// `--max-file-size`, in bytes.
    pub max_file_size: u64,
    /// `-j/--threads` (0: one per core).
    pub threads: usize,
    /// `--combine`: every user package receives the whole run at once.
    pub combine: bool,
    /// `--follow-outside-symlinks`: follow links met while walking that leave the root.
    pub follow_outside_symlinks: bool,
    /// `--strict`: OPA's compiler strict mode, and builtin errors are rule errors.
    pub strict: bool,
    /// `--show-builtin-errors`: Rego builtin errors are rule errors.
    pub show_builtin_errors: bool,
    /// `--shard K/N`: evaluate and report only this shard of the inputs
    /// ([`crate::eval::shard`]).
    pub shard: Option<crate::eval::shard::Shard>,
}

impl Default for Flags {
    /// The command line's defaults (no flag given).
    fn default() -> Self {
        Flags {
            policies: Vec::new(),
            no_builtin: false,
            data: Vec::new(),
            pss: None,
            namespaces: Vec::new(),
            dockerfile_shape: DockerfileShape::Native,
            timeout_ms: 2000,
            wasm_memory_mib: 256,
            rego_memory_mib: crate::runtimes::rego::memory::DEFAULT_BUDGET_BYTES >> 20,
            wasm_cache: None,
            fail_on: None,
            kind: None,
            stdin_filename: None,
            max_file_size: LoadOptions::default().max_file_size,
            threads: 0,
            combine: false,
            follow_outside_symlinks: false,
            strict: false,
            show_builtin_errors: false,
            shard: None,
        }
    }
}

/// Every layer a front end read, before they are merged.
#[derive(Debug, Clone, Default)]
pub struct Layers {
    /// Where relative paths start and where the configuration file is looked for: the
    /// current directory (command line) or the workspace root (editor).
    pub root: PathBuf,
    /// Which configuration file.
    pub config: ConfigSource,
    /// Whether the configuration's and the editor's paths are made absolute against
    /// [`root`](Self::root) (an editor starts the server in an arbitrary directory), or
    /// kept as written, relative to the current directory (the command line, whose
    /// reports name files as the user typed them).
    pub absolute_paths: bool,
    /// The editor layer, if any.
    pub editor: Option<EditorOptions>,
    /// The command-line layer (its defaults when there is no command line).
    pub flags: Flags,
    /// Running without any policy (`--no-builtin` and no policy path) is an error
    /// (`policy eval`, `policy watch`): there would be nothing to check with.
    pub require_policies: bool,
}

/// A layer's value that cannot be used. The messages name the flag or option, as the
/// user wrote it.
#[derive(Debug, Error)]
pub enum ResolveError {
    /// The configuration file cannot be read or is invalid (strict resolution).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The configuration file cannot be read or is invalid (lenient resolution: it is
    /// left out).
    #[error("{0} (the configuration file is ignored)")]
    ConfigIgnored(ConfigError),
    /// `--fail-on` names no severity.
    #[error("unknown --fail-on {0:?}: use critical, high, medium, low or info")]
    FailOnFlag(String),
    /// `initializationOptions.failOn` names no severity.
    #[error("initializationOptions.failOn: unknown severity {0:?} (use critical, high, medium, low or info)")]
    FailOnOption(String),
    /// A `--namespace` glob does not parse.
    #[error("invalid --namespace glob {glob:?}")]
    Namespace {
        /// The glob.
        glob: String,
        /// Why.
        #[source]
        source: globset::Error,
    },
    /// `--timeout 0`.
    #[error("--timeout must be at least 1 millisecond")]
    Timeout,
    /// `--pss` is invalid.
    #[error("invalid --pss {value:?} (use LEVEL[@VERSION], e.g. restricted or baseline@v1.24)")]
    PssFlag {
        /// The value.
        value: String,
        /// Why.
        #[source]
        source: PssError,
    },
    /// The editor's `pss` is invalid.
    #[error("pss: invalid value {value:?}: {error} (use LEVEL[@VERSION], e.g. restricted or baseline@v1.24)")]
    PssOption {
        /// The value.
        value: String,
        /// Why.
        error: PssError,
    },
    /// `--wasm-memory` overflows.
    #[error("--wasm-memory is too large")]
    WasmMemory,
    /// `--no-builtin` without any policy path, where policies are required.
    #[error("no policies to run: --no-builtin needs at least one -p/--policy PATH")]
    NoPolicies,
    /// The editor's `noBuiltin` without any policy path.
    #[error(
        "initializationOptions.noBuiltin is set but no policyPaths are given: no rule will run"
    )]
    NoPoliciesOption,
    /// `--kind` names no input kind.
    #[error("unknown --kind {0:?}: use {names}", names = DocumentKind::names())]
    Kind(String),
}

/// The merged, validated settings a [`crate::session::Session`] checks with.
#[derive(Debug, Clone)]
pub struct ResolvedSettings {
    /// Where relative paths start; the directory input paths in reports are relative to
    /// (passed to [`super::apply`] and the `exclude` filter).
    pub root: PathBuf,
    /// The configuration file in effect, if any.
    pub config: Option<Config>,
    /// The configuration file's path (as found, absolute with
    /// [`Layers::absolute_paths`]), even when it failed to load (lenient resolution), so
    /// that a watcher can notice it being fixed.
    pub config_file: Option<PathBuf>,
    /// What to load.
    pub policy: PolicyOptions,
    /// The failure threshold: findings below it do not fail a run.
    pub fail_on: Severity,
    /// How inputs are found and loaded (the configuration's `exclude` included).
    pub discover: DiscoverOptions,
    /// Worker threads of a run (0: one per core).
    pub threads: usize,
    /// `--trace`: explain each Rego entry rule's outcome ([`crate::diagnostics::Report::traces`]).
    pub trace: bool,
    /// `--shard K/N` ([`crate::eval::shard`]): input paths are hashed relative to
    /// [`root`](Self::root).
    pub shard: Option<crate::eval::shard::Shard>,
    /// The layers these settings were resolved from (to resolve again after the
    /// configuration file changed).
    pub layers: Layers,
}

impl ResolvedSettings {
    /// Whether the configuration's `exclude` leaves out the input `path` (as it would be
    /// reported: relative to [`root`](Self::root), or absolute).
    pub fn is_excluded(&self, path: &str) -> bool {
        self.config
            .as_ref()
            .is_some_and(|c| c.is_excluded(&self.root, path))
    }

    /// Whether a change to `path` may change the policy set: a `.rego` or `.wasm` file
    /// under a policy path, a JSON or YAML file under a data path, or the configuration
    /// file (the one in effect, or a `.policy.yaml` appearing in the root).
    pub fn affects_policies(&self, path: &Path) -> bool {
        if self.is_config_file(path) {
            return true;
        }
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        // Compared as given, then resolved (an editor may report `/private/tmp/x` for a
        // policy path configured as `/tmp/x`).
        let real = std::fs::canonicalize(path).ok();
        let under = |roots: &[PathBuf]| {
            roots.iter().any(|r| {
                let r = normalize(&self.root, r);
                path.starts_with(&r)
                    || real
                        .as_ref()
                        .is_some_and(|p| std::fs::canonicalize(&r).is_ok_and(|r| p.starts_with(r)))
            })
        };
        let ext = ext.as_str();
        if POLICY_EXTENSIONS.contains(&ext) {
            under(&self.policy.paths)
        } else if DATA_EXTENSIONS.contains(&ext) {
            under(&self.policy.data)
        } else {
            false
        }
    }

    /// Whether `path` is the configuration file in effect, or a `.policy.yaml` in the
    /// root (one that appears where none was).
    pub fn is_config_file(&self, path: &Path) -> bool {
        self.config_file
            .as_deref()
            .is_some_and(|f| normalize(&self.root, f) == path)
            || path.file_name().is_some_and(|n| n == super::FILE_NAME)
                && path.parent() == Some(self.root.as_path())
    }
}

impl Layers {
    /// Merges and validates the layers; the first bad value is the error (command-line
    /// semantics: nothing runs with settings the user did not mean).
    pub fn resolve(self) -> Result<ResolvedSettings, ResolveError> {
        let (settings, mut problems) = self.merge(true);
        match problems.is_empty() {
            true => Ok(settings),
            false => Err(problems.remove(0)),
        }
    }

    /// Merges the layers, leaving out each bad value (a configuration file that does not
    /// load is ignored as a whole) and returning every problem, in layer order (editor
    /// semantics: the server carries on with what is valid).
    pub fn resolve_lenient(self) -> (ResolvedSettings, Vec<ResolveError>) {
        self.merge(false)
    }

    fn merge(self, strict: bool) -> (ResolvedSettings, Vec<ResolveError>) {
        let mut problems = Vec::new();
        let root = self.root.clone();
        // `oci://` policy bundles are references, not paths: kept as written.
        let abs = |p: &Path| match self.absolute_paths && !p.starts_with("oci:") {
            true => normalize(&root, p),
            false => p.to_path_buf(),
        };
        // The configuration file.
        let config_file = match &self.config {
            ConfigSource::None => None,
            ConfigSource::File(f) => Some(abs(f)),
            ConfigSource::Discover => super::discover(&root).map(|f| abs(&f)),
            ConfigSource::Loaded(c) => Some(c.file.clone()),
        };
        let config = match (&self.config, &config_file) {
            (ConfigSource::Loaded(c), _) => Some((**c).clone()),
            (_, None) => None,
            (_, Some(f)) => match super::load(&root, f) {
                Ok(c) => Some(c),
                Err(e) if strict => {
                    problems.push(ResolveError::Config(e));
                    return (self.empty(config_file), problems);
                }
                Err(e) => {
                    problems.push(ResolveError::ConfigIgnored(e));
                    None
                }
            },
        };
        let flags = &self.flags;
        let editor = self.editor.as_ref();

        // Paths: configuration, then editor, then flags.
        let mut paths: Vec<PathBuf> = Vec::new();
        let mut data: Vec<PathBuf> = Vec::new();
        if let Some(c) = &config {
            paths.extend(c.policies.iter().map(|p| abs(p)));
            data.extend(c.data.iter().map(|p| abs(p)));
        }
        if let Some(e) = editor {
            paths.extend(e.policy_paths.0.iter().map(|p| abs(Path::new(p))));
            data.extend(e.data.0.iter().map(|p| abs(Path::new(p))));
        }
        paths.extend(flags.policies.iter().cloned());
        data.extend(flags.data.iter().cloned());

        // The failure threshold: flags over editor over configuration.
        let mut fail_on = config.as_ref().and_then(|c| c.fail_on);
        if let Some(s) = editor.and_then(|e| e.fail_on.as_ref()) {
            match Severity::parse(s) {
                Some(sev) => fail_on = Some(sev),
                None => problems.push(ResolveError::FailOnOption(s.clone())),
            }
        }
        if let Some(s) = &flags.fail_on {
            match Severity::parse(s) {
                Some(sev) => fail_on = Some(sev),
                None => problems.push(ResolveError::FailOnFlag(s.clone())),
            }
        }

        let mut namespaces = Vec::new();
        for ns in &flags.namespaces {
            match globset::Glob::new(ns) {
                Ok(g) => namespaces.push(g.compile_matcher()),
                Err(source) => problems.push(ResolveError::Namespace {
                    glob: ns.clone(),
                    source,
                }),
            }
        }
        let timeout_ms = match flags.timeout_ms {
            0 => {
                problems.push(ResolveError::Timeout);
                Flags::default().timeout_ms
            }
            ms => ms,
        };

        // `data.pss`: flags over editor over configuration (validated when it loaded).
        let mut extra_data = Vec::new();
        let pss_value = match (&flags.pss, editor.and_then(|e| e.pss.as_ref())) {
            (Some(flag), _) => Some((flag, true)),
            (None, Some(opt)) => Some((opt, false)),
            (None, None) => config
                .as_ref()
                .and_then(|c| c.pss.as_ref())
                .map(|p| (p, true)),
        };
        if let Some((value, from_flag)) = pss_value {
            match pss::parse_flag(value) {
                Ok(v) => extra_data.push(v),
                Err(error) if from_flag => problems.push(ResolveError::PssFlag {
                    value: value.clone(),
                    source: error,
                }),
                Err(error) => problems.push(ResolveError::PssOption {
                    value: value.clone(),
                    error,
                }),
            }
        }
        if let Some(settings) = config.as_ref().and_then(|c| c.settings.clone()) {
            extra_data.push(serde_json::json!({ "settings": settings }));
        }
        let memory_bytes = match flags.wasm_memory_mib.checked_mul(1 << 20) {
            Some(b) => b,
            None => {
                problems.push(ResolveError::WasmMemory);
                WasmLimits::default().memory_bytes
            }
        };
        let builtin = !(flags.no_builtin || editor.is_some_and(|e| e.no_builtin));
        if !builtin && paths.is_empty() {
            if self.require_policies {
                problems.push(ResolveError::NoPolicies);
            } else if editor.is_some_and(|e| e.no_builtin) {
                problems.push(ResolveError::NoPoliciesOption);
            }
        }
        let kind = match &flags.kind {
            Some(k) => match DocumentKind::parse(k) {
                Some(kind) => Some(kind),
                None => {
                    problems.push(ResolveError::Kind(k.clone()));
                    None
                }
            },
            None => None,
        };
        let exclude = config.as_ref().and_then(|c| c.exclude_filter(&root));
        let timeout = Duration::from_millis(timeout_ms);
        let policy = PolicyOptions {
            paths,
            builtin,
            data,
            extra_data,
            rego: RegoOptions {
                timeout,
                memory: match flags.rego_memory_mib {
                    0 => None,
                    // Saturates: a budget past the address space is no budget.
                    mib => Some(mib.saturating_mul(1 << 20)),
                },
                namespaces,
                dockerfile_shape: flags.dockerfile_shape,
                strict: flags.strict || flags.show_builtin_errors,
                strict_compile: flags.strict,
                ..RegoOptions::default()
            },
            wasm: WasmLimits {
                deadline: timeout,
                memory_bytes,
                ..WasmLimits::default()
            },
            wasm_cache: flags.wasm_cache.clone(),
            // `rules: {ID: off}`: not evaluated at all (`config::apply` drops the rest).
            disabled_rules: config
                .as_ref()
                .map(Config::disabled_rules)
                .unwrap_or_default(),
            input_kinds: None,
            compile_ahead: false,
            combine: flags.combine,
        };
        let discover = DiscoverOptions {
            stdin_filename: flags.stdin_filename.clone(),
            load: LoadOptions {
                kind,
                max_file_size: flags.max_file_size,
                ..LoadOptions::default()
            },
            exclude,
            follow_outside_symlinks: flags.follow_outside_symlinks,
        };
        let settings = ResolvedSettings {
            root,
            config,
            config_file,
            policy,
            fail_on: fail_on.unwrap_or(Severity::Low),
            discover,
            threads: flags.threads,
            trace: false,
            shard: flags.shard,
            layers: self,
        };
        (settings, problems)
    }

    /// Settings with nothing resolved (after a fatal problem in strict mode).
    fn empty(self, config_file: Option<PathBuf>) -> ResolvedSettings {
        ResolvedSettings {
            root: self.root.clone(),
            config: None,
            config_file,
            policy: PolicyOptions::default(),
            fail_on: Severity::Low,
            discover: DiscoverOptions::default(),
            threads: self.flags.threads,
            trace: false,
            shard: self.flags.shard,
            layers: self,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layers(root: &Path) -> Layers {
        Layers {
            root: root.to_path_buf(),
            ..Layers::default()
        }
    }

    #[test]
    fn flags_override_the_editor_which_overrides_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::write(
            root.join(".policy.yaml"),
            "policies: [team]\ndata: [d.yaml]\nfail-on: medium\npss: baseline\n",
        )
        .expect("write");
        let editor = EditorOptions {
            policy_paths: OneOrMany(vec!["mine".into()]),
            fail_on: Some("high".into()),
            pss: Some("restricted".into()),
            ..EditorOptions::default()
        };
        let s = Layers {
            absolute_paths: true,
            editor: Some(editor.clone()),
            flags: Flags {
                policies: vec![PathBuf::from("cli")],
                fail_on: Some("critical".into()),
                ..Flags::default()
            },
            ..layers(root)
        }
        .resolve()
        .expect("valid");
        assert_eq!(
            s.policy.paths,
            [root.join("team"), root.join("mine"), PathBuf::from("cli")]
        );
        assert_eq!(s.policy.data, [root.join("d.yaml")]);
        assert_eq!(s.fail_on, Severity::Critical);
        assert_eq!(
            s.policy.extra_data,
            [serde_json::json!({"pss": {"level": "restricted", "version": "latest"}})]
        );

        // Without the flags, the editor's threshold wins over the file's.
        let s = Layers {
            absolute_paths: true,
            editor: Some(editor),
            ..layers(root)
        }
        .resolve()
        .expect("valid");
        assert_eq!(s.fail_on, Severity::High);
        // Without either, the file's.
        let s = layers(root).resolve().expect("valid");
        assert_eq!(s.fail_on, Severity::Medium);
        assert_eq!(s.policy.paths, [PathBuf::from("team")], "kept as written");
    }

    #[test]
    fn strict_resolution_stops_at_the_first_bad_value_and_lenient_skips_each() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bad = Layers {
            config: ConfigSource::None,
            flags: Flags {
                fail_on: Some("urgent".into()),
                timeout_ms: 0,
                kind: Some("helm".into()),
                ..Flags::default()
            },
            ..layers(dir.path())
        };
        let err = bad.clone().resolve().expect_err("invalid");
        assert_eq!(
            err.to_string(),
            "unknown --fail-on \"urgent\": use critical, high, medium, low or info"
        );
        let (s, problems) = bad.resolve_lenient();
        let texts: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(texts.len(), 3, "{texts:?}");
        assert!(texts[1].contains("--timeout"));
        assert!(texts[2].contains("--kind \"helm\""));
        assert_eq!(s.fail_on, Severity::Low);
        assert_eq!(s.discover.load.kind, None);
    }

    #[test]
    fn policies_can_be_required() {
        let dir = tempfile::tempdir().expect("tempdir");
        let none = Layers {
            config: ConfigSource::None,
            flags: Flags {
                no_builtin: true,
                ..Flags::default()
            },
            ..layers(dir.path())
        };
        assert!(none.clone().resolve().is_ok());
        let err = Layers {
            require_policies: true,
            ..none
        }
        .resolve()
        .expect_err("nothing to run");
        assert!(matches!(err, ResolveError::NoPolicies));
    }
}
