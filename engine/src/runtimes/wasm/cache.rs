//! Compile each module once: an in-process map plus an on-disk cache of precompiled
//! artefacts.
//!
//! Built-in modules skip both: `engine/build.rs` precompiles them with the same wasmtime
//! and configuration ([`engine_config`]) and embeds the artefacts in the binary, so a cold
//! CI runner does not spend most of a one-file run compiling the shell module
//! ([`CacheOutcome::Embedded`]). The embedded artefact is used only when its engine key
//! equals the running engine's; otherwise the module goes through the caches below.
//!
//! The disk cache lives in `$XDG_CACHE_HOME/policy/wasm` (else `~/.cache/policy/wasm`,
//! overridable). A file is named `<sha256 of the module>-<engine key>.cwasm`, where the
//! engine key hashes wasmtime's [`Engine::precompile_compatibility_hash`] (wasmtime version,
//! target and every compilation setting). A changed config or wasmtime version therefore
//! misses the cache instead of loading an incompatible artefact, and wasmtime re-checks
//! the header on load anyway. Writes go to a temporary file renamed into place, so a
//! reader never sees a partial artefact. Any cache problem falls back to compiling: the
//! cache can make loading faster, never make it fail.
//!
//! `Module::deserialize` trusts its bytes: flipped bits in an artefact's code section
//! crash the process. So every file starts with a header ([`MAGIC`], then the SHA-256 of
//! the artefact that follows), and the hash is verified before the bytes reach wasmtime.
//! Only a regular file is read (never a symlink, FIFO or device: opened with
//! `O_NOFOLLOW | O_NONBLOCK` and checked on the open handle), and only up to
//! [`MAX_ARTEFACT_BYTES`]. A bad entry is removed, the module recompiled and the entry
//! rewritten, and [`CacheOutcome::Recompiled`] says so, naming the file.
//!
//! Measured with `engine/benches/wasm.rs` on the 147 KB Rust example (release, 2 cores):
//! compiling takes ~130 ms; a whole `load` from our artefact (read + deserialize +
//! instantiate + metadata call) ~0.42 ms; a hit in wasmtime's built-in `Config::cache` costs
//! ~1.4 ms for `Module::new` alone (it hashes the module and decompresses its own entry
//! format). So the cache is ours.

use std::collections::HashMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};
use wasmtime::{Engine, Module};

/// Where a module came from on this load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Already compiled in this process.
    Memory,
    /// Loaded from a precompiled artefact on disk.
    Disk,
    /// A built-in module precompiled when `policy` was built (`engine/build.rs`): no
    /// compilation and no disk cache, even on a cold machine.
    Embedded,
    /// Compiled now (and stored on disk when a cache dir is usable).
    Compiled,
    /// Compiled now because the cached artefact was unusable (corrupt, truncated, not a
    /// regular file, too large); it was replaced. See [`ModuleCache::get_or_compile`]'s
    /// warning.
    Recompiled,
}

// `BUILTIN_WASM_PRECOMPILED: &[([u8; 32], &str, &[u8])]`: (SHA-256 of a built-in `.wasm`,
// engine key, artefact), written by `engine/build.rs`; empty when the
// `precompiled-wasm` feature is off or the build cross-compiles.
include!(concat!(env!("OUT_DIR"), "/builtin_wasm_precompiled.rs"));

/// The first bytes of every artefact file: format name and version.
pub const MAGIC: &[u8; 8] = b"PLCYCW01";

/// The largest artefact file that is read. Precompiled policies are a few MiB; a cache
/// entry replaced by a link to `/dev/zero` or a huge file must not be read into memory.
pub const MAX_ARTEFACT_BYTES: u64 = 256 * 1024 * 1024;

const HEADER_LEN: usize = MAGIC.len() + 32;

/// The default cache directory: `$XDG_CACHE_HOME/policy/wasm` or `~/.cache/policy/wasm`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("policy").join("wasm"))
}

// `engine_config()` and `engine_key()`, shared with `engine/build.rs`. The key feeds
// wasmtime's compatibility `Hash` into SHA-256, so it is stable across runs (unlike
// `DefaultHasher`, whose algorithm is unspecified).
include!("engine_config.in.rs");

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The in-memory and on-disk module cache of one engine.
#[derive(Debug)]
pub(crate) struct ModuleCache {
    dir: Option<PathBuf>,
    engine_key: String,
    memory: Mutex<HashMap<[u8; 32], Module>>,
}

impl ModuleCache {
    /// A cache for `engine`; `dir` of `None` keeps compiled modules in memory only.
    pub(crate) fn new(engine: &Engine, dir: Option<PathBuf>) -> ModuleCache {
        let dir = dir.filter(|d| fs::create_dir_all(d).is_ok());
        ModuleCache {
            dir,
            engine_key: engine_key(engine),
            memory: Mutex::new(HashMap::new()),
        }
    }

    /// The disk cache directory, when in use.
    pub(crate) fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The compiled module for `bytes`, compiling at most once per process and per
    /// engine configuration on this machine. With [`CacheOutcome::Recompiled`], the last
    /// element says which cache file was bad and why.
    pub(crate) fn get_or_compile(
        &self,
        engine: &Engine,
        bytes: &[u8],
    ) -> wasmtime::Result<(Module, CacheOutcome, [u8; 32], Option<String>)> {
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        if let Some(module) = self.lock().get(&digest) {
            return Ok((module.clone(), CacheOutcome::Memory, digest, None));
        }
        if let Some(module) = self.embedded(engine, &digest) {
            self.lock().insert(digest, module.clone());
            return Ok((module, CacheOutcome::Embedded, digest, None));
        }
        let file = self
            .dir
            .as_ref()
            .map(|d| d.join(format!("{}-{}.cwasm", hex(&digest), self.engine_key)));
        let loaded = match file.as_deref() {
            Some(f) => load_artefact(engine, f),
            None => Loaded::Missing,
        };
        let (module, outcome, warning) = match loaded {
            Loaded::Module(module) => (module, CacheOutcome::Disk, None),
            Loaded::Missing | Loaded::Bad(_) => {
                let module = Module::new(engine, bytes)?;
                if let Some(file) = &file {
                    store_artefact(&module, file);
                }
                match loaded {
                    Loaded::Bad(why) => {
                        let name = file.as_deref().map(Path::display);
                        let warning = format!(
                            "discarded the WASM compile cache entry {} ({why}) and recompiled \
                             the module",
                            name.map(|n| n.to_string()).unwrap_or_default()
                        );
                        (module, CacheOutcome::Recompiled, Some(warning))
                    }
                    _ => (module, CacheOutcome::Compiled, None),
                }
            }
        };
        self.lock().insert(digest, module.clone());
        Ok((module, outcome, digest, warning))
    }

    /// The artefact `build.rs` precompiled for the built-in module with this SHA-256, when
    /// it was made for this engine's configuration (same key; a binary built on another
    /// CPU, or a changed config, falls back to the disk cache and compiling).
    #[allow(unsafe_code)]
    fn embedded(&self, engine: &Engine, digest: &[u8; 32]) -> Option<Module> {
        let (_, _, artefact) = BUILTIN_WASM_PRECOMPILED
            .iter()
            .find(|(d, key, _)| d == digest && *key == self.engine_key)?;
        // SAFETY: `Module::deserialize` trusts the bytes to be an artefact wasmtime
        // produced. These are part of this binary: `build.rs` made them with
        // `Engine::precompile_module` from the same wasmtime version and the same
        // `engine_config()`, and the key checked above is that engine's compatibility
        // hash (version, target, ISA flags, settings); wasmtime checks its own header too.
        // Whoever can change them can change the code that runs them.
        unsafe { Module::deserialize(engine, artefact) }.ok()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Module>> {
        // A panic while holding the lock cannot leave the map inconsistent (single inserts).
        self.memory.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What the disk cache had for a module.
enum Loaded {
    /// A verified artefact, deserialized.
    Module(Module),
    /// No entry (or no cache).
    Missing,
    /// An entry that cannot be used, and why; it has been removed.
    Bad(String),
}

/// Opens `file` for reading only if it is a regular file: a symlink fails to open
/// (`O_NOFOLLOW`), a FIFO opens without blocking (`O_NONBLOCK`) and is then refused, like a
/// device, by the check on the open handle.
fn open_regular(file: &Path) -> std::io::Result<Option<(fs::File, u64)>> {
    let mut opts = fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let f = opts.open(file)?;
    let meta = f.metadata()?;
    Ok(meta.file_type().is_file().then_some((f, meta.len())))
}

/// Reads and verifies the artefact in `file`: `Err` says why it is unusable.
fn read_verified(file: &Path) -> Result<Option<Vec<u8>>, String> {
    if let Ok(meta) = fs::symlink_metadata(file) {
        if !meta.file_type().is_file() {
            return Err("not a regular file".into());
        }
    }
    let (f, len) = match open_regular(file) {
        Ok(Some(found)) => found,
        Ok(None) => return Err("not a regular file".into()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot open it: {e}")),
    };
    if len > MAX_ARTEFACT_BYTES {
        return Err(format!(
            "{len} bytes, over the {} MiB cap",
            MAX_ARTEFACT_BYTES >> 20
        ));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    std::io::Read::read_to_end(
        &mut std::io::Read::take(f, MAX_ARTEFACT_BYTES + 1),
        &mut bytes,
    )
    .map_err(|e| format!("cannot read it: {e}"))?;
    if bytes.len() < HEADER_LEN || &bytes[..MAGIC.len()] != MAGIC {
        return Err("no integrity header".into());
    }
    let (header, artefact) = bytes.split_at(HEADER_LEN);
    if Sha256::digest(artefact).as_slice() != &header[MAGIC.len()..] {
        return Err("integrity check failed: the SHA-256 does not match".into());
    }
    bytes.drain(..HEADER_LEN);
    Ok(Some(bytes))
}

/// Loads a precompiled artefact; an unusable one is removed.
///
/// The file is read into memory rather than mapped with `Module::deserialize_file`: a
/// mapping would turn a concurrent truncation of the file (by anything other than this
/// code, which only replaces files by rename) into a SIGBUS, and reading costs well
/// under a millisecond.
#[allow(unsafe_code)]
fn load_artefact(engine: &Engine, file: &Path) -> Loaded {
    let bytes = match read_verified(file) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Loaded::Missing,
        Err(why) => {
            let _ = fs::remove_file(file);
            return Loaded::Bad(why);
        }
    };
    // SAFETY: `Module::deserialize` trusts the bytes to be an artefact wasmtime produced.
    // These are: `read_verified` checked that they hash to the SHA-256 in the header that
    // `store_artefact` wrote beside the output of `Module::serialize`, so flipped bits,
    // truncation and overwritten sections are caught before wasmtime sees them. The name
    // carries the engine's compatibility hash, and wasmtime checks its own header, version
    // and config too. Someone able to forge a matching hash in the user's cache directory
    // could already run code as that user.
    match unsafe { Module::deserialize(engine, &bytes) } {
        Ok(module) => Loaded::Module(module),
        Err(e) => {
            let _ = fs::remove_file(file);
            Loaded::Bad(format!("wasmtime refused it: {e}"))
        }
    }
}

/// Writes an artefact with its integrity header atomically (a temporary file renamed into
/// place); failures only cost a recompilation next time.
fn store_artefact(module: &Module, file: &Path) {
    let Ok(bytes) = module.serialize() else {
        return;
    };
    let Some(dir) = file.parent() else {
        return;
    };
    let tmp = dir.join(format!(
        ".{}.{}.{:?}.tmp",
        file.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("module"),
        std::process::id(),
        std::thread::current().id(),
    ));
    let digest = Sha256::digest(&bytes);
    let written = fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(MAGIC)?;
        f.write_all(&digest)?;
        f.write_all(&bytes)?;
        f.sync_all()
    });
    if written.is_err() || fs::rename(&tmp, file).is_err() {
        let _ = fs::remove_file(&tmp);
    }
}
