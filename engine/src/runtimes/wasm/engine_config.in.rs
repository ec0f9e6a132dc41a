// Shared, through `include!`, by the WASM host (`runtimes/wasm/mod.rs` and `cache.rs`) and
// by `engine/build.rs`, which precompiles the built-in modules: both must configure
// wasmtime identically and name a configuration with the same key, or an embedded artefact
// would not match the engine that runs it. (Not a module: no `//!` docs here; the users
// document it.)

/// The wasmtime configuration of every policy host.
pub(crate) fn engine_config() -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    config.epoch_interruption(true);
    config
}

/// A short, stable name for everything that makes a precompiled artefact loadable by
/// `engine`: the first 8 bytes (hex) of the SHA-256 of wasmtime's
/// `Engine::precompile_compatibility_hash` (wasmtime version, target, ISA flags and every
/// compilation setting).
pub(crate) fn engine_key(engine: &wasmtime::Engine) -> String {
    use sha2::Digest as _;
    use std::hash::Hash as _;

    struct Sha256Hasher(sha2::Sha256);
    impl std::hash::Hasher for Sha256Hasher {
        fn finish(&self) -> u64 {
            // Only `write` is used; the digest is read with `finalize`.
            0
        }
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
    }
    let mut hasher = Sha256Hasher(sha2::Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let digest = hasher.0.finalize();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}
