//! Public keys that signatures are checked against, and private keys that sign bundles.
//!
//! Cosign signs with ECDSA P-256 (SHA-256, ASN.1 DER signatures) by default and accepts
//! Ed25519 and RSA keys; `settings.trusted_keys` holds such public keys as PEM
//! (`-----BEGIN PUBLIC KEY-----`, a SubjectPublicKeyInfo). This module only decodes the
//! PEM/DER framing (RustCrypto's `spki`) and hands the key bytes to `ring`, which does all
//! the cryptography; nothing here is hand-rolled. Private keys are PKCS#8 PEM
//! (`openssl genpkey` output); cosign's own encrypted key format is not read.

use ring::rand::SystemRandom;
use ring::signature::{self, KeyPair};
use spki::der::asn1::{BitString, ObjectIdentifier};
use spki::der::{Any, Decode, DecodePem, EncodePem};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// A key could not be read or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The text is not a PEM public key.
    #[error("not a PEM public key (expected `-----BEGIN PUBLIC KEY-----`): {0}")]
    BadPublicPem(String),
    /// The text is not a PKCS#8 PEM private key.
    #[error("not a PKCS#8 PEM private key (expected `-----BEGIN PRIVATE KEY-----`, e.g. from `openssl genpkey`): {0}")]
    BadPrivatePem(String),
    /// The key's algorithm is not one cosign uses.
    #[error("unsupported key algorithm {0}: use ECDSA P-256, Ed25519 or RSA")]
    Unsupported(String),
    /// Signing failed.
    #[error("cannot sign: {0}")]
    Sign(String),
}

/// The algorithm of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// ECDSA over P-256 with SHA-256 (cosign's default).
    EcdsaP256,
    /// Ed25519.
    Ed25519,
    /// RSA (PKCS#1 v1.5 or PSS with SHA-256 are accepted when verifying).
    Rsa,
}

impl KeyAlgorithm {
    /// Lower-case name for messages and documents.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::EcdsaP256 => "ecdsa-p256",
            KeyAlgorithm::Ed25519 => "ed25519",
            KeyAlgorithm::Rsa => "rsa",
        }
    }
}

/// A trusted public key with the name it is reported under.
#[derive(Debug, Clone)]
pub struct PublicKey {
    /// How findings and documents name it (a file path or `trusted_keys[N]`).
    pub name: String,
    /// Its algorithm.
    pub algorithm: KeyAlgorithm,
    /// The key bytes `ring` expects (uncompressed point, raw Ed25519 key, RSAPublicKey DER).
    bytes: Vec<u8>,
}

impl PublicKey {
    /// Reads a PEM SubjectPublicKeyInfo.
    pub fn from_pem(name: impl Into<String>, pem: &str) -> Result<PublicKey, KeyError> {
        let spki = SubjectPublicKeyInfoOwned::from_pem(pem.trim().as_bytes())
            .map_err(|e| KeyError::BadPublicPem(e.to_string()))?;
        let oid = spki.algorithm.oid;
        let algorithm = if oid == OID_EC_PUBLIC_KEY {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
            if curve != Some(OID_P256) {
                return Err(KeyError::Unsupported(format!(
                    "ECDSA on curve {}",
                    curve.map_or_else(|| "?".to_string(), |c| c.to_string())
                )));
            }
            KeyAlgorithm::EcdsaP256
        } else if oid == OID_ED25519 {
            KeyAlgorithm::Ed25519
        } else if oid == OID_RSA {
            KeyAlgorithm::Rsa
        } else {
            return Err(KeyError::Unsupported(oid.to_string()));
        };
        Ok(PublicKey {
            name: name.into(),
            algorithm,
            bytes: spki.subject_public_key.raw_bytes().to_vec(),
        })
    }

    /// `sha256:<hex>` of the key bytes: identifies the key in caches.
    pub fn fingerprint(&self) -> String {
        super::client::sha256_digest(&self.bytes)
    }

    /// Whether `signature` is this key's signature of `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let algs: &[&'static dyn signature::VerificationAlgorithm] = match self.algorithm {
            KeyAlgorithm::EcdsaP256 => &[&signature::ECDSA_P256_SHA256_ASN1],
            KeyAlgorithm::Ed25519 => &[&signature::ED25519],
            KeyAlgorithm::Rsa => &[
                &signature::RSA_PKCS1_2048_8192_SHA256,
                &signature::RSA_PSS_2048_8192_SHA256,
            ],
        };
        algs.iter().any(|alg| {
            signature::UnparsedPublicKey::new(*alg, &self.bytes)
                .verify(message, signature)
                .is_ok()
        })
    }
}

/// A private key that signs (policy bundles, and signatures made in tests).
pub struct SigningKey {
    algorithm: KeyAlgorithm,
    inner: Signer,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.algorithm.as_str())
    }
}

enum Signer {
    Ecdsa(signature::EcdsaKeyPair),
    Ed25519(signature::Ed25519KeyPair),
    Rsa(signature::RsaKeyPair),
}

impl SigningKey {
    /// Reads a PKCS#8 PEM private key (ECDSA P-256, Ed25519 or RSA).
    pub fn from_pem(pem: &str) -> Result<SigningKey, KeyError> {
        let (label, der) = spki::der::pem::decode_vec(pem.trim().as_bytes())
            .map_err(|e| KeyError::BadPrivatePem(e.to_string()))?;
        if label != "PRIVATE KEY" {
            return Err(KeyError::BadPrivatePem(format!(
                "the PEM label is `{label}`; convert it with `openssl pkcs8 -topk8 -nocrypt`"
            )));
        }
        Self::from_pkcs8(&der)
    }

    /// Reads a PKCS#8 DER private key.
    pub fn from_pkcs8(der: &[u8]) -> Result<SigningKey, KeyError> {
        let rng = SystemRandom::new();
        if let Ok(k) = signature::EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            der,
            &rng,
        ) {
            return Ok(SigningKey {
                algorithm: KeyAlgorithm::EcdsaP256,
                inner: Signer::Ecdsa(k),
            });
        }
        if let Ok(k) = signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der) {
            return Ok(SigningKey {
                algorithm: KeyAlgorithm::Ed25519,
                inner: Signer::Ed25519(k),
            });
        }
        match signature::RsaKeyPair::from_pkcs8(der) {
            Ok(k) => Ok(SigningKey {
                algorithm: KeyAlgorithm::Rsa,
                inner: Signer::Rsa(k),
            }),
            Err(e) => Err(KeyError::BadPrivatePem(format!(
                "not an ECDSA P-256, Ed25519 or RSA PKCS#8 key ({e})"
            ))),
        }
    }

    /// A new random ECDSA P-256 key, as PKCS#8 PEM (for tests and examples).
    pub fn generate_p256_pem() -> Result<String, KeyError> {
        let rng = SystemRandom::new();
        let der = signature::EcdsaKeyPair::generate_pkcs8(
            &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &rng,
        )
        .map_err(|e| KeyError::Sign(e.to_string()))?;
        pem_encode("PRIVATE KEY", der.as_ref())
    }

    /// A new random Ed25519 key, as PKCS#8 PEM (for tests and examples).
    pub fn generate_ed25519_pem() -> Result<String, KeyError> {
        let rng = SystemRandom::new();
        let der = signature::Ed25519KeyPair::generate_pkcs8(&rng)
            .map_err(|e| KeyError::Sign(e.to_string()))?;
        pem_encode("PRIVATE KEY", der.as_ref())
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// Signs `message` as cosign does: ECDSA ASN.1 DER, Ed25519, or RSA PKCS#1 v1.5, all
    /// over SHA-256 where the algorithm hashes.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let rng = SystemRandom::new();
        match &self.inner {
            Signer::Ecdsa(k) => k
                .sign(&rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|e| KeyError::Sign(e.to_string())),
            Signer::Ed25519(k) => Ok(k.sign(message).as_ref().to_vec()),
            Signer::Rsa(k) => {
                let mut sig = vec![0; k.public().modulus_len()];
                k.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut sig)
                    .map_err(|e| KeyError::Sign(e.to_string()))?;
                Ok(sig)
            }
        }
    }

    /// The public half, as a PEM SubjectPublicKeyInfo (what `settings.trusted_keys` takes).
    pub fn public_key_pem(&self) -> Result<String, KeyError> {
        let (oid, params, bytes) = match &self.inner {
            Signer::Ecdsa(k) => (
                OID_EC_PUBLIC_KEY,
                Some(Any::encode_from(&OID_P256).map_err(|e| KeyError::Sign(e.to_string()))?),
                k.public_key().as_ref().to_vec(),
            ),
            Signer::Ed25519(k) => (OID_ED25519, None, k.public_key().as_ref().to_vec()),
            Signer::Rsa(k) => (
                OID_RSA,
                Some(Any::from_der(&[5, 0]).map_err(|e| KeyError::Sign(e.to_string()))?),
                k.public_key().as_ref().to_vec(),
            ),
        };
        let spki = SubjectPublicKeyInfoOwned {
            algorithm: AlgorithmIdentifierOwned {
                oid,
                parameters: params,
            },
            subject_public_key: BitString::from_bytes(&bytes)
                .map_err(|e| KeyError::Sign(e.to_string()))?,
        };
        spki.to_pem(spki::der::pem::LineEnding::LF)
            .map_err(|e| KeyError::Sign(e.to_string()))
    }
}

fn pem_encode(label: &str, der: &[u8]) -> Result<String, KeyError> {
    spki::der::pem::encode_string(label, spki::der::pem::LineEnding::LF, der)
        .map_err(|e| KeyError::Sign(e.to_string()))
}

/// Checks that a DER encoding round-trips (used by tests of the PEM writer).
#[cfg(test)]
fn spki_der(pem: &str) -> Vec<u8> {
    use spki::der::Encode;
    SubjectPublicKeyInfoOwned::from_pem(pem.as_bytes())
        .unwrap()
        .to_der()
        .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p256_and_ed25519_sign_and_verify() {
        for pem in [
            SigningKey::generate_p256_pem().unwrap(),
            SigningKey::generate_ed25519_pem().unwrap(),
        ] {
            let key = SigningKey::from_pem(&pem).unwrap();
            let public = PublicKey::from_pem("k", &key.public_key_pem().unwrap()).unwrap();
            assert_eq!(public.algorithm, key.algorithm());
            assert!(!spki_der(&key.public_key_pem().unwrap()).is_empty());
            let sig = key.sign(b"payload").unwrap();
            assert!(public.verify(b"payload", &sig));
            assert!(!public.verify(b"payload!", &sig));
            let other = SigningKey::from_pem(&SigningKey::generate_p256_pem().unwrap()).unwrap();
            let other_pub = PublicKey::from_pem("o", &other.public_key_pem().unwrap()).unwrap();
            assert!(!other_pub.verify(b"payload", &sig));
        }
    }

    #[test]
    fn bad_pem_is_an_error() {
        assert!(matches!(
            PublicKey::from_pem("k", "hello"),
            Err(KeyError::BadPublicPem(_))
        ));
        assert!(matches!(
            SigningKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
            Err(KeyError::BadPrivatePem(_))
        ));
    }
}
