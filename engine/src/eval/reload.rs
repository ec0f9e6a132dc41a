//! Hot reload: a [`PolicySet`] that can be swapped while it is in use.
//!
//! The editor loop (`policy watch`, `policy lsp`) keeps one policy set for a long time
//! and reloads it when a policy or data file changes. This module exists so that both
//! get the same semantics:
//!
//! * The current set lives behind an `Arc`. [`ReloadablePolicySet::current`] hands out a
//!   clone of that `Arc`, so an evaluation in flight keeps the set it started with, and a
//!   reload never waits for evaluations (nor they for it, beyond swapping one pointer).
//! * [`ReloadablePolicySet::reload`] loads the set again from the same
//!   [`PolicyOptions`]. Loading is slow (compiling Rego, loading WASM modules through the
//!   on-disk compile cache), so it happens outside the lock; reloads are serialised.
//! * **A broken edit keeps the last good set.** A candidate set is *broken* when it has
//!   a load error (a policy that does not parse or compile, a malformed data file, a
//!   missing policy path) in a file that loaded without errors in the current set. Such
//!   a candidate is dropped, the current set stays, and the caller gets every error of
//!   the candidate with its file, line and column ([`ReloadRejected`]). Errors in a file
//!   that was already broken do not block a reload: that file is left out of both sets,
//!   so accepting loses nothing, and fixing another file must not wait for it.
//! * **A load never mixes two saves.** The policy and data files are stamped (size,
//!   modification time and a hash of the contents) before and after loading. When the
//!   stamps differ, a file changed while it was being read (an editor saving in place, a
//!   `git checkout` halfway through), so the candidate is thrown away and the load is
//!   retried, up to [`MAX_LOAD_ATTEMPTS`] times; a file modified in the last
//!   [`SETTLE`] is waited for first. A set that never holds still is rejected and the last
//!   good set stays; the next change event tries again.
//!
//! It does not watch files, evaluate or format anything; callers decide when to reload
//! (on a file event, on `workspace/didChangeWatchedFiles`) and how to report the outcome.

use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use super::policies::{files_with, DATA_EXTENSIONS, POLICY_EXTENSIONS};
use super::{PolicyOptions, PolicySet};
use crate::diagnostics::{ErrorKind, ErrorRecord};

/// How many times a load is retried while its files keep changing under it.
pub const MAX_LOAD_ATTEMPTS: usize = 5;

/// How recently a policy file may have been modified before a load waits for it to
/// settle: a file written in place is briefly empty or half written.
pub const SETTLE: Duration = Duration::from_millis(20);

/// A policy set that can be reloaded in place. `Send + Sync`: share it behind an `Arc`.
#[derive(Debug)]
pub struct ReloadablePolicySet {
    opts: PolicyOptions,
    current: RwLock<Arc<PolicySet>>,
    /// Serialises reloads and remembers what the last load (accepted or not) read.
    last_loaded: Mutex<SourceStamp>,
    generation: AtomicU64,
}

/// A reload that was refused because the new set is broken; the last good set stays.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", rejection_message(.new_errors))]
pub struct ReloadRejected {
    /// Every load error of the refused set, sorted by file and position (errors carried
    /// over from the current set included, so a consumer can show the complete picture).
    pub errors: Vec<ErrorRecord>,
    /// The errors that made it broken: those in files that loaded cleanly before.
    pub new_errors: Vec<ErrorRecord>,
    /// The set that stays in use.
    pub kept: Arc<PolicySet>,
}

fn rejection_message(new_errors: &[ErrorRecord]) -> String {
    let first = new_errors
        .first()
        .map(|e| format!(" ({}:{}:{}: {})", e.file, e.line, e.column, e.message))
        .unwrap_or_default();
    format!(
        "cannot reload policies: {} new error{}{first}; keeping the last good set",
        new_errors.len(),
        if new_errors.len() == 1 { "" } else { "s" }
    )
}

impl ReloadablePolicySet {
    /// Loads the first set. It is accepted whatever its errors: there is nothing older to
    /// keep. Its errors are in [`PolicySet::errors`].
    pub fn load(opts: PolicyOptions) -> Self {
        let stamp = SourceStamp::of(&opts);
        let set = PolicySet::load(&opts);
        ReloadablePolicySet {
            opts,
            current: RwLock::new(Arc::new(set)),
            last_loaded: Mutex::new(stamp),
            generation: AtomicU64::new(0),
        }
    }

    /// The set in use now. Cheap (one `Arc` clone); the set stays valid for as long as the
    /// caller holds it, whatever reloads happen meanwhile.
    pub fn current(&self) -> Arc<PolicySet> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// How many reloads have been accepted (0 for the first set). Lets a consumer tell
    /// whether the set changed since it last looked.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The options every load uses.
    pub fn options(&self) -> &PolicyOptions {
        &self.opts
    }

    /// Every policy and data path the set is loaded from (what a watcher should watch).
    pub fn source_paths(&self) -> impl Iterator<Item = &PathBuf> {
        self.opts.paths.iter().chain(self.opts.data.iter())
    }

    /// Loads the set again and swaps it in, unless it is broken (see the module docs).
    pub fn reload(&self) -> Result<Arc<PolicySet>, ReloadRejected> {
        let mut last = self
            .last_loaded
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let candidate = match stable_load(&self.opts) {
            Ok((stamp, candidate)) => {
                *last = stamp;
                candidate
            }
            Err(failed) => {
                let (stamp, error) = *failed;
                // Remember what was read: the next change event tries again.
                *last = stamp;
                let current = self.current();
                let mut errors = current.errors.clone();
                errors.push(error.clone());
                return Err(ReloadRejected {
                    errors,
                    new_errors: vec![error],
                    kept: current,
                });
            }
        };
        let current = self.current();
        let new_errors = new_errors(&current, &candidate);
        if !new_errors.is_empty() {
            let mut errors = candidate.errors;
            errors.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
            return Err(ReloadRejected {
                errors,
                new_errors,
                kept: current,
            });
        }
        let candidate = Arc::new(candidate);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::clone(&candidate);
        self.generation.fetch_add(1, Ordering::AcqRel);
        Ok(candidate)
    }

    /// Whether a policy or data file was added, removed or modified (size or modification
    /// time) since the last load, accepted or not.
    pub fn sources_changed(&self) -> bool {
        let last = self
            .last_loaded
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *last != SourceStamp::of(&self.opts)
    }

    /// [`reload`](Self::reload) if [`sources_changed`](Self::sources_changed), else `None`:
    /// file events that touch nothing the set is made of (an editor's swap file, a second
    /// event for the same write) cost one directory walk.
    pub fn reload_if_changed(&self) -> Option<Result<Arc<PolicySet>, ReloadRejected>> {
        self.sources_changed().then(|| self.reload())
    }
}

/// The errors of `candidate` in files where `current` had none.
fn new_errors(current: &PolicySet, candidate: &PolicySet) -> Vec<ErrorRecord> {
    let broken_before: BTreeSet<&str> = current.errors.iter().map(|e| e.file.as_str()).collect();
    let mut new: Vec<ErrorRecord> = candidate
        .errors
        .iter()
        .filter(|e| !broken_before.contains(e.file.as_str()))
        .cloned()
        .collect();
    new.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    new
}

/// What a load read: every policy and data file with its size and modification time,
/// and the roots that did not exist.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct SourceStamp(Vec<(PathBuf, Option<FileStamp>)>);

/// A file's size, modification time and a hash of its contents (an in-place save within
/// the file system's timestamp granularity keeps the size and the time).
type FileStamp = (u64, Option<SystemTime>, u64);

/// Loads `opts` on a quiet file tree: the stamp after the load must equal the stamp
/// before it (module docs). On success, the stamp the set was loaded from; otherwise the
/// last stamp seen and an error naming a file that kept changing.
fn stable_load(
    opts: &PolicyOptions,
) -> Result<(SourceStamp, PolicySet), Box<(SourceStamp, ErrorRecord)>> {
    let mut before = SourceStamp::of(opts);
    let mut changing: Option<PathBuf> = None;
    for _ in 0..MAX_LOAD_ATTEMPTS {
        if let Some(wait) = before.settle_time() {
            std::thread::sleep(wait);
            before = SourceStamp::of(opts);
        }
        let candidate = PolicySet::load(opts);
        let after = SourceStamp::of(opts);
        if after == before {
            return Ok((after, candidate));
        }
        changing = after.first_difference(&before);
        before = after;
    }
    let error = ErrorRecord::new(
        ErrorKind::PolicyError,
        changing.map_or_else(String::new, |p| p.display().to_string()),
        1,
        1,
        format!(
            "the policy files kept changing while they were loaded ({MAX_LOAD_ATTEMPTS} attempts); \
             the last good set stays in use until the next change"
        ),
    );
    Err(Box::new((before, error)))
}

impl SourceStamp {
    fn of(opts: &PolicyOptions) -> SourceStamp {
        let mut entries = Vec::new();
        let roots = opts
            .paths
            .iter()
            .map(|p| (p, POLICY_EXTENSIONS))
            .chain(opts.data.iter().map(|p| (p, DATA_EXTENSIONS)));
        for (root, exts) in roots {
            if !root.exists() {
                entries.push((root.clone(), None));
                continue;
            }
            let mut ignored = Vec::new();
            for file in files_with(root, exts, &mut ignored) {
                let meta = std::fs::metadata(&file).ok().map(|m| {
                    let mut h = std::collections::hash_map::DefaultHasher::new();
                    std::fs::read(&file).unwrap_or_default().hash(&mut h);
                    (m.len(), m.modified().ok(), h.finish())
                });
                entries.push((file, meta));
            }
        }
        SourceStamp(entries)
    }

    /// The first file whose stamp differs from `other`'s (added, removed or changed).
    fn first_difference(&self, other: &SourceStamp) -> Option<PathBuf> {
        let mine: BTreeSet<_> = self.0.iter().collect();
        let theirs: BTreeSet<_> = other.0.iter().collect();
        mine.symmetric_difference(&theirs)
            .map(|(p, _)| p.clone())
            .next()
    }

    /// How long to wait for the most recently modified file to be [`SETTLE`] old, if
    /// one is younger.
    fn settle_time(&self) -> Option<Duration> {
        let now = SystemTime::now();
        self.0
            .iter()
            .filter_map(|(_, s)| s.as_ref()?.1)
            .filter_map(|m| now.duration_since(m).ok())
            .filter(|age| *age < SETTLE)
            .map(|age| SETTLE - age)
            .max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::ErrorKind;
    use std::path::Path;

    const GOOD_V1: &str = r#"# METADATA
# title: First rule
# custom:
#   id: USR001
#   severity: high
package user.v1

deny contains msg if {
  input.bad
  msg := "bad"
}
"#;

    const GOOD_V2: &str = r#"# METADATA
# title: Second rule
# custom:
#   id: USR002
#   severity: low
package user.v1

deny contains msg if {
  input.worse
  msg := "worse"
}
"#;

    const BROKEN: &str = "package user.v1\n\ndeny contains msg if {\n  msg := \n}\n";

    fn opts(dir: &Path) -> PolicyOptions {
        PolicyOptions {
            paths: vec![dir.to_path_buf()],
            builtin: false,
            ..PolicyOptions::default()
        }
    }

    fn rule_ids(set: &PolicySet) -> Vec<String> {
        set.rules().iter().map(|r| r.id.clone()).collect()
    }

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn the_handle_can_be_shared_across_threads() {
        assert_send_sync::<ReloadablePolicySet>();
        assert_send_sync::<ReloadRejected>();
    }

    #[test]
    fn a_good_reload_swaps_and_old_holders_keep_their_set() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("user.rego");
        std::fs::write(&file, GOOD_V1).expect("write");
        let handle = ReloadablePolicySet::load(opts(dir.path()));
        let before = handle.current();
        assert_eq!(rule_ids(&before), ["USR001"]);
        assert_eq!(handle.generation(), 0);

        std::fs::write(&file, GOOD_V2).expect("write");
        let after = handle.reload().expect("a good edit is accepted");
        assert_eq!(rule_ids(&after), ["USR002"]);
        assert_eq!(rule_ids(&handle.current()), ["USR002"]);
        assert_eq!(handle.generation(), 1);
        // An evaluation that started before the reload still has the old set.
        assert_eq!(rule_ids(&before), ["USR001"]);
    }

    #[test]
    fn a_broken_reload_keeps_the_last_good_set_and_reports_positions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("user.rego");
        std::fs::write(&file, GOOD_V1).expect("write");
        let handle = ReloadablePolicySet::load(opts(dir.path()));

        std::fs::write(&file, BROKEN).expect("write");
        let rejected = handle.reload().expect_err("a broken edit is refused");
        assert_eq!(rule_ids(&rejected.kept), ["USR001"]);
        assert_eq!(rule_ids(&handle.current()), ["USR001"]);
        assert_eq!(handle.generation(), 0);
        let err = rejected.new_errors.first().expect("the new error");
        assert_eq!(err.kind, ErrorKind::PolicyError);
        assert_eq!(err.file, file.display().to_string());
        assert!(err.line >= 3, "{err:?}");
        assert_eq!(rejected.errors, rejected.new_errors);
        let text = rejected.to_string();
        assert!(text.contains("keeping the last good set"), "{text}");
        assert!(
            text.contains(&format!("{}:{}:", err.file, err.line)),
            "{text}"
        );

        // Fixing it is accepted.
        std::fs::write(&file, GOOD_V2).expect("write");
        let set = handle.reload().expect("the fix is accepted");
        assert_eq!(rule_ids(&set), ["USR002"]);
    }

    #[test]
    fn a_bad_data_file_is_a_broken_edit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let policies = dir.path().join("p");
        std::fs::create_dir(&policies).expect("mkdir");
        std::fs::write(policies.join("user.rego"), GOOD_V1).expect("write");
        let data = dir.path().join("data.yaml");
        std::fs::write(&data, "limits:\n  max: 3\n").expect("write");
        let handle = ReloadablePolicySet::load(PolicyOptions {
            data: vec![data.clone()],
            ..opts(&policies)
        });
        assert!(handle.current().errors.is_empty());

        std::fs::write(&data, "limits:\n  max: [3\n").expect("write");
        let rejected = handle.reload().expect_err("malformed data is refused");
        assert_eq!(rejected.new_errors[0].file, data.display().to_string());
        assert_eq!(handle.current().data["limits"]["max"], 3);
    }

    #[test]
    fn a_file_broken_before_does_not_block_other_edits() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("a.rego"), BROKEN).expect("write");
        std::fs::write(dir.path().join("b.rego"), GOOD_V1).expect("write");
        let handle = ReloadablePolicySet::load(opts(dir.path()));
        assert_eq!(handle.current().errors.len(), 1);

        // Still broken, elsewhere in the file; and a good edit to b.rego.
        std::fs::write(dir.path().join("a.rego"), format!("# moved\n{BROKEN}")).expect("write");
        std::fs::write(
            dir.path().join("b.rego"),
            GOOD_V2.replace("package user.v1", "package user.v2"),
        )
        .expect("write");
        let set = handle.reload().expect("no new broken file");
        assert_eq!(rule_ids(&set), ["USR002"]);
        assert_eq!(set.errors.len(), 1);
    }

    #[test]
    fn reload_if_changed_notices_edits_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("user.rego");
        std::fs::write(&file, GOOD_V1).expect("write");
        let handle = ReloadablePolicySet::load(opts(dir.path()));
        assert!(!handle.sources_changed());
        assert!(handle.reload_if_changed().is_none());

        // A file that is not a policy does not count.
        std::fs::write(dir.path().join("notes.txt"), "x").expect("write");
        assert!(handle.reload_if_changed().is_none());

        // A new policy file does (size and name change even within one mtime tick).
        std::fs::write(
            dir.path().join("more.rego"),
            GOOD_V2.replace("package user.v1", "package user.v2"),
        )
        .expect("write");
        assert!(handle.sources_changed());
        let set = handle
            .reload_if_changed()
            .expect("changed")
            .expect("accepted");
        assert_eq!(rule_ids(&set), ["USR001", "USR002"]);
        assert!(!handle.sources_changed());

        // A refused load is remembered too: no retry until the next edit.
        std::fs::write(&file, BROKEN).expect("write");
        assert!(handle.reload_if_changed().expect("changed").is_err());
        assert!(handle.reload_if_changed().is_none());
    }
}
