//! The Rego runtime, on `regorus`.
//!
//! Policies are parsed and compiled once into a [`RegoPolicySet`]; each worker thread
//! takes its own [`RegoEvaluator`] (a clone of the prepared engine, which is cheap) and
//! evaluates documents with it. Only the entry rules found by scanning the policy text
//! (`deny*`, `violation*`, `warn*`, conftest's conventions) are evaluated, and only for
//! documents whose kind the rule selects.
//!
//! Builtins that reach outside the process (`http.send`, `opa.runtime`) are compiled out
//! of regorus (its `http` and `opa-runtime` features are off). Each evaluation runs under
//! regorus's cooperative execution timer and is timed here as well, so a rule that ran
//! past its limit inside one uninterruptible builtin call is still a timeout; the
//! builtins that can build a huge value in one call are size-checked (`limits.rs`), and
//! a panic inside regorus is contained. A runaway rule becomes a [`RuleFailure`].

pub mod budget;
mod builtins;
mod check;
pub mod conftest;
mod extra_data;
mod limits;
pub mod memory;
mod perkind;
pub mod query;
mod results;
mod rewrite;
mod scopes;
pub mod shell;
mod sizecheck;
mod trace;

pub(crate) use builtins::sprintf;
pub use limits::{MAX_RANGE_ELEMENTS, MAX_STRING_BYTES};
pub(crate) use perkind::data_reads;
pub(crate) use results::collect as entry_results;

use std::fmt::Write as _;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use regorus::utils::limits::ExecutionTimerConfig;

use crate::diagnostics::{ErrorKind, ErrorRecord, Level};
use crate::inputs::DocumentKind;
use crate::rules::metadata::{self, Annotations};
use crate::rules::{RuleMeta, RuleOrigin, RuntimeKind};
use crate::Severity;

use super::{RawResult, RuleFailure};

/// Which JSON shape a package receives for Dockerfiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DockerfileShape {
    /// This project's documented shape (`docs/inputs.md`).
    #[default]
    Native,
    /// conftest's flat command array (`Cmd`, `Flags`, `Value`, ...).
    Conftest,
}

/// A policy file to load.
#[derive(Debug, Clone)]
pub struct RegoSource {
    /// Path for messages (for built-ins, `builtin:policies/...`).
    pub path: String,
    /// The Rego text.
    pub text: String,
    /// Built into the binary.
    pub builtin: bool,
}

/// Options of the Rego runtime.
#[derive(Debug, Clone)]
pub struct RegoOptions {
    /// Wall-time limit of one rule evaluation.
    pub timeout: Duration,
    /// Memory budget of one rule evaluation, in bytes (`--rego-memory`); `None`: none.
    /// Enforced when the process's allocator is [`memory::Accounting`].
    pub memory: Option<u64>,
    /// Package globs to evaluate; empty means every package.
    pub namespaces: Vec<globset::GlobMatcher>,
    /// The Dockerfile input shape for packages that do not declare one.
    pub dockerfile_shape: DockerfileShape,
    /// How many interpreter steps regorus runs between two looks at the clock.
    pub check_interval: NonZeroU32,
    /// Evaluate all applicable entry rules of a document in one regorus call (with a
    /// rule-by-rule fallback when that call fails); `false` evaluates rule by rule only.
    /// Results are the same either way; this switch exists to measure the difference.
    pub batch: bool,
    /// Rule IDs (ASCII case-insensitive) whose entry rules are left out of the set: they
    /// are never evaluated, alone or in a batch, and are listed in
    /// [`RegoPolicySet::disabled`] instead. A package whose entry rules are all disabled
    /// is not evaluated at all (not even its `exception` rules).
    pub disabled_rules: Vec<String>,
    /// conftest's `--combine`: every package of a user's file (not built in) is a
    /// combined package ([`RegoPackage::combined`]).
    pub combine: bool,
    /// Builtin errors (`to_number("x")`, `1/0`) are rule errors (`--strict`, as
    /// `opa eval --strict-builtin-errors`); by default they leave the expression
    /// undefined, as in conftest and `opa eval`.
    pub strict: bool,
    /// OPA's compiler strict mode (`--strict`, as `conftest --strict` and `opa check
    /// --strict`): a file with an unused assigned or declared variable, an unused
    /// function argument, an import that shadows another or a deprecated builtin is
    /// refused at load (POL003), with OPA's message.
    pub strict_compile: bool,
    /// Compile a set of built-in files only per document kind, on first use, each
    /// kind's rule packages with the libraries they read in an engine of their own
    /// (`perkind.rs`): a run compiles only the kinds it has, and each evaluation looks
    /// through fewer modules. Results are the same either way; `false` compiles the
    /// whole set into one engine at once. A set with users' files is compiled whole at
    /// load and, when that is safe, per kind on first use too (`perkind.rs`).
    pub per_kind: bool,
}

impl Default for RegoOptions {
    fn default() -> Self {
        RegoOptions {
            timeout: Duration::from_secs(2),
            memory: Some(memory::DEFAULT_BUDGET_BYTES),
            namespaces: Vec::new(),
            dockerfile_shape: DockerfileShape::Native,
            check_interval: DEFAULT_CHECK_INTERVAL,
            batch: true,
            disabled_rules: Vec::new(),
            combine: false,
            strict: false,
            strict_compile: false,
            per_kind: true,
        }
    }
}

/// Default of [`RegoOptions::check_interval`].
pub const DEFAULT_CHECK_INTERVAL: NonZeroU32 = match NonZeroU32::new(16) {
    Some(n) => n,
    None => NonZeroU32::MIN,
};

/// An entry rule: a `deny`, `violation` or `warn` rule (possibly with a suffix).
#[derive(Debug, Clone)]
pub struct EntryRule {
    /// The rule name in Rego.
    pub name: String,
    /// deny or warn.
    pub level: Level,
    /// Its metadata.
    pub meta: Arc<RuleMeta>,
    /// Whether `meta` came from a rule-scoped METADATA block (not just the package's).
    annotated: bool,
    /// The rule's path, `data.<package>.<rule>`.
    query: String,
    /// How many times the rule is defined (its bodies): conftest counts each as a test.
    pub definitions: usize,
    /// 1-based line and column of its first definition in [`RuleOrigin::file`].
    ///
    /// [`RuleOrigin::file`]: crate::rules::RuleOrigin::file
    pub position: (u32, u32),
}

/// A conftest `exception` that applied: the package's `exception` rule named this entry
/// rule for the current input, so its results were not reported.
#[derive(Debug, Clone)]
pub struct Excepted {
    /// The entry rule left out.
    pub rule: Arc<RuleMeta>,
    /// Its level.
    pub level: Level,
    /// The name the exception gave (`run_as_root` for `deny_run_as_root`).
    pub name: String,
    /// The package path without `data.`.
    pub package: String,
}

/// A Rego package with at least one entry rule.
#[derive(Debug, Clone)]
pub struct RegoPackage {
    /// The package path without `data.` (`main`, `k8s.privileged`).
    pub name: String,
    /// Entry rules.
    pub entries: Vec<EntryRule>,
    /// Whether the package defines conftest `exception` rules.
    pub has_exceptions: bool,
    /// The Dockerfile shape this package expects.
    pub dockerfile_shape: DockerfileShape,
    /// The package receives the whole run as one input (`custom.input: combined`, or
    /// [`RegoOptions::combine`]); it is evaluated once per run, never per document.
    pub combined: bool,
}

impl RegoPackage {
    /// How many entry rule definitions (bodies) apply to `kind`: what conftest counts as
    /// the tests of this package on one document.
    pub fn definitions(&self, kind: DocumentKind) -> usize {
        self.entries
            .iter()
            .filter(|e| e.meta.applies_to(kind))
            .map(|e| e.definitions)
            .sum()
    }

    /// Whether any entry rule applies to `kind`.
    pub fn applies_to(&self, kind: DocumentKind) -> bool {
        self.entries.iter().any(|e| e.meta.applies_to(kind))
    }
}

/// A Rego unit test: a rule named `test_*` (or `todo_test_*`, which is reported as
/// skipped), as `opa test` finds them. It passes when it evaluates to `true`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegoTest {
    /// The package path without `data.`.
    pub package: String,
    /// The rule name.
    pub name: String,
    /// The policy file (for built-ins, its path inside `policies/`).
    pub file: String,
    /// 1-based line of the first definition of the rule.
    pub line: u32,
    /// Built into the binary.
    pub builtin: bool,
    /// A `todo_test_*` rule: not evaluated, reported as skipped.
    pub todo: bool,
}

impl RegoTest {
    /// The rule's path, `data.<package>.<name>`.
    pub fn query(&self) -> String {
        format!("data.{}.{}", self.package, self.name)
    }
}

/// What a Rego unit test evaluated to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestValue {
    /// `true`: the test passed.
    True,
    /// `false`.
    False,
    /// Undefined (some expression of its body did not hold).
    Undefined,
    /// Anything else, as JSON text.
    Other(String),
}

/// Whether a rule name is a Rego unit test (`test_*`), and whether it is a `todo_test_*`
/// one, as in `opa test`.
pub fn test_rule(name: &str) -> Option<bool> {
    if name.starts_with("test_") {
        Some(false)
    } else if name.starts_with("todo_test_") {
        Some(true)
    } else {
        None
    }
}

/// Compiled Rego policies plus data: built once, then cloned per worker.
#[derive(Clone)]
pub struct RegoPolicySet {
    engine: regorus::Engine,
    timeout: Duration,
    memory: Option<u64>,
    /// Builtin errors are rule errors ([`RegoOptions::strict`]).
    strict: bool,
    batch: bool,
    /// Set once a batch of this set ran out of time (shared by its evaluators).
    batch_timed_out: Arc<AtomicBool>,
    plans: Arc<[BatchPlan]>,
    /// The engines compiled on first use, per document kind ([`RegoOptions::per_kind`]);
    /// `None` when `engine` holds the whole set.
    per_kind: Option<Arc<perkind::PerKind>>,
    /// Packages that have entry rules, sorted by name.
    pub packages: Vec<RegoPackage>,
    /// The metadata of the entry rules left out by [`RegoOptions::disabled_rules`], in
    /// package order: known (so that configuration and suppressions naming them are not
    /// typos) but never evaluated.
    pub disabled: Vec<Arc<RuleMeta>>,
    /// Unit test rules (`test_*`) of the files that loaded, by file then line; `policy
    /// eval` never evaluates them.
    pub tests: Vec<RegoTest>,
    /// Load and compile errors (the rest of the set still works).
    pub errors: Vec<ErrorRecord>,
}

impl std::fmt::Debug for RegoPolicySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegoPolicySet")
            .field("packages", &self.packages)
            .field("errors", &self.errors)
            .finish_non_exhaustive()
    }
}

/// Whether a rule name is one the engine evaluates, and at which level (conftest's
/// `^(deny|violation)(_[a-zA-Z0-9]+)*$` and `^warn(_[a-zA-Z0-9]+)*$`).
pub fn entry_level(name: &str) -> Option<Level> {
    let check = |prefix: &str| {
        name.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || (rest.starts_with('_') && rest.len() > 1))
    };
    if check("deny") || check("violation") {
        Some(Level::Deny)
    } else if check("warn") {
        Some(Level::Warn)
    } else {
        None
    }
}

/// The name conftest's `exception` rules use for an entry rule (`deny_foo` → `foo`).
fn exception_name(rule: &str) -> &str {
    let rule = rule.strip_prefix("violation_").unwrap_or(rule);
    let rule = rule.strip_prefix("deny_").unwrap_or(rule);
    rule.strip_prefix("warn_").unwrap_or(rule)
}

/// Extracts `file:line:col` from a regorus error message, when it has one.
fn error_position(message: &str, file: &str) -> (u32, u32) {
    for line in message.lines() {
        if let Some(pos) = line.find(file) {
            let rest = &line[pos + file.len()..];
            let mut nums = rest.trim_start_matches(':').split(':');
            let l = nums.next().and_then(|n| n.trim().parse().ok());
            let c = nums.next().and_then(|n| n.trim().parse().ok());
            if let (Some(l), Some(c)) = (l, c) {
                return (l, c);
            }
        }
    }
    (1, 1)
}

fn policy_error(file: &str, line: u32, column: u32, message: impl Into<String>) -> ErrorRecord {
    ErrorRecord {
        kind: ErrorKind::PolicyError,
        file: file.to_string(),
        line,
        column,
        rule: None,
        input: None,
        message: message.into(),
    }
}

fn meta_from(
    ann: Option<&Annotations>,
    pkg_ann: Option<&Annotations>,
    package: &str,
    rule: &str,
    file: &str,
    builtin: bool,
) -> RuleMeta {
    let pick = |f: &dyn Fn(&Annotations) -> Option<String>| {
        ann.and_then(f).or_else(|| pkg_ann.and_then(f))
    };
    let id = pick(&|a| a.custom.id.clone()).unwrap_or_else(|| format!("{package}.{rule}"));
    let title = pick(&|a| a.title.clone()).unwrap_or_else(|| format!("{package}.{rule}"));
    let severity = ann
        .and_then(|a| a.severity().ok().flatten())
        .or_else(|| pkg_ann.and_then(|a| a.severity().ok().flatten()))
        .unwrap_or_default();
    let kinds = ann
        .and_then(|a| {
            a.custom
                .kinds
                .as_ref()
                .map(|_| a.kinds().unwrap_or_default())
        })
        .or_else(|| pkg_ann.map(|a| a.kinds().unwrap_or_default()))
        .unwrap_or_default();
    let references = ann
        .filter(|a| !a.related_resources.is_empty())
        .or(pkg_ann)
        .map(|a| {
            a.related_resources
                .iter()
                .map(|r| r.url().to_string())
                .collect()
        })
        .unwrap_or_default();
    RuleMeta {
        id,
        title,
        description: pick(&|a| a.description.clone()).unwrap_or_default(),
        severity,
        kinds,
        remediation: pick(&|a| a.custom.remediation.clone()),
        references,
        aliases: ann
            .and_then(|a| a.custom.aliases.clone())
            .or_else(|| pkg_ann.and_then(|a| a.custom.aliases.clone()))
            .unwrap_or_default(),
        origin: RuleOrigin {
            builtin,
            runtime: RuntimeKind::Rego,
            file: file.to_string(),
            package: Some(format!("data.{package}")),
        },
    }
}

/// Whether a policy opts into Rego v1 explicitly (`import rego.v1`).
fn imports_rego_v1(text: &str) -> bool {
    text.lines().any(|l| {
        l.trim_start().strip_prefix("import").is_some_and(|rest| {
            rest.split('#')
                .next()
                .is_some_and(|r| r.trim() == "rego.v1")
        })
    })
}

/// Adds one policy file, as prepared by [`prepare`]: in the parser mode that accepted
/// it, with its `not` literals rewritten. Should regorus refuse the rewritten text
/// (it never should), the file as written is tried before giving up.
fn add_policy(
    engine: &mut regorus::Engine,
    src: &RegoSource,
    prepared: &Prepared,
) -> anyhow::Result<()> {
    // The parser mode is read per `add_policy` call (and by later queries): switch it
    // for this file only.
    engine.set_rego_v0(prepared.v0);
    let mut added = engine.add_policy(src.path.clone(), prepared.text.clone());
    if added.is_err() && prepared.text != src.text {
        added = engine.add_policy(src.path.clone(), src.text.clone());
    }
    engine.set_rego_v0(false);
    added.map(|_| ())
}

/// A policy file ready for regorus.
struct Prepared {
    /// The text to load (`not` arguments hoisted, see `rewrite.rs`).
    text: String,
    /// It is Rego v0 (`deny[msg] { ... }`, what conftest and OPA 0.x policies are
    /// written in): it does not say `import rego.v1`, fails to parse as v1 and parses as
    /// v0.
    v0: bool,
}

/// Parses every file (v1, else v0), runs the load-time checks over all of them
/// together (`check.rs`), and rewrites the ones that pass. A file that does not parse
/// or fails a check is added to `excluded` with its errors.
fn prepare(
    scanned: &[(&RegoSource, metadata::RegoScan)],
    strict_compile: bool,
    errors: &mut Vec<ErrorRecord>,
    excluded: &mut Vec<String>,
) -> std::collections::HashMap<String, Prepared> {
    let mut parsed = Vec::new();
    for (src, _) in scanned {
        match rewrite::parse(&src.path, &src.text) {
            Ok(p) => parsed.push((*src, p)),
            Err(e) => {
                let msg = format!("{e:#}");
                let (line, col) = error_position(&msg, &src.path);
                errors.push(policy_error(&src.path, line, col, first_line(&msg)));
                excluded.push(src.path.clone());
            }
        }
    }
    let modules: Vec<(String, &regorus::unstable::Module)> = parsed
        .iter()
        .map(|(src, p)| (src.path.clone(), &p.module))
        .collect();
    let mut refused = Vec::new();
    let mut problems = check::check(&modules, builtins::arities());
    for (src, p) in &parsed {
        if !p.v0 {
            problems.extend(check::if_without_contains(&src.path, &p.module));
        }
        if strict_compile && !src.builtin {
            problems.extend(check::strict(&src.path, &p.module));
        }
    }
    for e in problems {
        errors.push(policy_error(&e.file, e.line, e.column, e.message));
        refused.push(e.file);
    }
    let mut prepared = std::collections::HashMap::new();
    for (src, p) in &parsed {
        if refused.contains(&src.path) {
            excluded.push(src.path.clone());
            continue;
        }
        // OPA's scoping of comprehension variables (`scopes.rs`), then the `not`
        // rewrite over the renamed text.
        let renames = scopes::renames(&p.module, &src.text);
        let renamed = if renames.is_empty() {
            None
        } else {
            let text = scopes::apply(&src.text, renames);
            rewrite::parse(&src.path, &text)
                .ok()
                .filter(|r| r.v0 == p.v0)
                .map(|r| (text, r))
        };
        let text = match &renamed {
            Some((text, r)) => rewrite::hoist(r, text),
            None => rewrite::hoist(p, &src.text),
        };
        prepared.insert(src.path.clone(), Prepared { text, v0: p.v0 });
    }
    prepared
}

fn new_engine(opts: &RegoOptions) -> regorus::Engine {
    let mut engine = regorus::Engine::new();
    engine.set_rego_v0(false);
    // `print()` output is collected with its `file:line` and shown by the front end
    // (stderr), instead of regorus writing bare lines to stderr from worker threads.
    engine.set_gather_prints(true);
    engine.set_execution_timer_config(ExecutionTimerConfig {
        limit: opts.timeout,
        check_interval: opts.check_interval,
    });
    // The Go-compatible builtins first: their `sprintf` and `net.cidr_expand` bound their
    // own output, so the size-checked wrappers of `limits` leave those two alone.
    engine.set_strict_builtin_errors(opts.strict);
    if let Err(e) = builtins::install(&mut engine, opts.strict) {
        debug_assert!(false, "Go-compatible builtins: {e}");
    }
    if let Err(e) = limits::install(&mut engine) {
        debug_assert!(false, "bounded builtins: {e}");
    }
    if let Err(e) = shell::install(&mut engine) {
        debug_assert!(false, "policy.shell_commands: {e}");
    }
    engine
}

/// Builds an engine from `scanned` (prepared by [`prepare`]) and `data`: the files are
/// added one by one (a parse error drops only that file), then the engine is prepared;
/// when preparing fails because of one file, that file is dropped and it is tried again.
/// `None` when preparing fails for no identifiable file (an error is recorded).
fn build_engine(
    scanned: &[(&RegoSource, metadata::RegoScan)],
    data: &[serde_json::Value],
    opts: &RegoOptions,
    errors: &mut Vec<ErrorRecord>,
    excluded: &mut Vec<String>,
) -> Option<regorus::Engine> {
    let prepared = prepare(scanned, opts.strict_compile, errors, excluded);
    // conftest's parse_config* builtins resolve relative paths in these too.
    let mut dirs: Vec<std::path::PathBuf> = Vec::new();
    for (src, _) in scanned.iter().filter(|(s, _)| !s.builtin) {
        if let Some(d) = std::path::Path::new(&src.path).parent() {
            if !dirs.iter().any(|x| x == d) {
                dirs.push(d.to_path_buf());
            }
        }
    }
    let dirs = Arc::new(dirs);
    loop {
        let mut engine = new_engine(opts);
        if let Err(e) = conftest::install(&mut engine, Arc::clone(&dirs), opts.strict) {
            debug_assert!(false, "conftest builtins: {e}");
        }
        for d in data {
            if let Err(e) = engine.add_data(regorus::Value::from(d.clone())) {
                errors.push(policy_error(
                    "<data>",
                    1,
                    1,
                    format!("cannot merge data: {e}"),
                ));
            }
        }
        for (src, _) in scanned {
            if excluded.contains(&src.path) {
                continue;
            }
            let Some(prep) = prepared.get(&src.path) else {
                continue;
            };
            if let Err(e) = add_policy(&mut engine, src, prep) {
                let msg = format!("{e:#}");
                let (line, col) = error_position(&msg, &src.path);
                errors.push(policy_error(&src.path, line, col, first_line(&msg)));
                excluded.push(src.path.clone());
            }
        }
        // Trigger compilation.
        match engine.eval_query("1 == 1".to_string(), false) {
            Ok(_) => return Some(engine),
            Err(e) => {
                let msg = format!("{e:#}");
                let culprit = scanned
                    .iter()
                    .map(|(s, _)| s.path.clone())
                    .find(|p| !excluded.contains(p) && msg.contains(p.as_str()));
                match culprit {
                    Some(path) => {
                        let (line, col) = error_position(&msg, &path);
                        errors.push(policy_error(&path, line, col, first_line(&msg)));
                        excluded.push(path);
                    }
                    None => {
                        errors.push(policy_error("<policies>", 1, 1, first_line(&msg)));
                        return None;
                    }
                }
            }
        }
    }
}

impl RegoPolicySet {
    /// Parses and compiles `sources` with `data`. A file that does not parse or compile
    /// becomes an error record and is left out; the others still load.
    ///
    /// A set of built-in files only is not compiled here: with
    /// [`RegoOptions::per_kind`], its files are compiled on first use, per document
    /// kind, into engines holding only what that kind needs ([`perkind`]). A set with
    /// users' files is compiled whole here, and per kind on first use too when
    /// [`perkind::users_can_split`] allows.
    pub fn compile(sources: &[RegoSource], data: &[serde_json::Value], opts: &RegoOptions) -> Self {
        let mut errors = Vec::new();
        // Scan every file for its package, METADATA and rule heads.
        let mut scanned = Vec::new();
        for src in sources {
            match metadata::scan(&src.text) {
                Ok(scan) => scanned.push((src, scan)),
                Err(e) => errors.push(policy_error(&src.path, e.line, e.column, e.message)),
            }
        }
        let per_kind = opts.per_kind && !scanned.is_empty() && sources.iter().all(|s| s.builtin);
        let mut excluded: Vec<String> = Vec::new();
        let mut engine = if per_kind {
            // Compiled later; the data's clashes are reported now, as they would be.
            for e in perkind::merge_errors(data) {
                errors.push(policy_error(
                    "<data>",
                    1,
                    1,
                    format!("cannot merge data: {e}"),
                ));
            }
            // A placeholder: evaluators use the per-kind engines.
            regorus::Engine::new()
        } else {
            match build_engine(&scanned, data, opts, &mut errors, &mut excluded) {
                Some(engine) => engine,
                // Nothing identifiable: run with no Rego policies.
                None => {
                    return RegoPolicySet {
                        engine: new_engine(opts),
                        timeout: opts.timeout,
                        memory: opts.memory,
                        strict: opts.strict,
                        batch: opts.batch,
                        batch_timed_out: Arc::default(),
                        plans: Arc::new([]),
                        per_kind: None,
                        packages: Vec::new(),
                        disabled: Vec::new(),
                        tests: Vec::new(),
                        errors,
                    }
                }
            }
        };

        // Build packages from the scans of the files that loaded.
        let mut packages: Vec<RegoPackage> = Vec::new();
        let mut tests: Vec<RegoTest> = Vec::new();
        for (src, scan) in &scanned {
            if excluded.contains(&src.path) {
                continue;
            }
            let Some(pkg_name) = scan.package.clone() else {
                continue;
            };
            // Unit tests, whatever the namespace filter: a rule defined several times
            // (several bodies) is one test, as regorus evaluates it by name.
            for head in &scan.rules {
                let Some(todo) = test_rule(&head.name) else {
                    continue;
                };
                if tests
                    .iter()
                    .any(|t| t.package == pkg_name && t.name == head.name)
                {
                    continue;
                }
                tests.push(RegoTest {
                    package: pkg_name.clone(),
                    name: head.name.clone(),
                    file: src.path.clone(),
                    line: head.line,
                    builtin: src.builtin,
                    todo,
                });
            }
            if !opts.namespaces.is_empty() && !opts.namespaces.iter().any(|g| g.is_match(&pkg_name))
            {
                continue;
            }
            let idx = match packages.iter().position(|p| p.name == pkg_name) {
                Some(i) => i,
                None => {
                    packages.push(RegoPackage {
                        name: pkg_name.clone(),
                        entries: Vec::new(),
                        has_exceptions: false,
                        // Built-in packages always read the native shape; the CLI
                        // switch is for users' conftest policies.
                        dockerfile_shape: if src.builtin {
                            DockerfileShape::Native
                        } else {
                            opts.dockerfile_shape
                        },
                        combined: opts.combine && !src.builtin,
                    });
                    packages.len() - 1
                }
            };
            let pkg = &mut packages[idx];
            let pkg_ann = scan.package_annotations.as_ref();
            if let Some(shape) = pkg_ann.and_then(|a| a.custom.input.as_deref()) {
                pkg.combined |= shape.eq_ignore_ascii_case("combined");
                pkg.dockerfile_shape = if shape.eq_ignore_ascii_case("conftest") {
                    DockerfileShape::Conftest
                } else {
                    DockerfileShape::Native
                };
            }
            for head in &scan.rules {
                if head.name == "exception" {
                    pkg.has_exceptions = true;
                    continue;
                }
                let Some(level) = entry_level(&head.name) else {
                    continue;
                };
                let annotated = head.annotations.is_some();
                let existing = pkg.entries.iter().position(|e| e.name == head.name);
                if let Some(i) = existing {
                    pkg.entries[i].definitions += 1;
                }
                // A rule defined in several places: the first rule-scoped METADATA wins.
                if existing.is_some_and(|i| pkg.entries[i].annotated || !annotated) {
                    continue;
                }
                let meta = Arc::new(meta_from(
                    head.annotations.as_ref(),
                    pkg_ann,
                    &pkg_name,
                    &head.name,
                    &src.path,
                    src.builtin,
                ));
                if let Some(i) = existing {
                    pkg.entries[i].meta = meta;
                    pkg.entries[i].annotated = true;
                    continue;
                }
                pkg.entries.push(EntryRule {
                    name: head.name.clone(),
                    level,
                    meta,
                    annotated,
                    query: format!("data.{pkg_name}.{}", head.name),
                    definitions: 1,
                    position: (head.line, head_column(&src.text, head.line)),
                });
            }
        }
        packages.sort_by(|a, b| a.name.cmp(&b.name));
        // Rules turned off leave before the batch rules are generated, so that no query
        // ever names them: regorus evaluates only what a query reaches.
        let mut disabled = Vec::new();
        if !opts.disabled_rules.is_empty() {
            for pkg in &mut packages {
                pkg.entries.retain(|e| {
                    let off = e.meta.is_one_of(&opts.disabled_rules);
                    if off {
                        disabled.push(Arc::clone(&e.meta));
                    }
                    !off
                });
            }
        }
        packages.retain(|p| !p.entries.is_empty());
        let mut plans = Vec::new();
        let lazy = if per_kind {
            let owned = scanned
                .iter()
                .map(|(src, scan)| ((*src).clone(), scan.clone()))
                .collect();
            Some(Arc::new(perkind::PerKind::new(
                owned,
                data.to_vec(),
                opts.clone(),
                packages.clone(),
            )))
        } else {
            if opts.batch {
                if let Some((with_batches, batch_plans)) =
                    add_batch_module(&engine, &packages, None)
                {
                    engine = with_batches;
                    plans = batch_plans;
                }
            }
            // A set with users' files, compiled whole above (its errors are known now):
            // its kinds get engines of their own too where that cannot change a result.
            let loaded: Vec<(RegoSource, metadata::RegoScan)> = scanned
                .iter()
                .filter(|(src, _)| !excluded.contains(&src.path))
                .map(|(src, scan)| ((*src).clone(), scan.clone()))
                .collect();
            (opts.per_kind && perkind::users_can_split(&loaded)).then(|| {
                Arc::new(perkind::PerKind::with_users(
                    loaded,
                    data.to_vec(),
                    opts.clone(),
                    packages.clone(),
                    &engine,
                    &plans,
                ))
            })
        };
        RegoPolicySet {
            engine,
            timeout: opts.timeout,
            memory: opts.memory,
            strict: opts.strict,
            batch: opts.batch,
            batch_timed_out: Arc::default(),
            plans: plans.into(),
            per_kind: lazy,
            packages,
            disabled,
            tests,
            errors,
        }
    }

    /// Starts compiling now, on threads of their own, the engines of the `kinds` a run is
    /// about to evaluate (a set compiled per kind, [`RegoOptions::per_kind`]), so that the
    /// compile overlaps the rest of the start-up (the WASM modules, the worker pool, the
    /// inputs) instead of following it. The first evaluation of each kind waits for its
    /// engine as before; nothing changes but when the work happens. Kinds no rule applies
    /// to are left alone. Does nothing for a set compiled whole.
    pub fn compile_ahead(&self, kinds: &[DocumentKind]) {
        let Some(per_kind) = &self.per_kind else {
            return;
        };
        for &kind in kinds {
            if self.packages.iter().any(|p| p.applies_to(kind)) {
                perkind::PerKind::compile_ahead(per_kind, kind);
            }
        }
    }

    /// Every rule's metadata.
    pub fn rules(&self) -> impl Iterator<Item = &Arc<RuleMeta>> {
        self.packages
            .iter()
            .flat_map(|p| p.entries.iter().map(|e| &e.meta))
    }

    /// A per-thread evaluator (a cheap clone of the compiled engine).
    pub fn evaluator(&self) -> RegoEvaluator {
        RegoEvaluator {
            engine: self.engine.clone(),
            pristine: self.engine.clone(),
            per_kind: self.per_kind.clone(),
            active: None,
            parked: Vec::new(),
            timer: None,
            input: None,
            timeout: self.timeout,
            memory: self.memory,
            strict: self.strict,
            batch: self.batch,
            batch_timed_out: Arc::clone(&self.batch_timed_out),
            plans: Arc::clone(&self.plans),
            stats: BatchStats::default(),
            excepted: Vec::new(),
            prints: Vec::new(),
        }
    }
}

/// The 1-based column where the rule head on 1-based `line` of `text` starts.
fn head_column(text: &str, line: u32) -> u32 {
    text.lines()
        .nth(line.saturating_sub(1) as usize)
        .map_or(1, |l| {
            l.chars().take_while(|c| c.is_whitespace()).count() as u32 + 1
        })
}

/// Condenses a regorus error (a code frame followed by `error: ...`) to its message plus
/// the position it names.
fn first_line(msg: &str) -> String {
    let errors: Vec<&str> = msg
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("error:"))
        .map(str::trim)
        .collect();
    let at = msg
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("--> "))
        .map(str::trim);
    let text = if errors.is_empty() {
        msg.lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("unknown error")
            .to_string()
    } else {
        errors.join("; ")
    };
    match at {
        Some(at) => format!("{text} (at {at})"),
        None => text,
    }
}

/// Evaluates packages against documents on one thread.
#[derive(Clone)]
pub struct RegoEvaluator {
    engine: regorus::Engine,
    /// The engine as compiled, to start over from after a panic inside regorus.
    pristine: regorus::Engine,
    /// The set's per-kind engines, when it has them: `engine`, `pristine` and `plans`
    /// are then those of the `active` one, the others used so far are `parked`.
    per_kind: Option<Arc<perkind::PerKind>>,
    active: Option<perkind::Slot>,
    parked: Vec<perkind::Parked>,
    /// The time limit [`RegoEvaluator::set_time_limit`] set, for engines activated later.
    timer: Option<ExecutionTimerConfig>,
    /// The current input (cheap to clone: regorus values share their contents).
    input: Option<regorus::Value>,
    timeout: Duration,
    memory: Option<u64>,
    /// Builtin errors are rule errors: a failure is then checked for being one.
    strict: bool,
    batch: bool,
    batch_timed_out: Arc<AtomicBool>,
    plans: Arc<[BatchPlan]>,
    stats: BatchStats,
    /// Exceptions that applied since the last [`RegoEvaluator::take_excepted`].
    excepted: Vec<Excepted>,
    /// `print()` output since the last [`RegoEvaluator::take_prints`], each line
    /// `policy.rego:LINE: message`.
    prints: Vec<String>,
}

/// How often an evaluator's batched query was used and how often it fell back to
/// evaluating rule by rule (for tests and measurements).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchStats {
    /// Batched queries that succeeded.
    pub batched: u64,
    /// Batched queries that failed and were redone rule by rule.
    pub fallbacks: u64,
}

impl std::fmt::Debug for RegoEvaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegoEvaluator")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Why one rule evaluation produced no value.
enum Failed {
    /// regorus returned an error after `took`.
    Error(anyhow::Error, Duration),
    /// It returned a value, but only after running past the limit (one builtin call
    /// that the cooperative timer could not interrupt).
    Overran(Duration),
    /// It allocated more than its memory budget and was stopped ([`memory`]).
    Memory,
    /// regorus panicked.
    Panicked(String),
    /// A builtin failed (`to_number("x")`, a file `parse_config_file` cannot read) in
    /// strict mode: the same evaluation succeeds when builtin errors are undefined.
    Builtin(anyhow::Error),
}

fn millis(d: Duration) -> u128 {
    d.as_millis()
}

impl RegoEvaluator {
    /// Sets the `input` document for the following [`RegoEvaluator::evaluate`] calls.
    pub fn set_input(&mut self, input: &serde_json::Value) {
        // Deserialize from the borrowed document: the same visitor as regorus's
        // `From<serde_json::Value>`, without cloning the whole document first.
        let value = serde::Deserialize::deserialize(input).unwrap_or(regorus::Value::Undefined);
        self.engine.set_input(value.clone());
        self.input = Some(value);
    }

    /// Sets the input of a combined evaluation, `[{"path": PATH, "contents": VALUE}]`,
    /// converting each value straight into regorus's form: the same input as
    /// [`Self::set_input`] on that array, without first copying every document into one
    /// `serde_json` array (over a large run, that copy was a third of the step's peak).
    pub fn set_combined_input<'a>(
        &mut self,
        entries: impl IntoIterator<Item = (&'a str, &'a serde_json::Value)>,
    ) {
        self.set_combined_entries(entries.into_iter().map(|(path, contents)| {
            let contents =
                serde::Deserialize::deserialize(contents).unwrap_or(regorus::Value::Undefined);
            (path, contents)
        }));
    }

    /// [`Self::set_combined_input`] with each value given as its JSON text, read straight
    /// into regorus's form (a streamed run keeps its documents packed that way).
    pub fn set_combined_input_packed<'a>(
        &mut self,
        entries: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) {
        self.set_combined_entries(entries.into_iter().map(|(path, json)| {
            let contents = serde_json::from_slice(json).unwrap_or(regorus::Value::Undefined);
            (path, contents)
        }));
    }

    fn set_combined_entries<'a>(
        &mut self,
        entries: impl Iterator<Item = (&'a str, regorus::Value)>,
    ) {
        let array: Vec<regorus::Value> = entries
            .map(|(path, contents)| {
                let entry: std::collections::BTreeMap<regorus::Value, regorus::Value> = [
                    (regorus::Value::from("path"), regorus::Value::from(path)),
                    (regorus::Value::from("contents"), contents),
                ]
                .into();
                regorus::Value::from(entry)
            })
            .collect();
        let value = regorus::Value::from(array);
        self.engine.set_input(value.clone());
        self.input = Some(value);
    }

    /// Runs one regorus call under the time limit, containing panics.
    fn guarded<T>(
        &mut self,
        call: impl FnOnce(&mut regorus::Engine) -> anyhow::Result<T>,
    ) -> Result<T, Failed> {
        let start = std::time::Instant::now();
        let engine = &mut self.engine;
        let (outcome, used) = memory::scope(self.memory, self.timeout, || {
            budget::quietly(|| {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| call(engine)))
            })
        });
        let took = start.elapsed();
        match outcome {
            Ok(_) if used.over_budget => Err(Failed::Memory),
            Ok(Ok(_)) if took > self.timeout => Err(Failed::Overran(took)),
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(Failed::Error(e, took)),
            Err(payload) => {
                // The engine may be left half-updated: start again from the compiled one.
                self.engine = self.pristine.clone();
                if let Some(input) = &self.input {
                    self.engine.set_input(input.clone());
                }
                let what = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                Err(Failed::Panicked(what))
            }
        }
    }

    /// Evaluates one rule under the time limit, containing panics.
    fn eval_rule(&mut self, query: &str) -> Result<regorus::Value, Failed> {
        self.guarded(|engine| engine.eval_rule(query.to_string()))
    }

    /// [`Self::eval_rule`], telling a builtin error apart in strict mode: when the rule
    /// fails (not by time), it is evaluated again on a copy of the engine with lax
    /// builtins, and if that succeeds the failure was a builtin's (`built-in error`, as
    /// conftest's `--show-builtin-errors` says). Only failures pay for the second run.
    fn eval_rule_classified(&mut self, query: &str) -> Result<regorus::Value, Failed> {
        match self.eval_rule(query) {
            Err(Failed::Error(e, took)) if self.strict && took < self.timeout => {
                let mut lax = self.engine.clone();
                lax.set_strict_builtin_errors(false);
                let (again, _) = memory::scope(self.memory, self.timeout, || {
                    budget::quietly(|| {
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            builtins::lax(|| lax.eval_rule(query.to_string()))
                        }))
                    })
                });
                // What the second run printed was printed by the first already.
                let _ = lax.take_prints();
                match again {
                    Ok(Ok(_)) => Err(Failed::Builtin(e)),
                    _ => Err(Failed::Error(e, took)),
                }
            }
            other => other,
        }
    }

    /// Evaluates the entry rules of `pkg` that apply to `kind` against the current input.
    pub fn evaluate(
        &mut self,
        pkg: &RegoPackage,
        kind: DocumentKind,
    ) -> (Vec<RawResult>, Vec<RuleFailure>) {
        self.evaluate_packages(&[pkg], kind)
    }

    /// Evaluates the entry rules of every package in `pkgs` that apply to `kind` against
    /// the current input, with the same results, in the same order, as calling
    /// [`RegoEvaluator::evaluate`] on each package in turn.
    ///
    /// When more than one rule (counting `exception` sets) is to be evaluated, they are
    /// evaluated in one regorus call, so that rules and helpers shared between entry
    /// rules (`data.lib.*`) are computed once per document instead of once per entry
    /// rule. When that call fails in any way (a rule error, the time limit, a builtin
    /// that overran it, a panic), its partial work is dropped and every package is
    /// evaluated again rule by rule, which isolates the failing rule exactly as before.
    /// The batch runs under the same limit as one rule, and a batch that runs out of
    /// time turns batching off for every evaluator of the set, so batching adds at most
    /// one limit to a document and one limit per worker thread to a whole run.
    pub fn evaluate_packages(
        &mut self,
        pkgs: &[&RegoPackage],
        kind: DocumentKind,
    ) -> (Vec<RawResult>, Vec<RuleFailure>) {
        let mut failures = self.activate(perkind::Slot::Kind(kind));
        if self.batch && !self.batch_timed_out.load(Ordering::Relaxed) {
            match self.evaluate_batched(pkgs, kind) {
                Batched::Done((results, excepted)) => {
                    self.stats.batched += 1;
                    self.excepted.extend(excepted);
                    self.gather_prints(true);
                    return (results, failures);
                }
                // The rules run again one by one: their prints come from that run.
                Batched::Failed => {
                    self.stats.fallbacks += 1;
                    self.gather_prints(false);
                }
                Batched::NotWorthIt => {}
            }
        }
        let mut results = Vec::new();
        for pkg in pkgs {
            self.evaluate_rule_by_rule(pkg, kind, &mut results, &mut failures);
        }
        self.gather_prints(true);
        (results, failures)
    }

    /// The conftest exceptions that applied in the evaluations since the last call, in
    /// evaluation order.
    pub fn take_excepted(&mut self) -> Vec<Excepted> {
        std::mem::take(&mut self.excepted)
    }

    /// The `print()` output of the evaluations since the last call, in order, each line
    /// `policy.rego:LINE: message`.
    pub fn take_prints(&mut self) -> Vec<String> {
        std::mem::take(&mut self.prints)
    }

    /// Moves what `print()` wrote during the last regorus calls to [`Self::prints`].
    fn gather_prints(&mut self, keep: bool) {
        let lines = self.engine.take_prints().unwrap_or_default();
        if keep {
            self.prints.extend(lines);
        }
    }

    /// Counts of batched queries and fallbacks so far.
    pub fn batch_stats(&self) -> BatchStats {
        self.stats
    }

    /// One regorus call for all applicable rules of `pkgs`: the precompiled batch rule
    /// when `pkgs` is the set [`crate::eval`] routes a document of `kind` to, else an
    /// ad-hoc query built the same way.
    fn evaluate_batched(&mut self, pkgs: &[&RegoPackage], kind: DocumentKind) -> Batched {
        let paths = batch_paths(pkgs, kind);
        if paths.len() < 2 {
            return Batched::NotWorthIt;
        }
        let plans = Arc::clone(&self.plans);
        let plan = plans.iter().find(|plan| {
            plan.kind == kind
                && plan.packages.len() == pkgs.len()
                && plan.packages.iter().zip(pkgs).all(|(a, b)| *a == b.name)
        });
        let values = match plan {
            Some(plan) => match self.eval_rule(&plan.rule) {
                Ok(regorus::Value::Array(items)) => items.to_vec(),
                Ok(_) => return Batched::Failed,
                Err(failed) => return self.batch_failed(&failed),
            },
            None => {
                let query = paths
                    .iter()
                    .enumerate()
                    .map(|(i, path)| format!("r{i} := [x | x := {path}]"))
                    .collect::<Vec<_>>()
                    .join("; ");
                let answer = match self.guarded(|engine| engine.eval_query(query, false)) {
                    Ok(answer) => answer,
                    Err(failed) => return self.batch_failed(&failed),
                };
                let Some(first) = answer.result.first() else {
                    return Batched::Failed;
                };
                (0..paths.len())
                    .map(|i| first.bindings[format!("r{i}").as_str()].clone())
                    .collect()
            }
        };
        unpack(&values, pkgs, kind).map_or(Batched::Failed, Batched::Done)
    }

    /// Notes a failed batch. One that ran out of time turns batching off for every
    /// evaluator of the policy set: a rule slow enough to stop a batch is likely slow on
    /// the next documents too, and each batch that times out costs one more limit. So
    /// the extra time batching can add to a run is one limit per worker thread (the
    /// batches already running when the first one timed out).
    fn batch_failed(&mut self, failed: &Failed) -> Batched {
        let out_of_time = match failed {
            Failed::Error(_, took) | Failed::Overran(took) => *took >= self.timeout,
            // Held until its time limit: as costly to repeat as a timeout.
            Failed::Memory => true,
            Failed::Panicked(_) | Failed::Builtin(_) => false,
        };
        if out_of_time {
            self.batch_timed_out.store(true, Ordering::Relaxed);
        }
        Batched::Failed
    }

    /// The entry rules of `pkg` one regorus call each (the exception set first).
    fn evaluate_rule_by_rule(
        &mut self,
        pkg: &RegoPackage,
        kind: DocumentKind,
        results: &mut Vec<RawResult>,
        failures: &mut Vec<RuleFailure>,
    ) {
        let exceptions = if pkg.has_exceptions {
            match self.eval_rule(&format!("data.{}.exception", pkg.name)) {
                Ok(v) => results::exception_names(&v),
                Err(e) => {
                    failures.push(self.failure(&format!("{}.exception", pkg.name), pkg, e));
                    Vec::new()
                }
            }
        } else {
            Vec::new()
        };
        for entry in &pkg.entries {
            if !entry.meta.applies_to(kind) {
                continue;
            }
            if let Some(name) = exceptions
                .iter()
                .find(|n| *n == exception_name(&entry.name))
            {
                self.excepted.push(Excepted {
                    rule: Arc::clone(&entry.meta),
                    level: entry.level,
                    name: name.clone(),
                    package: pkg.name.clone(),
                });
                continue;
            }
            match self.eval_rule_classified(&entry.query) {
                Ok(value) => results::collect(&value, entry, pkg, results),
                Err(e) => failures.push(self.failure(&entry.meta.id, pkg, e)),
            }
        }
    }

    /// Evaluates a unit test rule under the time limit, with no `input` (a test sets its
    /// own with `with input as ...`). An error, a panic or running out of time is a
    /// [`RuleFailure`].
    pub fn run_test(&mut self, test: &RegoTest) -> Result<TestValue, RuleFailure> {
        if let Some(failure) = self.activate(perkind::Slot::Full).into_iter().next() {
            return Err(failure);
        }
        self.engine = self.pristine.clone();
        self.input = None;
        let query = test.query();
        let value = self.eval_rule_classified(&query);
        // A test's `print()` output, with its `file:line`: see `take_prints`.
        self.gather_prints(true);
        match value {
            Ok(regorus::Value::Bool(true)) => Ok(TestValue::True),
            Ok(regorus::Value::Bool(false)) => Ok(TestValue::False),
            Ok(regorus::Value::Undefined) => Ok(TestValue::Undefined),
            Ok(other) => Ok(TestValue::Other(
                other
                    .to_json_str()
                    .map(|s| s.trim().to_string())
                    .unwrap_or_else(|_| format!("{other:?}")),
            )),
            Err(failed) => {
                let mut f = self.failure_in(&query, &test.file, failed);
                f.line = test.line;
                Err(f)
            }
        }
    }

    fn failure(&self, rule: &str, pkg: &RegoPackage, failed: Failed) -> RuleFailure {
        // The failing entry rule, else (an `exception` set) the package's first one.
        let entry = pkg
            .entries
            .iter()
            .find(|e| e.meta.id == rule)
            .or(pkg.entries.first());
        let file = entry
            .map(|e| e.meta.origin.file.clone())
            .unwrap_or_default();
        let mut f = self.failure_in(rule, &file, failed);
        if let Some(e) = entry {
            (f.line, f.column) = e.position;
        }
        f
    }

    fn failure_in(&self, rule: &str, file: &str, failed: Failed) -> RuleFailure {
        let limit = millis(self.timeout);
        let (timeout, message) = match failed {
            Failed::Error(e, took) => {
                let text = format!("{e:#}");
                // regorus re-wraps errors raised inside function calls as text, so the
                // typed error is not always in the chain.
                let timeout = e.chain().any(|c| {
                    matches!(
                        c.downcast_ref::<regorus::LimitError>(),
                        Some(regorus::LimitError::TimeLimitExceeded { .. })
                    )
                }) || (took >= self.timeout && text.contains("exceeded time limit"));
                if timeout {
                    (
                        true,
                        format!(
                            "rule {rule} exceeded its time limit of {limit} ms and was stopped after {} ms",
                            millis(took)
                        ),
                    )
                } else {
                    (false, format!("rule {rule} failed: {}", first_line(&text)))
                }
            }
            Failed::Overran(took) => (
                true,
                format!(
                    "rule {rule} exceeded its time limit of {limit} ms: it ran for {} ms inside \
                     a single builtin call that cannot be interrupted; its results were dropped",
                    millis(took)
                ),
            ),
            Failed::Memory => (
                false,
                format!(
                    "rule {rule} failed: it allocated more than {} (--rego-memory) and was \
                     stopped",
                    memory::its_budget(self.memory)
                ),
            ),
            Failed::Panicked(what) => (
                false,
                format!("rule {rule} failed: the Rego engine panicked ({what})"),
            ),
            Failed::Builtin(e) => (
                false,
                format!(
                    "rule {rule} failed: built-in error: {}",
                    first_line(&format!("{e:#}"))
                ),
            ),
        };
        RuleFailure {
            rule: rule.to_string(),
            file: file.to_string(),
            line: 1,
            column: 1,
            timeout,
            message,
        }
    }
}

/// What [`RegoEvaluator::evaluate_batched`] did.
enum Batched {
    /// The results of every rule, and the exceptions that applied.
    Done((Vec<RawResult>, Vec<Excepted>)),
    /// The query failed: evaluate rule by rule.
    Failed,
    /// One rule or none: nothing to share, evaluate rule by rule.
    NotWorthIt,
}

/// The rule paths a batch evaluates for `pkgs` on a document of `kind`, in order: per
/// package, `exception` when it has one, then the entry rules that apply to `kind`.
fn batch_paths(pkgs: &[&RegoPackage], kind: DocumentKind) -> Vec<String> {
    let mut paths = Vec::new();
    for pkg in pkgs {
        if pkg.has_exceptions {
            paths.push(format!("data.{}.exception", pkg.name));
        }
        for entry in pkg.entries.iter().filter(|e| e.meta.applies_to(kind)) {
            paths.push(entry.query.clone());
        }
    }
    paths
}

/// Reads the values of a batch (one `[x | x := path]` array per path of
/// [`batch_paths`]: empty when the rule is undefined) back into results. `None` when the
/// shape is not the expected one.
fn unpack(
    values: &[regorus::Value],
    pkgs: &[&RegoPackage],
    kind: DocumentKind,
) -> Option<(Vec<RawResult>, Vec<Excepted>)> {
    let mut values = values.iter();
    let mut take = || match values.next()? {
        regorus::Value::Array(items) => match items.as_slice() {
            [] => Some(regorus::Value::Undefined),
            [value] => Some(value.clone()),
            _ => None,
        },
        _ => None,
    };
    let mut results = Vec::new();
    let mut excepted = Vec::new();
    for pkg in pkgs {
        let exceptions = if pkg.has_exceptions {
            results::exception_names(&take()?)
        } else {
            Vec::new()
        };
        for entry in pkg.entries.iter().filter(|e| e.meta.applies_to(kind)) {
            let value = take()?;
            if let Some(name) = exceptions
                .iter()
                .find(|n| *n == exception_name(&entry.name))
            {
                excepted.push(Excepted {
                    rule: Arc::clone(&entry.meta),
                    level: entry.level,
                    name: name.clone(),
                    package: pkg.name.clone(),
                });
                continue;
            }
            results::collect(&value, entry, pkg, &mut results);
        }
    }
    values.next().is_none().then_some((results, excepted))
}

/// The package of the generated batch rules (not a name users' policies would pick).
const BATCH_PACKAGE: &str = "policy_engine_internal_batch";

/// A precompiled batch: the rule that evaluates every applicable rule of `packages` on a
/// document of `kind` (one input shape).
#[derive(Debug, Clone)]
struct BatchPlan {
    kind: DocumentKind,
    /// Package names, in the order [`crate::eval`] passes them.
    packages: Vec<String>,
    /// `data.policy_engine_internal_batch.<kind>_<shape>`.
    rule: String,
}

/// Compiles one batch rule per document kind and Dockerfile input shape into a copy of
/// `engine`, each an array of `[x | x := data.<pkg>.<rule>]` comprehensions (so an
/// undefined rule is `[]`, not an undefined batch). The generated package is only
/// evaluated when asked for by its path, which users' policies have no reason to use.
/// `None` when there is nothing to batch or the module does not compile (evaluation
/// then uses ad-hoc queries).
fn add_batch_module(
    engine: &regorus::Engine,
    packages: &[RegoPackage],
    only: Option<DocumentKind>,
) -> Option<(regorus::Engine, Vec<BatchPlan>)> {
    let (text, plans) = batch_module(packages, only)?;
    let mut with_batches = engine.clone();
    with_batches.add_policy(BATCH_PATH.to_string(), text).ok()?;
    with_batches.eval_query("1 == 1".to_string(), false).ok()?;
    Some((with_batches, plans))
}

/// The file name of the generated batch module in regorus's messages.
const BATCH_PATH: &str = "<batch>";

/// The text of the batch module of `packages` (every kind's, or `only` one's) and its
/// plans; `None` when there is nothing to batch. [`add_batch_module`] compiles it into a
/// copy of an engine; a set of built-in files compiles it with the rest in one go
/// (`perkind.rs`), which saves regorus a second analysis of every module.
fn batch_module(
    packages: &[RegoPackage],
    only: Option<DocumentKind>,
) -> Option<(String, Vec<BatchPlan>)> {
    let mut text = format!(
        "package {BATCH_PACKAGE}

"
    );
    let mut plans = Vec::new();
    for &kind in DocumentKind::ALL {
        if only.is_some_and(|k| k != kind) {
            continue;
        }
        for shape in [DockerfileShape::Native, DockerfileShape::Conftest] {
            if kind != DocumentKind::Dockerfile && shape == DockerfileShape::Conftest {
                continue;
            }
            // The same selection as `eval::evaluate_document`.
            let pkgs: Vec<&RegoPackage> = packages
                .iter()
                .filter(|p| p.applies_to(kind) && !p.combined)
                .filter(|p| kind != DocumentKind::Dockerfile || p.dockerfile_shape == shape)
                .collect();
            let paths = batch_paths(&pkgs, kind);
            if paths.len() < 2 {
                continue;
            }
            let name = format!(
                "{}_{}",
                kind.as_str(),
                match shape {
                    DockerfileShape::Native => "native",
                    DockerfileShape::Conftest => "conftest",
                }
            );
            let items: Vec<String> = paths.iter().map(|p| format!("  [x | x := {p}]")).collect();
            let _ = writeln!(text, "{name} := [\n{}\n]\n", items.join(",\n"));
            plans.push(BatchPlan {
                kind,
                packages: pkgs.iter().map(|p| p.name.clone()).collect(),
                rule: format!("data.{BATCH_PACKAGE}.{name}"),
            });
        }
    }
    if plans.is_empty() {
        return None;
    }
    Some((text, plans))
}

/// Severity default when a rule says nothing (re-exported for docs).
pub const DEFAULT_SEVERITY: Severity = Severity::Medium;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod semantics_tests;
