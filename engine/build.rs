//! Embeds the built-in policies (`../policies/**/*.{rego,wasm}`) into the binary, and
//! their case files (`../policies/**/*.{yaml,yml}`) so that `policy test --builtin` works
//! from an installed binary, away from the repository.

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
}
