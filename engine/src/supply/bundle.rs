//! Policy bundles: policy directories distributed as OCI artifacts.
//!
//! Policies are code that every CI job and cluster must run in the same version.
//! `policy push REF -p DIR` packs the policy files under `DIR` (`*.rego`, `*.wasm`, and the
//! `*.json`/`*.yaml`/`*.yml` data and case files) into one OCI artifact, one layer per file
//! (as ORAS stores files; no tarball), and `-p oci://REF` / `policy pull REF DIR` get it
//! back. The media types are this project's own (documented in docs/supply-chain.md):
//!
//! | what | media type |
//! |---|---|
//! | artifact type / config | `application/vnd.policy.bundle.v1+json` |
//! | a `.rego` file | `application/vnd.policy.rego.v1` |
//! | a `.wasm` file | `application/vnd.policy.wasm.v1` |
//! | a `.json` file | `application/vnd.policy.json.v1` |
//! | a `.yaml`/`.yml` file | `application/vnd.policy.yaml.v1` |
//!
//! Each layer's `org.opencontainers.image.title` annotation is the file's path relative to
//! `DIR` (`/`-separated; no `..`, no absolute paths: a bundle that says otherwise is
//! refused). Pulled bundles are cached by manifest digest under
//! `$XDG_CACHE_HOME/policy/bundles/` (else `~/.cache/policy/bundles/`); a digest-pinned
//! reference whose bundle is cached is never fetched again. Bundles are signed the cosign
//! way (the manifest digest, under the `sha256-<hex>.sig` tag), so `cosign verify` can
//! check them too; with a verify key, an unsigned or wrongly signed bundle is refused.

use std::path::{Component, Path, PathBuf};

use serde_json::{json, Value};

use super::client::{parse_reference, sha256_digest, Registry, RegistryError};
use super::cosign;
use super::keys::{PublicKey, SigningKey};
use super::SupplyError;
use crate::rules::RuntimeKind;

/// The artifact type and config media type of a policy bundle.
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.policy.bundle.v1+json";
/// The manifest media type bundles are pushed with.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// The annotation naming a layer's file.
pub const TITLE_ANNOTATION: &str = "org.opencontainers.image.title";
/// The largest file a bundle may hold.
pub const MAX_FILE_BYTES: usize = 32 << 20;
/// The most files a bundle may hold.
pub const MAX_FILES: usize = 4096;

/// The layer media type of a bundle file, by extension; `None` for files not bundled.
pub fn file_media_type(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    if let Some(runtime) = RuntimeKind::from_extension(&ext) {
        return Some(runtime.media_type());
    }
    match ext.as_str() {
        "json" => Some("application/vnd.policy.json.v1"),
        "yaml" | "yml" => Some("application/vnd.policy.yaml.v1"),
        _ => None,
    }
}

/// The bundle files under `dir`: (relative `/` path, absolute path), sorted.
pub fn bundle_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, SupplyError> {
    let io = |p: &Path, e: std::io::Error| SupplyError::Io {
        path: p.display().to_string(),
        message: e.to_string(),
    };
    if !dir.is_dir() {
        return Err(SupplyError::Io {
            path: dir.display().to_string(),
            message: "not a directory".into(),
        });
    }
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| io(&d, e))? {
            let entry = entry.map_err(|e| io(&d, e))?;
            let path = entry.path();
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let ft = entry.file_type().map_err(|e| io(&path, e))?;
            if ft.is_dir() {
                stack.push(path);
            } else if ft.is_file() && file_media_type(&path).is_some() {
                let rel = path
                    .strip_prefix(dir)
                    .unwrap_or(&path)
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                out.push((rel, path));
            }
        }
    }
    out.sort();
    if out.is_empty() {
        return Err(SupplyError::Bundle(format!(
            "{}: no policy files ({}, *.json, *.yaml) to push",
            dir.display(),
            crate::rules::POLICY_EXTENSIONS
                .iter()
                .map(|e| format!("*.{e}"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    if out.len() > MAX_FILES {
        return Err(SupplyError::Bundle(format!(
            "{}: {} files, more than the {MAX_FILES}-file limit of a bundle",
            dir.display(),
            out.len()
        )));
    }
    Ok(out)
}

/// Pushes the policy files under `dir` to `reference`; signs the bundle with `sign` when
/// given. Returns the manifest digest.
pub fn push(
    reg: &mut Registry,
    reference: &str,
    dir: &Path,
    sign: Option<&SigningKey>,
) -> Result<String, SupplyError> {
    let r = parse_reference(reference)?;
    let files = bundle_files(dir)?;
    let mut layers = Vec::new();
    let mut names = Vec::new();
    for (rel, path) in &files {
        let bytes = std::fs::read(path).map_err(|e| SupplyError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        if bytes.len() > MAX_FILE_BYTES {
            return Err(SupplyError::Bundle(format!(
                "{}: {} bytes, larger than the {MAX_FILE_BYTES}-byte limit of a bundle file",
                path.display(),
                bytes.len()
            )));
        }
        let size = bytes.len();
        let digest = reg.push_blob(&r, bytes)?;
        layers.push(json!({
            "mediaType": file_media_type(path).unwrap_or("application/octet-stream"),
            "digest": digest,
            "size": size,
            "annotations": {TITLE_ANNOTATION: rel},
        }));
        names.push(rel.clone());
    }
    let config = serde_json::to_vec(&json!({
        "files": names,
        "created_by": concat!("policy ", env!("CARGO_PKG_VERSION")),
    }))
    .unwrap_or_default();
    let config_size = config.len();
    let config_digest = reg.push_blob(&r, config)?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "artifactType": BUNDLE_MEDIA_TYPE,
        "config": {"mediaType": BUNDLE_MEDIA_TYPE, "digest": config_digest, "size": config_size},
        "layers": layers,
    });
    let bytes = serde_json::to_vec(&manifest).unwrap_or_default();
    let digest = sha256_digest(&bytes);
    if let Some(key) = sign {
        // Signed before the tag names it: a front end following the tag
        // (`--policy-refresh`) never sees the new bundle without its signature.
        let by_digest = oci_client::Reference::with_digest(
            r.registry().to_string(),
            r.repository().to_string(),
            digest.clone(),
        );
        reg.push_manifest(&by_digest, bytes.clone(), MANIFEST_MEDIA_TYPE)?;
        cosign::sign(reg, &r, &digest, key)?;
    }
    // (A digest-pinned reference that was signed is pushed already.)
    if r.digest().is_none() || sign.is_none() {
        reg.push_manifest(&r, bytes, MANIFEST_MEDIA_TYPE)?;
    }
    Ok(digest)
}

/// The default bundle cache: `$XDG_CACHE_HOME/policy/bundles` or `~/.cache/policy/bundles`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("policy").join("bundles"))
}

/// A pulled bundle.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The manifest digest.
    pub digest: String,
    /// The directory holding its files.
    pub dir: PathBuf,
    /// Whether it came from the cache without any registry request.
    pub cached: bool,
}

const COMPLETE_MARKER: &str = ".policy-bundle-complete";

fn cache_entry(cache: &Path, digest: &str) -> PathBuf {
    cache.join(digest.replace(':', "-"))
}

/// Pulls `reference` (an `oci://` prefix is allowed) into the cache under `cache`, unless
/// it is there already. With `verify`, the bundle must carry a signature that one of the
/// keys verifies, or nothing is used.
pub fn pull(
    reg: &mut Registry,
    reference: &str,
    cache: &Path,
    verify: &[PublicKey],
) -> Result<Pulled, SupplyError> {
    let reference = reference.strip_prefix("oci://").unwrap_or(reference);
    let r = parse_reference(reference)?;
    // A digest-pinned reference whose bundle is cached needs no request at all; with
    // verify keys, only when one of them verified it when it was fetched (the marker
    // lists the fingerprints of the keys that did).
    if let Some(d) = r.digest() {
        let dir = cache_entry(cache, d);
        let marker = std::fs::read_to_string(dir.join(COMPLETE_MARKER)).ok();
        let trusted = marker.as_deref().is_some_and(|m| {
            verify.is_empty()
                || verify
                    .iter()
                    .any(|k| m.lines().any(|l| l == k.fingerprint()))
        });
        if trusted {
            return Ok(Pulled {
                digest: d.to_string(),
                dir,
                cached: true,
            });
        }
    }
    let manifest = reg.manifest(&r)?;
    install(reg, reference, &r, manifest, cache, verify)
}

/// Verifies (with `verify`) and unpacks the bundle whose manifest was fetched from `r`
/// into the cache, unless a complete copy is there already.
pub fn install(
    reg: &mut Registry,
    reference: &str,
    r: &oci_client::Reference,
    manifest: super::client::Manifest,
    cache: &Path,
    verify: &[PublicKey],
) -> Result<Pulled, SupplyError> {
    let reference = reference.strip_prefix("oci://").unwrap_or(reference);
    // What it is comes first (no request needed): a registry that answers garbage is
    // named as such, not as a bundle without a signature.
    let value: Value = serde_json::from_slice(&manifest.bytes)
        .map_err(|e| SupplyError::Bundle(format!("{reference}: malformed bundle manifest: {e}")))?;
    let is_bundle = value.get("artifactType").and_then(Value::as_str) == Some(BUNDLE_MEDIA_TYPE)
        || value.pointer("/config/mediaType").and_then(Value::as_str) == Some(BUNDLE_MEDIA_TYPE);
    if !is_bundle {
        return Err(SupplyError::Bundle(format!(
            "{reference}: not a policy bundle (its artifact type is not {BUNDLE_MEDIA_TYPE})"
        )));
    }
    let mut verified_by = Vec::new();
    if !verify.is_empty() {
        let checks = cosign::signatures(reg, r, &manifest.digest, verify);
        for c in checks.iter().filter(|c| c.verified) {
            if let Some(k) = verify.iter().find(|k| Some(&k.name) == c.key.as_ref()) {
                verified_by.push(k.fingerprint());
            }
        }
        if !checks.iter().any(|c| c.verified) {
            let why = if checks.is_empty() {
                "it has no signature".to_string()
            } else {
                checks
                    .iter()
                    .filter_map(|c| c.error.clone())
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            return Err(SupplyError::Bundle(format!(
                "{reference}: refusing the policy bundle {}: {why}",
                manifest.digest
            )));
        }
    }
    let dir = cache_entry(cache, &manifest.digest);
    if dir.join(COMPLETE_MARKER).is_file() {
        if !verified_by.is_empty() {
            let mut marker = std::fs::read_to_string(dir.join(COMPLETE_MARKER)).unwrap_or_default();
            for f in &verified_by {
                marker.push('\n');
                marker.push_str(f);
            }
            let _ = std::fs::write(dir.join(COMPLETE_MARKER), marker);
        }
        return Ok(Pulled {
            digest: manifest.digest,
            dir,
            cached: true,
        });
    }
    let layers = value
        .get("layers")
        .and_then(Value::as_array)
        .ok_or_else(|| SupplyError::Bundle(format!("{reference}: the bundle has no layers")))?;
    if layers.len() > MAX_FILES {
        return Err(SupplyError::Bundle(format!(
            "{reference}: {} files, more than the {MAX_FILES}-file limit",
            layers.len()
        )));
    }
    let io = |p: &Path, e: std::io::Error| SupplyError::Io {
        path: p.display().to_string(),
        message: e.to_string(),
    };
    std::fs::create_dir_all(cache).map_err(|e| io(cache, e))?;
    let tmp = cache.join(format!(
        ".tmp-{}-{}",
        std::process::id(),
        manifest.digest.replace(':', "-")
    ));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| io(&tmp, e))?;
    let result = (|| {
        for layer in layers {
            let title = layer
                .pointer(&format!(
                    "/annotations/{}",
                    TITLE_ANNOTATION.replace('/', "~1")
                ))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    SupplyError::Bundle(format!(
                        "{reference}: a layer has no `{TITLE_ANNOTATION}` annotation"
                    ))
                })?;
            let rel = safe_relative(title).ok_or_else(|| {
                SupplyError::Bundle(format!(
                    "{reference}: refusing the file name {title:?} (absolute, `..` or not a policy file)"
                ))
            })?;
            let digest = layer.get("digest").and_then(Value::as_str).unwrap_or("");
            let size = layer.get("size").and_then(Value::as_i64);
            let bytes = reg.blob(r, digest, size, MAX_FILE_BYTES, "bundle file")?;
            if sha256_digest(&bytes) != digest {
                return Err(RegistryError::DigestMismatch(
                    format!("{reference}: {title}"),
                    sha256_digest(&bytes),
                    digest.to_string(),
                )
                .into());
            }
            let path = tmp.join(&rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
            }
            std::fs::write(&path, bytes).map_err(|e| io(&path, e))?;
        }
        let mut marker = manifest.digest.clone();
        for f in &verified_by {
            marker.push('\n');
            marker.push_str(f);
        }
        std::fs::write(tmp.join(COMPLETE_MARKER), marker).map_err(|e| io(&tmp, e))?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = std::fs::rename(&tmp, &dir) {
        // Another process may have won the race: its copy is as good as ours.
        let _ = std::fs::remove_dir_all(&tmp);
        if !dir.join(COMPLETE_MARKER).is_file() {
            return Err(io(&dir, e));
        }
    }
    Ok(Pulled {
        digest: manifest.digest,
        dir,
        cached: false,
    })
}

/// Copies a pulled bundle's files into `out` (`policy pull REF DIR`).
pub fn write_out(pulled: &Pulled, out: &Path) -> Result<usize, SupplyError> {
    let files = bundle_files(&pulled.dir)?;
    for (rel, src) in &files {
        let dst = out.join(rel);
        if let Some(parent) = dst.parent() {
            std::fs::create_dir_all(parent).map_err(|e| SupplyError::Io {
                path: parent.display().to_string(),
                message: e.to_string(),
            })?;
        }
        std::fs::copy(src, &dst).map_err(|e| SupplyError::Io {
            path: dst.display().to_string(),
            message: e.to_string(),
        })?;
    }
    Ok(files.len())
}

/// A bundle file name as a safe relative path: `/`-separated normal components only, with
/// a bundled extension.
fn safe_relative(title: &str) -> Option<PathBuf> {
    if title.is_empty() || title.contains('\\') || title.contains('\0') {
        return None;
    }
    let path = Path::new(title);
    if !path.components().all(|c| matches!(c, Component::Normal(_))) {
        return None;
    }
    file_media_type(path)?;
    Some(path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_titles_are_refused() {
        assert!(safe_relative("lib/a.rego").is_some());
        for bad in [
            "../a.rego",
            "/etc/a.rego",
            "a/../../b.rego",
            "a.sh",
            "",
            "a\\b.rego",
        ] {
            assert!(safe_relative(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn media_types() {
        assert_eq!(
            file_media_type(Path::new("x/y.REGO")),
            Some("application/vnd.policy.rego.v1")
        );
        assert_eq!(file_media_type(Path::new("README.md")), None);
    }
}
