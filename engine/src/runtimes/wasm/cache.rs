//! Compile each module once: an in-process map plus an on-disk cache of precompiled
//! artefacts.
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
//! Measured with `engine/benches/wasm.rs` on the 147 KB Rust example (release, 2 cores):
//! compiling takes ~130 ms; a whole `load` from our artefact (read + deserialize +
//! instantiate + metadata call) ~0.42 ms; a hit in wasmtime's built-in `Config::cache` costs
//! ~1.4 ms for `Module::new` alone (it hashes the module and decompresses its own entry
//! format). So the cache is ours.

use std::collections::HashMap;
use std::fs;
use std::hash::{Hash, Hasher};
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
    /// Compiled now (and stored on disk when a cache dir is usable).
    Compiled,
}

/// The default cache directory: `$XDG_CACHE_HOME/policy/wasm` or `~/.cache/policy/wasm`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("policy").join("wasm"))
}

/// Feeds `Hash` output into SHA-256, so the engine key is stable across runs (unlike
/// `DefaultHasher`, whose algorithm is unspecified).
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        // Only `write` is used; the digest is read with `finalize`.
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

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
        let mut hasher = Sha256Hasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let digest = hasher.0.finalize();
        let dir = dir.filter(|d| fs::create_dir_all(d).is_ok());
        ModuleCache {
            dir,
            engine_key: hex(&digest[..8]),
            memory: Mutex::new(HashMap::new()),
        }
    }

    /// The disk cache directory, when in use.
    pub(crate) fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The compiled module for `bytes`, compiling at most once per process and per
    /// engine configuration on this machine.
    pub(crate) fn get_or_compile(
        &self,
        engine: &Engine,
        bytes: &[u8],
    ) -> wasmtime::Result<(Module, CacheOutcome, [u8; 32])> {
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        if let Some(module) = self.lock().get(&digest) {
            return Ok((module.clone(), CacheOutcome::Memory, digest));
        }
        let file = self
            .dir
            .as_ref()
            .map(|d| d.join(format!("{}-{}.cwasm", hex(&digest), self.engine_key)));
        let (module, outcome) = match file.as_deref().and_then(|f| load_artefact(engine, f)) {
            Some(module) => (module, CacheOutcome::Disk),
            None => {
                let module = Module::new(engine, bytes)?;
                if let Some(file) = &file {
                    store_artefact(&module, file);
                }
                (module, CacheOutcome::Compiled)
            }
        };
        self.lock().insert(digest, module.clone());
        Ok((module, outcome, digest))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Module>> {
        // A panic while holding the lock cannot leave the map inconsistent (single inserts).
        self.memory.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Loads a precompiled artefact; `None` (after removing the file) when it is unusable.
///
/// The file is read into memory rather than mapped with `Module::deserialize_file`: a
/// mapping would turn a concurrent truncation of the file (by anything other than this
/// code, which only replaces files by rename) into a SIGBUS, and reading costs well
/// under a millisecond.
#[allow(unsafe_code)]
fn load_artefact(engine: &Engine, file: &Path) -> Option<Module> {
    let bytes = fs::read(file).ok()?;
    // SAFETY: `Module::deserialize` trusts the bytes to be an artefact wasmtime produced.
    // Ours are: the cache directory is written only by this code, each file is the output
    // of `Module::serialize` under this very engine configuration (its name carries the
    // engine's compatibility hash and the module's sha256) and is moved into place by an
    // atomic rename, so no partial or foreign-config file is ever read; wasmtime also checks
    // the header, version and config and returns an error on mismatch. Someone able to
    // write into the user's cache directory could already run code as that user.
    match unsafe { Module::deserialize(engine, &bytes) } {
        Ok(module) => Some(module),
        Err(_) => {
            let _ = fs::remove_file(file);
            None
        }
    }
}

/// Writes an artefact atomically; failures only cost a recompilation next time.
fn store_artefact(module: &Module, file: &Path) {
    let Ok(bytes) = module.serialize() else {
        return;
    };
    let Some(dir) = file.parent() else {
        return;
    };
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        file.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("module"),
        std::process::id()
    ));
    let written = fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(&bytes)?;
        f.sync_all()
    });
    if written.is_err() || fs::rename(&tmp, file).is_err() {
        let _ = fs::remove_file(&tmp);
    }
}
