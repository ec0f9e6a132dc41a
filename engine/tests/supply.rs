//! End-to-end tests of the ship phase against a real OCI registry on loopback: Debian's
//! `docker-registry` (the CNCF distribution registry), started by each test on a free
//! port with a temporary storage directory and stopped when the test ends. Images,
//! signatures and policy bundles are pushed with the project's own client; the `policy`
//! binary is then run on them as a CI job would. Hostile registries (garbage, a 100 MB
//! manifest, a registry that never answers) are tiny servers on loopback in the test.
//!
//! `.ci/run` installs `docker-registry`; without it the tests print why and skip.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use policy_engine::supply::{cosign, Registry, RegistryOptions, SigningKey};
use serde_json::{json, Value};
use support::*;

const REGISTRY_BIN: &str = "docker-registry";

/// A registry process on 127.0.0.1, killed on drop.
struct TestRegistry {
    child: Child,
    host: String,
    _dir: tempfile::TempDir,
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn registry_bin() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(REGISTRY_BIN))
        .find(|p| p.is_file())
}

/// Starts a registry, or `None` (printing why) when the binary is not installed.
fn start_registry() -> Option<TestRegistry> {
    let Some(bin) = registry_bin() else {
        eprintln!("skipped: `{REGISTRY_BIN}` is not installed (apt-get install docker-registry; .ci/run does)");
        return None;
    };
    for _attempt in 0..3 {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("data").display()
            ),
        )
        .expect("config");
        let child = Command::new(&bin)
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn docker-registry");
        let mut reg = TestRegistry {
            child,
            host: format!("127.0.0.1:{port}"),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if http_get_status(&reg.host, "/v2/") == Some(200) {
                return Some(reg);
            }
            if let Ok(Some(_)) = reg.child.try_wait() {
                break; // port taken between probe and bind: try another
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = reg.child.kill();
    }
    panic!("docker-registry did not start");
}

/// The status of a plain HTTP GET, bounded.
fn http_get_status(host: &str, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(host).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    let head = String::from_utf8_lossy(&buf[..n]);
    head.split_whitespace().nth(1)?.parse().ok()
}

fn client() -> Registry {
    Registry::new(RegistryOptions {
        timeout: Duration::from_secs(10),
        docker_config: Some(PathBuf::from("/nonexistent/config.json")),
        ..RegistryOptions::default()
    })
    .expect("client")
}

/// Pushes a small image (config + one layer) and returns its manifest digest.
fn push_image(reg: &mut Registry, reference: &str, user: &str, label: &str) -> String {
    let r: oci_ref::Reference = reference.parse().expect("ref");
    let layer = format!("layer of {reference}").into_bytes();
    let layer_size = layer.len();
    let layer_digest = reg.push_blob(&r, layer).expect("push layer");
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"User": user, "Env": ["PATH=/usr/bin"], "Labels": {"org.opencontainers.image.source": label}},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        "history": [{"created_by": "COPY app /app"}]
    }))
    .unwrap();
    let config_size = config.len();
    let config_digest = reg.push_blob(&r, config).expect("push config");
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": layer_size}]
    }))
    .unwrap();
    reg.push_manifest(&r, manifest, "application/vnd.oci.image.manifest.v1+json")
        .expect("push manifest")
}

/// The `Reference` type of the client crate, re-exported under a short name.
mod oci_ref {
    pub use oci_client::Reference;
}

/// A generated key pair written as `NAME.key` / `NAME.pub` under `dir`.
fn keypair(dir: &Path, name: &str) -> (SigningKey, PathBuf, PathBuf) {
    let pem = SigningKey::generate_p256_pem().unwrap();
    let key = SigningKey::from_pem(&pem).unwrap();
    let private = dir.join(format!("{name}.key"));
    let public = dir.join(format!("{name}.pub"));
    std::fs::write(&private, &pem).unwrap();
    std::fs::write(&public, key.public_key_pem().unwrap()).unwrap();
    (key, private, public)
}

/// Runs `policy` in `cwd` with a private cache and no Docker credentials.
fn run(cwd: &Path, cache: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_policy"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env("XDG_CACHE_HOME", cache)
        .env("DOCKER_CONFIG", cache.join("no-docker"))
        .output()
        .expect("run policy")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `(rule, file, line, column, message)` of each finding.
fn located(report: &Value) -> Vec<(String, String, u64, u64, String)> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap_or_default().to_string(),
                f["file"].as_str().unwrap_or_default().to_string(),
                f["start_line"].as_u64().unwrap_or_default(),
                f["start_column"].as_u64().unwrap_or_default(),
                f["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn errors(report: &Value) -> Vec<(String, String, String)> {
    report["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap_or_default().to_string(),
                e["file"].as_str().unwrap_or_default().to_string(),
                e["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn registry_image_findings_point_at_the_reference() {
    let Some(server) = start_registry() else {
        return;
    };
    let mut reg = client();
    let image = format!("{}/team/app:1.0", server.host);
    push_image(&mut reg, &image, "", "https://example.com/app");
    let tmp = tempfile::tempdir().unwrap();
    let out = run(
        tmp.path(),
        tmp.path(),
        &["eval", "--no-config", "--image", &image, "-f", "json"],
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let report = json_of(&out);
    let got = located(&report);
    assert!(
        got.iter().any(|(id, file, line, col, msg)| id == "IMG001"
            && file == &image
            && *line == 1
            && *col == 1
            && msg.contains("runs as root")),
        "{got:?}"
    );
    // The JSON path into the document goes with the finding.
    let f = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"] == "IMG001")
        .unwrap();
    assert_eq!(f["pointer"], json!("/user"), "{f}");
    // Signatures were not asked for: no IMG005.
    assert!(!got.iter().any(|g| g.0 == "IMG005"));
    // Only --image: the current directory is not walked.
    assert_eq!(report["inputs"].as_array().unwrap().len(), 1, "{report}");
}

#[test]
fn signed_images_verify_and_others_fail_img005() {
    let Some(server) = start_registry() else {
        return;
    };
    let mut reg = client();
    let tmp = tempfile::tempdir().unwrap();
    let (ci_key, _, ci_pub) = keypair(tmp.path(), "ci");
    let (other_key, _, _) = keypair(tmp.path(), "other");
    let signed = format!("{}/team/signed:1", server.host);
    let unsigned = format!("{}/team/unsigned:1", server.host);
    let foreign = format!("{}/team/foreign:1", server.host);
    let wrong_digest = format!("{}/team/wrongdigest:1", server.host);
    let d = push_image(&mut reg, &signed, "1000", "x");
    cosign::sign(&mut reg, &signed.parse().unwrap(), &d, &ci_key).unwrap();
    push_image(&mut reg, &unsigned, "1000", "x");
    let d = push_image(&mut reg, &foreign, "1000", "x");
    cosign::sign(&mut reg, &foreign.parse().unwrap(), &d, &other_key).unwrap();
    // A valid signature by the trusted key, but over a payload naming another digest,
    // stored under this image's signature tag.
    let d = push_image(&mut reg, &wrong_digest, "1000", "x");
    let other_image = format!("{}/team/wrongdigest:2", server.host);
    let other_d = push_image(&mut reg, &other_image, "1001", "y");
    let payload = cosign::payload("x", &other_d);
    push_signature(
        &mut reg,
        &wrong_digest,
        &d,
        &payload,
        &ci_key.sign(&payload).unwrap(),
    );

    let ci_pub = ci_pub.to_str().unwrap();
    let out = run(
        tmp.path(),
        tmp.path(),
        &[
            "eval",
            "--no-config",
            "--trusted-key",
            ci_pub,
            "--image",
            &signed,
            "--image",
            &unsigned,
            "--image",
            &foreign,
            "--image",
            &wrong_digest,
            "-f",
            "json",
        ],
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let got: Vec<_> = located(&json_of(&out))
        .into_iter()
        .filter(|f| f.0 == "IMG005")
        .map(|f| (f.1, f.4))
        .collect();
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(!got.iter().any(|(f, _)| f == &signed), "{got:?}");
    let msg = |img: &str| {
        got.iter()
            .find(|(f, _)| f == img)
            .map(|(_, m)| m.clone())
            .unwrap()
    };
    assert!(
        msg(&unsigned).contains("has no cosign signature"),
        "{got:?}"
    );
    assert!(
        msg(&foreign).contains("no trusted key verifies the signature"),
        "{got:?}"
    );
    assert!(
        msg(&wrong_digest).contains(&format!("the signed payload is for {other_d}")),
        "{got:?}"
    );
}

/// Stores a hand-made signature layer under the cosign tag of `digest`.
fn push_signature(reg: &mut Registry, image: &str, digest: &str, payload: &[u8], sig: &[u8]) {
    push_signature_layer(reg, image, digest, payload, sig, json!({}));
}

/// [`push_signature`] with `extra` annotations on the layer (a certificate, a bundle).
fn push_signature_layer(
    reg: &mut Registry,
    image: &str,
    digest: &str,
    payload: &[u8],
    sig: &[u8],
    extra: Value,
) {
    use base64::Engine as _;
    let sig_ref: oci_ref::Reference = format!(
        "{}:{}",
        image.rsplit_once(':').unwrap().0,
        cosign::signature_tag(digest).unwrap()
    )
    .parse()
    .unwrap();
    let payload_digest = reg.push_blob(&sig_ref, payload.to_vec()).unwrap();
    let config_digest = reg.push_blob(&sig_ref, b"{}".to_vec()).unwrap();
    let mut annotations = json!({
        cosign::SIGNATURE_ANNOTATION: base64::engine::general_purpose::STANDARD.encode(sig)
    });
    if let (Some(all), Value::Object(more)) = (annotations.as_object_mut(), extra) {
        all.extend(more);
    }
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": 2},
        "layers": [{
            "mediaType": cosign::SIMPLE_SIGNING_MEDIA_TYPE,
            "digest": payload_digest,
            "size": payload.len(),
            "annotations": annotations
        }]
    });
    reg.push_manifest(
        &sig_ref,
        serde_json::to_vec(&manifest).unwrap(),
        "application/vnd.oci.image.manifest.v1+json",
    )
    .unwrap();
}

#[test]
fn registry_errors_are_pol000_and_the_run_completes() {
    let Some(server) = start_registry() else {
        return;
    };
    let mut reg = client();
    let good = format!("{}/team/good:1", server.host);
    push_image(&mut reg, &good, "", "x");
    let missing = format!("{}/team/missing:1", server.host);
    let refused = format!("127.0.0.1:{}/team/app:1", free_port());
    let hostile = Hostile::start();
    let garbage = format!("{}/garbage/app:1", hostile.host);
    let huge = format!("{}/huge/app:1", hostile.host);
    let silent = format!("{}/silent/app:1", hostile.host);
    let tmp = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = run(
        tmp.path(),
        tmp.path(),
        &[
            "eval",
            "--no-config",
            "--registry-timeout",
            "2",
            "--image",
            &good,
            "--image",
            &missing,
            "--image",
            &refused,
            "--image",
            &garbage,
            "--image",
            &huge,
            "--image",
            &silent,
            "--image",
            "UPPER/Case::bad",
            "-f",
            "json",
        ],
    );
    assert!(started.elapsed() < Duration::from_secs(60));
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let report = json_of(&out);
    let errs = errors(&report);
    let find = |f: &str| {
        errs.iter()
            .find(|e| e.1 == f)
            .unwrap_or_else(|| panic!("no error for {f} in {errs:?}"))
    };
    for f in [&missing, &refused, &garbage, &huge, &silent] {
        assert_eq!(find(f).0, "POL000");
    }
    assert!(find(&missing).2.contains("not found"), "{errs:?}");
    assert!(
        find(&refused).2.contains("cannot reach the registry"),
        "{errs:?}"
    );
    assert!(find(&garbage).2.contains("malformed"), "{errs:?}");
    assert!(
        find(&huge).2.contains("larger than the 4194304-byte limit"),
        "{errs:?}"
    );
    assert!(find(&silent).2.contains("did not answer"), "{errs:?}");
    assert!(
        find("UPPER/Case::bad")
            .2
            .contains("invalid image reference"),
        "{errs:?}"
    );
    // The good image was still checked.
    assert!(located(&report)
        .iter()
        .any(|f| f.0 == "IMG001" && f.1 == good));
    assert!(
        hostile.huge_bytes_sent() < 100 << 20,
        "the 100 MB manifest was read whole"
    );
}

/// A loopback server with bad registries: `/v2/garbage/...` answers non-JSON,
/// `/v2/huge/...` a 100 MB manifest, `/v2/hugeblob/...` a bundle manifest whose 10-byte
/// file is served as 100 MB, `/v2/silent/...` never answers. Serves until dropped.
struct Hostile {
    host: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    sent: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Hostile {
    fn start() -> Hostile {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        use std::sync::Arc;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicUsize::new(0));
        let (stop2, sent2) = (stop.clone(), sent.clone());
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            while !stop2.load(Ordering::Relaxed) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((s, _)) => {
                        let sent = sent2.clone();
                        let stop = stop2.clone();
                        std::thread::spawn(move || serve_hostile(s, &sent, &stop));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Hostile { host, stop, sent }
    }

    fn huge_bytes_sent(&self) -> usize {
        self.sent.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Writes 100 MB of `fill` to `s` in 64 KiB chunks, counting them in `sent`, until the
/// client hangs up or the server stops.
fn stream_100_mb(
    s: &mut TcpStream,
    fill: u8,
    sent: &std::sync::atomic::AtomicUsize,
    stop: &std::sync::atomic::AtomicBool,
) {
    use std::sync::atomic::Ordering;
    let chunk = vec![fill; 64 << 10];
    let mut done = 0;
    while done < 100usize << 20 && !stop.load(Ordering::Relaxed) {
        if s.write_all(&chunk).is_err() {
            break;
        }
        done += chunk.len();
        sent.fetch_add(chunk.len(), Ordering::Relaxed);
    }
}

fn serve_hostile(
    mut s: TcpStream,
    sent: &std::sync::atomic::AtomicUsize,
    stop: &std::sync::atomic::AtomicBool,
) {
    use std::sync::atomic::Ordering;
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(5)));
    let mut buf = vec![0u8; 8192];
    let n = s.read(&mut buf).unwrap_or(0);
    let req = String::from_utf8_lossy(&buf[..n]).into_owned();
    let path = req.split_whitespace().nth(1).unwrap_or("").to_string();
    if path == "/v2/" {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
    } else if path.starts_with("/v2/garbage/") {
        let body = b"<html>definitely not a manifest</html>";
        let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
        let _ = s.write_all(body);
    } else if path.starts_with("/v2/huge/") {
        // No Content-Length: the client must stop reading by itself.
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nConnection: close\r\n\r\n{\"schemaVersion\": 2, \"layers\": [");
        stream_100_mb(&mut s, b' ', sent, stop);
    } else if path.starts_with("/v2/hugeblob/") && path.contains("/manifests/") {
        // A well-formed bundle manifest whose one file says it has 10 bytes...
        let body = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": "application/vnd.policy.bundle.v1+json",
            "config": {"mediaType": "application/vnd.policy.bundle.v1+json", "digest": format!("sha256:{}", "1".repeat(64)), "size": 2},
            "layers": [{"mediaType": "application/vnd.policy.rego.v1", "digest": format!("sha256:{}", "2".repeat(64)), "size": 10, "annotations": {"org.opencontainers.image.title": "p.rego"}}]
        })
        .to_string();
        let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    } else if path.starts_with("/v2/hugeblob/") {
        // ... and whose blob is 100 MB, without a Content-Length.
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n");
        stream_100_mb(&mut s, b'x', sent, stop);
    } else if path.starts_with("/v2/silent/") {
        let until = Instant::now() + Duration::from_secs(20);
        while Instant::now() < until && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50));
        }
    } else {
        let _ = s
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    }
}

#[test]
fn verify_images_checks_workload_images_k8s015() {
    let Some(server) = start_registry() else {
        return;
    };
    let mut reg = client();
    let tmp = tempfile::tempdir().unwrap();
    let (key, _, public) = keypair(tmp.path(), "ci");
    let signed = format!("{}/team/api:2", server.host);
    let unsigned = format!("{}/team/worker:2", server.host);
    let d = push_image(&mut reg, &signed, "1000", "x");
    cosign::sign(&mut reg, &signed.parse().unwrap(), &d, &key).unwrap();
    push_image(&mut reg, &unsigned, "1000", "x");
    let manifest = tmp.path().join("deploy.yaml");
    std::fs::write(
        &manifest,
        format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  containers:\n    - name: api\n      image: {signed}\n    - name: worker\n      image: {unsigned}\n"),
    )
    .unwrap();
    let args = |verify: bool| {
        let mut a = vec![
            "eval",
            "--no-config",
            "-f",
            "json",
            "--trusted-key",
            public.to_str().unwrap(),
            "deploy.yaml",
        ];
        if verify {
            a.push("--verify-images");
        }
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let a: Vec<String> = args(true);
    let out = run(
        tmp.path(),
        tmp.path(),
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let got: Vec<_> = located(&json_of(&out))
        .into_iter()
        .filter(|f| f.0 == "K8S015")
        .collect();
    assert_eq!(got.len(), 1, "{got:?} {}", stderr(&out));
    assert_eq!(
        (got[0].1.as_str(), got[0].2, got[0].3),
        ("deploy.yaml", 9, 7),
        "{got:?}"
    );
    assert!(got[0].4.contains("has no cosign signature"), "{got:?}");
    let a: Vec<String> = args(false);
    let out = run(
        tmp.path(),
        tmp.path(),
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert!(!located(&json_of(&out)).iter().any(|f| f.0 == "K8S015"));
}

#[test]
fn config_images_and_trusted_keys() {
    let Some(server) = start_registry() else {
        return;
    };
    let mut reg = client();
    let tmp = tempfile::tempdir().unwrap();
    let (_, _, public) = keypair(tmp.path(), "ci");
    let image = format!("{}/team/cfg:1", server.host);
    push_image(&mut reg, &image, "1000", "x");
    std::fs::write(
        tmp.path().join(".policy.yaml"),
        format!("settings:\n  trusted_keys: [ci.pub]\nimages:\n  - {image}\n"),
    )
    .unwrap();
    let _ = public;
    let out = run(
        tmp.path(),
        tmp.path(),
        &["eval", "-f", "json", "--image", &image],
    );
    // The same image twice: once from the command line, once from the configuration.
    let got: Vec<_> = located(&json_of(&out))
        .into_iter()
        .filter(|f| f.0 == "IMG005")
        .collect();
    assert_eq!(got.len(), 2, "{got:?} {}", stderr(&out));
    assert!(got.iter().any(|f| f.1 == image && f.2 == 1), "{got:?}");
    assert!(
        got.iter()
            .any(|f| f.1.ends_with(".policy.yaml") && f.2 == 4 && f.3 == 5),
        "{got:?}"
    );
}

#[test]
fn policy_bundles_push_pull_sign_and_cache() {
    let Some(server) = start_registry() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (_, key, public) = keypair(tmp.path(), "ci");
    let (_, _, wrong) = keypair(tmp.path(), "wrong");
    let dir = tmp.path().join("org-policies");
    std::fs::create_dir_all(dir.join("lib")).unwrap();
    std::fs::write(
        dir.join("no_latest.rego"),
        "# METADATA\n# title: no latest\n# custom:\n#   id: ORG001\n#   severity: high\n#   kinds: [dockerfile]\npackage org.no_latest\nimport rego.v1\ndeny contains {\"msg\": \"org: no latest\", \"path\": [\"stages\", 0]} if {\n\tsome s in input.stages\n\tendswith(s.base.image, \":latest\")\n}\n",
    )
    .unwrap();
    std::fs::write(dir.join("lib/data.json"), "{\"org\": {\"name\": \"acme\"}}").unwrap();
    std::fs::write(dir.join("README.md"), "not bundled").unwrap();
    std::fs::write(
        tmp.path().join("Dockerfile"),
        "FROM debian:latest\nUSER 1000\n",
    )
    .unwrap();
    let signed = format!("oci://{}/org/policies:v1", server.host);
    let unsigned = format!("oci://{}/org/policies:unsigned", server.host);
    let p = |o: &Output| format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(o));

    let out = run(
        tmp.path(),
        tmp.path(),
        &[
            "push",
            &signed,
            "-p",
            "org-policies",
            "--sign-key",
            key.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&out), 0, "{}", p(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("(signed)"), "{text}");
    let digest = text
        .split('@')
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    // Different content (same content would have the same digest, and so the signature).
    std::fs::write(dir.join("extra.rego"), "package org.extra\n").unwrap();
    let out = run(
        tmp.path(),
        tmp.path(),
        &["push", &unsigned, "-p", "org-policies"],
    );
    assert_eq!(code(&out), 0, "{}", p(&out));

    // Consumed as if local, signature checked.
    let eval = |policy: &str, key: &Path| {
        run(
            tmp.path(),
            tmp.path(),
            &[
                "eval",
                "--no-config",
                "--no-builtin",
                "-p",
                policy,
                "--verify-key",
                key.to_str().unwrap(),
                "-f",
                "json",
                "Dockerfile",
            ],
        )
    };
    let out = eval(&signed, &public);
    assert_eq!(code(&out), 1, "{}", p(&out));
    assert_eq!(
        located(&json_of(&out))
            .iter()
            .filter(|f| f.0 == "ORG001")
            .count(),
        1
    );
    // Unsigned or wrongly signed: POL003, nothing loaded from it.
    for (policy, key, why) in [
        (&unsigned, &public, "has no signature"),
        (&signed, &wrong, "no trusted key verifies"),
    ] {
        let out = eval(policy, key);
        assert_eq!(code(&out), 2, "{}", p(&out));
        let report = json_of(&out);
        let errs = errors(&report);
        assert!(
            errs.iter()
                .any(|e| e.0 == "POL003" && e.1 == *policy && e.2.contains(why)),
            "{errs:?}"
        );
        assert!(located(&report).is_empty());
    }
    // `policy pull` writes the files out.
    let out = run(
        tmp.path(),
        tmp.path(),
        &[
            "pull",
            &signed,
            "pulled",
            "--verify-key",
            public.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&out), 0, "{}", p(&out));
    assert!(tmp.path().join("pulled/no_latest.rego").is_file());
    assert!(tmp.path().join("pulled/lib/data.json").is_file());
    assert!(!tmp.path().join("pulled/README.md").exists());
    // A digest-pinned bundle in the cache is never fetched again: it still works with the
    // registry gone.
    let pinned = format!("oci://{}/org/policies@{digest}", server.host);
    let out = eval(&pinned, &public);
    assert_eq!(code(&out), 1, "{}", p(&out));
    drop(server);
    let out = eval(&pinned, &public);
    assert_eq!(code(&out), 1, "{}", p(&out));
    assert_eq!(
        located(&json_of(&out))
            .iter()
            .filter(|f| f.0 == "ORG001")
            .count(),
        1
    );
}

/// A one-rule policy directory whose finding says which version of the bundle made it.
fn org_policy(dir: &Path, version: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("no_latest.rego"),
        format!("# METADATA\n# title: no latest\n# custom:\n#   id: ORG001\n#   severity: high\n#   kinds: [dockerfile]\npackage org.no_latest\nimport rego.v1\ndeny contains {{\"msg\": \"org {version}: no latest\", \"path\": [\"stages\", 0]}} if {{\n\tsome s in input.stages\n\tendswith(s.base.image, \":latest\")\n}}\n"),
    )
    .unwrap();
}

/// Pushes `version` of the org policy to `reference` (no `oci://`), signed with `key`
/// when given; returns the bundle digest. As a careful release job does, the bundle is
/// pushed and signed under a staging tag first and then promoted to `reference`, so a
/// refresh never sees it on the tag before its signature exists.
fn push_bundle(
    reg: &mut Registry,
    tmp: &Path,
    reference: &str,
    version: &str,
    key: Option<&SigningKey>,
) -> String {
    let dir = tmp.join(format!("bundle-{version}"));
    org_policy(&dir, version);
    let (repo, _) = reference.rsplit_once(':').unwrap();
    let staging = format!("{repo}:staging-{version}");
    let digest =
        policy_engine::supply::bundle::push(reg, &staging, &dir, key).expect("push bundle");
    let manifest = reg
        .manifest(&staging.parse().unwrap())
        .expect("staged manifest");
    assert_eq!(manifest.digest, digest);
    reg.push_manifest(
        &reference.parse().unwrap(),
        manifest.bytes,
        policy_engine::supply::bundle::MANIFEST_MEDIA_TYPE,
    )
    .expect("promote")
}

/// A bounded wait for `cond`, polling every 100 ms.
fn eventually(within: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what}: not within {within:?}");
}

/// `policy serve -p oci://REF --verify-key --policy-refresh`: v1 serves; v2 pushed to the
/// same tag takes effect; an unsigned v3 and a v4 whose signature names another digest
/// are refused, each with its reason, while v2 keeps serving.
#[test]
fn serve_follows_a_signed_tag_and_refuses_unverified_bundles() {
    let Some(server) = start_registry() else {
        return;
    };
    let mut reg = client();
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let (key, _, public) = keypair(tmp.path(), "ci");
    let tag = format!("{}/org/policies:live", server.host);
    let v1 = push_bundle(&mut reg, tmp.path(), &tag, "v1", Some(&key));
    let oci = format!("oci://{tag}");
    let mut serve = crate::serve::start_with_env(
        &[
            "--no-builtin",
            "-p",
            &oci,
            "--verify-key",
            "ci.pub",
            "--policy-refresh",
            "200ms",
        ],
        &[("XDG_CACHE_HOME", cache.as_path())],
        |dir| {
            std::fs::copy(&public, dir.join("ci.pub")).unwrap();
        },
    );
    let client = serve.client();
    let rt = crate::serve::runtime();
    let message = || {
        let a = rt
            .block_on(client.send(
                "POST",
                "/v1/evaluate?kind=dockerfile",
                Some("text/plain"),
                b"FROM debian:latest\nUSER 1000\n".to_vec(),
            ))
            .expect("answer");
        assert_eq!(a.status, 200, "{}", a.text());
        let report = a.json();
        let msgs: Vec<String> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule_id"] == "ORG001")
            .map(|f| f["message"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(msgs.len(), 1, "{report}");
        msgs[0].clone()
    };
    assert_eq!(message(), "org v1: no latest");
    let live = std::fs::read_dir(cache.join("policy/bundles/live"))
        .unwrap()
        .count();
    assert_eq!(live, 1);

    // v2, signed, on the same tag: in use within a few refreshes.
    let v2 = push_bundle(&mut reg, tmp.path(), &tag, "v2", Some(&key));
    let line = serve.wait_log("new policy bundle", Duration::from_secs(60));
    assert!(
        line.contains(&format!(
            "{oci}: new policy bundle {v2} verified and in use (was {v1})"
        )),
        "{line}"
    );
    eventually(Duration::from_secs(60), "v2 in use", || {
        message() == "org v2: no latest"
    });

    // v3, unsigned: refused with the reason; v2 keeps serving.
    let v3 = push_bundle(&mut reg, tmp.path(), &tag, "v3", None);
    let line = serve.wait_log("refusing", Duration::from_secs(60));
    assert_eq!(
        line,
        format!("policy serve: {tag}: refusing the policy bundle {v3}: it has no signature; keeping the policy bundle {v2} in use")
    );
    // v4: a valid signature by the trusted key, but over v2's digest. (A refresh between
    // the push and the signature may first refuse v4 as unsigned.)
    let v4 = push_bundle(&mut reg, tmp.path(), &tag, "v4", None);
    let payload = cosign::payload(&tag, &v2);
    push_signature(&mut reg, &tag, &v4, &payload, &key.sign(&payload).unwrap());
    let line = serve.wait_log("the signed payload is for", Duration::from_secs(60));
    assert!(
        line.contains(&format!(
            "refusing the policy bundle {v4}: the signed payload is for {v2}, not this image's {v4}"
        )) && line.ends_with(&format!("keeping the policy bundle {v2} in use")),
        "{line}"
    );
    assert_eq!(message(), "org v2: no latest");
    assert_eq!(serve.terminate(), Some(0));
    // The live link goes with the process; the verified bundles stay cached.
    let live = std::fs::read_dir(cache.join("policy/bundles/live"))
        .unwrap()
        .count();
    assert_eq!(live, 0);
    assert!(cache
        .join("policy/bundles")
        .join(v2.replace(':', "-"))
        .join("no_latest.rego")
        .is_file());
    assert!(!cache
        .join("policy/bundles")
        .join(v3.replace(':', "-"))
        .exists());
}

/// `policy watch -f jsonl -p oci://REF --policy-refresh`: a new signed bundle on the tag
/// is a `reloaded` policies event and re-checks the inputs; an unsigned one a `rejected`
/// event naming the reference and the reason, and the findings stay those of the last
/// good bundle.
#[test]
fn watch_reloads_a_refreshed_bundle_and_rejects_an_unsigned_one() {
    let Some(server) = start_registry() else {
        return;
    };
    let mut reg = client();
    let tmp = tempfile::tempdir().unwrap();
    let (key, _, public) = keypair(tmp.path(), "ci");
    std::fs::write(
        tmp.path().join("Dockerfile"),
        "FROM debian:latest\nUSER 1000\n",
    )
    .unwrap();
    let tag = format!("{}/org/watched:live", server.host);
    let oci = format!("oci://{tag}");
    let v1 = push_bundle(&mut reg, tmp.path(), &tag, "v1", Some(&key));
    let mut child = Command::new(env!("CARGO_BIN_EXE_policy"))
        .args([
            "watch",
            "--no-config",
            "--no-builtin",
            "-p",
            &oci,
            "--verify-key",
            public.to_str().unwrap(),
            "--policy-refresh",
            "200ms",
            "-f",
            "jsonl",
            "--exit-on-stdin-close",
            "Dockerfile",
        ])
        .current_dir(tmp.path())
        .env("XDG_CACHE_HOME", tmp.path().join("cache"))
        .env("DOCKER_CONFIG", tmp.path().join("no-docker"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn policy watch");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Value>();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx
                .send(serde_json::from_str(&line).expect("a JSON line"))
                .is_err()
            {
                break;
            }
        }
    });
    // Generous: a refresh pulls, verifies and compiles in a debug build on a shared,
    // loaded machine; a normal run takes a few seconds.
    let mut seen: Vec<Value> = Vec::new();
    let mut next = |event: &str| -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = rx
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no {event} event within 60 s; before: {seen:?}"));
            seen.push(v.clone());
            if v["event"] == event {
                return v;
            }
        }
    };
    let org = |file: &Value| -> Vec<String> {
        file["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule_id"] == "ORG001")
            .map(|f| f["message"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(next("policies")["status"], "loaded");
    assert_eq!(org(&next("file")), ["org v1: no latest"]);
    // A refresh that polls while a push is half done can meet a registry error; the
    // watcher then keeps the bundle in use and tries again on the next poll. Such an
    // event is checked and passed over: the one after the push is wanted.
    fn settled(next: &mut impl FnMut(&str) -> Value, kept: &str) -> Value {
        loop {
            let p = next("policies");
            let message = p["errors"][0]["message"].as_str().unwrap_or_default();
            if p["status"] == "rejected" && message.contains("the registry answered HTTP") {
                let keeps = format!("keeping the policy bundle {kept} in use");
                assert!(message.ends_with(&keeps), "{p}");
                continue;
            }
            return p;
        }
    }

    let v2 = push_bundle(&mut reg, tmp.path(), &tag, "v2", Some(&key));
    let p = settled(&mut next, &v1);
    assert_eq!(p["status"], "reloaded", "{p}");
    assert_eq!(org(&next("file")), ["org v2: no latest"]);

    let v3 = push_bundle(&mut reg, tmp.path(), &tag, "v3", None);
    let p = settled(&mut next, &v2);
    assert_eq!(p["status"], "rejected", "{p}");
    assert_eq!(p["rules"], 1, "{p}");
    assert_eq!(p["errors"][0]["id"], "POL003", "{p}");
    assert_eq!(p["errors"][0]["file"], oci.as_str(), "{p}");
    assert_eq!(
        p["errors"][0]["message"],
        format!("{tag}: refusing the policy bundle {v3}: it has no signature; keeping the policy bundle {v2} in use"),
        "{p}"
    );
    // Nothing else was re-checked: the inputs' findings are still v2's.
    drop(child.stdin.take());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "watch did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    while let Ok(v) = rx.try_recv() {
        assert_ne!(v["event"], "file", "{v}");
    }
}

/// `policy lsp --verify-key --policy-refresh` with `policyPaths: [oci://REF]`: the
/// buffer's diagnostics follow a new signed bundle on the tag; an unsigned one is shown
/// as an error naming the reference and why, and the diagnostics stay.
#[test]
fn lsp_follows_a_signed_tag_and_shows_a_refusal() {
    let Some(server) = start_registry() else {
        return;
    };
    let mut reg = client();
    let tmp = tempfile::tempdir().unwrap();
    let (key, _, public) = keypair(tmp.path(), "ci");
    let tag = format!("{}/org/editor:live", server.host);
    let oci = format!("oci://{tag}");
    push_bundle(&mut reg, tmp.path(), &tag, "v1", Some(&key));
    let ws = tmp.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    let cache = tmp.path().join("cache");
    let mut lsp = crate::lsp::Client::spawn_with(
        &ws,
        &[
            "--verify-key",
            public.to_str().unwrap(),
            "--policy-refresh",
            "200ms",
        ],
        &[("XDG_CACHE_HOME", cache.as_path())],
    );
    lsp.initialize(&ws, json!({"policyPaths": [oci], "noBuiltin": true}));
    let uri = format!("{}/Dockerfile", crate::lsp::file_uri(&ws));
    lsp.open(&uri, "dockerfile", "FROM debian:latest\nUSER 1000\n");
    let org = |diags: Vec<Value>| -> Vec<String> {
        diags
            .iter()
            .filter(|d| d["code"] == "ORG001")
            .map(|d| d["message"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(org(lsp.diagnostics(&uri, Some(1))), ["org v1: no latest"]);

    let v2 = push_bundle(&mut reg, tmp.path(), &tag, "v2", Some(&key));
    let got = lsp.wait("v2 diagnostics", |m| {
        m["method"] == "textDocument/publishDiagnostics"
            && m["params"]["uri"] == uri.as_str()
            && m.to_string().contains("org v2: no latest")
    });
    assert_eq!(got["params"]["diagnostics"].as_array().unwrap().len(), 1);

    let v3 = push_bundle(&mut reg, tmp.path(), &tag, "v3", None);
    let shown = lsp.wait("the refusal", |m| {
        m["method"] == "window/showMessage" && m.to_string().contains("refusing")
    });
    assert_eq!(shown["params"]["type"], 1, "{shown}");
    assert_eq!(
        shown["params"]["message"],
        format!("policy: {tag}: refusing the policy bundle {v3}: it has no signature; keeping the policy bundle {v2} in use")
    );
    assert_eq!(lsp.shutdown_and_exit(), 0);
}

/// A loopback port that speaks something else than HTTP (as an SSH server would), then
/// hangs up. Serves one connection per accept for up to 60 s.
fn not_a_registry() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            match listener.accept() {
                Ok((mut s, _)) => {
                    let _ = s.write_all(b"SSH-2.0-OpenSSH_9.2p1\r\n");
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    host
}

/// Every way a policy bundle can be wrong is exit 2 with the reason, and nothing is
/// written: a tampered payload, a signature over another digest, a wrong key, a keyless
/// signature (no trust root), a registry that answers garbage, an endpoint that is no
/// registry, a 100 MB manifest and a file served larger than it said (both cut off while
/// streaming).
#[test]
fn bundle_refusals_are_exit_2_with_the_reason() {
    let Some(server) = start_registry() else {
        return;
    };
    let mut reg = client();
    let tmp = tempfile::tempdir().unwrap();
    let (key, _, public) = keypair(tmp.path(), "ci");
    let (other, _, _) = keypair(tmp.path(), "other");
    let public = public.to_str().unwrap().to_string();
    // Each pull runs in its own thread (a process each): the cases run side by side.
    let pull = |reference: &str, extra: &[&str]| {
        let (cwd, reference) = (tmp.path().to_path_buf(), reference.to_string());
        let out_name = format!("out-{}", reference.replace(['/', ':', '.'], "_"));
        let mut args: Vec<String> = vec!["pull".into(), reference.clone(), out_name.clone()];
        args.extend(extra.iter().map(|a| a.to_string()));
        std::thread::spawn(move || {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = run(&cwd, &cwd, &a);
            assert_eq!(code(&out), 2, "{reference}: {}", stderr(&out));
            assert!(
                !cwd.join(&out_name).exists(),
                "{reference}: files were written"
            );
            stderr(&out).trim_end().to_string()
        })
    };
    let verified = ["--verify-key", public.as_str(), "--registry-timeout", "5"];
    // (reference, pending pull, what its message must be)
    type Check = Box<dyn Fn(&str) -> bool>;
    let mut checks: Vec<(String, std::thread::JoinHandle<String>, Check)> = Vec::new();
    let exact = |want: String| -> Check { Box::new(move |got: &str| got == want) };

    // A tampered payload: the signature was made over other bytes.
    let tampered = format!("{}/org/tampered:1", server.host);
    let d = push_bundle(&mut reg, tmp.path(), &tampered, "t", None);
    let signed = cosign::payload(&tampered, &d);
    let mut served = signed.clone();
    let at = served.len() - 2;
    served.insert(at, b' ');
    push_signature(
        &mut reg,
        &tampered,
        &d,
        &served,
        &key.sign(&signed).unwrap(),
    );
    checks.push((
        tampered.clone(),
        pull(&tampered, &verified),
        exact(format!("policy: error: {tampered}: refusing the policy bundle {d}: no trusted key verifies the signature (tried {public})")),
    ));

    // A signature over another digest.
    let foreign = format!("{}/org/foreign:1", server.host);
    let d = push_bundle(&mut reg, tmp.path(), &foreign, "f", None);
    let other_digest = format!("sha256:{}", "ab".repeat(32));
    let payload = cosign::payload(&foreign, &other_digest);
    push_signature(
        &mut reg,
        &foreign,
        &d,
        &payload,
        &key.sign(&payload).unwrap(),
    );
    checks.push((
        foreign.clone(),
        pull(&foreign, &verified),
        exact(format!("policy: error: {foreign}: refusing the policy bundle {d}: the signed payload is for {other_digest}, not this image's {d}")),
    ));

    // Signed, but by a key that is not trusted.
    let wrong = format!("{}/org/wrong:1", server.host);
    let d = push_bundle(&mut reg, tmp.path(), &wrong, "w", Some(&other));
    checks.push((
        wrong.clone(),
        pull(&wrong, &verified),
        exact(format!("policy: error: {wrong}: refusing the policy bundle {d}: no trusted key verifies the signature (tried {public})")),
    ));

    // Keyless: a Fulcio certificate instead of a key; without a trust root it is refused.
    let keyless = format!("{}/org/keyless:1", server.host);
    let d = push_bundle(&mut reg, tmp.path(), &keyless, "k", None);
    let payload = cosign::payload(&keyless, &d);
    push_keyless_signature(
        &mut reg,
        &keyless,
        &d,
        &payload,
        &other.sign(&payload).unwrap(),
    );
    checks.push((
        keyless.clone(),
        pull(&keyless, &verified),
        exact(format!("policy: error: {keyless}: refusing the policy bundle {d}: keyless signature (Fulcio certificate): no Sigstore trust root is configured and no trusted key verifies it")),
    ));

    // Registries that are not what they should be.
    let hostile = Hostile::start();
    let garbage = format!("{}/garbage/app:1", hostile.host);
    checks.push((
        garbage.clone(),
        pull(&garbage, &verified),
        exact(format!("policy: error: {garbage}: malformed bundle manifest: expected value at line 1 column 1")),
    ));
    let ssh = format!("{}/org/p:1", not_a_registry());
    let want = format!("policy: error: {ssh}: cannot reach the registry: ");
    checks.push((
        ssh.clone(),
        pull(&ssh, &verified),
        Box::new(move |got: &str| got.starts_with(&want)),
    ));
    let started = Instant::now();
    let huge = format!("{}/huge/app:1", hostile.host);
    checks.push((
        huge.clone(),
        pull(&huge, &verified),
        exact(format!("policy: error: {huge}: the manifest is larger than the 4194304-byte limit; refusing to read it")),
    ));
    // The hostile registry serves the same manifest for the `.sig` tag: its "signature
    // payload" is the 100 MB blob, cut off at the payload limit while streaming. (Bundle
    // files go through the same capped reader, at 32 MiB: reading that much through the
    // digest check of a debug build takes seconds, so it is not repeated here.)
    let hugeblob = format!("{}/hugeblob/app:1", hostile.host);
    let big = format!("sha256:{}", "2".repeat(64));
    let (head, tail) = (
        format!("policy: error: {hugeblob}: refusing the policy bundle sha256:"),
        format!(".sig@{big}: the signature payload is larger than the 1048576-byte limit; refusing to read it"),
    );
    checks.push((
        hugeblob.clone(),
        pull(&format!("oci://{hugeblob}"), &verified),
        Box::new(move |got: &str| got.starts_with(&head) && got.ends_with(&tail)),
    ));
    for (reference, pending, check) in checks {
        let got = pending.join().expect("the pull thread");
        assert!(check(&got), "{reference}: {got}");
    }
    assert!(started.elapsed() < Duration::from_secs(90));
    assert!(
        hostile.huge_bytes_sent() < 100 << 20,
        "a 100 MB body was read whole ({} bytes sent)",
        hostile.huge_bytes_sent()
    );
}

/// Like [`push_signature`], with a (made-up) Fulcio certificate annotation: the shape of
/// a keyless signature.
fn push_keyless_signature(
    reg: &mut Registry,
    image: &str,
    digest: &str,
    payload: &[u8],
    sig: &[u8],
) {
    let extra = json!({
        cosign::CERTIFICATE_ANNOTATION: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        "dev.sigstore.cosign/bundle": "{\"SignedEntryTimestamp\": \"\"}"
    });
    push_signature_layer(reg, image, digest, payload, sig, extra);
}

/// A read-only registry on loopback serving fixed documents by path (`GET` only; the
/// query string is ignored, 404 for anything else). Serves until dropped.
struct StaticRegistry {
    host: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl StaticRegistry {
    fn start(routes: std::collections::HashMap<String, (String, Vec<u8>)>) -> StaticRegistry {
        use std::sync::atomic::{AtomicBool, Ordering};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let routes = std::sync::Arc::new(routes);
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            while !stop2.load(Ordering::Relaxed) && Instant::now() < deadline {
                let Ok((mut s, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let routes = routes.clone();
                std::thread::spawn(move || {
                    let _ = s.set_nonblocking(false);
                    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                    let mut buf = vec![0u8; 8192];
                    let n = s.read(&mut buf).unwrap_or(0);
                    let req = String::from_utf8_lossy(&buf[..n]).into_owned();
                    let path = req.split_whitespace().nth(1).unwrap_or("");
                    let path = path.split('?').next().unwrap_or("");
                    let (status, ct, body) = match (path, routes.get(path)) {
                        ("/v2/", _) => ("200 OK", "application/json".to_string(), b"{}".to_vec()),
                        (_, Some((ct, body))) => ("200 OK", ct.clone(), body.clone()),
                        _ => (
                            "404 Not Found",
                            "application/json".to_string(),
                            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}"#
                                .to_vec(),
                        ),
                    };
                    let _ = write!(s, "HTTP/1.1 {status}\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                    let _ = s.write_all(&body);
                });
            }
        });
        StaticRegistry { host, stop }
    }
}

impl Drop for StaticRegistry {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A signature stored as an OCI 1.1 referrer (no `.sig` tag) is found through the
/// referrers API and verified; a Sigstore bundle among the referrers is listed
/// unverified with the reason. (Debian's registry has no referrers API: the other tests
/// cover the fallback to the tag convention against it.)
#[test]
fn signatures_are_found_through_the_referrers_api() {
    use base64::Engine as _;
    use policy_engine::supply::client::sha256_digest;
    let tmp = tempfile::tempdir().unwrap();
    let (key, _, public) = keypair(tmp.path(), "ci");
    let oci_manifest = "application/vnd.oci.image.manifest.v1+json".to_string();
    let config = serde_json::to_vec(&json!({"architecture": "amd64", "os": "linux", "config": {"User": "1000"}, "rootfs": {"type": "layers", "diff_ids": []}})).unwrap();
    let config_digest = sha256_digest(&config);
    let image = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": oci_manifest,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": []
    }))
    .unwrap();
    let d = sha256_digest(&image);
    let payload = cosign::payload("reg/app", &d);
    let payload_digest = sha256_digest(&payload);
    let empty = b"{}".to_vec();
    let sig_manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": oci_manifest,
        "artifactType": cosign::SIGNATURE_ARTIFACT_TYPE,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": sha256_digest(&empty), "size": 2},
        "layers": [{
            "mediaType": cosign::SIMPLE_SIGNING_MEDIA_TYPE,
            "digest": payload_digest,
            "size": payload.len(),
            "annotations": {cosign::SIGNATURE_ANNOTATION: base64::engine::general_purpose::STANDARD.encode(key.sign(&payload).unwrap())}
        }],
        "subject": {"mediaType": oci_manifest, "digest": d, "size": image.len()}
    }))
    .unwrap();
    let sig_digest = sha256_digest(&sig_manifest);
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": oci_manifest, "digest": sig_digest, "size": sig_manifest.len(), "artifactType": cosign::SIGNATURE_ARTIFACT_TYPE},
            {"mediaType": oci_manifest, "digest": format!("sha256:{}", "5".repeat(64)), "size": 10, "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json"},
            {"mediaType": oci_manifest, "digest": format!("sha256:{}", "6".repeat(64)), "size": 10, "artifactType": "application/spdx+json"}
        ]
    }))
    .unwrap();
    let mut routes = std::collections::HashMap::new();
    let repo = "/v2/team/app";
    routes.insert(
        format!("{repo}/manifests/1"),
        (oci_manifest.clone(), image.clone()),
    );
    routes.insert(
        format!("{repo}/manifests/{d}"),
        (oci_manifest.clone(), image),
    );
    routes.insert(
        format!("{repo}/blobs/{config_digest}"),
        ("application/octet-stream".into(), config),
    );
    routes.insert(
        format!("{repo}/referrers/{d}"),
        ("application/vnd.oci.image.index.v1+json".into(), index),
    );
    routes.insert(
        format!("{repo}/manifests/{sig_digest}"),
        (oci_manifest, sig_manifest),
    );
    routes.insert(
        format!("{repo}/blobs/{payload_digest}"),
        ("application/octet-stream".into(), payload),
    );
    let server = StaticRegistry::start(routes);
    let image_ref = format!("{}/team/app:1", server.host);
    let out = run(
        tmp.path(),
        tmp.path(),
        &[
            "eval",
            "--no-config",
            "--image",
            &image_ref,
            "--trusted-key",
            public.to_str().unwrap(),
            "-f",
            "json",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let report = json_of(&out);
    assert!(
        !located(&report).iter().any(|f| f.0 == "IMG005"),
        "{report}"
    );
    assert!(errors(&report).is_empty(), "{report}");
    // The document's `signatures`: the referrer verified by ci.pub, the bundle not.
    std::fs::write(
        tmp.path().join("sigs.rego"),
        "# METADATA\n# title: signatures\n# custom:\n#   id: SIG001\n#   severity: low\n#   kinds: [image]\npackage sigs\nimport rego.v1\ndeny contains {\"msg\": json.marshal(input.signatures)} if true\n",
    )
    .unwrap();
    let out = run(
        tmp.path(),
        tmp.path(),
        &[
            "eval",
            "--no-config",
            "--no-builtin",
            "-p",
            "sigs.rego",
            "--image",
            &image_ref,
            "--trusted-key",
            public.to_str().unwrap(),
            "-f",
            "json",
        ],
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let report = json_of(&out);
    let msg = &located(&report)[0].4;
    let sigs: Vec<Value> = serde_json::from_str(msg).expect("signatures as JSON");
    assert_eq!(sigs.len(), 2, "{sigs:?}");
    assert_eq!(sigs[0]["verified"], true, "{sigs:?}");
    assert_eq!(sigs[0]["key"], public.to_str().unwrap(), "{sigs:?}");
    assert_eq!(sigs[1]["verified"], false, "{sigs:?}");
    assert_eq!(
        sigs[1]["error"],
        format!("{}/team/app@{d}: a Sigstore bundle (application/vnd.dev.sigstore.bundle.v0.3+json, referrer sha256:{}) is a keyless signature: no Sigstore trust root is configured, so it cannot be verified offline", server.host, "5".repeat(64)),
        "{sigs:?}"
    );
}

/// `policy sign REF --key` signs what the tag names, the cosign way: `--trusted-key`
/// then verifies it (no IMG005), and a bundle signed so is accepted by `--verify-key`.
#[test]
fn policy_sign_signs_images_and_bundles() {
    let Some(server) = start_registry() else {
        return;
    };
    let mut reg = client();
    let tmp = tempfile::tempdir().unwrap();
    let (_, private, public) = keypair(tmp.path(), "ci");
    let image = format!("{}/team/signme:1", server.host);
    let d = push_image(&mut reg, &image, "1000", "x");
    let out = run(
        tmp.path(),
        tmp.path(),
        &["sign", &image, "--key", private.to_str().unwrap()],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim_end(),
        format!("signed {}/team/signme@{d}", server.host)
    );
    let out = run(
        tmp.path(),
        tmp.path(),
        &[
            "eval",
            "--no-config",
            "--image",
            &image,
            "--trusted-key",
            public.to_str().unwrap(),
            "-f",
            "json",
        ],
    );
    let report = json_of(&out);
    assert!(errors(&report).is_empty(), "{report}");
    assert!(
        !located(&report).iter().any(|f| f.0 == "IMG005"),
        "{report}"
    );

    // A bundle pushed unsigned, then signed by `policy sign`.
    let bundle = format!("{}/org/signed-later:1", server.host);
    push_bundle(&mut reg, tmp.path(), &bundle, "s", None);
    let pull = || {
        run(
            tmp.path(),
            tmp.path(),
            &[
                "pull",
                &format!("oci://{bundle}"),
                "out",
                "--verify-key",
                public.to_str().unwrap(),
            ],
        )
    };
    assert_eq!(code(&pull()), 2);
    let out = run(
        tmp.path(),
        tmp.path(),
        &[
            "sign",
            &format!("oci://{bundle}"),
            "--key",
            private.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = pull();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(tmp.path().join("out/no_latest.rego").is_file());
    // A key that is not there: exit 2, naming it.
    let out = run(
        tmp.path(),
        tmp.path(),
        &["sign", &image, "--key", "missing.key"],
    );
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("cannot read key missing.key"),
        "{}",
        stderr(&out)
    );
}
