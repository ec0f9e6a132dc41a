//! Cosign-compatible signature discovery and verification.
//!
//! `cosign sign --key` stores an image's signatures in the same repository under the tag
//! `sha256-<hex>.sig`: an OCI manifest whose layers are "simple signing" payloads
//! (`application/vnd.dev.cosign.simplesigning.v1+json`), each with its base64 signature in
//! the `dev.cosignproject.cosign/signature` annotation. The payload is JSON naming the
//! signed manifest digest:
//!
//! ```json
//! {"critical": {"identity": {"docker-reference": "reg/app"},
//!               "image": {"docker-manifest-digest": "sha256:..."},
//!               "type": "cosign container image signature"},
//!  "optional": {...}}
//! ```
//!
//! A signature is *verified* when a key from `settings.trusted_keys` verifies it over the
//! payload bytes **and** the payload names the image's digest and the cosign type. Keyless
//! signatures (a Fulcio certificate annotation) are reported unverified with the reason:
//! they need a Sigstore trust root, which is not configured.
//!
//! Signatures are found two ways, and both are looked at: the OCI 1.1 referrers API
//! (`GET /v2/<repo>/referrers/<digest>`: manifests whose `subject` is the image, of
//! artifact type `application/vnd.dev.cosign.artifact.sig.v1+json`, as `cosign sign
//! --registry-referrers-mode=oci-1-1` stores them), and the tag convention. A registry
//! without the referrers API (404, as Debian's distribution 2.8 answers) leaves the tag
//! convention alone. Sigstore bundles among the referrers (cosign's newer format) are
//! listed unverified with the reason: they are keyless and need a trust root.

use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::client::{Registry, RegistryError};
use super::keys::PublicKey;
use oci_client::Reference;

/// The annotation holding a layer's base64 signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The annotation of a keyless signature's Fulcio certificate.
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
/// The media type of a simple-signing payload layer.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The `critical.type` of an image signature payload.
pub const PAYLOAD_TYPE: &str = "cosign container image signature";
/// Payloads larger than this are not read.
pub const MAX_PAYLOAD_BYTES: usize = 1 << 20;
/// Signature manifests with more layers than this are cut short (with an entry saying so).
pub const MAX_SIGNATURES: usize = 32;

/// The outcome of checking one signature: an element of the image document's `signatures`.
#[derive(Debug, Clone, PartialEq)]
pub struct SignatureCheck {
    /// A trusted key verified it and the payload names this image.
    pub verified: bool,
    /// The name of the key that verified it.
    pub key: Option<String>,
    /// The signature layer's annotations (signature, certificate, bundle, ...).
    pub annotations: Map<String, Value>,
    /// Why it is not verified.
    pub error: Option<String>,
}

impl SignatureCheck {
    /// An unverified entry with an error (the lookup itself failed).
    pub fn failed(error: impl Into<String>) -> SignatureCheck {
        SignatureCheck {
            verified: false,
            key: None,
            annotations: Map::new(),
            error: Some(error.into()),
        }
    }

    /// The document form: `{verified, key, annotations, error}`.
    pub fn to_json(&self) -> Value {
        json!({
            "verified": self.verified,
            "key": self.key,
            "annotations": self.annotations,
            "error": self.error,
        })
    }
}

/// The cosign signature tag of a manifest digest (`sha256:ab..` → `sha256-ab...sig`).
pub fn signature_tag(digest: &str) -> Option<String> {
    let (alg, hex) = digest.split_once(':')?;
    let ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric());
    (ok(alg) && ok(hex)).then(|| format!("{alg}-{hex}.sig"))
}

/// The simple-signing payload cosign signs for `digest` pushed as `docker_reference`.
pub fn payload(docker_reference: &str, digest: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": digest},
            "type": PAYLOAD_TYPE,
        },
        "optional": null,
    }))
    .unwrap_or_default()
}

/// Checks one signature layer: `payload` bytes, the layer's `annotations`, the image's
/// `digest`, against `keys`.
pub fn verify(
    payload: &[u8],
    annotations: &Map<String, Value>,
    digest: &str,
    keys: &[PublicKey],
) -> SignatureCheck {
    let mut check = SignatureCheck {
        verified: false,
        key: None,
        annotations: annotations.clone(),
        error: None,
    };
    let fail = |mut c: SignatureCheck, e: String| {
        c.error = Some(e);
        c
    };
    let Some(sig_b64) = annotations
        .get(SIGNATURE_ANNOTATION)
        .and_then(Value::as_str)
    else {
        return fail(
            check,
            format!("the layer has no `{SIGNATURE_ANNOTATION}` annotation"),
        );
    };
    let Ok(sig) = base64::engine::general_purpose::STANDARD.decode(sig_b64.trim()) else {
        return fail(check, "the signature annotation is not base64".into());
    };
    let keyless = annotations.contains_key(CERTIFICATE_ANNOTATION);
    if keys.is_empty() {
        let why = if keyless {
            "keyless signature (Fulcio certificate): no Sigstore trust root is configured, so it cannot be verified offline; add the signer's public key to settings.trusted_keys"
        } else {
            "no trusted keys are configured (settings.trusted_keys or --trusted-key)"
        };
        return fail(check, why.into());
    }
    let Some(key) = keys.iter().find(|k| k.verify(payload, &sig)) else {
        let why = if keyless {
            "keyless signature (Fulcio certificate): no Sigstore trust root is configured and no trusted key verifies it".to_string()
        } else {
            format!(
                "no trusted key verifies the signature (tried {})",
                keys.iter()
                    .map(|k| k.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        return fail(check, why);
    };
    check.key = Some(key.name.clone());
    let value: Value = match serde_json::from_slice(payload) {
        Ok(v) => v,
        Err(e) => return fail(check, format!("the signed payload is not JSON: {e}")),
    };
    let named = value
        .pointer("/critical/image/docker-manifest-digest")
        .and_then(Value::as_str);
    if named != Some(digest) {
        return fail(
            check,
            format!(
                "the signed payload is for {}, not this image's {digest}",
                named.unwrap_or("no digest")
            ),
        );
    }
    let kind = value.pointer("/critical/type").and_then(Value::as_str);
    if !kind.is_some_and(|t| t.eq_ignore_ascii_case(PAYLOAD_TYPE)) {
        return fail(
            check,
            format!(
                "the signed payload's type is {:?}, not {PAYLOAD_TYPE:?}",
                kind.unwrap_or("missing")
            ),
        );
    }
    check.verified = true;
    check
}

/// The artifact type of a cosign signature manifest stored as an OCI 1.1 referrer.
pub const SIGNATURE_ARTIFACT_TYPE: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";
/// The artifact type prefix of a Sigstore bundle stored as a referrer.
pub const SIGSTORE_BUNDLE_PREFIX: &str = "application/vnd.dev.sigstore.bundle";

/// Looks up and checks the cosign signatures of `digest` in `image`'s repository: its
/// OCI 1.1 referrers (where the registry has the API) and its signature tag. No
/// signature gives an empty list; a lookup that fails gives one entry with the error,
/// so that a broken registry is never a silent pass.
pub fn signatures(
    reg: &mut Registry,
    image: &Reference,
    digest: &str,
    keys: &[PublicKey],
) -> Vec<SignatureCheck> {
    let Some(tag) = signature_tag(digest) else {
        return vec![SignatureCheck::failed(format!("malformed digest {digest}"))];
    };
    let mut out = match reg.referrers(image, digest, None) {
        Ok(None) => Vec::new(),
        Ok(Some(index)) => from_referrers(reg, image, digest, keys, &index.bytes),
        Err(e) => vec![SignatureCheck::failed(e.to_string())],
    };
    out.extend(from_tag(reg, image, digest, keys, tag));
    out
}

/// The signatures among the referrers `index` lists.
fn from_referrers(
    reg: &mut Registry,
    image: &Reference,
    digest: &str,
    keys: &[PublicKey],
    index: &[u8],
) -> Vec<SignatureCheck> {
    let what = format!("{}/{}@{digest}", image.registry(), image.repository());
    let value: Value = match serde_json::from_slice(index) {
        Ok(v) => v,
        Err(e) => {
            return vec![SignatureCheck::failed(format!(
                "{what}: malformed referrers index: {e}"
            ))]
        }
    };
    let Some(manifests) = value.get("manifests").and_then(Value::as_array) else {
        return vec![SignatureCheck::failed(format!(
            "{what}: the referrers index has no `manifests`"
        ))];
    };
    let mut out = Vec::new();
    let mut seen = 0;
    for m in manifests {
        let kind = m.get("artifactType").and_then(Value::as_str).unwrap_or("");
        let Some(d) = m.get("digest").and_then(Value::as_str) else {
            continue;
        };
        if kind.starts_with(SIGSTORE_BUNDLE_PREFIX) {
            out.push(SignatureCheck::failed(format!(
                "{what}: a Sigstore bundle ({kind}, referrer {d}) is a keyless signature: no Sigstore trust root is configured, so it cannot be verified offline"
            )));
            continue;
        }
        if kind != SIGNATURE_ARTIFACT_TYPE {
            continue; // SBOMs, attestations and other artifacts
        }
        seen += 1;
        if seen > MAX_SIGNATURES {
            out.push(SignatureCheck::failed(format!(
                "{what}: more than {MAX_SIGNATURES} signature referrers; only the first {MAX_SIGNATURES} were checked"
            )));
            break;
        }
        let sig_ref = Reference::with_digest(
            image.registry().to_string(),
            image.repository().to_string(),
            d.to_string(),
        );
        match reg.manifest(&sig_ref) {
            Ok(manifest) => out.extend(check_layers(reg, &sig_ref, &manifest.bytes, digest, keys)),
            Err(e) => out.push(SignatureCheck::failed(e.to_string())),
        }
    }
    out
}

/// The signatures under the cosign tag `tag` (`sha256-<hex>.sig`).
fn from_tag(
    reg: &mut Registry,
    image: &Reference,
    digest: &str,
    keys: &[PublicKey],
    tag: String,
) -> Vec<SignatureCheck> {
    let sig_ref = Reference::with_tag(
        image.registry().to_string(),
        image.repository().to_string(),
        tag,
    );
    let manifest = match reg.manifest(&sig_ref) {
        Ok(m) => m,
        Err(RegistryError::NotFound(_)) => return Vec::new(),
        Err(e) => return vec![SignatureCheck::failed(e.to_string())],
    };
    check_layers(reg, &sig_ref, &manifest.bytes, digest, keys)
}

/// Checks each signature layer of the signature manifest `bytes` fetched as `sig_ref`.
fn check_layers(
    reg: &mut Registry,
    sig_ref: &Reference,
    bytes: &[u8],
    digest: &str,
    keys: &[PublicKey],
) -> Vec<SignatureCheck> {
    let value: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            return vec![SignatureCheck::failed(format!(
                "{}: malformed signature manifest: {e}",
                sig_ref.whole()
            ))]
        }
    };
    let Some(layers) = value.get("layers").and_then(Value::as_array) else {
        return vec![SignatureCheck::failed(format!(
            "{}: the signature manifest has no `layers`",
            sig_ref.whole()
        ))];
    };
    let mut out = Vec::new();
    for layer in layers.iter().take(MAX_SIGNATURES) {
        let annotations = layer
            .get("annotations")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let Some(layer_digest) = layer.get("digest").and_then(Value::as_str) else {
            out.push(SignatureCheck::failed("a signature layer has no digest"));
            continue;
        };
        let size = layer.get("size").and_then(Value::as_i64);
        match reg.blob(
            sig_ref,
            layer_digest,
            size,
            MAX_PAYLOAD_BYTES,
            "signature payload",
        ) {
            Ok(bytes) => out.push(verify(&bytes, &annotations, digest, keys)),
            Err(e) => {
                let mut c = SignatureCheck::failed(e.to_string());
                c.annotations = annotations;
                out.push(c);
            }
        }
    }
    if layers.len() > MAX_SIGNATURES {
        out.push(SignatureCheck::failed(format!(
            "{} signatures; only the first {MAX_SIGNATURES} were checked",
            layers.len()
        )));
    }
    out
}

/// Signs `digest` (pushed as `docker_reference`) with `key` and stores the signature in the
/// registry under the cosign tag, as `cosign sign --key` does (one layer per signature;
/// an existing signature manifest is replaced). Used by `policy push --sign-key` and tests.
pub fn sign(
    reg: &mut Registry,
    image: &Reference,
    digest: &str,
    key: &super::keys::SigningKey,
) -> Result<String, super::SupplyError> {
    let tag = signature_tag(digest)
        .ok_or_else(|| RegistryError::Malformed(image.whole(), format!("digest {digest}")))?;
    let sig_ref = Reference::with_tag(
        image.registry().to_string(),
        image.repository().to_string(),
        tag,
    );
    let body = payload(
        &format!("{}/{}", image.registry(), image.repository()),
        digest,
    );
    let signature = key.sign(&body)?;
    let payload_digest = reg.push_blob(&sig_ref, body.clone())?;
    let config = b"{}".to_vec();
    let config_digest = reg.push_blob(&sig_ref, config.clone())?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config.len(),
        },
        "layers": [{
            "mediaType": SIMPLE_SIGNING_MEDIA_TYPE,
            "digest": payload_digest,
            "size": body.len(),
            "annotations": {
                SIGNATURE_ANNOTATION: base64::engine::general_purpose::STANDARD.encode(signature),
            },
        }],
    });
    let bytes = serde_json::to_vec(&manifest).unwrap_or_default();
    Ok(reg.push_manifest(
        &sig_ref,
        bytes,
        "application/vnd.oci.image.manifest.v1+json",
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supply::keys::SigningKey;

    const DIGEST: &str = "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270";

    fn keypair() -> (SigningKey, PublicKey) {
        let k = SigningKey::from_pem(&SigningKey::generate_p256_pem().unwrap()).unwrap();
        let p = PublicKey::from_pem("ci.pub", &k.public_key_pem().unwrap()).unwrap();
        (k, p)
    }

    fn annotations(sig: &[u8]) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert(
            SIGNATURE_ANNOTATION.into(),
            Value::String(base64::engine::general_purpose::STANDARD.encode(sig)),
        );
        m
    }

    #[test]
    fn tag_convention() {
        assert_eq!(
            signature_tag("sha256:abc").as_deref(),
            Some("sha256-abc.sig")
        );
        assert_eq!(signature_tag("sha256:../x"), None);
    }

    #[test]
    fn verified_signature() {
        let (k, p) = keypair();
        let body = payload("reg/app", DIGEST);
        let c = verify(&body, &annotations(&k.sign(&body).unwrap()), DIGEST, &[p]);
        assert!(c.verified, "{c:?}");
        assert_eq!(c.key.as_deref(), Some("ci.pub"));
    }

    /// A payload written out as cosign's documented simple-signing format (field order,
    /// spacing and an `optional` block as `cosign sign` emits them), signed here.
    #[test]
    fn documented_payload_format_verifies() {
        let (k, p) = keypair();
        let body = format!(
            "{{\"critical\":{{\"identity\":{{\"docker-reference\":\"registry.example.com/team/app\"}},\"image\":{{\"docker-manifest-digest\":\"{DIGEST}\"}},\"type\":\"cosign container image signature\"}},\"optional\":{{\"creator\":\"ci\"}}}}"
        );
        let c = verify(
            body.as_bytes(),
            &annotations(&k.sign(body.as_bytes()).unwrap()),
            DIGEST,
            &[p],
        );
        assert!(c.verified, "{c:?}");
    }

    #[test]
    fn negative_cases() {
        let (k, p) = keypair();
        let body = payload("reg/app", DIGEST);
        let sig = k.sign(&body).unwrap();
        // Tampered payload.
        let mut tampered = body.clone();
        tampered[10] ^= 1;
        let c = verify(
            &tampered,
            &annotations(&sig),
            DIGEST,
            std::slice::from_ref(&p),
        );
        assert!(
            !c.verified
                && c.error
                    .as_deref()
                    .unwrap()
                    .contains("no trusted key verifies")
        );
        // Signature for another digest.
        let other = payload("reg/app", "sha256:0000");
        let c = verify(
            &other,
            &annotations(&k.sign(&other).unwrap()),
            DIGEST,
            std::slice::from_ref(&p),
        );
        assert!(
            !c.verified && c.error.as_deref().unwrap().contains("is for sha256:0000"),
            "{c:?}"
        );
        // Wrong key.
        let (_, wrong) = keypair();
        let c = verify(&body, &annotations(&sig), DIGEST, &[wrong]);
        assert!(!c.verified);
        // Not base64, no keys, keyless.
        let mut bad = Map::new();
        bad.insert(SIGNATURE_ANNOTATION.into(), Value::String("%%%".into()));
        assert!(verify(&body, &bad, DIGEST, std::slice::from_ref(&p))
            .error
            .unwrap()
            .contains("base64"));
        assert!(verify(&body, &annotations(&sig), DIGEST, &[])
            .error
            .unwrap()
            .contains("no trusted keys"));
        let mut keyless = annotations(&sig);
        keyless.insert(
            CERTIFICATE_ANNOTATION.into(),
            Value::String("-----BEGIN CERTIFICATE-----".into()),
        );
        assert!(verify(&body, &keyless, DIGEST, &[])
            .error
            .unwrap()
            .contains("keyless"));
    }
}
