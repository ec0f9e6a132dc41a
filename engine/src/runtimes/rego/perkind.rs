//! The built-in Rego policies, compiled per document kind on first use.
//!
//! Compiling every built-in module at start-up dominated a one-file run, and regorus
//! looks through every loaded module on each `data.*` reference it evaluates
//! (`Interpreter::ensure_module_evaluated`), so each module loaded for nothing made every
//! evaluation slower too. A set of built-in files only (what `policy eval` loads without
//! `-p`) is therefore not compiled when it is loaded: the first evaluation of a document
//! of some kind compiles, once per set and thread-safely, an engine holding that kind's
//! rule packages and the files they read (the `lib.*` libraries, found by the `data.`
//! paths in their text), with the same data and the same batch rules. A run compiles the
//! kinds it has, and evaluates each document in an engine holding what its kind needs.
//!
//! The whole set (every file in one engine) is a slot of its own, compiled on first use
//! too: Rego unit tests and ad-hoc queries, which may read any package, run there. A file
//! that reads `data` as a whole (or indexes it by a variable) would pull every file into
//! its kind's engine; no built-in file does.
//!
//! A set with users' files (`-p`, policies from `.policy.yaml`, how a server runs) is
//! compiled whole at load, so that its files' errors are reported as before, and that
//! engine is its whole-set slot; when [`users_can_split`] says it is safe, its kinds get
//! engines of their own as well, each holding every user's file (they declare no kinds
//! and may read any package) besides the kind's built-in packages, so that a user's
//! package is evaluated once per document, routed by its kinds, as in the whole set.
//! Data added for one run (`data.inventory`, [`PerKind::with_data`]) is merged into the
//! engines already compiled, as it is into a whole set.

use std::sync::{Arc, OnceLock};

use regorus::utils::limits::ExecutionTimerConfig;

use super::{
    add_batch_module, batch_module, build_engine, new_engine, BatchPlan, RegoEvaluator,
    RegoOptions, RegoPackage, RegoPolicySet, RegoSource, BATCH_PATH,
};
use crate::diagnostics::ErrorRecord;
use crate::inputs::DocumentKind;
use crate::rules::metadata::RegoScan;
use crate::runtimes::RuleFailure;

/// Which engine of a per-kind set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Slot {
    /// Every file.
    Full,
    /// The rule packages of one kind and what they read.
    Kind(DocumentKind),
}

impl Slot {
    /// The kind whose rules the slot's batch module holds (`None`: every kind's).
    fn kind(self) -> Option<DocumentKind> {
        match self {
            Slot::Full => None,
            Slot::Kind(kind) => Some(kind),
        }
    }

    fn index(self) -> usize {
        match self {
            Slot::Full => 0,
            Slot::Kind(kind) => {
                1 + DocumentKind::ALL
                    .iter()
                    .position(|k| *k == kind)
                    .unwrap_or_default()
            }
        }
    }
}

/// One compiled engine of a per-kind set.
pub(super) struct Compiled {
    engine: regorus::Engine,
    plans: Arc<[BatchPlan]>,
    /// Compile errors (none are expected of built-in files): reported with every
    /// evaluation that uses this engine.
    errors: Vec<ErrorRecord>,
}

/// A set of built-in files, compiled per kind on first use.
pub(super) struct PerKind {
    /// The set has users' files, held by every kind's engine ([`users_can_split`]).
    users: bool,
    sources: Vec<(RegoSource, RegoScan)>,
    data: Vec<serde_json::Value>,
    opts: RegoOptions,
    /// The set's packages (entry rules left out by the options already removed).
    packages: Vec<RegoPackage>,
    /// [`Slot::index`] → its engine, once compiled.
    slots: Vec<OnceLock<Compiled>>,
    /// The set this one is, with this data added ([`PerKind::with_data`]): an engine is
    /// the base's, compiled once, with the data merged in.
    base: Option<(Arc<PerKind>, regorus::Value)>,
}

impl std::fmt::Debug for PerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerKind")
            .field("files", &self.sources.len())
            .field("compiled", &self.compiled_kinds())
            .finish_non_exhaustive()
    }
}

impl PerKind {
    pub(super) fn new(
        sources: Vec<(RegoSource, RegoScan)>,
        data: Vec<serde_json::Value>,
        opts: RegoOptions,
        packages: Vec<RegoPackage>,
    ) -> Self {
        PerKind {
            users: sources.iter().any(|(s, _)| !s.builtin),
            sources,
            data,
            opts,
            packages,
            slots: (0..=DocumentKind::ALL.len())
                .map(|_| OnceLock::new())
                .collect(),
            base: None,
        }
    }

    /// A set with users' files, already compiled whole into `engine` (with its batch
    /// `plans`): that engine is the whole-set slot, the kinds are compiled on first use.
    pub(super) fn with_users(
        sources: Vec<(RegoSource, RegoScan)>,
        data: Vec<serde_json::Value>,
        opts: RegoOptions,
        packages: Vec<RegoPackage>,
        engine: &regorus::Engine,
        plans: &[BatchPlan],
    ) -> Self {
        let set = PerKind::new(sources, data, opts, packages);
        let _ = set.slots[Slot::Full.index()].set(Compiled {
            engine: engine.clone(),
            plans: plans.to_vec().into(),
            errors: Vec::new(),
        });
        set
    }

    /// Whether the set has users' files (then every kind's engine holds them all).
    pub(super) fn has_users(&self) -> bool {
        self.users
    }

    /// `this` set with `data` merged into its data, not compiled yet: each engine will
    /// be `this` one's (compiled once for every such set, e.g. each run of a server
    /// with its own `data.inventory`) with the data merged in, as a set compiled whole
    /// gets it. `whole`, when given, is the whole set with the data already merged. Fails
    /// (with regorus's message) when `data` clashes with the data already there.
    pub(super) fn with_data(
        this: &Arc<PerKind>,
        data: serde_json::Value,
        whole: Option<(regorus::Engine, Arc<[BatchPlan]>)>,
    ) -> Result<PerKind, String> {
        let mut all = this.data.clone();
        all.push(data.clone());
        if let Some(e) = merge_errors(&all).into_iter().next() {
            return Err(format!("{e:#}"));
        }
        let mut set = PerKind::new(
            this.sources.clone(),
            all,
            this.opts.clone(),
            this.packages.clone(),
        );
        set.base = Some((Arc::clone(this), regorus::Value::from(data)));
        if let Some((engine, plans)) = whole {
            let _ = set.slots[Slot::Full.index()].set(Compiled {
                engine,
                plans,
                errors: Vec::new(),
            });
        }
        Ok(set)
    }

    /// The base set's engine of `slot` with this set's added data, ready to evaluate;
    /// `None` when the base's engine had errors or the data does not go in cleanly
    /// (the engine is then compiled from the files, which reports why).
    fn derived(&self, slot: Slot) -> Option<Compiled> {
        let (base, data) = self.base.as_ref()?;
        let compiled = base.get(slot);
        if !compiled.errors.is_empty() {
            return None;
        }
        let mut engine = compiled.engine.clone();
        engine.add_data(data.clone()).ok()?;
        engine.eval_query("1 == 1".to_string(), false).ok()?;
        Some(Compiled {
            engine,
            plans: Arc::clone(&compiled.plans),
            errors: Vec::new(),
        })
    }

    /// The engine of `slot`, compiled by the first caller (the others wait for it).
    fn get(&self, slot: Slot) -> &Compiled {
        self.slots[slot.index()].get_or_init(|| self.compile(slot))
    }

    /// Compiles the engine of `kind` on a new thread (with an evaluation's stack: a
    /// user's file may nest deeply), unless it is compiled or being compiled already; the
    /// thread is not waited for (an evaluation that needs the engine first waits for it,
    /// see [`PerKind::get`]). Without a thread, nothing happens: the first evaluation
    /// compiles it, as always.
    pub(super) fn compile_ahead(this: &Arc<PerKind>, kind: DocumentKind) {
        if this.slots[Slot::Kind(kind).index()].get().is_some() {
            return;
        }
        let set = Arc::clone(this);
        let _ = std::thread::Builder::new()
            .name(format!("policy-compile-{}", kind.as_str()))
            .stack_size(super::budget::EVAL_STACK_BYTES)
            .spawn(move || {
                // A panic here (none is known: `compile` contains regorus's own) must not
                // print from this thread: the engine is then left uncompiled, and the
                // first evaluation of the kind compiles it itself, as without this thread.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    super::budget::quietly(|| {
                        set.get(Slot::Kind(kind));
                    })
                }));
            });
    }

    /// The kinds whose engines were compiled so far, in [`DocumentKind::ALL`] order.
    pub(super) fn compiled_kinds(&self) -> Vec<DocumentKind> {
        DocumentKind::ALL
            .iter()
            .copied()
            .filter(|k| self.slots[Slot::Kind(*k).index()].get().is_some())
            .collect()
    }

    /// The files an engine for `kind` holds: the files of the packages with a rule for
    /// `kind`, and, transitively, every file whose package a held file reads. Indexes
    /// into `sources`, in their order.
    pub(super) fn group(&self, kind: DocumentKind) -> Vec<usize> {
        let n = self.sources.len();
        let mut held = vec![false; n];
        let mut todo: Vec<usize> = Vec::new();
        for (i, (_, scan)) in self.sources.iter().enumerate() {
            // A user's file may have no declared kinds and read any package: it is
            // in every kind's engine.
            let selected = !self.sources[i].0.builtin
                || scan.package.as_deref().is_some_and(|name| {
                    self.packages
                        .iter()
                        .any(|p| p.name == name && p.applies_to(kind))
                });
            if selected {
                held[i] = true;
                todo.push(i);
            }
        }
        let packages: Vec<Option<Vec<&str>>> = self
            .sources
            .iter()
            .map(|(_, scan)| scan.package.as_deref().map(|p| p.split('.').collect()))
            .collect();
        while let Some(i) = todo.pop() {
            let Some(paths) = data_reads(&self.sources[i].0.text) else {
                return (0..n).collect();
            };
            for (j, package) in packages.iter().enumerate() {
                if held[j] {
                    continue;
                }
                let Some(package) = package else {
                    continue;
                };
                if paths.iter().any(|path| overlaps(package, path)) {
                    held[j] = true;
                    todo.push(j);
                }
            }
        }
        (0..n).filter(|i| held[*i]).collect()
    }

    fn compile(&self, slot: Slot) -> Compiled {
        if let Some(derived) = self.derived(slot) {
            return derived;
        }
        let files = match slot {
            Slot::Full => (0..self.sources.len()).collect(),
            Slot::Kind(kind) => self.group(kind),
        };
        let scanned: Vec<(&RegoSource, RegoScan)> = files
            .iter()
            .map(|&i| (&self.sources[i].0, self.sources[i].1.clone()))
            .collect();
        if let Some(compiled) = self.compile_with_batch(&scanned, slot) {
            return compiled;
        }
        let mut errors = Vec::new();
        let mut excluded = Vec::new();
        let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            build_engine(&scanned, &self.data, &self.opts, &mut errors, &mut excluded)
        }));
        let mut engine = match built {
            Ok(Some(engine)) => engine,
            Ok(None) => new_engine(&self.opts),
            Err(_) => {
                errors.push(super::policy_error(
                    "<policies>",
                    1,
                    1,
                    "the Rego engine panicked compiling the built-in policies",
                ));
                new_engine(&self.opts)
            }
        };
        // The data's own clashes were reported when the set was loaded.
        errors.retain(|e| e.file != "<data>");
        if self.users && slot != Slot::Full && !errors.is_empty() {
            // Not expected (the whole set compiled): evaluate in the whole set, which
            // reported its errors at load, rather than report new ones.
            let full = self.get(Slot::Full);
            return Compiled {
                engine: full.engine.clone(),
                plans: Arc::clone(&full.plans),
                errors: full.errors.clone(),
            };
        }
        let mut plans = Vec::new();
        if self.opts.batch {
            let only = slot.kind();
            if let Some((with_batches, batch_plans)) =
                add_batch_module(&engine, &self.packages, only)
            {
                engine = with_batches;
                plans = batch_plans;
            }
        }
        Compiled {
            engine,
            plans: plans.into(),
            errors,
        }
    }

    /// `scanned` and the batch module of `slot` compiled in one go, so that regorus
    /// analyses every module once (adding the batch module to a compiled engine makes it
    /// analyse them all again: a tenth of a one-file run). `None` when there is no batch,
    /// or when anything in it does not compile cleanly: the files are then compiled
    /// alone, which reports why, and the batch is added after, as before.
    fn compile_with_batch(
        &self,
        scanned: &[(&RegoSource, RegoScan)],
        slot: Slot,
    ) -> Option<Compiled> {
        if !self.opts.batch {
            return None;
        }
        let (text, plans) = batch_module(&self.packages, slot.kind())?;
        let batch = RegoSource {
            path: BATCH_PATH.to_string(),
            text,
            builtin: true,
        };
        let mut all = scanned.to_vec();
        all.push((&batch, RegoScan::default()));
        let mut errors = Vec::new();
        let mut excluded = Vec::new();
        let engine = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            build_engine(&all, &self.data, &self.opts, &mut errors, &mut excluded)
        }))
        .ok()??;
        // The data's own clashes were reported when the set was loaded.
        errors.retain(|e| e.file != "<data>");
        (errors.is_empty() && excluded.is_empty()).then(|| Compiled {
            engine,
            plans: plans.into(),
            errors,
        })
    }
}

/// Whether a set with users' files (`sources`, the files that loaded) can be evaluated
/// per kind with the same results as whole: there are built-in files to leave out, no
/// user's package is a built-in package or inside or around one (which would extend
/// it), and every user's file reads only static `data` paths ([`data_reads`]). Each
/// kind's engine then holds that kind's built-in packages, every user's file and,
/// transitively, every file they read. A combined package (`--combine`, `custom.input:
/// combined`) is a user's package too: it is evaluated in the engine of the kind
/// [`crate::eval::combine`] picks, which holds it and everything it reads.
pub(super) fn users_can_split(sources: &[(RegoSource, RegoScan)]) -> bool {
    let builtin: Vec<Vec<String>> = sources
        .iter()
        .filter(|(s, _)| s.builtin)
        .filter_map(|(_, scan)| scan.package.as_deref())
        .map(|p| p.split('.').map(str::to_string).collect())
        .collect();
    let users: Vec<&(RegoSource, RegoScan)> = sources.iter().filter(|(s, _)| !s.builtin).collect();
    if builtin.is_empty() || users.is_empty() {
        return false;
    }
    users.iter().all(|(src, scan)| {
        let Some(package) = scan.package.as_deref() else {
            return false;
        };
        let package: Vec<&str> = package.split('.').collect();
        !builtin.iter().any(|b| overlaps(&package, b)) && data_reads(&src.text).is_some()
    })
}

/// The errors of merging `data` in order, as [`build_engine`] reports them.
pub(super) fn merge_errors(data: &[serde_json::Value]) -> Vec<anyhow::Error> {
    let mut engine = regorus::Engine::new();
    data.iter()
        .filter_map(|d| engine.add_data(regorus::Value::from(d.clone())).err())
        .collect()
}

/// Whether one dotted path is a prefix of the other: a package and a `data` path that
/// reads it, or a part of it, or a document holding it.
fn overlaps(package: &[&str], path: &[String]) -> bool {
    package.iter().zip(path).all(|(a, b)| *a == b)
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// `text` with its comments and string literals blanked out (newlines kept).
fn code_only(text: &str) -> String {
    #[derive(PartialEq)]
    enum In {
        Code,
        Comment,
        Str,
        Escape,
        Raw,
    }
    let mut state = In::Code;
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let keep = match state {
            In::Code => match c {
                '#' => {
                    state = In::Comment;
                    false
                }
                '"' => {
                    state = In::Str;
                    false
                }
                '`' => {
                    state = In::Raw;
                    false
                }
                _ => true,
            },
            In::Comment => {
                if c == '\n' {
                    state = In::Code;
                }
                false
            }
            In::Str => {
                match c {
                    '\\' => state = In::Escape,
                    '"' | '\n' => state = In::Code,
                    _ => {}
                }
                false
            }
            In::Escape => {
                state = In::Str;
                false
            }
            In::Raw => {
                if c == '`' {
                    state = In::Code;
                }
                false
            }
        };
        if keep || c == '\n' {
            out.push(c);
        } else {
            // As many bytes as `c`: offsets into the result are offsets into `text`.
            out.extend(std::iter::repeat_n(' ', c.len_utf8()));
        }
    }
    out
}

/// The static `data` paths a Rego file reads (`data.lib.kubernetes.containers` and
/// `import data.lib.kubernetes` give `lib.kubernetes...`), or `None` when it reads
/// `data` as a whole or by a computed key (`data[x]`, `walk(data)`, `import data`).
pub(crate) fn data_reads(text: &str) -> Option<Vec<Vec<String>>> {
    let code = code_only(text);
    let mut paths = Vec::new();
    let mut from = 0;
    while let Some(off) = code[from..].find("data") {
        let at = from + off;
        let end = at + "data".len();
        from = end;
        if code[..at]
            .chars()
            .next_back()
            .is_some_and(|c| is_ident(c) || c == '.')
            || code[end..].chars().next().is_some_and(is_ident)
        {
            continue;
        }
        let mut segments = Vec::new();
        let mut next = end;
        while code[next..].starts_with('.') {
            let segment: String = code[next + 1..]
                .chars()
                .take_while(|c| is_ident(*c))
                .collect();
            if segment.is_empty() {
                break;
            }
            next += 1 + segment.len();
            segments.push(segment);
        }
        if segments.is_empty() {
            segments = object_get_path(&code, text, at, end)?;
        }
        paths.push(segments);
    }
    Some(paths)
}

/// For `object.get(data, ["a", "b", x], default)` (`data` at `at..end` of `code`, the
/// blanked `text`), the leading literal keys of the path (`a.b`): everything the call
/// can read is under them. `None` for any other use of `data` as a whole, or when the
/// path does not start with a literal key.
fn object_get_path(code: &str, text: &str, at: usize, end: usize) -> Option<Vec<String>> {
    let before = code[..at].trim_end().strip_suffix('(')?.trim_end();
    if !before.ends_with("object.get") {
        return None;
    }
    let rest = text[end..].trim_start().strip_prefix(',')?;
    let mut rest = rest.trim_start().strip_prefix('[')?;
    let mut keys = Vec::new();
    while let Some(item) = rest.trim_start().strip_prefix('"') {
        let close = item.find('"')?;
        let key = &item[..close];
        if key.is_empty() || !key.chars().all(is_ident) {
            break;
        }
        keys.push(key.to_string());
        rest = item[close + 1..].trim_start();
        match rest.strip_prefix(',') {
            Some(r) => rest = r,
            None => break,
        }
    }
    (!keys.is_empty()).then_some(keys)
}

/// An engine of a per-kind set that an evaluator used and switched away from.
#[derive(Clone)]
pub(super) struct Parked {
    slot: Slot,
    engine: regorus::Engine,
    pristine: regorus::Engine,
    plans: Arc<[BatchPlan]>,
}

impl Parked {
    pub(super) fn set_timer(&mut self, config: ExecutionTimerConfig) {
        self.engine.set_execution_timer_config(config);
        self.pristine.set_execution_timer_config(config);
    }
}

impl RegoEvaluator {
    /// Makes `slot`'s engine the one evaluations use (compiling it if no evaluator of
    /// the set did yet), with the current input. A set compiled whole has one engine:
    /// nothing to do. Returns the slot's compile errors, as failures to report.
    pub(super) fn activate(&mut self, slot: Slot) -> Vec<RuleFailure> {
        let Some(per_kind) = self.per_kind.clone() else {
            return Vec::new();
        };
        let compiled = per_kind.get(slot);
        if self.active != Some(slot) {
            let parked = match self.parked.iter().position(|p| p.slot == slot) {
                Some(i) => self.parked.swap_remove(i),
                None => {
                    let mut engine = compiled.engine.clone();
                    if let Some(timer) = self.timer {
                        engine.set_execution_timer_config(timer);
                    }
                    Parked {
                        slot,
                        engine: engine.clone(),
                        pristine: engine,
                        plans: Arc::clone(&compiled.plans),
                    }
                }
            };
            let engine = std::mem::replace(&mut self.engine, parked.engine);
            let pristine = std::mem::replace(&mut self.pristine, parked.pristine);
            let plans = std::mem::replace(&mut self.plans, parked.plans);
            if let Some(old) = self.active.replace(slot) {
                self.parked.push(Parked {
                    slot: old,
                    engine,
                    pristine,
                    plans,
                });
            }
            if let Some(input) = &self.input {
                self.engine.set_input(input.clone());
            }
        }
        let what = match slot {
            Slot::Full => "the built-in policies".to_string(),
            Slot::Kind(kind) => format!("the built-in policies for {} documents", kind.as_str()),
        };
        compiled
            .errors
            .iter()
            .map(|e| RuleFailure {
                rule: "builtin".to_string(),
                file: e.file.clone(),
                line: e.line,
                column: e.column,
                timeout: false,
                message: format!("{what} did not compile: {}", e.message),
            })
            .collect()
    }
}

impl RegoPolicySet {
    /// An engine holding every file of the set (compiled on first use for a per-kind
    /// set): what ad-hoc queries run in.
    pub(super) fn whole_engine(&self) -> regorus::Engine {
        match &self.per_kind {
            Some(per_kind) => per_kind.get(Slot::Full).engine.clone(),
            None => self.engine.clone(),
        }
    }

    /// The document kinds whose built-in engines this set compiled so far
    /// ([`RegoOptions::per_kind`]); empty for a set compiled whole.
    pub fn compiled_kinds(&self) -> Vec<DocumentKind> {
        self.per_kind
            .as_ref()
            .map(|p| p.compiled_kinds())
            .unwrap_or_default()
    }

    /// Whether this set compiles per document kind on first use
    /// ([`RegoOptions::per_kind`]).
    pub fn is_per_kind(&self) -> bool {
        self.per_kind.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_reads_finds_static_paths_outside_comments_and_strings() {
        let text = "package a\nimport rego.v1\nimport data.lib.kubernetes as k8s\n\
                    # data[x] in a comment\nmsg := \"data file\"\n\
                    deny contains m if { data.settings.x; m := input.data; metadata := 1 }\n";
        assert_eq!(
            data_reads(text),
            Some(vec![
                vec!["lib".to_string(), "kubernetes".to_string()],
                vec!["settings".to_string(), "x".to_string()],
            ])
        );
        assert_eq!(data_reads("package a\nx := data[y]\n"), None);
        assert_eq!(data_reads("package a\nx := walk(data)\n"), None);
        assert_eq!(data_reads("package a\nimport data\n"), None);
        assert_eq!(data_reads("package a\nx := `data[y]`\n"), Some(vec![]));
        assert_eq!(
            data_reads("package a\nx := object.get(data, [\"pss\", \"version\", k], 1)\n"),
            Some(vec![vec!["pss".to_string(), "version".to_string()]])
        );
        assert_eq!(
            data_reads("package a\nx := object.get(data, [k], 1)\n"),
            None
        );
        assert_eq!(data_reads("package a\nx := object.get(data, p, 1)\n"), None);
        assert_eq!(data_reads("package a\nx := \"é\"; y := data[k]\n"), None);
    }

    #[test]
    fn paths_overlap_packages_by_prefix() {
        let p = |s: &str| s.split('.').map(str::to_string).collect::<Vec<_>>();
        assert!(overlaps(
            &["lib", "kubernetes"],
            &p("lib.kubernetes.containers")
        ));
        assert!(overlaps(&["lib", "kubernetes"], &p("lib")));
        assert!(!overlaps(&["lib", "kubernetes"], &p("lib.kubernetes_test")));
        assert!(!overlaps(&["lib", "dockerfile_test"], &p("lib.dockerfile")));
    }
}

#[cfg(test)]
mod builtin_tests {
    use super::*;

    fn builtin_set() -> RegoPolicySet {
        RegoPolicySet::compile(&builtin_sources(), &[], &RegoOptions::default())
    }

    /// Every built-in Rego file, as the CLI loads them.
    fn builtin_sources() -> Vec<RegoSource> {
        crate::eval::policies::BUILTIN_POLICIES
            .iter()
            .filter(|(p, _)| p.ends_with(".rego"))
            .map(|(p, bytes)| RegoSource {
                path: (*p).to_string(),
                text: String::from_utf8_lossy(bytes).into_owned(),
                builtin: true,
            })
            .collect()
    }

    /// The names of the files an engine for `kind` holds.
    fn group(set: &RegoPolicySet, kind: DocumentKind) -> Vec<&str> {
        let per_kind = set.per_kind.as_ref().expect("a per-kind set");
        per_kind
            .group(kind)
            .into_iter()
            .map(|i| per_kind.sources[i].0.path.as_str())
            .collect()
    }

    #[test]
    fn each_kind_holds_its_rules_and_the_libraries_they_read() {
        let set = builtin_set();
        let docker = group(&set, DocumentKind::Dockerfile);
        assert!(
            docker.contains(&"policies/lib/dockerfile.rego"),
            "{docker:?}"
        );
        assert!(
            docker.contains(&"policies/lib/registries.rego"),
            "{docker:?}"
        );
        assert!(
            docker
                .iter()
                .all(|p| !p.contains("kubernetes") && !p.contains("pss")),
            "{docker:?}"
        );
        let k8s = group(&set, DocumentKind::Kubernetes);
        for lib in ["cluster", "kubernetes", "pss", "rbac", "registries"] {
            assert!(
                k8s.contains(&format!("policies/lib/{lib}.rego").as_str()),
                "{k8s:?}"
            );
        }
        assert!(k8s
            .iter()
            .all(|p| !p.contains("dockerfile") && !p.contains("workflow")));
        assert!(k8s.len() < set.per_kind.as_ref().map_or(0, |p| p.sources.len()));
    }

    #[test]
    fn every_kind_compiles_without_errors_on_first_use_only() {
        let set = builtin_set();
        assert!(set.errors.is_empty(), "{:?}", set.errors);
        assert!(set.compiled_kinds().is_empty());
        let mut ev = set.evaluator();
        ev.set_input(&serde_json::json!({}));
        for &kind in DocumentKind::ALL {
            assert!(ev.activate(Slot::Kind(kind)).is_empty(), "{kind:?}");
        }
        assert_eq!(set.compiled_kinds(), DocumentKind::ALL);
        // A second evaluator reuses the compiled engines.
        let mut other = set.evaluator();
        assert!(other.activate(Slot::Kind(DocumentKind::Image)).is_empty());
        assert!(ev.activate(Slot::Full).is_empty());
    }

    #[test]
    fn every_built_in_kind_compiles_with_its_batch_module_in_one_go() {
        let set = builtin_set();
        let per_kind = set.per_kind.as_ref().expect("a per-kind set");
        for &kind in DocumentKind::ALL {
            let files = per_kind.group(kind);
            let scanned: Vec<(&RegoSource, RegoScan)> = files
                .iter()
                .map(|&i| (&per_kind.sources[i].0, per_kind.sources[i].1.clone()))
                .collect();
            let one_go = per_kind.compile_with_batch(&scanned, Slot::Kind(kind));
            let Some((_, plans)) = batch_module(&per_kind.packages, Some(kind)) else {
                // Fewer than two rules: no batch, the files are compiled alone.
                assert!(one_go.is_none(), "{kind:?}");
                continue;
            };
            let one_go = one_go
                .unwrap_or_else(|| panic!("{kind:?}: the batch did not compile with the files"));
            // The same plans as the batch added to the compiled files afterwards.
            let rules = |p: &[BatchPlan]| p.iter().map(|p| p.rule.clone()).collect::<Vec<_>>();
            assert_eq!(rules(&one_go.plans), rules(&plans), "{kind:?}");
            assert!(!one_go.plans.is_empty(), "{kind:?}");
            assert!(one_go.errors.is_empty(), "{kind:?}: {:?}", one_go.errors);
            for plan in one_go.plans.iter() {
                let mut engine = one_go.engine.clone();
                engine.set_input(regorus::Value::new_object());
                let value = engine.eval_rule(plan.rule.clone()).expect("the batch rule");
                assert_eq!(
                    value.as_array().map(|a| a.len()).ok(),
                    Some(plan.packages.len()),
                    "{kind:?}: {}",
                    plan.rule
                );
            }
        }
    }

    #[test]
    fn compiling_ahead_compiles_the_kinds_asked_for_and_no_other() {
        let set = builtin_set();
        set.compile_ahead(&[DocumentKind::Dockerfile, DocumentKind::Workflow]);
        // Nothing evaluates here: the engines are compiled by the threads alone.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while set.compiled_kinds().len() < 2 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(
            set.compiled_kinds(),
            [DocumentKind::Dockerfile, DocumentKind::Workflow]
        );
        // They are the engines evaluations use.
        let mut ev = set.evaluator();
        ev.set_input(&serde_json::json!({}));
        assert!(ev.activate(Slot::Kind(DocumentKind::Dockerfile)).is_empty());
        assert_eq!(set.compiled_kinds().len(), 2);
    }

    #[test]
    fn users_files_split_per_kind_unless_they_extend_or_scan_data() {
        let with_user = |text: &str| {
            let mut sources = builtin_sources();
            sources.push(RegoSource {
                path: "user/p.rego".into(),
                text: text.into(),
                builtin: false,
            });
            RegoPolicySet::compile(&sources, &[], &RegoOptions::default())
        };
        let rule =
            "import rego.v1\n# METADATA\n# custom:\n#   id: U1\ndeny contains \"m\" if input.x\n";
        let set = with_user(&format!("package org.u\n{rule}"));
        assert!(set.errors.is_empty(), "{:?}", set.errors);
        assert!(set.is_per_kind());
        // The user's file is in every kind's engine, with the libraries it reads.
        let reads = with_user(&format!(
            "package org.u\n{rule}y := data.lib.kubernetes.containers\n"
        ));
        for &kind in DocumentKind::ALL {
            let g = group(&reads, kind);
            assert!(g.contains(&"user/p.rego"), "{kind:?}");
            assert!(g.contains(&"policies/lib/kubernetes.rego"), "{kind:?}");
        }
        assert!(!with_user(&format!("package lib.kubernetes\n{rule}")).is_per_kind());
        assert!(!with_user(&format!("package lib\n{rule}")).is_per_kind());
        assert!(!with_user(&format!("package org.u\n{rule}y := data[k]\n")).is_per_kind());
        let whole_only = RegoOptions {
            per_kind: false,
            ..RegoOptions::default()
        };
        let src = RegoSource {
            path: "user/p.rego".into(),
            text: format!("package org.u\n{rule}"),
            builtin: false,
        };
        assert!(!RegoPolicySet::compile(&[src], &[], &whole_only).is_per_kind());
    }

    #[test]
    fn a_compile_error_is_reported_with_each_evaluation() {
        let broken = RegoSource {
            path: "policies/broken.rego".into(),
            text: "package builtin.broken\nimport rego.v1\n# METADATA\n# custom:\n#   id: BRK001\n#   kinds: [dockerfile]\ndeny contains m if { m := \n".into(),
            builtin: true,
        };
        let set = RegoPolicySet::compile(&[broken], &[], &RegoOptions::default());
        assert!(set.errors.is_empty(), "{:?}", set.errors);
        assert_eq!(set.packages.len(), 1);
        let mut ev = set.evaluator();
        ev.set_input(&serde_json::json!({}));
        let pkgs: Vec<&RegoPackage> = set.packages.iter().collect();
        let (results, failures) = ev.evaluate_packages(&pkgs, DocumentKind::Dockerfile);
        assert!(results.is_empty());
        // The compile error, then the rule that could not run.
        assert_eq!(failures.len(), 2, "{failures:?}");
        assert!(
            failures[0]
                .message
                .starts_with("the built-in policies for dockerfile documents did not compile"),
            "{failures:?}"
        );
        assert_eq!(failures[0].file, "policies/broken.rego");
    }
}
