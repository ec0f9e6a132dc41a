//! Registry images as `image` documents.
//!
//! `policy eval --image REF` and `.policy.yaml` `images:` entries name images that live in
//! a registry, not in a file. This module resolves each reference (tag → digest), fetches
//! its manifest or index and the image configs (never the layers), looks up its cosign
//! signatures when asked, and builds the same normalised `image` document a local file
//! gives (format `registry`), plus:
//!
//! - `source`: `{reference, registry, repository, tag, digest}` where `digest` is what the
//!   reference resolved to (an index digest for a multi-platform tag);
//! - `signatures`: `[{verified, key, annotations, error}]`, or `null` when signatures were
//!   not looked up.
//!
//! Every document and error points at the reference where it was written (the command line,
//! or the line of the configuration file), so findings carry that location plus a JSON
//! path. Every failure is a POL000 input error naming the reference; the rest of the run
//! goes on.

use std::sync::Arc;

use oci_client::Reference;
use serde_json::{json, Value};

use super::client::{parse_reference, Registry, RegistryError, MAX_MANIFEST_BYTES};
use super::cosign;
use super::keys::PublicKey;
use crate::inputs::{image, Document, DocumentKind, FileReport, InputError};
use crate::source::{Position, Span};

/// Where an image reference was written.
#[derive(Debug, Clone)]
pub struct Origin {
    /// The reference as written.
    pub reference: String,
    /// The file findings are reported under (the reference itself for the command line,
    /// else the configuration file).
    pub file: Arc<str>,
    /// That file's text (the reference itself for the command line).
    pub text: Arc<str>,
    /// The span of the reference in `text`.
    pub span: Span,
}

impl Origin {
    /// A reference given on the command line: its own "file", one line long.
    pub fn command_line(reference: &str) -> Origin {
        let len = reference.chars().count() as u32;
        Origin {
            reference: reference.to_string(),
            file: Arc::from(reference),
            text: Arc::from(reference),
            span: Span::new(Position::new(1, 1), Position::new(1, len + 1)),
        }
    }
}

/// Whether and how signatures are checked.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Look up signatures at all.
    pub enabled: bool,
    /// The trusted public keys.
    pub keys: Vec<PublicKey>,
}

/// An index entry that is an image (not an attestation manifest).
fn is_platform_image(entry: &Value) -> bool {
    entry
        .pointer("/annotations/vnd.docker.reference.type")
        .is_none()
}

/// At most this many platform images of one index are loaded.
const MAX_PLATFORMS: usize = 16;

/// Image configs larger than this are not read.
const MAX_CONFIG_BYTES: usize = MAX_MANIFEST_BYTES;

/// Loads one registry image; never panics, always returns a report for it.
pub fn load(reg: &mut Registry, origin: &Origin, verify: &VerifyOptions) -> FileReport {
    let mut report = FileReport {
        path: origin.file.clone(),
        documents: Vec::new(),
        errors: Vec::new(),
        skipped: None,
        source: Some(origin.text.clone()),
    };
    let err = |e: String| InputError::new(origin.file.as_ref(), origin.span.start, e);
    let reference = match parse_reference(&origin.reference) {
        Ok(r) => r,
        Err(e) => {
            report.errors.push(err(e.to_string()));
            return report;
        }
    };
    let top = match reg.manifest(&reference) {
        Ok(m) => m,
        Err(e) => {
            report.errors.push(err(e.to_string()));
            return report;
        }
    };
    let top_value = match parse_manifest(&reference, &top.bytes) {
        Ok(v) => v,
        Err(e) => {
            report.errors.push(err(e.to_string()));
            return report;
        }
    };
    let signatures = verify.enabled.then(|| {
        Value::Array(
            cosign::signatures(reg, &reference, &top.digest, &verify.keys)
                .iter()
                .map(cosign::SignatureCheck::to_json)
                .collect(),
        )
    });
    let source = json!({
        "reference": origin.reference,
        "registry": reference.registry(),
        "repository": reference.repository(),
        "tag": reference.tag(),
        "digest": top.digest,
    });
    let mut images: Vec<(Option<Value>, Value, String)> = Vec::new();
    if let Some(entries) = top_value.get("manifests").and_then(Value::as_array) {
        for entry in entries
            .iter()
            .filter(|e| is_platform_image(e))
            .take(MAX_PLATFORMS)
        {
            let Some(d) = entry.get("digest").and_then(Value::as_str) else {
                report.errors.push(err(format!(
                    "{}: an index entry has no digest",
                    reference.whole()
                )));
                continue;
            };
            let child_ref = reference.clone_with_digest(d.to_string());
            match reg
                .manifest(&child_ref)
                .and_then(|m| parse_manifest(&child_ref, &m.bytes).map(|v| (v, m.digest)))
            {
                Ok((v, digest)) => images.push((Some(top_value.clone()), v, digest)),
                Err(e) => report.errors.push(err(e.to_string())),
            }
        }
    } else {
        images.push((None, top_value.clone(), top.digest.clone()));
    }
    for (index, manifest, digest) in images {
        let config = match manifest.get("config") {
            Some(desc) if is_image_config(desc) => {
                let cd = desc.get("digest").and_then(Value::as_str).unwrap_or("");
                let size = desc.get("size").and_then(Value::as_i64);
                match reg
                    .blob(&reference, cd, size, MAX_CONFIG_BYTES, "image config")
                    .and_then(|b| {
                        serde_json::from_slice::<Value>(&b).map_err(|e| {
                            RegistryError::Malformed(
                                format!("{}@{cd}", reference.whole()),
                                format!("image config: {e}"),
                            )
                        })
                    }) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        report.errors.push(err(e.to_string()));
                        continue;
                    }
                }
            }
            _ => None,
        };
        let (mut value, source_map) =
            image::normalise_registry(index.as_ref(), &manifest, config.as_ref(), origin.span);
        if let Value::Object(m) = &mut value {
            m.insert("digest".into(), Value::String(digest));
            m.insert("name".into(), Value::String(origin.reference.clone()));
            m.insert("source".into(), source.clone());
            m.insert(
                "signatures".into(),
                signatures.clone().unwrap_or(Value::Null),
            );
        }
        report.documents.push(Document {
            kind: DocumentKind::Image,
            path: origin.file.clone(),
            index: report.documents.len(),
            value,
            source_map,
            source: origin.text.clone(),
            first_line: 1,
            span: origin.span,
        });
    }
    report
}

/// Whether a config descriptor names an image config (artifacts have other config types).
fn is_image_config(desc: &Value) -> bool {
    match desc.get("mediaType").and_then(Value::as_str) {
        Some(mt) => {
            mt == "application/vnd.oci.image.config.v1+json"
                || mt == "application/vnd.docker.container.image.v1+json"
        }
        None => true,
    }
}

/// Parses a manifest or index, checking it is one.
fn parse_manifest(reference: &Reference, bytes: &[u8]) -> Result<Value, RegistryError> {
    let what = reference.whole();
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| RegistryError::Malformed(what.clone(), format!("manifest: {e}")))?;
    let ok = v.is_object()
        && v.get("schemaVersion").and_then(Value::as_u64) == Some(2)
        && (v.get("manifests").is_some_and(Value::is_array)
            || v.get("layers").is_some_and(Value::is_array)
            || v.get("config").is_some_and(Value::is_object));
    if !ok {
        return Err(RegistryError::Malformed(
            what,
            "manifest: expected an OCI/Docker image manifest or index (schemaVersion 2)".into(),
        ));
    }
    Ok(v)
}
