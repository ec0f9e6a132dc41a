//! Loading a policy set: built-in policies, user policy paths (`*.rego`, `*.wasm`) and
//! data files (JSON or YAML, merged into `data`).
//!
//! Loading never aborts: a policy that does not parse or compile, or a data file that is
//! malformed, becomes an [`ErrorRecord`] naming its file, line and column, and the rest
//! of the set still loads.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diagnostics::{ErrorKind, ErrorRecord};
use crate::inputs::DocumentKind;
use crate::rules::RuleMeta;
use crate::runtimes::rego::{RegoOptions, RegoPolicySet, RegoSource};
use crate::runtimes::wasm::{WasmHost, WasmLimits, WasmPolicy};
use crate::runtimes::CompiledPolicy;

include!(concat!(env!("OUT_DIR"), "/builtin_policies.rs"));
include!(concat!(env!("OUT_DIR"), "/builtin_wasm_kinds.rs"));

/// Extensions of the policy files found under a policy directory.
pub use crate::rules::POLICY_EXTENSIONS;

/// Extensions of the data files found under a data directory.
pub const DATA_EXTENSIONS: &[&str] = &["json", "yaml", "yml"];

/// What to load.
#[derive(Debug, Clone, Default)]
pub struct PolicyOptions {
    /// Policy files or directories (`-p/--policy`).
    pub paths: Vec<PathBuf>,
    /// Include the built-in policies.
    pub builtin: bool,
    /// Data files or directories (`-d/--data`).
    pub data: Vec<PathBuf>,
    /// Data given inline (`--pss` adds `{"pss": {...}}`), merged over the files' data.
    pub extra_data: Vec<serde_json::Value>,
    /// Rego runtime options.
    pub rego: RegoOptions,
    /// WASM guest limits.
    pub wasm: WasmLimits,
    /// Where precompiled WASM modules are cached (default: the user cache directory).
    pub wasm_cache: Option<PathBuf>,
    /// Rule IDs to leave out of the set (ASCII case-insensitive): what `rules: {ID: off}`
    /// in `.policy.yaml` turns off. A disabled rule is loaded (its metadata is in
    /// [`PolicySet::disabled`]) but never evaluated, so it costs no time and its errors
    /// and timeouts cannot fail a run. A Rego entry rule is dropped before evaluation
    /// plans are made; a WASM module still runs while any of its rules is on (its results
    /// for disabled rules are dropped), and not at all once every rule it declares is off.
    /// These IDs are added to [`RegoOptions::disabled_rules`].
    pub disabled_rules: Vec<String>,
    /// The document kinds that will be evaluated, when known in advance (`policy eval`).
    /// A built-in WASM module whose declared kinds ([`builtin_wasm_kinds`]) are all absent
    /// is then not loaded at all: compiling it would only slow down the run. `None` loads
    /// every module (the rule catalog, the editor loop and tests need them all).
    pub input_kinds: Option<Vec<DocumentKind>>,
    /// Compile the Rego engines of [`PolicyOptions::input_kinds`] on threads of their
    /// own as soon as the set is loaded, so that the compile overlaps the rest of the
    /// start-up ([`RegoPolicySet::compile_ahead`]). For a small run (`policy eval` of a
    /// few files, where start-up is most of the time). Not for a large one: one more
    /// allocating thread changes which threads glibc's capped malloc arenas pair up, and
    /// two workers sharing an arena made a 2,000-Deployment run 2x slower.
    pub compile_ahead: bool,
    /// conftest's `--combine`: every package of the user's policies (not the built-in
    /// ones) receives the whole run as one input, `[{path, contents}]`, as if each
    /// declared `custom.input: combined` (see [`crate::eval::combine`]).
    pub combine: bool,
}

/// The document kinds a built-in WASM module declares (in its guest crate's
/// `[package.metadata.policy] kinds`), or `None` when it declares none.
pub fn builtin_wasm_kinds(path: &str) -> Option<Vec<DocumentKind>> {
    BUILTIN_WASM_KINDS
        .iter()
        .find(|(p, _, _)| *p == path)
        .map(|(_, kinds, _)| {
            kinds
                .iter()
                .filter_map(|k| DocumentKind::parse(k))
                .collect()
        })
}

/// The rule IDs a built-in WASM module declares (its guest crate's
/// `[package.metadata.policy] rules`; empty when it declares none). They are known
/// without compiling the module, so a configuration naming one is no typo even in a run
/// that leaves the module out.
pub fn builtin_wasm_rule_ids(path: &str) -> &'static [&'static str] {
    BUILTIN_WASM_KINDS
        .iter()
        .find(|(p, _, _)| *p == path)
        .map_or(&[], |(_, _, rules)| rules)
}

/// Whether the built-in module at `path` can matter for inputs of `kinds`.
fn builtin_wasm_needed(path: &str, kinds: Option<&[DocumentKind]>) -> bool {
    match (kinds, builtin_wasm_kinds(path)) {
        (Some(inputs), Some(declared)) => declared.iter().any(|k| inputs.contains(k)),
        _ => true,
    }
}

/// A loaded, compiled policy set. Cheap to share behind an `Arc`.
#[derive(Debug, Clone)]
pub struct PolicySet {
    /// The Rego policies.
    pub rego: RegoPolicySet,
    /// The compiled policies of every other runtime (WASM modules), each evaluating one
    /// document at a time: the runtime seam ([`CompiledPolicy`]).
    pub modules: Vec<Arc<dyn CompiledPolicy>>,
    /// All data files merged: what Rego sees as `data`, and where WASM policies find
    /// their settings (`data.settings.<policy name>`).
    pub data: serde_json::Value,
    /// Load errors of every kind.
    pub errors: Vec<ErrorRecord>,
    /// Notes from loading that change no outcome (a discarded WASM compile cache entry).
    pub warnings: Vec<crate::diagnostics::Warning>,
    /// The rules [`PolicyOptions::disabled_rules`] turned off that were loaded, sorted by
    /// ID: not evaluated, not in [`PolicySet::rules`].
    pub disabled: Vec<Arc<RuleMeta>>,
    /// IDs of built-in rules left out of this set because no input has their kind
    /// ([`PolicyOptions::input_kinds`]). Known, like [`PolicySet::disabled`], so naming one
    /// in `.policy.yaml` is no typo.
    pub unloaded: Vec<String>,
    /// Whether a loaded Rego file reads `data.inventory`: then [`crate::eval::evaluate`]
    /// builds the run's inventory ([`crate::eval::inventory`]) before evaluating.
    pub uses_inventory: bool,
    /// Whether every Rego file of the set (the Pod Security rules held back included)
    /// reads nothing of `data.inventory` but its Namespaces
    /// ([`super::inventory::reads_only_namespaces`]): then the run-wide step needs only
    /// the run's Namespace objects ([`super::cluster::prepare_view`]), and a run can be
    /// streamed ([`super::stream`]).
    pub inventory_namespaces_only: bool,
    /// Rego packages that receive the whole run as one input (`custom.input: combined`
    /// in their package METADATA, or every user package with `--combine`), sorted.
    pub combined: Vec<String>,
    /// What recompiling this set with the built-in Pod Security rules takes, kept when
    /// they were left out (no `data.pss`): a run whose Namespaces carry Pod Security
    /// Admission labels loads them after all ([`crate::eval::cluster`]).
    pub(crate) pss_deferred: Option<Arc<PssDeferred>>,
    /// How many policy files (`.rego`, `.wasm`) were found under [`PolicyOptions::paths`].
    pub user_files: usize,
    /// The packages that users' Rego files declare (of the files whose package can be
    /// read; the others are not loaded), sorted: what [`super::slim::covers`] checks.
    pub user_packages: Vec<String>,
}

/// The inputs of [`RegoPolicySet::compile`] for a set without the PSS rules, plus those
/// rules.
#[derive(Debug)]
pub(crate) struct PssDeferred {
    pub(crate) sources: Vec<RegoSource>,
    pub(crate) data: Vec<serde_json::Value>,
    pub(crate) options: RegoOptions,
}

/// Deep-merges `from` into `into` (objects merge key by key; anything else replaces).
fn merge(into: &mut serde_json::Value, from: serde_json::Value) {
    match (into, from) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

fn policy_error(file: &Path, line: u32, column: u32, message: impl Into<String>) -> ErrorRecord {
    ErrorRecord {
        kind: ErrorKind::PolicyError,
        file: file.display().to_string(),
        line,
        column,
        rule: None,
        input: None,
        message: message.into(),
    }
}

/// Files under `path` with one of `exts`, sorted; a file given directly is taken as is.
pub(crate) fn files_with(
    path: &Path,
    exts: &[&str],
    errors: &mut Vec<ErrorRecord>,
) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    if !path.exists() {
        errors.push(policy_error(path, 1, 1, "no such file or directory"));
        return Vec::new();
    }
    let mut out = Vec::new();
    for entry in ignore::WalkBuilder::new(path)
        .hidden(false)
        .require_git(false)
        // A ConfigMap or Secret volume keeps each version of its files in a `..TIMESTAMP`
        // directory behind a `..data` symlink; the visible names are symlinks into it.
        // Walking those directories too would load every policy twice.
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with(".."))
        .build()
    {
        match entry {
            Ok(e) => {
                let p = e.path();
                if p.is_file()
                    && p.extension()
                        .and_then(|e| e.to_str())
                        .is_some_and(|e| exts.contains(&e))
                {
                    out.push(p.to_path_buf());
                }
            }
            Err(e) => errors.push(policy_error(
                path,
                1,
                1,
                format!("cannot walk directory: {e}"),
            )),
        }
    }
    out.sort();
    out
}

/// The largest data file (`-d`) that is read. Parsed data costs about 60 times its size
/// in memory (serde and regorus values both), so a 50 MB file alone passed 3 GiB; 4 MiB
/// keeps it near 250 MiB. Real data files (allow lists, exceptions) are a few KiB.
pub const MAX_DATA_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Reads one data file (JSON or YAML) into a JSON value.
pub fn read_data_file(path: &Path) -> Result<serde_json::Value, ErrorRecord> {
    let cannot =
        |e: std::io::Error| policy_error(path, 1, 1, format!("cannot read data file: {e}"));
    let file = std::fs::File::open(path).map_err(cannot)?;
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut std::io::Read::take(file, MAX_DATA_FILE_BYTES + 1),
        &mut text,
    )
    .map_err(cannot)?;
    if text.len() as u64 > MAX_DATA_FILE_BYTES {
        return Err(policy_error(
            path,
            1,
            1,
            format!(
                "data file is larger than the {} MiB limit; split it or keep only what the \
                 policies read",
                MAX_DATA_FILE_BYTES >> 20
            ),
        ));
    }
    let is_json = path.extension().is_some_and(|e| e == "json");
    if is_json {
        serde_json::from_str(&text).map_err(|e| {
            policy_error(
                path,
                e.line() as u32,
                e.column() as u32,
                format!("invalid JSON data: {e}"),
            )
        })
    } else {
        yaml_serde::from_str::<serde_json::Value>(&text).map_err(|e| {
            let (l, c) = e
                .location()
                .map(|l| (l.line() as u32, l.column() as u32))
                .unwrap_or((1, 1));
            policy_error(path, l, c, format!("invalid YAML data: {e}"))
        })
    }
}

impl PolicySet {
    /// Loads and compiles everything `opts` names.
    pub fn load(opts: &PolicyOptions) -> PolicySet {
        let mut errors = Vec::new();
        let mut unloaded = Vec::new();
        let mut rego_sources = Vec::new();
        let mut wasm_modules: Vec<(PathBuf, Vec<u8>, bool)> = Vec::new();
        if opts.builtin {
            for (path, bytes) in BUILTIN_POLICIES {
                if path.ends_with(".rego") {
                    rego_sources.push(RegoSource {
                        path: (*path).to_string(),
                        text: String::from_utf8_lossy(bytes).into_owned(),
                        builtin: true,
                    });
                } else if path.ends_with(".wasm") {
                    if builtin_wasm_needed(path, opts.input_kinds.as_deref()) {
                        wasm_modules.push((PathBuf::from(path), bytes.to_vec(), true));
                    } else {
                        unloaded
                            .extend(builtin_wasm_rule_ids(path).iter().map(|id| id.to_string()));
                    }
                }
            }
        }
        let mut user_files = 0;
        for root in &opts.paths {
            for file in files_with(root, POLICY_EXTENSIONS, &mut errors) {
                user_files += 1;
                if file.extension().is_some_and(|e| e == "rego") {
                    match std::fs::read_to_string(&file) {
                        Ok(text) => rego_sources.push(RegoSource {
                            path: file.display().to_string(),
                            text,
                            builtin: false,
                        }),
                        Err(e) => errors.push(policy_error(
                            &file,
                            1,
                            1,
                            format!("cannot read policy: {e}"),
                        )),
                    }
                } else {
                    match std::fs::read(&file) {
                        Ok(bytes) => wasm_modules.push((file.clone(), bytes, false)),
                        Err(e) => errors.push(policy_error(
                            &file,
                            1,
                            1,
                            format!("cannot read policy: {e}"),
                        )),
                    }
                }
            }
        }
        let mut data = Vec::new();
        for root in &opts.data {
            for file in files_with(root, DATA_EXTENSIONS, &mut errors) {
                match read_data_file(&file) {
                    Ok(v) => data.push(v),
                    Err(e) => errors.push(e),
                }
            }
        }
        if !opts.extra_data.is_empty() {
            // Inline data wins over the files' data: hand Rego one merged value.
            let mut all = serde_json::Value::Object(serde_json::Map::new());
            for d in data.drain(..).chain(opts.extra_data.iter().cloned()) {
                merge(&mut all, d);
            }
            data.push(all);
        }
        let mut merged = serde_json::Value::Object(serde_json::Map::new());
        for d in &data {
            merge(&mut merged, d.clone());
        }
        // The Pod Security Standards rules are opt-in: loaded only with a valid `data.pss`.
        let pss_on = super::pss::requested(&merged).unwrap_or_else(|e| {
            errors.push(policy_error(Path::new("<data>"), 1, 1, e.to_string()));
            false
        });
        let mut rego_opts = opts.rego.clone();
        rego_opts.combine |= opts.combine;
        rego_opts
            .disabled_rules
            .extend(opts.disabled_rules.iter().cloned());
        let pss_deferred = (!pss_on).then(|| {
            Arc::new(PssDeferred {
                sources: rego_sources.clone(),
                data: data.clone(),
                options: rego_opts.clone(),
            })
        });
        let inventory_namespaces_only = rego_sources
            .iter()
            .all(|s| super::inventory::reads_only_namespaces(&s.text));
        if !pss_on {
            rego_sources.retain(|s| !(s.builtin && super::pss::is_pss_policy(&s.path)));
        }
        let mut user_packages: Vec<String> = (rego_sources.iter())
            .filter(|s| !s.builtin)
            .filter_map(|s| crate::rules::metadata::scan(&s.text).ok()?.package)
            .collect();
        user_packages.sort();
        user_packages.dedup();
        let uses_inventory = rego_sources
            .iter()
            .any(|s| super::inventory::references_inventory(&s.text));
        let rego = RegoPolicySet::compile(&rego_sources, &data, &rego_opts);
        if let (Some(kinds), true) = (&opts.input_kinds, opts.compile_ahead) {
            // A small one-shot run knows its kinds: their engines compile while the
            // WASM modules load and the workers start.
            rego.compile_ahead(kinds);
        }
        let combined = rego
            .packages
            .iter()
            .filter(|p| p.combined)
            .map(|p| p.name.clone())
            .collect();
        errors.extend(rego.errors.iter().cloned());
        let mut warnings = Vec::new();
        let mut modules: Vec<Box<dyn CompiledPolicy>> =
            load_wasm(&wasm_modules, opts, &mut errors, &mut warnings)
                .into_iter()
                .map(|p| Box::new(p) as Box<dyn CompiledPolicy>)
                .collect();
        let mut disabled = rego.disabled.clone();
        if !opts.disabled_rules.is_empty() {
            for policy in &mut modules {
                disabled.extend(policy.disable_rules(&|r| r.is_one_of(&opts.disabled_rules)));
            }
            // A module with no rule left on is never instantiated.
            modules.retain(|p| !p.rules().is_empty());
        }
        disabled.sort_by(|a, b| a.id.cmp(&b.id));
        disabled.dedup_by(|a, b| a.id == b.id);
        PolicySet {
            rego,
            modules: modules.into_iter().map(Arc::from).collect(),
            data: merged,
            errors,
            warnings,
            disabled,
            unloaded,
            uses_inventory,
            inventory_namespaces_only,
            combined,
            pss_deferred,
            user_files,
            user_packages,
        }
    }

    /// Every loaded rule that is on, sorted by ID (rules turned off are in
    /// [`PolicySet::disabled`]).
    pub fn rules(&self) -> Vec<Arc<RuleMeta>> {
        let mut rules: Vec<_> = self
            .rego
            .rules()
            .chain(self.modules.iter().flat_map(|m| m.rules().iter()))
            .cloned()
            .collect();
        rules.sort_by(|a, b| a.id.cmp(&b.id));
        rules.dedup_by(|a, b| a.id == b.id);
        rules
    }
}

/// Compiles WASM modules (only when there are any: the engine and its ticker thread cost
/// nothing otherwise). A module that fails to load is an error record; the rest load.
fn load_wasm(
    modules: &[(PathBuf, Vec<u8>, bool)],
    opts: &PolicyOptions,
    errors: &mut Vec<ErrorRecord>,
    warnings: &mut Vec<crate::diagnostics::Warning>,
) -> Vec<WasmPolicy> {
    if modules.is_empty() {
        return Vec::new();
    }
    let host = match WasmHost::new(opts.wasm.clone(), opts.wasm_cache.clone()) {
        Ok(h) => h,
        Err(e) => {
            errors.push(policy_error(
                Path::new("<wasm>"),
                1,
                1,
                format!("cannot start the WASM runtime: {e}"),
            ));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (path, bytes, builtin) in modules {
        match host.load(path, bytes, *builtin) {
            Ok(p) => {
                if let Some(w) = p.cache_warning() {
                    warnings.push(crate::diagnostics::Warning {
                        file: path.display().to_string(),
                        line: 1,
                        column: 1,
                        message: w.to_string(),
                    });
                }
                out.push(p)
            }
            Err(e) => errors.push(policy_error(path, 1, 1, e.to_string())),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn a_policy_set_can_be_shared_across_threads() {
        // Compiled once, shared behind an Arc by workers (and, later, swapped by hot reload).
        assert_send_sync::<PolicySet>();
        assert_send_sync::<Arc<PolicySet>>();
    }

    #[test]
    fn builtin_wasm_modules_load_only_for_their_kinds() {
        let (path, _) = BUILTIN_POLICIES
            .iter()
            .find(|(p, _)| p.ends_with(".wasm"))
            .expect("a built-in WASM policy");
        assert_eq!(
            builtin_wasm_kinds(path),
            Some(vec![DocumentKind::Dockerfile])
        );
        assert!(builtin_wasm_needed(path, None));
        assert!(builtin_wasm_needed(
            path,
            Some(&[DocumentKind::Kubernetes, DocumentKind::Dockerfile])
        ));
        assert!(!builtin_wasm_needed(
            path,
            Some(&[DocumentKind::Kubernetes])
        ));
        assert!(!builtin_wasm_needed(path, Some(&[])));
        assert!(builtin_wasm_needed("policies/unknown.wasm", Some(&[])));
    }

    #[cfg(unix)]
    #[test]
    fn a_configmap_volume_is_read_once() {
        // The layout the kubelet's atomic writer makes: `..TIMESTAMP/` holds the files,
        // `..data` points at it, and each visible name points into `..data`.
        let dir = tempfile::tempdir().expect("tempdir");
        let version = dir.path().join("..2026_12_03_17_00_00.000000001");
        std::fs::create_dir(&version).expect("mkdir");
        std::fs::write(version.join("a.rego"), "package a\n").expect("write");
        std::os::unix::fs::symlink(&version, dir.path().join("..data")).expect("symlink");
        std::os::unix::fs::symlink(dir.path().join("..data/a.rego"), dir.path().join("a.rego"))
            .expect("symlink");
        let mut errors = Vec::new();
        let files = files_with(dir.path(), POLICY_EXTENSIONS, &mut errors);
        assert_eq!(files, [dir.path().join("a.rego")]);
        assert!(errors.is_empty(), "{errors:?}");
    }

    #[test]
    fn data_files_merge_deeply() {
        let mut into = serde_json::json!({"a": {"x": 1, "y": [1]}, "b": 1});
        merge(
            &mut into,
            serde_json::json!({"a": {"y": [2], "z": 3}, "c": 4}),
        );
        assert_eq!(
            into,
            serde_json::json!({"a": {"x": 1, "y": [2], "z": 3}, "b": 1, "c": 4})
        );
    }

    #[test]
    fn malformed_data_file_reports_line_and_column() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("d.yaml");
        std::fs::write(&p, "a:\n  b: [1, 2\n").expect("write");
        let err = read_data_file(&p).expect_err("invalid");
        assert_eq!(err.kind, ErrorKind::PolicyError);
        assert!(err.line >= 2, "{err:?}");
        assert!(err.message.starts_with("invalid YAML data"), "{err:?}");
    }
}
