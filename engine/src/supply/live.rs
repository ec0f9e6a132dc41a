//! Policy bundles that follow a tag: `oci://REF` policies in the long-running front ends
//! (`policy watch`, `policy lsp`, `policy serve`) and their `--policy-refresh`.
//!
//! `policy eval` pulls a bundle once and loads it from its directory in the cache. A
//! front end that runs for days must also pick up the next version pushed to the same
//! tag, and must never pick up one that does not verify. So it loads each bundle from a
//! *live path*: a symbolic link owned by this process that points at the verified
//! bundle's directory in the cache. Every refresh interval the tag is resolved again; a
//! new digest is pulled and verified with the same keys as at start, and only then is the
//! link swapped, atomically (a new link renamed over the old one). The front end then
//! reloads through the same path as a local edit: the files under the live path changed,
//! so [`crate::eval::ReloadablePolicySet::sources_changed`] says so, and a bundle whose
//! policies do not load is refused like a broken edit. A bundle that does not verify is
//! never linked: the last good set stays in use and the refusal is reported with its
//! reason ([`Refresh::Refused`]).
//!
//! The link is per process (its name holds the process id), so that two processes that
//! share a cache with different verify keys never load each other's choice. It is removed
//! when the [`LiveBundles`] are dropped. A digest-pinned reference is never looked up
//! again.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::bundle;
use super::client::{parse_reference, Registry, RegistryOptions};
use super::keys::PublicKey;
use super::SupplyError;

/// The `oci://` reference a policy path names, if any (configuration entries may have
/// been joined onto a directory: `/repo/oci://host/org/p:v1`).
pub fn oci_reference(path: &Path) -> Option<String> {
    let s = path.to_string_lossy();
    s.find("oci://").map(|i| s[i..].to_string())
}

/// How a front end gets and follows its `oci://` bundles.
#[derive(Debug, Clone, Default)]
pub struct LiveOptions {
    /// How to reach registries.
    pub registry: RegistryOptions,
    /// With keys, a bundle must be signed by one of them (at start and at every refresh).
    pub verify: Vec<PublicKey>,
    /// How often tags are resolved again; `None`: never.
    pub refresh: Option<Duration>,
    /// The bundle cache (default: [`bundle::default_cache_dir`]).
    pub cache: Option<PathBuf>,
}

/// One followed bundle.
#[derive(Debug, Clone)]
pub struct LiveBundle {
    /// The reference as given, with its `oci://` prefix.
    pub reference: String,
    /// The live path policies are loaded from.
    pub link: PathBuf,
    /// The digest of the bundle the link points at.
    pub digest: String,
    /// The last refusal reported (digest and message), so that an interval that sees the
    /// same refused bundle again does not report it again.
    last_refusal: Option<String>,
}

/// What one refresh of one bundle did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refresh {
    /// The tag still names the bundle in use (or the reference is digest-pinned).
    Unchanged,
    /// A new bundle verified and is linked: the front end should reload.
    Updated {
        /// The digest before.
        from: String,
        /// The digest now in use.
        to: String,
    },
    /// The tag names a bundle that was refused (unsigned, wrongly signed, malformed):
    /// the last good one stays.
    Refused {
        /// The refused bundle's digest.
        digest: String,
        /// Why, naming the reference.
        error: String,
    },
    /// The registry could not be asked (network, auth, timeout, malformed answer): the
    /// last good bundle stays.
    Unreachable {
        /// Why, naming the reference.
        error: String,
    },
}

/// A refresh outcome worth reporting: anything but [`Refresh::Unchanged`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshEvent {
    /// The reference (with `oci://`).
    pub reference: String,
    /// The digest in use after the refresh.
    pub in_use: String,
    /// What happened.
    pub outcome: Refresh,
}

impl RefreshEvent {
    /// Whether the front end should reload its policies.
    pub fn updated(&self) -> bool {
        matches!(self.outcome, Refresh::Updated { .. })
    }
}

impl std::fmt::Display for RefreshEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.outcome {
            Refresh::Unchanged => write!(f, "{}: unchanged ({})", self.reference, self.in_use),
            Refresh::Updated { from, to } => write!(
                f,
                "{}: new policy bundle {to} verified and in use (was {from})",
                self.reference
            ),
            Refresh::Refused { error, .. } | Refresh::Unreachable { error } => write!(
                f,
                "{error}; keeping the policy bundle {} in use",
                self.in_use
            ),
        }
    }
}

/// What the refresher thread shares with its owner.
#[derive(Debug)]
struct Shared {
    bundles: Mutex<Vec<LiveBundle>>,
    cache: PathBuf,
    verify: Vec<PublicKey>,
    stopped: AtomicBool,
}

/// The followed bundles of one front end; see the module docs. Dropping it stops the
/// refresher and removes the live links.
#[derive(Debug)]
pub struct LiveBundles {
    shared: Arc<Shared>,
    opts: RegistryOptions,
    links: Vec<(String, PathBuf)>,
    stop: Option<mpsc::Sender<()>>,
}

impl LiveBundles {
    /// Pulls (and, with `verify` keys, verifies) every reference once and links it.
    /// The first failure is returned: a front end has no older set to fall back on.
    pub fn open(
        references: &[String],
        opts: RegistryOptions,
        cache: &Path,
        verify: Vec<PublicKey>,
    ) -> Result<LiveBundles, SupplyError> {
        let live = cache.join("live");
        let mut reg = Registry::new(opts.clone())?;
        let mut bundles: Vec<LiveBundle> = Vec::new();
        let mut links = Vec::new();
        let cleanup = |links: &[(String, PathBuf)]| {
            for (_, l) in links {
                remove_link(l);
            }
        };
        for (i, reference) in references.iter().enumerate() {
            if bundles.iter().any(|b| &b.reference == reference) {
                continue;
            }
            let pulled = match bundle::pull(&mut reg, reference, cache, &verify) {
                Ok(p) => p,
                Err(e) => {
                    cleanup(&links);
                    return Err(e);
                }
            };
            let link = live.join(format!(
                "{}-{i}-{}",
                std::process::id(),
                sanitize(reference.strip_prefix("oci://").unwrap_or(reference))
            ));
            if let Err(e) = point(&link, &pulled.dir) {
                cleanup(&links);
                return Err(e);
            }
            links.push((reference.clone(), link.clone()));
            bundles.push(LiveBundle {
                reference: reference.clone(),
                link,
                digest: pulled.digest,
                last_refusal: None,
            });
        }
        Ok(LiveBundles {
            shared: Arc::new(Shared {
                bundles: Mutex::new(bundles),
                cache: cache.to_path_buf(),
                verify,
                stopped: AtomicBool::new(false),
            }),
            opts,
            links,
            stop: None,
        })
    }

    /// The `oci://` references of `paths`, each once, in order.
    pub fn references(paths: &[PathBuf]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in paths.iter().filter_map(|p| oci_reference(p)) {
            if !out.contains(&r) {
                out.push(r);
            }
        }
        out
    }

    /// `(reference, live path)` of every bundle: what [`map_paths`] needs.
    pub fn links(&self) -> &[(String, PathBuf)] {
        &self.links
    }

    /// The bundles and the digests in use now.
    pub fn bundles(&self) -> Vec<LiveBundle> {
        self.shared
            .bundles
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Resolves every tag once now; reports each outcome but [`Refresh::Unchanged`].
    pub fn refresh(&self) -> Vec<RefreshEvent> {
        match Registry::new(self.opts.clone()) {
            Ok(mut reg) => refresh_all(&self.shared, &mut reg),
            Err(e) => vec![RefreshEvent {
                reference: "oci://".into(),
                in_use: String::new(),
                outcome: Refresh::Unreachable {
                    error: e.to_string(),
                },
            }],
        }
    }

    /// Starts a thread that refreshes every `interval` and hands each event to
    /// `on_event` (from that thread). Stops when `self` is dropped. Digest-pinned
    /// references are never looked up.
    pub fn spawn(
        &mut self,
        interval: Duration,
        mut on_event: impl FnMut(RefreshEvent) + Send + 'static,
    ) {
        let shared = Arc::clone(&self.shared);
        let opts = self.opts.clone();
        let (tx, rx) = mpsc::channel::<()>();
        self.stop = Some(tx);
        std::thread::spawn(move || {
            let mut reg = match Registry::new(opts) {
                Ok(r) => r,
                Err(e) => {
                    on_event(RefreshEvent {
                        reference: "oci://".into(),
                        in_use: String::new(),
                        outcome: Refresh::Unreachable {
                            error: e.to_string(),
                        },
                    });
                    return;
                }
            };
            while let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(interval) {
                for event in refresh_all(&shared, &mut reg) {
                    if shared.stopped.load(Ordering::Acquire) {
                        return;
                    }
                    on_event(event);
                }
            }
        });
    }
}

impl Drop for LiveBundles {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::Release);
        self.stop = None;
        for (_, link) in &self.links {
            remove_link(link);
        }
    }
}

/// Replaces each `oci://` path of `paths` by its live path from `links`.
pub fn map_paths(paths: &mut [PathBuf], links: &[(String, PathBuf)]) {
    for p in paths.iter_mut() {
        if let Some(r) = oci_reference(p) {
            if let Some((_, link)) = links.iter().find(|(l, _)| *l == r) {
                *p = link.clone();
            }
        }
    }
}

fn refresh_all(shared: &Shared, reg: &mut Registry) -> Vec<RefreshEvent> {
    let snapshot = shared
        .bundles
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let mut events = Vec::new();
    for mut b in snapshot {
        if shared.stopped.load(Ordering::Acquire) {
            break;
        }
        let outcome = refresh_one(reg, &mut b, &shared.cache, &shared.verify, &shared.stopped);
        let report = match &outcome {
            Refresh::Unchanged => {
                b.last_refusal = None;
                false
            }
            Refresh::Updated { .. } => {
                b.last_refusal = None;
                true
            }
            Refresh::Refused { digest, error } => {
                let key = format!("{digest} {error}");
                let again = b.last_refusal.as_deref() == Some(key.as_str());
                b.last_refusal = Some(key);
                !again
            }
            Refresh::Unreachable { error } => {
                let again = b.last_refusal.as_deref() == Some(error.as_str());
                b.last_refusal = Some(error.clone());
                !again
            }
        };
        if report {
            events.push(RefreshEvent {
                reference: b.reference.clone(),
                in_use: b.digest.clone(),
                outcome,
            });
        }
        let mut bundles = shared
            .bundles
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = bundles.iter_mut().find(|x| x.reference == b.reference) {
            *slot = b;
        }
    }
    events
}

fn refresh_one(
    reg: &mut Registry,
    b: &mut LiveBundle,
    cache: &Path,
    verify: &[PublicKey],
    stopped: &AtomicBool,
) -> Refresh {
    let plain = b.reference.strip_prefix("oci://").unwrap_or(&b.reference);
    let r = match parse_reference(plain) {
        Ok(r) => r,
        Err(e) => {
            return Refresh::Unreachable {
                error: e.to_string(),
            }
        }
    };
    if r.digest().is_some() {
        return Refresh::Unchanged;
    }
    let manifest = match reg.manifest(&r) {
        Ok(m) => m,
        Err(e) => {
            return Refresh::Unreachable {
                error: e.to_string(),
            }
        }
    };
    if manifest.digest == b.digest {
        return Refresh::Unchanged;
    }
    let digest = manifest.digest.clone();
    let pulled = match bundle::install(reg, plain, &r, manifest, cache, verify) {
        Ok(p) => p,
        Err(e) => {
            return Refresh::Refused {
                digest,
                error: e.to_string(),
            }
        }
    };
    // Dropped meanwhile: the link is gone and must stay gone.
    if stopped.load(Ordering::Acquire) {
        return Refresh::Unchanged;
    }
    if let Err(e) = point(&b.link, &pulled.dir) {
        return Refresh::Refused {
            digest,
            error: e.to_string(),
        };
    }
    let from = std::mem::replace(&mut b.digest, pulled.digest);
    Refresh::Updated {
        from,
        to: b.digest.clone(),
    }
}

/// A file name for a reference: letters, digits, `.` and `-` kept, the rest `_`.
fn sanitize(reference: &str) -> String {
    reference
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(120)
        .collect()
}

/// Makes `link` point at `target`, atomically where the platform allows it.
fn point(link: &Path, target: &Path) -> Result<(), SupplyError> {
    let io = |p: &Path, e: std::io::Error| SupplyError::Io {
        path: p.display().to_string(),
        message: e.to_string(),
    };
    let parent = link.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
    #[cfg(unix)]
    {
        let name = link
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = parent.join(format!(".{name}.tmp"));
        let _ = std::fs::remove_file(&tmp);
        // Relative to the link's directory (the cache's `live/`), so a moved cache works.
        let rel = match target.file_name() {
            Some(n) if target.parent() == parent.parent() => Path::new("..").join(n),
            _ => target.to_path_buf(),
        };
        std::os::unix::fs::symlink(&rel, &tmp).map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, link).map_err(|e| io(link, e))?;
        Ok(())
    }
    #[cfg(not(unix))]
    {
        // No atomic directory links: replace a copy (a reload that reads it half-written
        // sees its files change under it and loads again).
        let _ = std::fs::remove_dir_all(link);
        let files = bundle::bundle_files(target)?;
        for (rel, src) in files {
            let dst = link.join(rel);
            if let Some(p) = dst.parent() {
                std::fs::create_dir_all(p).map_err(|e| io(p, e))?;
            }
            std::fs::copy(&src, &dst).map_err(|e| io(&dst, e))?;
        }
        Ok(())
    }
}

fn remove_link(link: &Path) {
    #[cfg(unix)]
    let _ = std::fs::remove_file(link);
    #[cfg(not(unix))]
    let _ = std::fs::remove_dir_all(link);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_mapping() {
        let paths = vec![
            PathBuf::from("policies"),
            PathBuf::from("/repo/oci://127.0.0.1:5000/org/p:v1"),
            PathBuf::from("oci://127.0.0.1:5000/org/p:v1"),
        ];
        let refs = LiveBundles::references(&paths);
        assert_eq!(refs, vec!["oci://127.0.0.1:5000/org/p:v1".to_string()]);
        let mut mapped = paths.clone();
        map_paths(
            &mut mapped,
            &[(refs[0].clone(), PathBuf::from("/cache/live/1-0-x"))],
        );
        assert_eq!(mapped[0], PathBuf::from("policies"));
        assert_eq!(mapped[1], PathBuf::from("/cache/live/1-0-x"));
        assert_eq!(mapped[2], PathBuf::from("/cache/live/1-0-x"));
    }

    #[test]
    fn sanitized_names() {
        assert_eq!(
            sanitize("127.0.0.1:5000/org/p:v1"),
            "127.0.0.1_5000_org_p_v1"
        );
    }

    #[cfg(unix)]
    #[test]
    fn links_swap_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path();
        for d in ["sha256-a", "sha256-b"] {
            std::fs::create_dir_all(cache.join(d)).unwrap();
            std::fs::write(cache.join(d).join("p.rego"), d).unwrap();
        }
        let link = cache.join("live").join("1-0-x");
        point(&link, &cache.join("sha256-a")).unwrap();
        assert_eq!(
            std::fs::read_to_string(link.join("p.rego")).unwrap(),
            "sha256-a"
        );
        point(&link, &cache.join("sha256-b")).unwrap();
        assert_eq!(
            std::fs::read_to_string(link.join("p.rego")).unwrap(),
            "sha256-b"
        );
        assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("../sha256-b"));
        remove_link(&link);
        assert!(!link.exists());
        assert!(cache.join("sha256-b/p.rego").exists());
    }
}
