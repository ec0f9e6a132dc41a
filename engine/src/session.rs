//! The engine facade: one [`Session`] per front end, so that `policy eval`,
//! `policy watch`, `policy lsp`, `policy test` and `policy serve` check inputs the same
//! way.
//!
//! Checking an input takes five steps: find it, parse it (detecting its kind), evaluate
//! the policies on its documents, apply the suppressions written in it
//! (`# policy:ignore=`, `policy.dev/ignore`), then apply the configuration's rule
//! overrides and exceptions ([`config::apply`]). Every front end used to wire these
//! itself; a [`Session`] does it once, over the settings resolved from the layered
//! configuration ([`crate::config::resolve`]) and a policy set that can be reloaded while
//! it is in use ([`ReloadablePolicySet`]).
//!
//! ## Contract
//!
//! * A `Session` is `Send + Sync`: share it as an `Arc<Session>` between threads (a
//!   server answers requests on several threads).
//! * Every check takes one snapshot of the policy set when it starts and uses it to the
//!   end, so a check running while [`Session::reload`] swaps the set sees either the old
//!   set or the new one, never a mix.
//! * A reload that breaks a policy or data file that loaded before is refused, and the
//!   last good set stays in use ([`ReloadRejected`]).
//! * Nothing here formats or prints: a check returns a [`Report`]; reporters in
//!   [`crate::report`] format it, [`Report::exit_status`] grades it.
//!
//! ```no_run
//! use std::path::PathBuf;
//! use policy_engine::config::resolve::{ConfigSource, Layers};
//! use policy_engine::report::ReportOptions;
//! use policy_engine::session::Session;
//!
//! let layers = Layers {
//!     root: std::env::current_dir()?,
//!     config: ConfigSource::Discover,
//!     ..Layers::default()
//! };
//! let session = Session::new(layers.resolve()?)?;
//! let report = session.check_text("Dockerfile", "FROM alpine\n", None);
//! let status = report.exit_status(&ReportOptions {
//!     fail_on: session.settings().fail_on,
//!     ..ReportOptions::default()
//! });
//! let _ = (status, session.check_paths(&[PathBuf::from("deploy/")]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use thiserror::Error;

use crate::config::resolve::{Layers, ResolveError, ResolvedSettings};
use crate::config::{self, Config};
use crate::diagnostics::Report;
use crate::eval::{self, EvalOptions, PolicySet, ReloadRejected, ReloadablePolicySet, Worker};
use crate::inputs::{self, discover, DocumentKind, FileReport, Format, LoadOptions};
use crate::rules::RuleMeta;

/// Why a session could not be started.
#[derive(Debug, Error)]
pub enum SessionError {
    /// The settings are invalid (a bad flag, option or configuration file).
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// The policy paths cannot be watched.
    #[error("cannot watch the policy files")]
    Watch(#[source] notify::Error),
}

/// One front end's engine: resolved settings, a reloadable policy set, and the checks.
/// See the [module documentation](self) for the contract.
#[derive(Debug)]
pub struct Session {
    settings: ResolvedSettings,
    policies: ReloadablePolicySet,
    /// The watcher started by [`Session::watch_policies`], dropped with the session.
    watcher: Mutex<Option<PolicyWatch>>,
}

/// The watcher of [`Session::watch_policies`] and what it watches, with each directory's
/// identity when it was watched ([`dir_id`]).
#[derive(Debug)]
struct PolicyWatch {
    watcher: notify::RecommendedWatcher,
    targets: Vec<(PathBuf, notify::RecursiveMode, Option<DirId>)>,
}

/// A directory's identity: device, inode and birth time on Unix, so that a directory
/// deleted and made again under the same name is told apart from the one that was
/// watched, even when the file system hands the freed inode number straight back (ext4
/// and tmpfs do). The birth time is 0 where the file system does not record it.
pub(crate) type DirId = (u64, u64, u128);

/// `path`'s identity ([`DirId`]); `None` when it cannot be read.
pub(crate) fn dir_id(path: &Path) -> Option<DirId> {
    let meta = std::fs::metadata(path).ok()?;
    let born = meta
        .created()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((meta.dev(), meta.ino(), born))
    }
    #[cfg(not(unix))]
    {
        Some((0, 0, born))
    }
}

impl Session {
    /// Loads the policies the settings name (every built-in module, unless
    /// [`crate::eval::PolicyOptions::input_kinds`] narrows them) and starts a session. A
    /// policy that does not load is not fatal: its errors are in every report and in
    /// [`PolicySet::errors`].
    pub fn new(settings: ResolvedSettings) -> Result<Session, SessionError> {
        let policies = ReloadablePolicySet::load(settings.policy.clone());
        Ok(Session {
            settings,
            policies,
            watcher: Mutex::new(None),
        })
    }

    /// Resolves `layers` strictly ([`Layers::resolve`]) and starts a session.
    pub fn from_layers(layers: Layers) -> Result<Session, SessionError> {
        Session::new(layers.resolve()?)
    }

    /// A session for checking `files`: built-in WASM modules for kinds none of them has
    /// are not compiled (a one-shot run such as `policy eval`; their rule IDs stay known,
    /// see [`PolicySet::unloaded`]). Check them with [`check_files`](Self::check_files).
    pub fn for_files(
        settings: ResolvedSettings,
        files: &[FileReport],
    ) -> Result<Session, SessionError> {
        let mut kinds: Vec<DocumentKind> = Vec::new();
        for doc in files.iter().flat_map(|f| &f.documents) {
            if !kinds.contains(&doc.kind) {
                kinds.push(doc.kind);
            }
        }
        Session::for_kinds(settings, kinds)
    }

    /// [`for_files`](Self::for_files) when only the kinds of the inputs are known (a
    /// streamed run's first pass, [`eval::stream::scan`]).
    pub fn for_kinds(
        mut settings: ResolvedSettings,
        kinds: Vec<DocumentKind>,
    ) -> Result<Session, SessionError> {
        settings.policy.input_kinds = Some(kinds);
        Session::new(settings)
    }

    /// The settings in effect.
    pub fn settings(&self) -> &ResolvedSettings {
        &self.settings
    }

    /// The configuration file in effect, if any.
    pub fn config(&self) -> Option<&Config> {
        self.settings.config.as_ref()
    }

    /// The policy set in use now: a snapshot that stays valid, whatever reloads happen
    /// while the caller holds it.
    pub fn policies(&self) -> Arc<PolicySet> {
        self.policies.current()
    }

    /// The rules of the policy set in use now (loaded and on, sorted by ID), before the
    /// configuration's overrides.
    pub fn rules(&self) -> Vec<Arc<RuleMeta>> {
        self.policies.current().rules()
    }

    /// The reloadable policy set itself (its generation, source paths and options).
    pub fn policy_handle(&self) -> &ReloadablePolicySet {
        &self.policies
    }

    /// Loads the policies again and swaps them in, unless the new set is broken; then
    /// the last good set stays in use and the error lists why ([`ReloadRejected`]).
    pub fn reload(&self) -> Result<Arc<PolicySet>, ReloadRejected> {
        self.rewatch();
        self.policies.reload()
    }

    /// Watches again every directory of [`watch_policies`](Self::watch_policies) that was
    /// deleted and made anew (or that appeared) since it was watched: the old watch died
    /// with the old directory, so `rm -rf policies && mkdir policies` would otherwise
    /// leave the new one unwatched.
    fn rewatch(&self) {
        use notify::Watcher;
        let mut guard = self.watcher.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(w) = guard.as_mut() else { return };
        for (path, mode, id) in &mut w.targets {
            let now = dir_id(path);
            if now.is_some() && now != *id {
                let _ = w.watcher.unwatch(path);
                if w.watcher.watch(path, *mode).is_ok() {
                    *id = now;
                }
            }
        }
    }

    /// [`reload`](Self::reload) if a policy or data file was added, removed or changed
    /// since the last load, else `None`.
    pub fn reload_if_changed(&self) -> Option<Result<Arc<PolicySet>, ReloadRejected>> {
        self.policies.reload_if_changed()
    }

    /// Watches the policy and data paths and the configuration file on disk, and calls
    /// `on_change` with the path of every change that may change the policy set
    /// ([`ResolvedSettings::affects_policies`]), from the watcher's thread. Long-lived
    /// front ends use it so that an edit made outside them (a `git pull`, a generator,
    /// another editor) is picked up whatever their client does; they decide when to
    /// [`reload`](Self::reload) (e.g. after a debounce). Directories are watched
    /// recursively, so new files in them are seen; a path that does not exist yet is
    /// watched through its nearest existing parent. Replaces an earlier watcher; the
    /// watcher stops when the session is dropped.
    pub fn watch_policies(
        &self,
        on_change: impl Fn(PathBuf) + Send + 'static,
    ) -> Result<(), SessionError> {
        use notify::{EventKind, RecursiveMode, Watcher};
        let filter = self.settings.clone();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let Ok(event) = event else { return };
                if matches!(event.kind, EventKind::Access(_)) {
                    return;
                }
                for path in event.paths {
                    if filter.affects_policies(&path) {
                        on_change(path);
                    }
                }
            })
            .map_err(SessionError::Watch)?;
        let root = &self.settings.root;
        let mut targets: Vec<(PathBuf, RecursiveMode)> =
            vec![(root.clone(), RecursiveMode::NonRecursive)];
        for p in self.policies.source_paths() {
            let abs = config::options::normalize(root, p);
            let target = if abs.is_dir() {
                (abs, RecursiveMode::Recursive)
            } else {
                // A file, or a path still to be created: its nearest existing parent.
                let parent = abs
                    .ancestors()
                    .skip(1)
                    .find(|a| a.is_dir())
                    .map_or_else(|| root.clone(), PathBuf::from);
                (parent, RecursiveMode::NonRecursive)
            };
            if !targets.contains(&target) {
                targets.push(target);
            }
        }
        let mut watched = Vec::new();
        for (path, mode) in targets {
            let mut id = None;
            if path.exists() {
                watcher.watch(&path, mode).map_err(SessionError::Watch)?;
                id = dir_id(&path);
            }
            watched.push((path, mode, id));
        }
        *self.watcher.lock().unwrap_or_else(PoisonError::into_inner) = Some(PolicyWatch {
            watcher,
            targets: watched,
        });
        Ok(())
    }

    /// The configuration's warnings against the policy set in use now: rule IDs that
    /// match no loaded rule, expired exceptions. Empty without a configuration file.
    pub fn config_warnings(&self) -> Vec<config::Warning> {
        self.config_warnings_for(&self.policies.current())
    }

    fn config_warnings_for(&self, set: &PolicySet) -> Vec<config::Warning> {
        let Some(cfg) = &self.settings.config else {
            return Vec::new();
        };
        let mut report = eval::evaluate(set, Vec::new(), &EvalOptions::default());
        config::apply(cfg, &mut report, &self.settings.root, config::Date::today())
    }

    /// Finds and loads the inputs under `paths` as `policy eval` does (`-` reads
    /// stdin; directories are walked honouring `.gitignore`; the configuration's
    /// `exclude` leaves paths out before they are opened).
    pub fn collect(&self, paths: &[PathBuf]) -> Vec<FileReport> {
        discover::collect(paths, &self.settings.discover)
    }

    /// Finds, loads and checks the inputs under `paths` (see [`collect`](Self::collect)
    /// and [`check_files`](Self::check_files)).
    pub fn check_paths(&self, paths: &[PathBuf]) -> Report {
        self.check_files(self.collect(paths))
    }

    /// Checks loaded inputs: evaluates every document on one snapshot of the policy set,
    /// applies the inline suppressions and then the configuration ([`config::apply`]).
    /// The report accounts for every input and carries the policy set's load errors.
    pub fn check_files(&self, files: Vec<FileReport>) -> Report {
        let set = self.policies.current();
        self.check_with(&set, files)
    }

    /// [`check_files`](Self::check_files) on a given policy set (a snapshot the caller
    /// already holds, e.g. the one a reload returned).
    pub fn check_with(&self, set: &PolicySet, files: Vec<FileReport>) -> Report {
        let mut report = eval::evaluate(set, files, &self.eval_options());
        if let Some(cfg) = &self.settings.config {
            config::apply(cfg, &mut report, &self.settings.root, config::Date::today());
        }
        report
    }

    /// The options of a run with these settings.
    fn eval_options(&self) -> EvalOptions {
        EvalOptions {
            threads: self.settings.threads,
            trace: self.settings.trace,
            no_peer_ignores: !self.peer_ignores(),
            shard: self.settings.shard.map(|shard| eval::shard::ShardOptions {
                shard,
                root: self.settings.root.clone(),
            }),
        }
    }

    /// Finds the inputs under `paths` without loading them, for
    /// [`check_plan`](Self::check_plan) (`-` reads stdin now).
    pub fn plan(&self, paths: &[PathBuf]) -> discover::Plan {
        discover::Plan::new(paths, &self.settings.discover)
    }

    /// [`check_with`](Self::check_with) for the inputs of `plan`, streamed when the set
    /// allows it ([`eval::stream`]): each input is loaded, evaluated and dropped in turn,
    /// so memory does not grow with the number of documents. `scan` is the plan's first
    /// pass ([`eval::stream::scan`], which told the kinds this session was made for).
    /// The report is the one [`check_with`](Self::check_with) gives on every input of
    /// the plan, except that [`Report::checks`] is left empty unless `keep_checks` (the
    /// conftest, TAP and table formats read them) and the texts in [`Report::sources`] keep only the
    /// lines the report's locations show.
    pub fn check_plan(
        &self,
        set: &PolicySet,
        plan: &discover::Plan,
        scan: &eval::stream::Scan,
        keep_checks: bool,
    ) -> Report {
        let opts = self.eval_options();
        if !eval::stream::fits(set, &opts) {
            return self.check_with(set, plan.load_all());
        }
        let mut streamed = eval::stream::evaluate(set, plan, scan, &opts, keep_checks);
        if let Some(cfg) = &self.settings.config {
            config::apply(
                cfg,
                &mut streamed.report,
                &self.settings.root,
                config::Date::today(),
            );
        }
        streamed.restore_frames(plan);
        streamed.into_report()
    }

    /// [`check_plan`](Self::check_plan) that hands out each input's part of the report
    /// to `sink` as soon as it is finished (its findings, errors, suppressions and
    /// warnings, the configuration applied; [`eval::stream::evaluate_streaming`]), in the
    /// order of the inputs' paths, and returns the rest (the policy set's errors and
    /// warnings, the run-wide ones). The parts and the rest hold what `check_plan`
    /// reports, [`Report::checks`] aside. When the run cannot be streamed so (a rule
    /// that reads the whole inventory, `--trace`, a user's cross-document package), no
    /// part is handed out and the whole report is returned.
    pub fn check_plan_streaming(
        &self,
        set: &PolicySet,
        plan: &discover::Plan,
        scan: &eval::stream::Scan,
        sink: &mut eval::stream::Sink<'_>,
    ) -> Report {
        let opts = self.eval_options();
        if !eval::stream::fits(set, &opts) || !eval::stream::streams(set, scan) {
            return self.check_plan(set, plan, scan, false);
        }
        let today = config::Date::today();
        let finish = |r: &mut Report| {
            if let Some(cfg) = &self.settings.config {
                config::apply(cfg, r, &self.settings.root, today);
            }
        };
        eval::stream::evaluate_streaming(set, plan, scan, &opts, &finish, sink)
    }

    /// Whether hadolint and checkov inline ignores are honoured: yes, unless the
    /// configuration says `peer-ignores: false`. The same for every front end.
    fn peer_ignores(&self) -> bool {
        self.settings.config.as_ref().is_none_or(|c| c.peer_ignores)
    }

    /// [`check_with`](Self::check_with) for one input on the calling thread, with a
    /// worker the caller keeps for the same policy set ([`Worker::new`]): an editor
    /// checks one buffer many times, and reuses the worker's cloned engines.
    pub fn check_file_with(
        &self,
        set: &PolicySet,
        worker: &mut Worker,
        file: FileReport,
    ) -> Report {
        let mut report = eval::evaluate_with(set, worker, vec![file], self.peer_ignores());
        if let Some(cfg) = &self.settings.config {
            config::apply(cfg, &mut report, &self.settings.root, config::Date::today());
        }
        report
    }

    /// [`check_file_with`](Self::check_file_with) for one input of a larger run
    /// ([`eval::evaluate_in_run`]): cross-document rules see every document of `run`,
    /// and the report holds what belongs to `file`. `prepared` is the policy set after
    /// the run-wide step over `run` ([`eval::cluster::prepare`]), `worker` made for it.
    pub fn check_file_in_run(
        &self,
        prepared: &PolicySet,
        worker: &mut Worker,
        file: FileReport,
        run: &[&crate::inputs::Document],
    ) -> Report {
        let mut report = eval::evaluate_in_run(prepared, worker, file, run, self.peer_ignores());
        if let Some(cfg) = &self.settings.config {
            config::apply(cfg, &mut report, &self.settings.root, config::Date::today());
        }
        report
    }

    /// [`check_file_in_run`](Self::check_file_in_run), reusing what `kept` holds from
    /// earlier checks of the same buffer where the inputs are the same
    /// ([`eval::incremental`]): the report is the same, the work is that of what changed.
    /// A set that is not cross-document is checked with `run` = `file`'s documents and
    /// `prepared` = the set itself.
    pub fn check_file_incremental(
        &self,
        kept: &mut eval::incremental::Incremental,
        prepared: &Arc<PolicySet>,
        worker: &mut Worker,
        file: FileReport,
        run: &[&crate::inputs::Document],
    ) -> Report {
        let mut report = kept.evaluate_in_run(prepared, worker, file, run, self.peer_ignores());
        if let Some(cfg) = &self.settings.config {
            config::apply(cfg, &mut report, &self.settings.root, config::Date::today());
        }
        report
    }

    /// Checks text that is not read from disk (an editor buffer, a request body) under
    /// the file name `name`. Its kind is `kind_hint` when given, else the settings'
    /// `--kind`, else detected from the name and then the content, as `policy eval`
    /// detects a file's; text larger than the size limit is skipped, and text whose kind
    /// cannot be told is reported as skipped, so the report always accounts for it.
    pub fn check_text(&self, name: &str, text: &str, kind_hint: Option<DocumentKind>) -> Report {
        self.check_files(vec![self.load_text(name, text, kind_hint)])
    }

    /// Parses text as [`check_text`](Self::check_text) does, without evaluating it.
    pub fn load_text(&self, name: &str, text: &str, kind_hint: Option<DocumentKind>) -> FileReport {
        let by_name = inputs::format_from_name(std::path::Path::new(name));
        self.load_text_as(name, text, kind_hint, by_name)
    }

    /// Parses an in-memory JSON value (the object of an admission request) as one input
    /// named `name`, of `kind`, for [`check_file_with`](Self::check_file_with) or
    /// [`check_files`](Self::check_files). The value is written out as pretty JSON and
    /// parsed like any JSON input, so findings get positions in that text and JSON
    /// paths. Then each entry of `context` is added at the top level of every document,
    /// where policies see it: `policy serve` passes the rest of the admission request as
    /// `input.review`. The context is not part of the text; a finding that points into it
    /// is located at the document's start.
    pub fn load_value(
        &self,
        name: &str,
        value: &serde_json::Value,
        kind: DocumentKind,
        context: &serde_json::Map<String, serde_json::Value>,
    ) -> FileReport {
        // A `Value` always serializes (its keys are strings).
        let text = serde_json::to_string_pretty(value).unwrap_or_default();
        let mut file = self.load_text_as(name, &text, Some(kind), Some(Format::Json));
        for doc in &mut file.documents {
            if let serde_json::Value::Object(map) = &mut doc.value {
                for (k, v) in context {
                    map.insert(k.clone(), v.clone());
                }
            }
        }
        file
    }

    /// [`load_text`](Self::load_text) with the syntax given (an editor knows a buffer's
    /// language even when its name says nothing): the document kinds are still detected
    /// from the content, unless `kind_hint` forces one.
    pub fn load_text_as(
        &self,
        name: &str,
        text: &str,
        kind_hint: Option<DocumentKind>,
        format: Option<Format>,
    ) -> FileReport {
        self.load_text_reusing(name, text, kind_hint, format, None)
    }

    /// [`Session::load_text_as`] of an editor's buffer, a YAML stream's unchanged
    /// documents not parsed again ([`inputs::load_buffer`]).
    pub fn load_buffer(
        &self,
        name: &str,
        text: &str,
        format: Option<Format>,
        reuse: &mut inputs::yaml::Reuse,
    ) -> FileReport {
        self.load_text_reusing(name, text, None, format, Some(reuse))
    }

    fn load_text_reusing(
        &self,
        name: &str,
        text: &str,
        kind_hint: Option<DocumentKind>,
        format: Option<Format>,
        reuse: Option<&mut inputs::yaml::Reuse>,
    ) -> FileReport {
        let load = LoadOptions {
            kind: kind_hint.or(self.settings.discover.load.kind),
            ..self.settings.discover.load.clone()
        };
        if text.len() as u64 > load.max_file_size {
            return FileReport::skipped(
                name,
                format!(
                    "file is {} bytes, larger than the {}-byte limit",
                    text.len(),
                    load.max_file_size
                ),
            );
        }
        match reuse {
            Some(reuse) => inputs::load_buffer(name, text, format, &load, reuse),
            None => inputs::load_bytes(name, text.as_bytes(), format, &load),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::resolve::{ConfigSource, Flags};
    use crate::diagnostics::{ExitStatus, InputStatus};
    use crate::report::ReportOptions;

    const RULE: &str = r#"# METADATA
# title: No latest
# custom:
#   id: USR100
#   severity: high
package user.latest

deny contains result if {
  some i
  input.stages[i].base.tag == "latest"
  result := {"msg": "pin the base image", "path": ["stages", i, "base"]}
}
"#;

    fn session(dir: &std::path::Path) -> Session {
        std::fs::write(dir.join("latest.rego"), RULE).expect("write");
        Session::from_layers(Layers {
            root: dir.to_path_buf(),
            config: ConfigSource::None,
            flags: Flags {
                policies: vec![dir.join("latest.rego")],
                no_builtin: true,
                ..Flags::default()
            },
            ..Layers::default()
        })
        .expect("session")
    }

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn a_session_can_be_shared_across_threads() {
        assert_send_sync::<Session>();
        assert_send_sync::<Arc<Session>>();
    }

    #[test]
    fn load_value_adds_the_context_where_policies_see_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("review.rego"),
            "# METADATA\n# title: Old\n# custom:\n#   id: USR110\n#   severity: high\n#   kinds: [kubernetes]\npackage user.review\n\ndeny contains {\"msg\": \"changed\", \"path\": [\"spec\", \"x\"]} if {\n  input.review.oldObject.spec.x != input.spec.x\n}\n",
        )
        .expect("write");
        let s = Session::from_layers(Layers {
            root: dir.path().to_path_buf(),
            config: ConfigSource::None,
            flags: Flags {
                policies: vec![dir.path().join("review.rego")],
                no_builtin: true,
                ..Flags::default()
            },
            ..Layers::default()
        })
        .expect("session");
        let object = serde_json::json!({"apiVersion": "v1", "kind": "Thing", "spec": {"x": 2}});
        let mut context = serde_json::Map::new();
        context.insert(
            "review".into(),
            serde_json::json!({"oldObject": {"spec": {"x": 1}}}),
        );
        let file = s.load_value("thing.json", &object, DocumentKind::Kubernetes, &context);
        assert_eq!(
            file.documents[0].value["review"]["oldObject"]["spec"]["x"],
            1
        );
        let set = s.policies();
        let report = s.check_file_with(&set, &mut Worker::new(&set), file);
        assert_eq!(report.findings.len(), 1, "{:?}", report.errors);
        let f = &report.findings[0];
        assert_eq!(f.rule.id, "USR110");
        assert_eq!(
            f.location.span.start.line, 5,
            "the line of \"x\": 2 in the pretty text"
        );
        // Without the context the rule has nothing to compare.
        let file = s.load_value(
            "thing.json",
            &object,
            DocumentKind::Kubernetes,
            &serde_json::Map::new(),
        );
        assert!(s
            .check_file_with(&set, &mut Worker::new(&set), file)
            .findings
            .is_empty());
    }

    /// `peer-ignores: false` holds for one-buffer checks too (what `lsp` and `serve`
    /// run), not only for `policy eval`.
    #[test]
    fn peer_ignores_follow_the_configuration_in_one_buffer_checks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = "FROM alpine:3.20\n# hadolint ignore=DL3002\nUSER root\n";
        let check = |config: &str| {
            std::fs::write(dir.path().join(".policy.yaml"), config).expect("write");
            let s = Session::from_layers(Layers {
                root: dir.path().to_path_buf(),
                config: ConfigSource::File(dir.path().join(".policy.yaml")),
                ..Layers::default()
            })
            .expect("session");
            let set = s.policies();
            let file = s.load_text("Dockerfile", text, None);
            let report = s.check_file_with(&set, &mut Worker::new(&set), file);
            let ids = |fs: &[crate::diagnostics::Finding]| {
                fs.iter().map(|f| f.rule.id.clone()).collect::<Vec<_>>()
            };
            (
                ids(&report.findings),
                report
                    .suppressed
                    .iter()
                    .map(|s| s.finding.rule.id.clone())
                    .collect::<Vec<_>>(),
            )
        };
        let (found, suppressed) = check("peer-ignores: true\n");
        assert!(!found.contains(&"DF002".to_string()), "{found:?}");
        assert_eq!(suppressed, ["DF002"]);
        let (found, suppressed) = check("peer-ignores: false\n");
        assert!(found.contains(&"DF002".to_string()), "{found:?}");
        assert!(suppressed.is_empty(), "{suppressed:?}");
    }

    #[test]
    fn check_text_detects_the_kind_and_grades_the_report() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = session(dir.path());
        let report = s.check_text("Dockerfile", "FROM alpine:latest\n", None);
        assert_eq!(report.findings.len(), 1, "{:?}", report.errors);
        assert_eq!(report.findings[0].rule.id, "USR100");
        assert_eq!(report.findings[0].location.span.start.line, 1);
        assert_eq!(
            report.exit_status(&ReportOptions::default()),
            ExitStatus::Failure
        );
        // In-source suppressions apply as in `policy eval`.
        let report = s.check_text(
            "Dockerfile",
            "# policy:ignore=USR100 reason: test image\nFROM alpine:latest\n",
            None,
        );
        assert!(report.findings.is_empty());
        assert_eq!(report.suppressed.len(), 1);
        // Text of an unknown kind is accounted for as skipped (exit 2).
        let report = s.check_text("notes", "hello", None);
        assert!(matches!(
            report.inputs[0].status,
            InputStatus::Skipped { .. }
        ));
        assert_eq!(
            report.exit_status(&ReportOptions::default()),
            ExitStatus::Error
        );
        // A kind hint parses text whose name says nothing.
        let report = s.check_text(
            "buffer-1",
            "FROM alpine:latest\n",
            Some(DocumentKind::Dockerfile),
        );
        assert_eq!(report.findings.len(), 1);
    }

    #[test]
    fn the_watcher_reports_a_policy_file_created_on_disk() {
        let dir = tempfile::tempdir().expect("tempdir");
        let policies = dir.path().join("policies");
        std::fs::create_dir(&policies).expect("mkdir");
        std::fs::write(policies.join("latest.rego"), RULE).expect("write");
        let s = Session::from_layers(Layers {
            root: dir.path().to_path_buf(),
            config: ConfigSource::None,
            absolute_paths: true,
            flags: Flags {
                policies: vec![policies.clone()],
                no_builtin: true,
                ..Flags::default()
            },
            ..Layers::default()
        })
        .expect("session");
        let (tx, rx) = std::sync::mpsc::channel();
        s.watch_policies(move |p| {
            let _ = tx.send(p);
        })
        .expect("watch");
        std::fs::write(policies.join("notes.txt"), "not a policy").expect("write");
        let added = policies.join("more.rego");
        std::fs::write(
            &added,
            RULE.replace("USR100", "USR101")
                .replace("user.latest", "user.more"),
        )
        .expect("write");
        let seen = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("an event for the new policy file");
        assert!(seen.ends_with("more.rego"), "{seen:?}");
        let set = s.reload_if_changed().expect("changed").expect("accepted");
        assert_eq!(set.rules().len(), 2);
    }

    #[test]
    fn a_check_during_reloads_sees_one_whole_set() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Arc::new(session(dir.path()));
        let other = RULE
            .replace("USR100", "USR101")
            .replace("user.latest", "user.latest2");
        let checker = {
            let s = Arc::clone(&s);
            std::thread::spawn(move || {
                for _ in 0..20 {
                    let r = s.check_text("Dockerfile", "FROM alpine:latest\n", None);
                    let ids: Vec<&str> = r.findings.iter().map(|f| f.rule.id.as_str()).collect();
                    assert_eq!(ids.len(), 1, "{ids:?}");
                    assert_eq!(
                        r.rules.len(),
                        1,
                        "the catalog is of the same set as the findings"
                    );
                    assert_eq!(r.rules[0].id, ids[0]);
                }
            })
        };
        for n in 0..10 {
            let text = if n % 2 == 0 { other.as_str() } else { RULE };
            std::fs::write(dir.path().join("latest.rego"), text).expect("write");
            s.reload().expect("a good edit is accepted");
        }
        checker.join().expect("no mixed set");
        // A broken edit keeps the last good set.
        std::fs::write(dir.path().join("latest.rego"), "package x\ndeny if {").expect("write");
        assert!(s.reload().is_err());
        assert_eq!(s.rules().len(), 1);
    }
}
