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

use std::path::PathBuf;
use std::sync::Arc;

use thiserror::Error;

use crate::config::resolve::{Layers, ResolveError, ResolvedSettings};
use crate::config::{self, Config};
use crate::diagnostics::Report;
use crate::eval::{self, EvalOptions, PolicySet, ReloadRejected, ReloadablePolicySet};
use crate::inputs::{self, discover, DocumentKind, FileReport, LoadOptions};
use crate::rules::RuleMeta;

/// Why a session could not be started.
#[derive(Debug, Error)]
pub enum SessionError {
    /// The settings are invalid (a bad flag, option or configuration file).
    #[error(transparent)]
    Resolve(#[from] ResolveError),
}

/// One front end's engine: resolved settings, a reloadable policy set, and the checks.
/// See the [module documentation](self) for the contract.
#[derive(Debug)]
pub struct Session {
    settings: ResolvedSettings,
    policies: ReloadablePolicySet,
}

impl Session {
    /// Loads the policies the settings name (every built-in module, unless
    /// [`crate::eval::PolicyOptions::input_kinds`] narrows them) and starts a session. A
    /// policy that does not load is not fatal: its errors are in every report and in
    /// [`PolicySet::errors`].
    pub fn new(settings: ResolvedSettings) -> Result<Session, SessionError> {
        let policies = ReloadablePolicySet::load(settings.policy.clone());
        Ok(Session { settings, policies })
    }

    /// Resolves `layers` strictly ([`Layers::resolve`]) and starts a session.
    pub fn from_layers(layers: Layers) -> Result<Session, SessionError> {
        Session::new(layers.resolve()?)
    }

    /// A session for checking `files`: built-in WASM modules for kinds none of them has
    /// are not compiled (a one-shot run such as `policy eval`; their rule IDs stay known,
    /// see [`PolicySet::unloaded`]). Check them with [`check_files`](Self::check_files).
    pub fn for_files(
        mut settings: ResolvedSettings,
        files: &[FileReport],
    ) -> Result<Session, SessionError> {
        let mut kinds: Vec<DocumentKind> = Vec::new();
        for doc in files.iter().flat_map(|f| &f.documents) {
            if !kinds.contains(&doc.kind) {
                kinds.push(doc.kind);
            }
        }
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
        self.policies.reload()
    }

    /// [`reload`](Self::reload) if a policy or data file was added, removed or changed
    /// since the last load, else `None`.
    pub fn reload_if_changed(&self) -> Option<Result<Arc<PolicySet>, ReloadRejected>> {
        self.policies.reload_if_changed()
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
        let mut report = eval::evaluate(
            set,
            files,
            &EvalOptions {
                threads: self.settings.threads,
                no_peer_ignores: self
                    .settings
                    .config
                    .as_ref()
                    .is_some_and(|c| !c.peer_ignores),
            },
        );
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
        let by_name = inputs::format_from_name(std::path::Path::new(name));
        inputs::load_bytes(name, text.as_bytes(), by_name, &load)
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
