//! TLS for `policy serve`: the certificate and key from PEM files, swapped in place when
//! the files change.
//!
//! cert-manager renews certificates by rewriting the Secret, and the kubelet swaps the
//! mounted files (an atomic symlink flip). The server must pick the new pair up without a
//! restart, and a half-written or mismatched pair must never replace a good one. So the
//! pair lives behind a lock in a [`CertStore`] that rustls asks for the certificate on
//! every handshake ([`ResolvesServerCert`]); [`CertStore::reload_if_changed`] rereads both
//! files, and swaps only a pair that parses and whose key matches the certificate.
//! Handshakes in progress keep the pair they started with. The TLS itself is rustls with
//! the ring provider; nothing here is hand-written cryptography.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// A certificate or key that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file holds no usable PEM item.
    #[error("{path}: {message}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// rustls refused the pair (unsupported key type, key does not match the certificate).
    #[error("{cert} and {key} cannot be used together: {message}")]
    Pair {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        message: String,
    },
}

/// The crypto provider every TLS object of the server uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Parses a PEM certificate chain and key into a pair rustls can serve.
fn parse_pair(
    cert_path: &Path,
    cert_pem: &[u8],
    key_path: &Path,
    key_pem: &[u8],
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Pem {
            path: cert_path.to_owned(),
            message: format!("invalid PEM certificate: {e}"),
        })?;
    if chain.is_empty() {
        return Err(TlsError::Pem {
            path: cert_path.to_owned(),
            message: "no CERTIFICATE block found".into(),
        });
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsError::Pem {
        path: key_path.to_owned(),
        message: format!("no usable private key (PKCS#8, PKCS#1 or SEC1 PEM): {e}"),
    })?;
    CertifiedKey::from_der(chain, key, provider).map_err(|e| TlsError::Pair {
        cert: cert_path.to_owned(),
        key: key_path.to_owned(),
        message: e.to_string(),
    })
}

/// The serving certificate, reloadable.
#[derive(Debug)]
pub struct CertStore {
    cert_path: PathBuf,
    key_path: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
    /// The bytes of the last pair read (accepted or not): unchanged files are not parsed.
    last_read: Mutex<(Vec<u8>, Vec<u8>)>,
}

impl CertStore {
    /// Loads the pair; an unusable one is an error (the server does not start).
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<CertStore, TlsError> {
        let provider = provider();
        let (cert, key) = (read(cert_path)?, read(key_path)?);
        let pair = parse_pair(cert_path, &cert, key_path, &key, &provider)?;
        Ok(CertStore {
            cert_path: cert_path.to_owned(),
            key_path: key_path.to_owned(),
            provider,
            current: RwLock::new(Arc::new(pair)),
            last_read: Mutex::new((cert, key)),
        })
    }

    /// Rereads both files. `Ok(true)`: a new pair is in use; `Ok(false)`: nothing changed;
    /// `Err`: the files changed but the new pair is unusable, and the old one stays (it is
    /// not retried until the files change again).
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let (cert, key) = (read(&self.cert_path)?, read(&self.key_path)?);
        let mut last = self
            .last_read
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if last.0 == cert && last.1 == key {
            return Ok(false);
        }
        let parsed = parse_pair(&self.cert_path, &cert, &self.key_path, &key, &self.provider);
        *last = (cert, key);
        let pair = parsed?;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(pair);
        Ok(true)
    }

    /// The pair in use.
    pub fn current(&self) -> Arc<CertifiedKey> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The server configuration: TLS 1.2 and 1.3, HTTP/1.1 by ALPN, no client
    /// certificates, the certificate from this store on every handshake.
    pub fn server_config(self: &Arc<Self>) -> Result<ServerConfig, TlsError> {
        let mut config = ServerConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Pair {
                cert: self.cert_path.clone(),
                key: self.key_path.clone(),
                message: e.to_string(),
            })?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(self) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

/// Why the pair's certificate is not valid at `now`, if it is not: not yet valid, expired,
/// or not readable as X.509 (rustls accepted it, so this does not happen in practice).
/// The end-entity certificate is the first of the chain.
pub fn validity_problem(pair: &CertifiedKey, now: std::time::SystemTime) -> Option<String> {
    use x509_cert::der::Decode;
    let der = pair.cert.first()?;
    let cert = match x509_cert::Certificate::from_der(der.as_ref()) {
        Ok(c) => c,
        Err(e) => return Some(format!("the certificate is not readable as X.509: {e}")),
    };
    let validity = &cert.tbs_certificate.validity;
    let (from, until) = (validity.not_before, validity.not_after);
    if now < from.to_system_time() {
        Some(format!("the certificate is not valid before {from}"))
    } else if now > until.to_system_time() {
        Some(format!("the certificate expired at {until}"))
    } else {
        None
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed(name: &str) -> (String, String) {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec![name.to_owned()])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn a_good_pair_is_swapped_and_a_bad_one_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert_path, key_path) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
        let (c1, k1) = self_signed("one.test");
        std::fs::write(&cert_path, &c1).expect("write");
        std::fs::write(&key_path, &k1).expect("write");
        let store = CertStore::load(&cert_path, &key_path).expect("loads");
        let first = store.current();
        assert!(!store.reload_if_changed().expect("unchanged"));

        // A key that does not match the certificate is refused; the old pair stays.
        let (_, k2) = self_signed("two.test");
        std::fs::write(&key_path, &k2).expect("write");
        let err = store.reload_if_changed().expect_err("mismatch");
        assert!(err.to_string().contains("cannot be used together"), "{err}");
        assert!(Arc::ptr_eq(&first, &store.current()));

        // Garbage is refused too.
        std::fs::write(&cert_path, "not pem").expect("write");
        let err = store.reload_if_changed().expect_err("garbage");
        assert!(err.to_string().contains("tls.crt"), "{err}");

        let (c3, k3) = self_signed("three.test");
        std::fs::write(&cert_path, &c3).expect("write");
        std::fs::write(&key_path, &k3).expect("write");
        assert!(store.reload_if_changed().expect("good pair"));
        assert!(!Arc::ptr_eq(&first, &store.current()));
    }

    #[test]
    fn the_validity_window_is_checked() {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params =
            rcgen::CertificateParams::new(vec!["old.test".to_owned()]).expect("params");
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert_path, key_path) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
        std::fs::write(&cert_path, params.self_signed(&key).expect("cert").pem()).expect("write");
        std::fs::write(&key_path, key.serialize_pem()).expect("write");
        let pair = CertStore::load(&cert_path, &key_path)
            .expect("loads")
            .current();
        let at = |y: u64| {
            std::time::UNIX_EPOCH
                + std::time::Duration::from_secs((y - 1970) * 365 * 86_400 + 60 * 86_400)
        };
        let expired = validity_problem(&pair, at(2024)).expect("expired");
        assert!(
            expired.starts_with("the certificate expired at 2021-01-01"),
            "{expired}"
        );
        let early = validity_problem(&pair, at(2019)).expect("not yet valid");
        assert!(
            early.starts_with("the certificate is not valid before 2020-01-01"),
            "{early}"
        );
        assert_eq!(validity_problem(&pair, at(2020)), None);
    }

    #[test]
    fn a_missing_file_names_itself() {
        let err = CertStore::load(Path::new("/nonexistent/tls.crt"), Path::new("k"))
            .expect_err("missing");
        assert!(err.to_string().contains("/nonexistent/tls.crt"), "{err}");
    }
}
