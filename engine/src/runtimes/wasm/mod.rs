//! WASM runtime (pending).
