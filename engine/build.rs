//! Embeds the built-in policies (`../policies/**/*.{rego,wasm}`) into the binary, and
//! their case files (`../policies/**/*.{yaml,yml}`) so that `policy test --builtin` works
//! from an installed binary, away from the repository.
//!
//! A built-in `.wasm` built from a guest crate beside it may declare the document kinds
//! its rules apply to in that crate's `Cargo.toml` (`[package.metadata.policy]`
//! `kinds = ["dockerfile"]`); they go into `BUILTIN_WASM_KINDS`, so that `policy eval`
//! can leave the module uncompiled when no input has one of those kinds.
//!
//! With the `precompiled-wasm` feature (on by default), the built-in `.wasm` modules are
//! also compiled here, with wasmtime, into artefacts embedded in the binary
//! (`BUILTIN_WASM_PRECOMPILED`, see `mod precompiled` below).

use std::path::{Path, PathBuf};

fn walk(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            // Guest sources (Rust crates) live beside their built .wasm; skip their targets.
            if path.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            walk(&path, exts, out);
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| exts.contains(&e))
        {
            out.push(path);
        }
    }
}

fn main() {
    let manifest =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest.join("..").join("policies");
    println!("cargo:rerun-if-changed={}", root.display());
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let tables = [
        (
            "builtin_policies.rs",
            "/// Built-in policy files: (path relative to the repository, bytes).\npub static BUILTIN_POLICIES: &[(&str, &[u8])]",
            &["rego", "wasm"][..],
            "include_bytes",
        ),
        (
            "builtin_cases.rs",
            "/// Case files of the built-in policies: (path relative to the repository, text).\npub static BUILTIN_CASES: &[(&str, &str)]",
            &["yaml", "yml"][..],
            "include_str",
        ),
    ];
    for (name, decl, exts, include) in tables {
        let mut files = Vec::new();
        walk(&root, exts, &mut files);
        let mut code = format!("{decl} = &[\n");
        for f in &files {
            println!("cargo:rerun-if-changed={}", f.display());
            let rel = f.strip_prefix(manifest.join("..")).unwrap_or(f);
            code.push_str(&format!(
                "    ({:?}, {include}!({:?})),\n",
                rel.to_string_lossy().replace('\\', "/"),
                f.canonicalize()
                    .unwrap_or_else(|_| f.clone())
                    .to_string_lossy()
            ));
        }
        code.push_str("];\n");
        std::fs::write(out_dir.join(name), code).unwrap_or_else(|e| panic!("write {name}: {e}"));
    }

    let mut wasm = Vec::new();
    walk(&root, &["wasm"], &mut wasm);
    let mut code = String::from(
        "/// Document kinds and rule IDs declared by the guest crates of built-in `.wasm`\n\
         /// policies: (path relative to the repository, kinds, rule IDs).\n\
         pub static BUILTIN_WASM_KINDS: &[(&str, &[&str], &[&str])] = &[\n",
    );
    for f in &wasm {
        let guest = f.with_file_name("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&guest) else {
            continue;
        };
        let Some(kinds) = declared_list(&text, "kinds") else {
            continue;
        };
        let rules = declared_list(&text, "rules").unwrap_or_default();
        println!("cargo:rerun-if-changed={}", guest.display());
        let rel = f.strip_prefix(manifest.join("..")).unwrap_or(f);
        code.push_str(&format!(
            "    ({:?}, &{:?}, &{:?}),\n",
            rel.to_string_lossy().replace('\\', "/"),
            kinds,
            rules
        ));
    }
    code.push_str("];\n");
    std::fs::write(out_dir.join("builtin_wasm_kinds.rs"), code)
        .unwrap_or_else(|e| panic!("write builtin_wasm_kinds.rs: {e}"));

    let mut code = String::from(
        "pub(crate) static BUILTIN_WASM_PRECOMPILED: &[([u8; 32], &str, &[u8])] = &[\n",
    );
    for (digest, key, artefact) in precompiled::all(&wasm, &out_dir) {
        code.push_str(&format!(
            "    ({digest:?}, {key:?}, include_bytes!({:?})),\n",
            artefact.to_string_lossy()
        ));
    }
    code.push_str("];\n");
    std::fs::write(out_dir.join("builtin_wasm_precompiled.rs"), code)
        .unwrap_or_else(|e| panic!("write builtin_wasm_precompiled.rs: {e}"));
}

/// Built-in `.wasm` modules compiled now, with the wasmtime version and configuration the
/// host uses at run time (`engine_config.in.rs`), so that no run ever compiles them: on an
/// ephemeral CI runner with an empty cache, cranelift spent ~0.8 s of a ~0.9 s one-file
/// run on the shell module. Each artefact is keyed by the engine's compatibility hash; the
/// host loads it only when that matches its own engine (a binary moved to a CPU with other
/// features falls back to compiling and the disk cache).
#[cfg(feature = "precompiled-wasm")]
mod precompiled {
    use std::path::{Path, PathBuf};

    include!("src/runtimes/wasm/engine_config.in.rs");

    /// (SHA-256 of the module, engine key, artefact file) for each module in `wasm`.
    /// Cross-compiling embeds nothing: the artefact would be for the build machine.
    pub fn all(wasm: &[PathBuf], out_dir: &Path) -> Vec<([u8; 32], String, PathBuf)> {
        use sha2::Digest as _;
        if std::env::var("TARGET").ok() != std::env::var("HOST").ok() {
            return Vec::new();
        }
        let engine = wasmtime::Engine::new(&engine_config())
            .unwrap_or_else(|e| panic!("wasmtime engine for precompiling built-ins: {e}"));
        let key = engine_key(&engine);
        let dir = out_dir.join("precompiled");
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let mut out = Vec::new();
        for f in wasm {
            let bytes = std::fs::read(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            let artefact = engine
                .precompile_module(&bytes)
                .unwrap_or_else(|e| panic!("precompiling {}: {e:?}", f.display()));
            let digest: [u8; 32] = sha2::Sha256::digest(&bytes).into();
            let name = digest[..8]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>();
            let file = dir.join(format!("{name}.cwasm"));
            std::fs::write(&file, artefact).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            out.push((digest, key.clone(), file));
        }
        out
    }
}

/// Without the `precompiled-wasm` feature, built-in modules are compiled at run time and
/// kept in the disk cache like any other.
#[cfg(not(feature = "precompiled-wasm"))]
mod precompiled {
    use std::path::{Path, PathBuf};

    pub fn all(_wasm: &[PathBuf], _out_dir: &Path) -> Vec<([u8; 32], String, PathBuf)> {
        Vec::new()
    }
}

/// `KEY = ["a", "b"]` (`kinds`, `rules`) in the `[package.metadata.policy]` table of a
/// Cargo.toml (read line by line: the table is ours and each list is written on one line,
/// like `wasm = true`).
fn declared_list(manifest: &str, key: &str) -> Option<Vec<String>> {
    let mut in_table = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_table = line == "[package.metadata.policy]";
            continue;
        }
        let Some(value) = line.strip_prefix(key).map(str::trim_start) else {
            continue;
        };
        if !in_table {
            continue;
        }
        let list = value.strip_prefix('=')?.trim();
        let inner = list.strip_prefix('[')?.split(']').next()?;
        return Some(
            inner
                .split(',')
                .map(|k| k.trim().trim_matches('"').to_string())
                .filter(|k| !k.is_empty())
                .collect(),
        );
    }
    None
}
