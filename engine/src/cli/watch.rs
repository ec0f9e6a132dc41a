//! `policy watch`: check, then re-check what changes, until stopped.
//!
//! This is the editor loop for a terminal or a script: it exists so that a policy author
//! or a Dockerfile author sees findings seconds after saving, without re-running `eval`.
//! It glues together pieces that live elsewhere: input discovery and loading
//! ([`inputs::discover`]), evaluation and hot reload ([`ReloadablePolicySet`]), and the
//! cycle writers ([`crate::report::watch`]). It owns only the watching:
//!
//! * **What is watched.** Every directory that a walk of the input roots and of the
//!   policy and data roots visits, one non-recursive watch each: the walk honours
//!   `.gitignore` like discovery does, so a build directory (`target/`) or `.git/` is
//!   never watched and its churn costs nothing. For a root that is a file, its directory
//!   is watched; for a root that does not exist yet, its nearest existing ancestor. The
//!   set of watched directories is brought up to date after every cycle; when that adds
//!   one, the inputs are listed once more, so that a file created in a new directory
//!   before its watch existed is not missed.
//! * **When a cycle runs.** After the first event of a burst, when no further event has
//!   come for `--debounce` milliseconds (at most [`MAX_BATCH`] after the first). Access
//!   events (opens and closes, including our own reads) are ignored.
//! * **What a cycle re-checks.** Nothing that events say is trusted alone: the inputs
//!   are listed again and each one's size and modification time compared with the last
//!   cycle. New inputs and changed ones (or ones an event named) are re-checked, inputs no
//!   longer listed are reported as removed. So an editor's write-to-temp-then-rename, a
//!   directory renamed away, or a file newly ignored all come out right, and duplicate
//!   events cost one listing, not one more check.
//! * **Cross-document rules.** When the policy set judges documents against the rest of
//!   the run (`data.inventory`, combined packages, Pod Security from Namespace labels),
//!   a cycle with any change checks every input again as one run, and reports the
//!   inputs that changed plus those whose findings changed (a Deployment whose Namespace
//!   was relabelled), so the stream never shows a cross-document finding that no longer
//!   holds.
//! * **Policies.** When a policy or data file changed, the set is reloaded: a good reload
//!   re-checks every input; a broken one is reported and the last good set stays, so the
//!   findings of unchanged inputs stay as they were.
//! * **Stopping.** Ctrl-C or SIGTERM (a second one exits at once), or the end of standard
//!   input with `--exit-on-stdin-close`: the loop ends after the line it is writing, with
//!   exit code 0.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Mutex, Once, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use notify::{EventKind, RecursiveMode, Watcher};

use super::args::{ColorChoice, WatchArgs, WatchFormat};
use super::eval::{layers, print_config_warnings};
use super::ExitStatus;
use crate::diagnostics::{ErrorKind, ErrorRecord, Report};
use crate::eval::policies::{DATA_EXTENSIONS, POLICY_EXTENSIONS};
use crate::eval::{cluster, PolicySet};
use crate::inputs::discover;
use crate::report::watch::{
    Cycle, CycleWriter, JsonlWriter, PolicyStatus, PolicyUpdate, TextWriter,
};
use crate::report::ReportOptions;
use crate::session::Session;
use crate::supply::live::RefreshEvent;

/// The longest a burst of events can delay a cycle.
const MAX_BATCH: Duration = Duration::from_secs(2);

/// What the loop waits for.
enum Msg {
    /// A file event (or a watcher error) from notify.
    Fs(notify::Result<notify::Event>),
    /// Ctrl-C, SIGTERM or the end of stdin.
    Stop,
    /// An `oci://` policy bundle was refreshed (a new one is linked, or one was refused).
    Bundle(RefreshEvent),
}

pub(super) fn run(a: WatchArgs, out: &mut dyn Write) -> anyhow::Result<ExitStatus> {
    if a.input.paths.iter().any(|p| p.as_os_str() == "-") {
        bail!("`policy watch` cannot watch standard input (`-`): name files or directories");
    }
    let mut layers = layers(&a.config, Some(&a.policy), Some(&a.input))?;
    layers.flags.threads = a.threads;
    layers.require_policies = true;
    let mut settings = layers.resolve()?;
    // `oci://` bundles: pulled and verified now, loaded from their live paths, followed
    // with --policy-refresh (docs/supply-chain.md).
    let mut live = super::supply::open_live(
        &a.bundles,
        settings.config.as_ref(),
        &mut settings.policy.paths,
    )?;
    let writer: Box<dyn CycleWriter> = match a.format {
        WatchFormat::Jsonl => Box::new(JsonlWriter),
        WatchFormat::Text => {
            let color = match a.color {
                ColorChoice::Always => true,
                ColorChoice::Never => false,
                ColorChoice::Auto => ReportOptions::color_for(
                    std::io::IsTerminal::is_terminal(&std::io::stdout()),
                    std::env::var_os("NO_COLOR").as_deref(),
                ),
            };
            Box::new(TextWriter::new(ReportOptions {
                color,
                ..ReportOptions::default()
            }))
        }
    };

    let (tx, rx) = mpsc::channel();
    let fs_tx = tx.clone();
    let watcher = notify::recommended_watcher(move |event| {
        let _ = fs_tx.send(Msg::Fs(event));
    })
    .context("cannot watch files")?;
    if let (Some(live), Some(every)) = (live.as_mut(), a.bundles.policy_refresh) {
        let tx = tx.clone();
        live.spawn(every, move |event| {
            let _ = tx.send(Msg::Bundle(event));
        });
    }
    install_stop_handler(tx.clone());
    if a.exit_on_stdin_close {
        stop_at_end_of_stdin(tx);
    } else {
        drop(tx);
    }

    let mut watches = Watches {
        watcher,
        dirs: BTreeMap::new(),
    };
    let popts = &settings.policy;
    let mut roots: Vec<PathBuf> = a.input.paths.clone();
    roots.extend(popts.paths.iter().cloned());
    roots.extend(popts.data.iter().cloned());
    // Watch before the first load, so that an edit made meanwhile is not missed.
    let _ = watches.sync(dirs_to_watch(&roots));

    let mut session = WatchState {
        policy_roots: popts
            .paths
            .iter()
            .chain(popts.data.iter())
            .flat_map(|p| [absolute(p), canonical_key(p)])
            .collect(),
        engine: Session::new(settings)?,
        roots: a.input.paths.clone(),
        known: HashMap::new(),
        last: HashMap::new(),
    };
    let result = (|| -> anyhow::Result<()> {
        writer.write(&session.cycle(None, Vec::new()), out)?;
        let mut rescan = watches.sync(dirs_to_watch(&roots));
        loop {
            let (touched, bundles) = if rescan {
                // New directories are watched now; list again, in case a file appeared
                // in one of them before its watch did.
                (BTreeSet::new(), Vec::new())
            } else {
                match next_batch(&rx, Duration::from_millis(a.debounce)) {
                    Some(batch) => batch,
                    None => return Ok(()),
                }
            };
            let cycle = session.cycle(Some(&touched), bundles);
            if !cycle.is_empty() {
                writer.write(&cycle, out)?;
            }
            rescan = watches.sync(dirs_to_watch(&roots));
        }
    })();
    clear_stop_handler();
    drop(live);
    result.map(|()| ExitStatus::Success)
}

/// The state kept between cycles.
struct WatchState {
    /// The engine: settings, the reloadable policy set, the checks.
    engine: Session,
    /// Policy and data roots, absolute and canonical, to tell policy events apart.
    policy_roots: Vec<PathBuf>,
    /// The input roots as given.
    roots: Vec<PathBuf>,
    /// Every input of the last cycle, by the path it is listed under.
    known: HashMap<PathBuf, Known>,
    /// What was last reported for each input, by its reported path: with cross-document
    /// rules, an unchanged input is reported again only when this changes.
    last: HashMap<String, Outcome>,
}

/// What a `file` event says about an input.
#[derive(Debug, Clone, PartialEq)]
struct Outcome {
    findings: Vec<crate::diagnostics::Finding>,
    errors: Vec<ErrorRecord>,
    suppressed: Vec<crate::diagnostics::Suppressed>,
    warnings: Vec<crate::diagnostics::Warning>,
}

impl Outcome {
    fn of(report: &Report) -> Outcome {
        Outcome {
            findings: report.findings.clone(),
            errors: report.errors.clone(),
            suppressed: report.suppressed.clone(),
            warnings: report.warnings.clone(),
        }
    }
}

/// What the last cycle saw of one input.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Known {
    /// Size and modification time (of every file within, for a directory input).
    fingerprint: u64,
    /// The canonical path, to match file events against.
    key: PathBuf,
}

impl WatchState {
    /// Runs one cycle: `touched` holds the paths events named (`None`: the first cycle),
    /// `bundles` the refreshes of `oci://` policy bundles since the last cycle.
    fn cycle(&mut self, touched: Option<&BTreeSet<PathBuf>>, bundles: Vec<RefreshEvent>) -> Cycle {
        let started = Instant::now();
        let initial = touched.is_none();
        let empty = BTreeSet::new();
        let touched = touched.unwrap_or(&empty);

        let policies = if initial {
            let set = self.engine.policies();
            Some(PolicyUpdate {
                status: PolicyStatus::Loaded,
                rules: set.rules().len(),
                errors: set.errors.clone(),
            })
        } else if self.engine.policy_handle().sources_changed()
            || touched.iter().any(|p| self.is_policy_file(p))
            || bundles.iter().any(RefreshEvent::updated)
        {
            Some(match self.engine.reload() {
                Ok(set) => PolicyUpdate {
                    status: PolicyStatus::Reloaded,
                    rules: set.rules().len(),
                    errors: set.errors.clone(),
                },
                Err(rejected) => PolicyUpdate {
                    status: PolicyStatus::Rejected,
                    rules: rejected.kept.rules().len(),
                    errors: rejected.errors,
                },
            })
        } else {
            None
        };
        // A bundle that was refused (or could not be looked up) keeps the last good set:
        // said as a rejected reload, naming the reference and why.
        let refusals: Vec<ErrorRecord> = bundles
            .iter()
            .filter(|e| !e.updated())
            .map(|e| {
                ErrorRecord::new(
                    ErrorKind::PolicyError,
                    e.reference.clone(),
                    1,
                    1,
                    e.to_string(),
                )
            })
            .collect();
        let policies = match policies {
            _ if refusals.is_empty() => policies,
            Some(mut p) => {
                p.errors.extend(refusals);
                Some(p)
            }
            None => Some(PolicyUpdate {
                status: PolicyStatus::Rejected,
                rules: self.engine.policies().rules().len(),
                errors: refusals,
            }),
        };
        let everything = initial
            || policies
                .as_ref()
                .is_some_and(|p| p.status == PolicyStatus::Reloaded);

        // The configuration's `exclude` is in `self.discover`: excluded files are not
        // listed (nor fingerprinted, nor read).
        let listed: Vec<(PathBuf, Known)> =
            discover::list(&self.roots, &self.engine.settings().discover)
                .into_iter()
                .map(|p| {
                    let known = Known {
                        fingerprint: fingerprint(&p),
                        key: canonical_key(&p),
                    };
                    (p, known)
                })
                .collect();
        let recheck: Vec<PathBuf> = listed
            .iter()
            .filter(|(path, now)| {
                everything
                    || match self.known.get(path) {
                        None => true,
                        Some(before) => {
                            before.fingerprint != now.fingerprint
                                || touched.iter().any(|t| t.starts_with(&now.key))
                        }
                    }
            })
            .map(|(path, _)| path.clone())
            .collect();
        let mut removed: Vec<String> = self
            .known
            .keys()
            .filter(|p| !listed.iter().any(|(q, _)| q == *p))
            .map(|p| p.display().to_string())
            .collect();
        removed.sort();
        for gone in &removed {
            self.last.remove(gone);
        }
        // With cross-document rules, a change to one input can change the findings of
        // any other: every input is checked again, and reported when it changed or its
        // outcome did.
        let set = self.engine.policies();
        let whole_run = cluster::is_cross_document(&set)
            && !everything
            && (!recheck.is_empty() || !removed.is_empty());
        let all: Vec<PathBuf> = if whole_run {
            listed.iter().map(|(p, _)| p.clone()).collect()
        } else {
            Vec::new()
        };
        self.known = listed.into_iter().collect();

        let mut files = self.check(&set, if whole_run { &all } else { &recheck }, initial);
        let changed: BTreeSet<String> = recheck.iter().map(|p| p.display().to_string()).collect();
        files.retain(|r| {
            let Some(path) = r.inputs.first().map(|i| i.path.clone()) else {
                return true;
            };
            let outcome = Outcome::of(r);
            let same = self.last.get(&path) == Some(&outcome);
            self.last.insert(path.clone(), outcome);
            !whole_run || changed.contains(&path) || !same
        });
        Cycle {
            initial,
            clock: chrono::Local::now().format("%H:%M:%S").to_string(),
            policies,
            removed,
            files,
            duration: started.elapsed(),
        }
    }

    /// Whether an event's path is a policy or data file under a policy or data root.
    fn is_policy_file(&self, path: &Path) -> bool {
        let ext_ok = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| POLICY_EXTENSIONS.contains(&e) || DATA_EXTENSIONS.contains(&e));
        ext_ok && self.policy_roots.iter().any(|r| path.starts_with(r))
    }

    /// Loads and evaluates `paths`, one report per input.
    fn check(&self, set: &PolicySet, paths: &[PathBuf], initial: bool) -> Vec<Report> {
        if paths.is_empty() {
            return Vec::new();
        }
        let files = discover::collect_with_stdin(
            paths,
            &self.engine.settings().discover,
            &mut std::io::empty(),
        );
        let mut report = self.engine.check_with(set, files);
        // The policy set's own errors belong to `policies` events, not to inputs.
        report.errors.retain(|e| e.kind != ErrorKind::PolicyError);
        if let (Some(cfg), true) = (self.engine.config(), initial) {
            print_config_warnings(cfg, &self.engine.config_warnings());
        }
        report.split_by_input()
    }
}

/// Waits for a burst of relevant events and returns the paths they named, or `None`
/// when it is time to stop.
fn next_batch(
    rx: &mpsc::Receiver<Msg>,
    debounce: Duration,
) -> Option<(BTreeSet<PathBuf>, Vec<RefreshEvent>)> {
    let mut touched = BTreeSet::new();
    let mut bundles = Vec::new();
    loop {
        match rx.recv() {
            Err(_) | Ok(Msg::Stop) => return None,
            Ok(Msg::Fs(event)) => {
                if note(event, &mut touched) {
                    break;
                }
            }
            Ok(Msg::Bundle(event)) => {
                bundles.push(event);
                break;
            }
        }
    }
    let first = Instant::now();
    let mut quiet_at = first + debounce;
    loop {
        let now = Instant::now();
        if now >= quiet_at || now.duration_since(first) >= MAX_BATCH {
            return Some((touched, bundles));
        }
        match rx.recv_timeout(quiet_at - now) {
            Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => return None,
            Ok(Msg::Fs(event)) => {
                if note(event, &mut touched) {
                    quiet_at = Instant::now() + debounce;
                }
            }
            Ok(Msg::Bundle(event)) => bundles.push(event),
            Err(RecvTimeoutError::Timeout) => return Some((touched, bundles)),
        }
    }
}

/// Records the paths of one event; whether it should cause a cycle.
fn note(event: notify::Result<notify::Event>, touched: &mut BTreeSet<PathBuf>) -> bool {
    let event = match event {
        Ok(e) => e,
        Err(e) => {
            // A lost watch or an overflowing queue: a cycle re-lists everything anyway.
            eprintln!("policy: warning: watching files: {e}");
            return true;
        }
    };
    if matches!(event.kind, EventKind::Access(_)) {
        return false;
    }
    if event.need_rescan() {
        return true;
    }
    let in_git = |p: &PathBuf| p.components().any(|c| c.as_os_str() == ".git");
    if !event.paths.is_empty() && event.paths.iter().all(in_git) {
        return false;
    }
    if !matches!(
        event.kind,
        EventKind::Modify(notify::event::ModifyKind::Metadata(_))
    ) {
        for p in event.paths {
            touched.insert(std::fs::canonicalize(&p).unwrap_or(p));
        }
    }
    true
}

/// The directory watches.
struct Watches {
    watcher: notify::RecommendedWatcher,
    /// Each watched directory with its identity when the watch was added: a directory
    /// deleted and made again under the same name (`rm -rf dir && mkdir dir`) lost its
    /// watch with the old inode and must be watched again.
    dirs: BTreeMap<PathBuf, crate::session::DirId>,
}

impl Watches {
    /// Watches exactly `wanted` (as far as the platform lets us); whether a directory
    /// was added (or watched again because it was made anew).
    fn sync(&mut self, wanted: BTreeSet<PathBuf>) -> bool {
        let mut added = false;
        for gone in self.dirs.keys().filter(|d| !wanted.contains(*d)) {
            // Fails when the directory is gone, which removed the watch already.
            let _ = self.watcher.unwatch(gone);
        }
        let mut now = BTreeMap::new();
        for dir in wanted {
            let Some(id) = crate::session::dir_id(&dir) else {
                continue;
            };
            match self.dirs.get(&dir) {
                Some(old) if *old == id => {
                    now.insert(dir, id);
                    continue;
                }
                Some(_) => {
                    // Made anew: the old watch died with the old directory.
                    let _ = self.watcher.unwatch(&dir);
                }
                None => {}
            }
            match self.watcher.watch(&dir, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    now.insert(dir, id);
                    added = true;
                }
                Err(e) => eprintln!("policy: warning: cannot watch {}: {e}", dir.display()),
            }
        }
        self.dirs = now;
        added
    }
}

/// The directories to watch for `roots`: see the module documentation.
fn dirs_to_watch(roots: &[PathBuf]) -> BTreeSet<PathBuf> {
    let mut dirs = BTreeSet::new();
    for root in roots {
        let abs = absolute(root);
        match std::fs::metadata(&abs) {
            Ok(m) if m.is_dir() => {
                let walk = ignore::WalkBuilder::new(&abs)
                    .hidden(false)
                    .require_git(false)
                    .follow_links(true)
                    .filter_entry(|e| e.file_name() != ".git")
                    .build();
                for entry in walk.flatten() {
                    if entry.file_type().is_some_and(|t| t.is_dir()) {
                        dirs.insert(entry.into_path());
                    }
                }
            }
            _ => {
                // A file, or a path that does not exist yet: watch the nearest existing
                // directory above it, whose events tell when it appears or changes.
                if let Some(dir) = abs.ancestors().skip(1).find(|d| d.is_dir()) {
                    dirs.insert(dir.to_path_buf());
                }
            }
        }
    }
    dirs
}

/// `path` made absolute (without resolving links); `path` itself if that fails.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The canonical form of `path` when it exists, else its absolute form: what file
/// events are compared with.
fn canonical_key(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| absolute(path))
}

/// A hash of the size and modification time of `path`, or of every file under it.
fn fingerprint(path: &Path) -> u64 {
    let mut h = DefaultHasher::new();
    match std::fs::metadata(path) {
        Err(_) => 0u8.hash(&mut h),
        Ok(m) if m.is_dir() => {
            let walk = ignore::WalkBuilder::new(path)
                .standard_filters(false)
                .sort_by_file_name(|a, b| a.cmp(b))
                .build();
            for entry in walk.flatten() {
                if let Ok(m) = entry.metadata() {
                    (entry.path(), m.len(), m.modified().ok()).hash(&mut h);
                }
            }
        }
        Ok(m) => (m.len(), m.modified().ok()).hash(&mut h),
    }
    h.finish()
}

/// Where Ctrl-C and SIGTERM send their stop message, while a watch runs.
static STOP: Mutex<Option<mpsc::Sender<Msg>>> = Mutex::new(None);

/// Routes Ctrl-C and SIGTERM to `tx`. The first one stops the loop cleanly; a second one,
/// or one when no watch is running, exits at once.
fn install_stop_handler(tx: mpsc::Sender<Msg>) {
    *STOP.lock().unwrap_or_else(PoisonError::into_inner) = Some(tx);
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let installed = ctrlc::set_handler(|| {
            let tx = STOP.lock().unwrap_or_else(PoisonError::into_inner).take();
            match tx {
                Some(tx) => {
                    let _ = tx.send(Msg::Stop);
                }
                None => std::process::exit(130),
            }
        });
        if let Err(e) = installed {
            eprintln!("policy: warning: Ctrl-C will not stop the watch cleanly: {e}");
        }
    });
}

fn clear_stop_handler() {
    STOP.lock().unwrap_or_else(PoisonError::into_inner).take();
}

/// Sends a stop message when standard input reaches its end (or fails).
fn stop_at_end_of_stdin(tx: mpsc::Sender<Msg>) {
    let spawned = std::thread::Builder::new()
        .name("policy-watch-stdin".into())
        .spawn(move || {
            let mut buf = [0u8; 4096];
            let stdin = std::io::stdin();
            loop {
                match stdin.lock().read(&mut buf) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            let _ = tx.send(Msg::Stop);
        });
    if let Err(e) = spawned {
        eprintln!("policy: warning: --exit-on-stdin-close does not work: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touched(paths: &[&Path]) -> BTreeSet<PathBuf> {
        paths.iter().map(|p| p.to_path_buf()).collect()
    }

    #[test]
    fn access_and_git_events_do_not_start_a_cycle() {
        use notify::event::{AccessKind, CreateKind, ModifyKind};
        let mut t = BTreeSet::new();
        let open = notify::Event::new(EventKind::Access(AccessKind::Any))
            .add_path(PathBuf::from("/w/Dockerfile"));
        assert!(!note(Ok(open), &mut t));
        let git = notify::Event::new(EventKind::Modify(ModifyKind::Any))
            .add_path(PathBuf::from("/w/.git/index"));
        assert!(!note(Ok(git), &mut t));
        assert!(t.is_empty());
        let create = notify::Event::new(EventKind::Create(CreateKind::File))
            .add_path(PathBuf::from("/w/new.yaml"));
        assert!(note(Ok(create), &mut t));
        assert_eq!(t, touched(&[Path::new("/w/new.yaml")]));
        // Errors cause a cycle: it re-lists everything.
        assert!(note(Err(notify::Error::generic("overflow")), &mut t));
    }

    #[test]
    fn a_burst_is_one_batch_and_stop_ends_the_loop() {
        use notify::event::ModifyKind;
        let (tx, rx) = mpsc::channel();
        for name in ["a.yaml", "b.yaml", "a.yaml"] {
            let e = notify::Event::new(EventKind::Modify(ModifyKind::Any))
                .add_path(PathBuf::from("/w").join(name));
            tx.send(Msg::Fs(Ok(e))).expect("send");
        }
        let (batch, bundles) = next_batch(&rx, Duration::from_millis(20)).expect("a batch");
        assert_eq!(
            batch,
            touched(&[Path::new("/w/a.yaml"), Path::new("/w/b.yaml")])
        );
        assert!(bundles.is_empty());
        tx.send(Msg::Stop).expect("send");
        assert!(next_batch(&rx, Duration::from_millis(20)).is_none());
        drop(tx);
        assert!(next_batch(&rx, Duration::from_millis(20)).is_none());
    }

    #[test]
    fn ignored_directories_are_not_watched() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        for d in ["k8s", "target/debug", ".git/objects", ".github/workflows"] {
            std::fs::create_dir_all(root.join(d)).expect("mkdir");
        }
        std::fs::write(root.join(".gitignore"), "target/\n").expect("write");
        std::fs::write(root.join("k8s/pod.yaml"), "kind: Pod\n").expect("write");
        let dirs = dirs_to_watch(&[
            root.to_path_buf(),
            root.join("k8s/pod.yaml"),
            root.join("missing/policy.rego"),
        ]);
        let root = absolute(root);
        let expected: BTreeSet<PathBuf> = ["", "k8s", ".github", ".github/workflows"]
            .iter()
            .map(|d| {
                if d.is_empty() {
                    root.clone()
                } else {
                    root.join(d)
                }
            })
            .collect();
        assert_eq!(dirs, expected);
    }

    #[test]
    fn fingerprints_change_with_content_and_directory_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("Dockerfile");
        assert_eq!(fingerprint(&file), fingerprint(&dir.path().join("other")));
        std::fs::write(&file, "FROM a\n").expect("write");
        let one = fingerprint(&file);
        std::fs::write(&file, "FROM ab\n").expect("write");
        assert_ne!(fingerprint(&file), one);
        let before = fingerprint(dir.path());
        std::fs::write(dir.path().join("index.json"), "{}").expect("write");
        assert_ne!(fingerprint(dir.path()), before);
    }
}
