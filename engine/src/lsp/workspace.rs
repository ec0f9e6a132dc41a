//! The run an editor buffer belongs to: the workspace's files plus the unsaved buffers.
//!
//! Cross-document rules (those that read `data.inventory`, the combined packages, Pod
//! Security from Namespace labels; [`cluster::is_cross_document`]) judge a document
//! against the rest of the run. `policy eval .` runs them over every file of the
//! directory; in the editor the same set is the workspace's files as discovery finds them
//! (same walk, `.gitignore`, the configuration's `exclude`), with every open buffer's
//! unsaved text in place of its file on disk, and open buffers that are not on disk
//! (new files, `untitled:` buffers) added after them.
//!
//! This module keeps that run cheap to evaluate again on every keystroke:
//!
//! * the files on disk are parsed once and kept until their size or modification time
//!   changes; the listing itself is refreshed at most every [`RELIST_EVERY`], or at
//!   once when the client reports a changed file (`workspace/didChangeWatchedFiles`);
//! * the policy set after the run-wide step (the Pod Security rules loaded for labelled
//!   Namespaces, `data.inventory` added) and its cloned engines are kept while the
//!   inventory stays the same, so typing in a Dockerfile, or in a manifest without
//!   changing any object, adds nothing to the evaluation of the buffer itself.
//!
//! At most [`MAX_FILES`] files of the workspace join the run (a workspace opened at a
//! home directory must not be read whole); the server says so once when it cuts.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::diagnostics::ErrorRecord;
use crate::eval::{cluster, PolicySet, Worker};
use crate::inputs::{discover, Document, FileReport};
use crate::session::Session;

/// How long a listing of the workspace is trusted without a change notification.
pub const RELIST_EVERY: Duration = Duration::from_secs(2);

/// The most workspace files read into the run.
pub const MAX_FILES: usize = 5_000;

/// A file on disk, parsed.
#[derive(Debug)]
struct Cached {
    stamp: Stamp,
    file: Arc<FileReport>,
}

/// Size and modification time: a file whose stamp is unchanged is not read again.
type Stamp = (u64, Option<SystemTime>);

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    meta.is_file().then(|| (meta.len(), meta.modified().ok()))
}

/// The policy set after the run-wide step, for one inventory.
struct Prepared {
    /// The set it was prepared from (compared by identity).
    base: Arc<PolicySet>,
    /// Whether the Pod Security rules were loaded.
    pss: bool,
    inventory: Option<serde_json::Value>,
    set: Arc<PolicySet>,
    worker: Worker,
    errors: Vec<ErrorRecord>,
}

/// The workspace's files on disk, parsed, and the last prepared set.
#[derive(Default)]
pub struct Workspace {
    /// The listed files, in discovery order.
    listed: Vec<PathBuf>,
    cache: HashMap<PathBuf, Cached>,
    listed_at: Option<Instant>,
    /// Whether the last listing was cut at [`MAX_FILES`].
    pub truncated: bool,
    /// The set the pss-enabled variant was compiled from, and that variant.
    pss: Option<(Arc<PolicySet>, Arc<PolicySet>)>,
    prepared: Option<Prepared>,
}

impl std::fmt::Debug for Workspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workspace")
            .field("listed", &self.listed.len())
            .field("cached", &self.cache.len())
            .finish_non_exhaustive()
    }
}

impl Workspace {
    /// Forgets the listing so that the next [`refresh`](Self::refresh) lists and stats
    /// again (a file changed on disk).
    pub fn invalidate(&mut self) {
        self.listed_at = None;
    }

    /// Brings the listing and the parsed files up to date when the listing is older
    /// than [`RELIST_EVERY`] (or was invalidated). Only new and changed files are read.
    /// Returns whether anything changed.
    pub fn refresh(&mut self, session: &Session, root: &Path) -> bool {
        if self.listed_at.is_some_and(|at| at.elapsed() < RELIST_EVERY) {
            return false;
        }
        self.listed_at = Some(Instant::now());
        let opts = &session.settings().discover;
        let mut listed: Vec<PathBuf> = discover::list(&[root.to_path_buf()], opts)
            .into_iter()
            .filter(|p| p.is_file())
            .collect();
        self.truncated = listed.len() > MAX_FILES;
        listed.truncate(MAX_FILES);
        let mut changed = listed != self.listed;
        let mut stale = Vec::new();
        let mut stamps = HashMap::new();
        for path in &listed {
            let now = stamp(path);
            if self.cache.get(path).map(|c| c.stamp) != now {
                stale.push(path.clone());
            }
            stamps.insert(path.clone(), now);
        }
        self.cache.retain(|p, _| stamps.contains_key(p));
        if !stale.is_empty() {
            changed = true;
            let files = discover::collect_with_stdin(&stale, opts, &mut std::io::empty());
            for (path, file) in stale.into_iter().zip(files) {
                let stamp = stamps.get(&path).copied().flatten().unwrap_or((0, None));
                self.cache.insert(
                    path,
                    Cached {
                        stamp,
                        file: Arc::new(file),
                    },
                );
            }
        }
        self.listed = listed;
        changed
    }

    /// The parsed files on disk, in discovery order.
    pub fn files(&self) -> impl Iterator<Item = (&Path, &Arc<FileReport>)> {
        self.listed
            .iter()
            .filter_map(|p| Some((p.as_path(), &self.cache.get(p)?.file)))
    }

    /// `set` after the run-wide step over `docs` ([`cluster::prepare`]), with a worker
    /// for it and the problems met. Kept while the set, the need for the Pod Security
    /// rules and the inventory stay the same.
    pub fn prepare(
        &mut self,
        set: &Arc<PolicySet>,
        docs: &[&Document],
    ) -> (Arc<PolicySet>, &mut Worker, Vec<ErrorRecord>) {
        let pss = cluster::needs_pss_rules(set, docs);
        let base = if pss {
            match &self.pss {
                Some((from, with)) if Arc::ptr_eq(from, set) => Arc::clone(with),
                _ => {
                    let with = Arc::new(set.with_pss_rules());
                    self.pss = Some((Arc::clone(set), Arc::clone(&with)));
                    with
                }
            }
        } else {
            Arc::clone(set)
        };
        let inventory = cluster::inventory_for(&base, docs);
        let reuse = self
            .prepared
            .as_ref()
            .is_some_and(|p| Arc::ptr_eq(&p.base, set) && p.pss == pss && p.inventory == inventory);
        if !reuse {
            let mut errors = Vec::new();
            let prepared = match &inventory {
                None => base,
                Some(inv) => match cluster::with_inventory(&base, inv.clone()) {
                    Ok(rego) => {
                        let mut with = (*base).clone();
                        with.rego = rego;
                        Arc::new(with)
                    }
                    Err(e) => {
                        errors.push(e);
                        base
                    }
                },
            };
            self.prepared = Some(Prepared {
                base: Arc::clone(set),
                pss,
                inventory,
                worker: Worker::new(&prepared),
                set: prepared,
                errors,
            });
        }
        let p = self.prepared.as_mut().expect("prepared just above");
        (Arc::clone(&p.set), &mut p.worker, p.errors.clone())
    }

    /// Drops the prepared set (after a panic mid-evaluation, its engines may be in any
    /// state; after a reload, it is of the old set).
    pub fn reset_prepared(&mut self) {
        self.prepared = None;
        self.pss = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::resolve::{ConfigSource, Flags, Layers};

    fn session(root: &Path) -> Session {
        Session::from_layers(Layers {
            root: root.to_path_buf(),
            config: ConfigSource::None,
            absolute_paths: true,
            flags: Flags {
                no_builtin: true,
                ..Flags::default()
            },
            ..Layers::default()
        })
        .expect("session")
    }

    #[test]
    fn unchanged_files_are_not_parsed_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::write(
            root.join("a.yaml"),
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n",
        )
        .expect("write");
        std::fs::write(
            root.join("b.yaml"),
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n",
        )
        .expect("write");
        std::fs::write(root.join("notes.md"), "not an input\n").expect("write");
        let s = session(root);
        let mut ws = Workspace::default();
        assert!(ws.refresh(&s, root));
        let first: Vec<(PathBuf, Arc<FileReport>)> = ws
            .files()
            .map(|(p, f)| (p.to_path_buf(), Arc::clone(f)))
            .collect();
        assert_eq!(first.len(), 2, "inputs only: {first:?}");
        assert!(first[0].0.ends_with("a.yaml") && first[1].0.ends_with("b.yaml"));

        // Within the listing's lifetime nothing is looked at again.
        assert!(!ws.refresh(&s, root));

        // b.yaml changes (another size): only it is read again.
        std::fs::write(
            root.join("b.yaml"),
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: bb}\n",
        )
        .expect("write");
        ws.invalidate();
        assert!(ws.refresh(&s, root));
        let second: Vec<Arc<FileReport>> = ws.files().map(|(_, f)| Arc::clone(f)).collect();
        assert!(
            Arc::ptr_eq(&first[0].1, &second[0]),
            "a.yaml was parsed again"
        );
        assert!(!Arc::ptr_eq(&first[1].1, &second[1]));
        assert_eq!(second[1].documents[0].value["metadata"]["name"], "bb");

        // A removed file leaves the run.
        std::fs::remove_file(root.join("a.yaml")).expect("remove");
        ws.invalidate();
        assert!(ws.refresh(&s, root));
        assert_eq!(ws.files().count(), 1);
    }
}
