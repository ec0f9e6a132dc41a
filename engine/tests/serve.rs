//! End-to-end tests of `policy serve`: the real binary on 127.0.0.1 with a CA and a
//! certificate made here (rcgen), spoken to by a real HTTPS client (hyper over rustls).
//! Every server is bounded: it stops on SIGTERM at the end of its test, or is killed when
//! its guard drops; every wait has a deadline.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{json, Value};

/// A CA and a way to issue server certificates from it.
struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).expect("CA cert");
        Ca { cert, key }
    }

    /// A server certificate for localhost and 127.0.0.1: (cert PEM, key PEM, cert DER).
    fn issue(&self, cn: &str) -> (String, String, Vec<u8>) {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
        params
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        params.distinguished_name.push(DnType::CommonName, cn);
        let cert = params.signed_by(&key, &self.cert, &self.key).expect("sign");
        (cert.pem(), key.serialize_pem(), cert.der().to_vec())
    }
}

/// Writes a file through a temporary name and a rename, as the kubelet swaps a mount.
fn write_atomic(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

/// A running `policy serve`.
pub(crate) struct Server {
    child: Child,
    addr: SocketAddr,
    log: mpsc::Receiver<String>,
    pub(crate) dir: tempfile::TempDir,
    ca: Ca,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the server with `args` after the certificate flags; `setup` writes policies into
/// the temporary directory (the server's working directory) first.
fn start(args: &[&str], setup: impl FnOnce(&Path)) -> Server {
    start_with_env(args, &[], setup)
}

/// [`start`] with extra environment variables (the ship-phase tests give it a private
/// bundle cache, `XDG_CACHE_HOME`).
pub(crate) fn start_with_env(
    args: &[&str],
    env: &[(&str, &Path)],
    setup: impl FnOnce(&Path),
) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new("policy test CA");
    let (cert, key, _) = ca.issue("first");
    std::fs::write(dir.path().join("tls.crt"), cert).expect("write");
    std::fs::write(dir.path().join("tls.key"), key).expect("write");
    setup(dir.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_policy"))
        .arg("serve")
        .args([
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            "tls.crt",
            "--tls-key",
            "tls.key",
        ])
        .args(["--reload-interval", "100", "--no-config"])
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, *v)))
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn policy serve");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, log) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let addr = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match log.recv_timeout(left) {
            Ok(line) => {
                if let Some(a) = line.strip_prefix("policy serve: listening on https://") {
                    break a.parse().expect("address");
                }
                eprintln!("server: {line}");
            }
            Err(_) => {
                let _ = child.kill();
                panic!("policy serve did not start: {:?}", child.wait());
            }
        }
    };
    Server {
        child,
        addr,
        log,
        dir,
        ca,
    }
}

impl Server {
    /// Waits for a log line containing `needle` (bounded).
    pub(crate) fn wait_log(&self, needle: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.log.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => panic!("no log line with {needle:?} within {within:?}"),
            }
        }
    }

    pub(crate) fn client(&self) -> Client {
        Client::new(self.addr, &self.ca)
    }

    /// SIGTERM, then the exit code (bounded).
    pub(crate) fn terminate(&mut self) -> Option<i32> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                return s.code();
            }
            assert!(
                Instant::now() < deadline,
                "the server did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// An HTTPS client that trusts only the test CA: hyper's HTTP/1.1 client over rustls.
#[derive(Clone)]
pub(crate) struct Client {
    addr: SocketAddr,
    tls: tokio_rustls::TlsConnector,
}

/// One answer: status, content type, body, and the certificate the server presented.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    content_type: String,
    headers: hyper::HeaderMap,
    body: Vec<u8>,
    peer_cert: Vec<u8>,
}

impl Answer {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Client {
    fn new(addr: SocketAddr, ca: &Ca) -> Client {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(ca.cert.der().to_vec()))
            .expect("CA");
        let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        // Full handshakes only: a resumed session reports the certificate of the session
        // it resumes, and the rotation test needs the one served now.
        config.resumption = rustls::client::Resumption::disabled();
        Client {
            addr,
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
        }
    }

    pub(crate) async fn send(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Result<Answer, String> {
        let tcp = tokio::net::TcpStream::connect(self.addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let name = ServerName::try_from("localhost").expect("name");
        let stream = self
            .tls
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS: {e}"))?;
        let peer_cert = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.to_vec())
            .unwrap_or_default();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP handshake: {e}"))?;
        tokio::spawn(conn);
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost");
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let req = req.body(Full::new(Bytes::from(body))).expect("request");
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| format!("request: {e}"))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let content_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?
            .to_bytes()
            .to_vec();
        Ok(Answer {
            status,
            content_type,
            headers,
            body,
            peer_cert,
        })
    }

    /// Sends the head of a POST that promises `declared` body bytes, then only `sent`,
    /// and stalls: a slow client. Returns what the server answers (read for at most 10 s).
    async fn stall(&self, declared: usize, sent: &[u8]) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let tcp = tokio::net::TcpStream::connect(self.addr)
            .await
            .expect("connect");
        let name = ServerName::try_from("localhost").expect("name");
        let mut stream = self.tls.connect(name, tcp).await.expect("TLS");
        let head = format!(
            "POST /validate HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: {declared}\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.expect("write");
        stream.write_all(sent).await.expect("write");
        stream.flush().await.expect("flush");
        let mut answer = Vec::new();
        let until = tokio::time::Instant::now() + Duration::from_secs(10);
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&answer).ends_with("}}") {
            match tokio::time::timeout_at(until, stream.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => answer.extend_from_slice(&buf[..n]),
                _ => break,
            }
        }
        String::from_utf8_lossy(&answer).into_owned()
    }

    async fn review(&self, path: &str, review: &Value) -> Answer {
        self.send(
            "POST",
            path,
            Some("application/json"),
            serde_json::to_vec(review).expect("json"),
        )
        .await
        .expect("answer")
    }

    async fn get(&self, path: &str) -> Answer {
        self.send("GET", path, None, Vec::new())
            .await
            .expect("answer")
    }
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn review(uid: &str, operation: &str, object: Value, extra: Value) -> Value {
    let mut request = json!({
        "uid": uid,
        "kind": {"group": "", "version": "v1", "kind": object.get("kind").cloned().unwrap_or(json!("Pod"))},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "namespace": "team-a",
        "operation": operation,
        "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
        "object": object,
        "dryRun": false,
    });
    if let (Value::Object(r), Value::Object(e)) = (&mut request, extra) {
        r.extend(e);
    }
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request})
}

/// A container that satisfies every built-in rule and the restricted level.
fn hardened_container(name: &str) -> Value {
    json!({
        "name": name,
        "image": "registry.example.com/team/app:1.4.2@sha256:6ec5aa99dc335666e79dc64e4a6c8b89c33a543a1967f20d360922a80dd21f02",
        "securityContext": {
            "allowPrivilegeEscalation": false,
            "readOnlyRootFilesystem": true,
            "runAsNonRoot": true,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"}
        },
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8080}}
    })
}

fn pod_spec(container: Value) -> Value {
    json!({
        "automountServiceAccountToken": false,
        "securityContext": {"runAsNonRoot": true, "runAsUser": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container]
    })
}

fn pod(name: &str, container: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "team-a"}, "spec": pod_spec(container)})
}

fn privileged(mut container: Value) -> Value {
    container["securityContext"]["privileged"] = json!(true);
    container
}

fn response(answer: &Answer) -> Value {
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.content_type, "application/json");
    let v = answer.json();
    assert_eq!(v["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(v["kind"], "AdmissionReview");
    v["response"].clone()
}

/// The value of a metric line that starts with `prefix`, or 0.
fn metric(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn admission_reviews_with_the_built_in_policies() {
    let mut server = start(&["--fail-on", "high"], |_| {});
    let client = server.client();
    runtime().block_on(async {
        // A compliant Pod is allowed, with nothing to say.
        let r = response(&client.review("/validate", &review("u-ok", "CREATE", pod("ok", hardened_container("app")), json!({}))).await);
        assert_eq!(r["uid"], "u-ok");
        assert_eq!(r["allowed"], true, "{r}");
        assert!(r.get("status").is_none(), "{r}");
        assert!(r.get("warnings").is_none(), "{r}");
        assert_eq!(r["auditAnnotations"]["decision"], "allow");

        // A privileged Pod is denied, with rule IDs, messages and JSON paths.
        let r = response(&client.review("/validate", &review("u-priv", "CREATE", pod("bad", privileged(hardened_container("app"))), json!({}))).await);
        assert_eq!(r["uid"], "u-priv");
        assert_eq!(r["allowed"], false, "{r}");
        assert_eq!(r["status"]["code"], 403);
        let msg = r["status"]["message"].as_str().expect("message");
        assert!(msg.starts_with("Pod team-a/bad violates"), "{msg}");
        assert!(msg.contains("[K8S001]"), "{msg}");
        assert!(msg.contains("(at spec.containers[0].securityContext.privileged)"), "{msg}");
        assert_eq!(r["auditAnnotations"]["decision"], "deny");
        assert!(r["auditAnnotations"]["k8s001"].as_str().expect("k8s001").starts_with("CRITICAL: [K8S001]") || r["auditAnnotations"]["k8s001"].as_str().expect("k8s001").starts_with("HIGH: [K8S001]"), "{r}");

        // A Deployment: paths go through the pod template.
        let deployment = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "team-a"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": pod_spec(privileged(hardened_container("web")))}}
        });
        let r = response(&client.review("/validate", &review("u-dep", "CREATE", deployment, json!({}))).await);
        assert_eq!(r["allowed"], false, "{r}");
        let msg = r["status"]["message"].as_str().expect("message");
        assert!(msg.starts_with("Deployment team-a/web violates"), "{msg}");
        assert!(msg.contains("(at spec.template.spec.containers[0].securityContext.privileged)"), "{msg}");

        // A CronJob: through the job template.
        let cronjob = json!({
            "apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": "nightly", "namespace": "team-a"},
            "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": pod_spec(privileged(hardened_container("job")))}}}}
        });
        let r = response(&client.review("/validate", &review("u-cron", "CREATE", cronjob, json!({}))).await);
        assert_eq!(r["allowed"], false, "{r}");
        let msg = r["status"]["message"].as_str().expect("message");
        assert!(msg.contains("(at spec.jobTemplate.spec.template.spec.containers[0].securityContext.privileged)"), "{msg}");

        // Below --fail-on: allowed, with warnings kubectl shows.
        let mut latest = hardened_container("app");
        latest["image"] = json!("nginx:latest");
        let r = response(&client.review("/validate", &review("u-warn", "CREATE", pod("warn", latest), json!({}))).await);
        assert_eq!(r["allowed"], true, "{r}");
        let warnings = r["warnings"].as_array().expect("warnings");
        assert!(!warnings.is_empty(), "{r}");
        assert!(warnings.iter().all(|w| w.as_str().expect("str").contains("(at spec.containers[0].image)")), "{r}");
        assert_eq!(r["auditAnnotations"]["decision"], "warn");

        // dryRun: the same decision; counted apart in the metrics.
        let r = response(&client.review("/validate", &review("u-dry", "CREATE", pod("dry", privileged(hardened_container("app"))), json!({"dryRun": true}))).await);
        assert_eq!(r["uid"], "u-dry");
        assert_eq!(r["allowed"], false, "{r}");

        // DELETE carries no object: allowed without evaluation.
        let mut del = review("u-del", "DELETE", Value::Null, json!({"name": "bad", "oldObject": pod("bad", privileged(hardened_container("app")))}));
        del["request"]["kind"]["kind"] = json!("Pod");
        let r = response(&client.review("/validate", &del).await);
        assert_eq!(r["uid"], "u-del");
        assert_eq!(r["allowed"], true, "{r}");
        assert!(r.get("status").is_none());

        // The Pod Security level from the path: restricted wants capabilities dropped.
        let mut loose = hardened_container("app");
        loose["securityContext"]["capabilities"] = json!({"add": ["NET_RAW"]});
        let no_pss = response(&client.review("/validate", &review("u-nopss", "CREATE", pod("caps", loose.clone()), json!({}))).await);
        let restricted = response(&client.review("/validate?pss=restricted%40v1.30", &review("u-pss", "CREATE", pod("caps", loose.clone()), json!({}))).await);
        let said = |r: &Value| format!("{} {}", r["status"]["message"], r["warnings"]);
        assert!(said(&restricted).contains("PSS-"), "{restricted}");
        assert!(!said(&no_pss).contains("PSS-"), "{no_pss}");
        // The same level in the path, as a webhook configuration writes it: the same answer.
        let by_path = response(&client.review("/validate/restricted/v1.30", &review("u-pss", "CREATE", pod("caps", loose), json!({}))).await);
        assert_eq!(by_path, restricted);

        // Metrics follow.
        let m = client.get("/metrics").await;
        assert_eq!(m.status, 200);
        assert!(m.content_type.starts_with("application/openmetrics-text"), "{}", m.content_type);
        let text = m.text();
        assert_eq!(metric(&text, r#"policy_requests_total{endpoint="validate",outcome="allowed",dry_run="false"}"#), 2.0, "{text}");
        assert_eq!(metric(&text, r#"policy_requests_total{endpoint="validate",outcome="denied",dry_run="false"}"#), 6.0, "{text}");
        assert_eq!(metric(&text, r#"policy_requests_total{endpoint="validate",outcome="denied",dry_run="true"}"#), 1.0, "{text}");
        assert_eq!(metric(&text, r#"policy_requests_total{endpoint="validate",outcome="warned",dry_run="false"}"#), 1.0, "{text}");
        assert!(metric(&text, r#"policy_findings_total{rule="K8S001""#) >= 4.0, "{text}");
        assert_eq!(metric(&text, r#"policy_request_duration_seconds_count{endpoint="validate"}"#), 10.0, "{text}");
        assert_eq!(metric(&text, "policy_evaluations_in_flight"), 0.0, "{text}");

        assert_eq!(client.get("/healthz").await.status, 200);
        assert_eq!(client.get("/readyz").await.status, 200);

        // Each path of the deploy kit's webhook entries is one the API server accepts, and
        // reaches the level its namespaceSelector selects.
        let paths = webhook_paths();
        assert_eq!(paths.len(), 3, "{paths:?}");
        for (path, level) in paths {
            // CHOWN may be added at baseline, not at restricted; hostNetwork is neither.
            let mut chown = hardened_container("app");
            chown["securityContext"]["capabilities"] = json!({"add": ["CHOWN"]});
            let mut host_net = pod("net", hardened_container("app"));
            host_net["spec"]["hostNetwork"] = json!(true);
            // A PSS check may be merged into the K8S finding for the same node:
            // `[K8S008, PSS-HOST-NAMESPACES] …`.
            let pss = |r: &Value| said(r).contains("PSS-");
            let a = response(&client.review(&path, &review("u-chown", "CREATE", pod("chown", chown), json!({}))).await);
            let b = response(&client.review(&path, &review("u-net", "CREATE", host_net, json!({}))).await);
            let want = match level.as_deref() {
                Some("restricted") => (true, true),
                Some("baseline") => (false, true),
                None => (false, false),
                Some(other) => panic!("{path}: unexpected level {other}"),
            };
            assert_eq!((pss(&a), pss(&b)), want, "{path}: {a} {b}");
        }
    });
    assert_eq!(server.terminate(), Some(0));
}

/// The `clientConfig.service.path` of every entry of deploy/kubernetes/webhook.yaml, with
/// the Pod Security level its namespaceSelector selects (`None`: the others). Each path
/// is checked as the API server checks it (ValidateWebhookService): it starts with `/` and
/// every segment is a DNS-1123 subdomain, so no query string.
fn webhook_paths() -> Vec<(String, Option<String>)> {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/kubernetes/webhook.yaml");
    let text = std::fs::read_to_string(file).expect("webhook.yaml");
    let mut entries: Vec<(String, Option<String>)> = Vec::new();
    let mut in_enforce = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with("- name: ") {
            entries.push((String::new(), None));
        } else if let Some(path) = line.strip_prefix("path: ") {
            entries.last_mut().expect("an entry").0 = path.to_owned();
        } else if line == "- key: pod-security.kubernetes.io/enforce" {
            in_enforce = true;
        } else if in_enforce && line.starts_with("operator: ") {
            in_enforce = line == "operator: In";
        } else if let (true, Some(values)) = (in_enforce, line.strip_prefix("values: [")) {
            entries.last_mut().expect("an entry").1 = Some(values.trim_end_matches(']').to_owned());
            in_enforce = false;
        }
    }
    let dns_label = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    for (path, _) in &entries {
        let segments = path
            .strip_prefix('/')
            .unwrap_or_else(|| panic!("{path:?} must start with /"));
        for segment in segments.split('/') {
            assert!(segment.len() <= 253 && segment.split('.').all(dns_label), "the API server refuses path {path:?}: segment {segment:?} is not a DNS-1123 subdomain");
        }
    }
    entries
}

/// Path, content type, body, expected status, expected part of the message.
type BadCase = (
    &'static str,
    Option<&'static str>,
    Vec<u8>,
    u16,
    &'static str,
);

#[test]
fn malformed_requests_get_400_with_a_json_error() {
    let mut server = start(
        &["--max-body-size", "65536", "--request-timeout", "2000"],
        |_| {},
    );
    let client = server.client();
    runtime().block_on(async {
        let ok = serde_json::to_vec(&review("u", "CREATE", pod("p", hardened_container("a")), json!({}))).expect("json");
        let mut v1beta1: Value = serde_json::from_slice(&ok).expect("json");
        v1beta1["apiVersion"] = json!("admission.k8s.io/v1beta1");
        let cases: Vec<BadCase> = vec![
            ("/validate", Some("application/json"), b"{\"apiVersion\": ".to_vec(), 400, "the body is not JSON"),
            ("/validate", Some("text/plain"), ok.clone(), 400, "wrong content type \"text/plain\""),
            ("/validate", None, ok.clone(), 400, "wrong content type (none)"),
            ("/validate", Some("application/json"), serde_json::to_vec(&v1beta1).expect("json"), 400, "unknown AdmissionReview version \"admission.k8s.io/v1beta1\""),
            ("/validate", Some("application/json"), serde_json::to_vec(&review("u", "CREATE", json!({"spec": {}}), json!({}))).expect("json"), 400, "request.object is not a Kubernetes object"),
            ("/validate", Some("application/json"), vec![b' '; 70_000], 400, "larger than the limit of 65536 bytes"),
            ("/validate?pss=strict", Some("application/json"), ok.clone(), 400, "invalid ?pss=strict"),
            ("/validate/strict", Some("application/json"), ok.clone(), 400, "invalid level /validate/strict"),
            ("/validate/restricted?pss=baseline", Some("application/json"), ok.clone(), 404, "use one of them"),
            ("/validate/restricted/v1.30/x", Some("application/json"), ok.clone(), 404, "no endpoint /validate/restricted/v1.30/x"),
            ("/v1/evaluate?kind=nope", Some("application/yaml"), b"a: 1".to_vec(), 400, "unknown kind \"nope\""),
            ("/v1/evaluate", Some("application/yaml"), vec![0xff, 0xfe], 400, "not UTF-8"),
            ("/nowhere", None, Vec::new(), 404, "no endpoint /nowhere"),
        ];
        for (path, ct, body, status, want) in cases {
            let a = client.send("POST", path, ct, body).await.expect("answer");
            assert_eq!(a.status, status, "{path} {ct:?}: {}", a.text());
            assert_eq!(a.content_type, "application/json", "{path}");
            let err = a.json();
            assert_eq!(err["error"]["code"], status);
            let msg = err["error"]["message"].as_str().expect("message");
            assert!(msg.contains(want), "{path} {ct:?}: {msg} does not contain {want}");
        }
        // A client that stops sending its body is cut off at the request deadline.
        let started = Instant::now();
        let slow = client.stall(1000, b"{\"apiVersion\": ").await;
        assert!(slow.starts_with("HTTP/1.1 408 "), "{slow}");
        assert!(slow.contains("\"message\":\"the body did not arrive before the request deadline (--request-timeout)\""), "{slow}");
        assert!(started.elapsed() < Duration::from_secs(8), "{:?}", started.elapsed());
        let a = client.send("GET", "/validate", None, Vec::new()).await.expect("answer");
        assert_eq!(a.status, 405);
        assert_eq!(a.headers.get("allow").and_then(|v| v.to_str().ok()), Some("POST"));
        // The server is still well.
        let r = response(&client.review("/validate", &review("after", "CREATE", pod("p", hardened_container("a")), json!({}))).await);
        assert_eq!(r["allowed"], true);
        let text = client.get("/metrics").await.text();
        assert_eq!(metric(&text, r#"policy_requests_total{endpoint="validate",outcome="bad_request",dry_run="false"}"#), 12.0, "{text}");
    });
    assert_eq!(server.terminate(), Some(0));
}

#[test]
fn evaluate_returns_the_json_report() {
    let mut server = start(&[], |_| {});
    let client = server.client();
    runtime().block_on(async {
        let yaml = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: a\n      image: nginx\n      securityContext:\n        privileged: true\n";
        let a = client
            .send("POST", "/v1/evaluate?kind=kubernetes&name=pod.yaml", Some("application/yaml"), yaml.as_bytes().to_vec())
            .await
            .expect("answer");
        assert_eq!(a.status, 200, "{}", a.text());
        assert_eq!(a.headers.get("x-policy-exit-code").and_then(|v| v.to_str().ok()), Some("1"));
        let report = a.json();
        assert_eq!(report["version"], 1);
        let k8s001 = report["findings"].as_array().expect("findings").iter().find(|f| f["rule_id"] == "K8S001").expect("K8S001");
        assert_eq!(k8s001["file"], "pod.yaml");
        assert_eq!(k8s001["start_line"], 10);
        assert_eq!(k8s001["path"], "spec.containers[0].securityContext.privileged");
        assert_eq!(report["inputs"][0]["status"], "evaluated");

        let a = client
            .send("POST", "/v1/evaluate?kind=dockerfile", Some("text/plain"), b"FROM alpine@sha256:0000000000000000000000000000000000000000000000000000000000000000\nUSER 10001\n".to_vec())
            .await
            .expect("answer");
        assert_eq!(a.status, 200, "{}", a.text());
        assert_eq!(a.json()["inputs"][0]["path"], "Dockerfile");
    });
    assert_eq!(server.terminate(), Some(0));
}

const TEAM_LABEL_V1: &str = r#"# METADATA
# title: Team label is immutable
# custom:
#   id: USR101
#   severity: high
#   kinds: [kubernetes]
package user.update

deny contains {"msg": msg, "path": ["metadata", "labels", "team"]} if {
  input.review.operation == "UPDATE"
  old := input.review.oldObject.metadata.labels.team
  input.metadata.labels.team != old
  msg := sprintf("label team changed from %q to %q: it is immutable, create a new object instead", [old, input.metadata.labels.team])
}
"#;

#[test]
fn update_sees_the_old_object_as_input_review() {
    let mut server = start(&["--no-builtin", "-p", "policies"], |dir| {
        std::fs::create_dir(dir.join("policies")).expect("mkdir");
        std::fs::write(dir.join("policies/team.rego"), TEAM_LABEL_V1).expect("write");
    });
    let client = server.client();
    runtime().block_on(async {
        let mut old = pod("p", hardened_container("a"));
        old["metadata"]["labels"] = json!({"team": "blue"});
        let mut new = old.clone();
        new["metadata"]["labels"]["team"] = json!("red");
        let r = response(&client.review("/validate", &review("u-up", "UPDATE", new.clone(), json!({"oldObject": old.clone()}))).await);
        assert_eq!(r["allowed"], false, "{r}");
        assert_eq!(
            r["status"]["message"],
            "Pod team-a/p violates 1 policy at or above low:\n[USR101] label team changed from \"blue\" to \"red\": it is immutable, create a new object instead (at metadata.labels.team)"
        );
        let r = response(&client.review("/validate", &review("u-same", "UPDATE", old.clone(), json!({"oldObject": old.clone()}))).await);
        assert_eq!(r["allowed"], true, "{r}");
        // CREATE has no oldObject: the rule does not fire.
        let r = response(&client.review("/validate", &review("u-new", "CREATE", new, json!({}))).await);
        assert_eq!(r["allowed"], true, "{r}");
    });
    assert_eq!(server.terminate(), Some(0));
}

#[test]
fn audit_mode_only_warns() {
    let mut server = start(&["--enforce=false"], |_| {});
    let client = server.client();
    runtime().block_on(async {
        let r = response(
            &client
                .review(
                    "/validate",
                    &review(
                        "u",
                        "CREATE",
                        pod("bad", privileged(hardened_container("a"))),
                        json!({}),
                    ),
                )
                .await,
        );
        assert_eq!(r["allowed"], true, "{r}");
        assert!(r.get("status").is_none());
        let w = r["warnings"].as_array().expect("warnings");
        assert!(
            w.iter()
                .any(|w| w.as_str().expect("str").starts_with("would deny: [K8S001]")),
            "{r}"
        );
        assert_eq!(r["auditAnnotations"]["decision"], "would-deny");
    });
    assert_eq!(server.terminate(), Some(0));
}

/// A rule that spins for about `ms` of CPU per evaluation (bounded by --timeout).
fn slow_policy(dir: &Path) {
    std::fs::create_dir(dir.join("policies")).expect("mkdir");
    std::fs::write(
        dir.join("policies/slow.rego"),
        r#"# METADATA
# title: Slow
# custom:
#   id: USR900
#   severity: low
#   kinds: [kubernetes]
package user.slow

deny contains msg if {
  n := count([i | some i in numbers.range(1, 700); some j in numbers.range(1, 700); (i + j) % 7 == 0])
  n < 0
  msg := "never"
}
"#,
    )
    .expect("write");
}

#[test]
fn a_full_pool_answers_429_and_a_deadline_504() {
    let mut server = start(
        &[
            "--no-builtin",
            "-p",
            "policies",
            "--workers",
            "1",
            "--queue",
            "1",
            "--request-timeout",
            "60000",
            "--timeout",
            "60000",
        ],
        slow_policy,
    );
    let client = server.client();
    runtime().block_on(async {
        let body = review("u", "CREATE", pod("p", hardened_container("a")), json!({}));
        let tasks: Vec<_> = (0..6)
            .map(|_| {
                let c = client.clone();
                let b = body.clone();
                tokio::spawn(async move { c.review("/validate", &b).await })
            })
            .collect();
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.push(t.await.expect("task").status);
        }
        statuses.sort_unstable();
        assert!(statuses.contains(&200), "{statuses:?}");
        assert!(statuses.contains(&429), "{statuses:?}");
        assert!(
            statuses.iter().all(|s| *s == 200 || *s == 429),
            "{statuses:?}"
        );
        let text = client.get("/metrics").await.text();
        assert!(
            metric(
                &text,
                r#"policy_requests_total{endpoint="validate",outcome="overloaded",dry_run="false"}"#
            ) >= 1.0,
            "{text}"
        );
    });
    assert_eq!(server.terminate(), Some(0));

    let mut server = start(
        &[
            "--no-builtin",
            "-p",
            "policies",
            "--request-timeout",
            "30",
            "--timeout",
            "60000",
        ],
        slow_policy,
    );
    let client = server.client();
    runtime().block_on(async {
        let a = client
            .review(
                "/validate",
                &review(
                    "u-slow",
                    "CREATE",
                    pod("p", hardened_container("a")),
                    json!({}),
                ),
            )
            .await;
        assert_eq!(a.status, 504, "{}", a.text());
        let r = a.json()["response"].clone();
        assert_eq!(r["uid"], "u-slow");
        assert_eq!(r["allowed"], false);
        assert_eq!(r["status"]["code"], 504);
        assert!(
            r["status"]["message"]
                .as_str()
                .expect("msg")
                .contains("did not finish within the request timeout of 30 ms"),
            "{r}"
        );
    });
    assert_eq!(server.terminate(), Some(0));

    // A rule over its --timeout is contained as in `policy eval` (exit 2 there): the
    // object was not fully checked, so it is denied with 500 and the engine's error.
    let mut server = start(
        &["--no-builtin", "-p", "policies", "--timeout", "50"],
        slow_policy,
    );
    let client = server.client();
    runtime().block_on(async {
        let pod = pod("p", hardened_container("a"));
        let a = client
            .review("/validate", &review("u-rule", "CREATE", pod, json!({})))
            .await;
        assert_eq!(a.status, 200, "{}", a.text());
        let r = response(&a);
        assert_eq!(r["allowed"], false, "{r}");
        assert_eq!(r["status"]["code"], 500, "{r}");
        let msg = r["status"]["message"].as_str().expect("message");
        assert!(
            msg.starts_with("Pod team-a/p could not be fully checked, so it is denied:\n[POL002] rule USR900 exceeded its time limit of 50 ms"),
            "{msg}"
        );
        assert_eq!(r["auditAnnotations"]["decision"], "deny", "{r}");
        let text = client.get("/metrics").await.text();
        assert_eq!(
            metric(
                &text,
                r#"policy_requests_total{endpoint="validate",outcome="error",dry_run="false"}"#
            ),
            1.0,
            "{text}"
        );
    });
    assert_eq!(server.terminate(), Some(0));
}

fn two_rules(a: &str, b: &str) -> String {
    format!(
        r#"# METADATA
# title: First
# custom:
#   id: {a}
#   severity: high
#   kinds: [kubernetes]
package user.pair

deny contains msg if {{
  input.metadata.labels.reload == "me"
  msg := "first rule of the set"
}}

# METADATA
# title: Second
# custom:
#   id: {b}
#   severity: high
#   kinds: [kubernetes]
deny_second contains msg if {{
  input.metadata.labels.reload == "me"
  msg := "second rule of the set"
}}
"#
    )
}

#[test]
fn hot_reload_and_cert_rotation_under_load() {
    let mut server = start(&["--no-builtin", "-p", "policies"], |dir| {
        std::fs::create_dir(dir.join("policies")).expect("mkdir");
        std::fs::write(
            dir.join("policies/pair.rego"),
            two_rules("USR201", "USR202"),
        )
        .expect("write");
    });
    let client = server.client();
    let first_cert = {
        let dir = server.dir.path().to_owned();
        let _ = dir;
        runtime().block_on(client.get("/healthz")).peer_cert
    };
    let policy_file: PathBuf = server.dir.path().join("policies/pair.rego");
    let (cert_file, key_file) = (
        server.dir.path().join("tls.crt"),
        server.dir.path().join("tls.key"),
    );
    let (new_cert, new_key, new_der) = server.ca.issue("second");
    let rt = runtime();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let mut obj = pod("r", hardened_container("a"));
    obj["metadata"]["labels"] = json!({"reload": "me"});
    let body = review("u-load", "CREATE", obj, json!({}));
    // Four clients send requests back to back until told to stop (at most 60 s).
    let load: Vec<_> = (0..4)
        .map(|_| {
            let (c, b, stop, answered) = (
                client.clone(),
                body.clone(),
                Arc::clone(&stop),
                Arc::clone(&answered),
            );
            rt.spawn(async move {
                let until = Instant::now() + Duration::from_secs(60);
                let mut seen = Vec::new();
                while !stop.load(Ordering::SeqCst) && Instant::now() < until {
                    let a = c
                        .send(
                            "POST",
                            "/validate",
                            Some("application/json"),
                            serde_json::to_vec(&b).expect("json"),
                        )
                        .await;
                    let a = a.unwrap_or_else(|e| panic!("a request failed during reload: {e}"));
                    assert_eq!(a.status, 200, "{}", a.text());
                    let msg = a.json()["response"]["status"]["message"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    let ids: Vec<&str> = ["USR201", "USR202", "USR301", "USR302"]
                        .into_iter()
                        .filter(|id| msg.contains(id))
                        .collect();
                    assert!(
                        ids == ["USR201", "USR202"] || ids == ["USR301", "USR302"],
                        "a mixed or empty set: {msg}"
                    );
                    seen.push((ids[0].to_owned(), a.peer_cert));
                    answered.fetch_add(1, Ordering::SeqCst);
                }
                seen
            })
        })
        .collect();
    let wait_for = |n: usize| {
        let until = Instant::now() + Duration::from_secs(30);
        while answered.load(Ordering::SeqCst) < n {
            assert!(Instant::now() < until, "the load stalled");
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    wait_for(8);
    // A broken edit is refused; the last good set stays.
    write_atomic(
        &policy_file,
        "package user.pair\n\ndeny contains msg if {\n  msg := \n}\n",
    );
    server.wait_log("cannot reload policies", Duration::from_secs(20));
    wait_for(answered.load(Ordering::SeqCst) + 8);
    // A good edit swaps both rules at once; the certificate rotates meanwhile.
    write_atomic(&policy_file, &two_rules("USR301", "USR302"));
    write_atomic(&key_file, &new_key);
    write_atomic(&cert_file, &new_cert);
    server.wait_log("policies reloaded", Duration::from_secs(20));
    server.wait_log("TLS certificate reloaded", Duration::from_secs(20));
    wait_for(answered.load(Ordering::SeqCst) + 8);
    stop.store(true, Ordering::SeqCst);
    let mut seen = Vec::new();
    for t in load {
        seen.extend(rt.block_on(t).expect("a load task failed"));
    }
    assert!(seen.iter().any(|(id, _)| id == "USR201"));
    assert_eq!(seen.last().map(|(id, _)| id.as_str()), Some("USR301"));
    assert!(seen.iter().any(|(_, c)| *c == first_cert));
    assert!(
        seen.iter().any(|(_, c)| *c == new_der),
        "the new certificate was never served"
    );
    // Once swapped, the new pair is served to every new connection.
    assert_eq!(rt.block_on(client.get("/healthz")).peer_cert, new_der);
    let text = rt.block_on(client.get("/metrics")).text();
    assert_eq!(
        metric(&text, r#"policy_reloads_total{what="policies"}"#),
        1.0,
        "{text}"
    );
    assert_eq!(
        metric(&text, r#"policy_reloads_rejected_total{what="policies"}"#),
        1.0,
        "{text}"
    );
    assert_eq!(
        metric(&text, r#"policy_reloads_total{what="certificate"}"#),
        1.0,
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            r#"policy_requests_total{endpoint="validate",outcome="error""#
        ),
        0.0,
        "{text}"
    );
    assert_eq!(server.terminate(), Some(0));
}

#[test]
fn sigterm_drains_requests_in_flight() {
    let mut server = start(
        &[
            "--no-builtin",
            "-p",
            "policies",
            "--timeout",
            "60000",
            "--request-timeout",
            "60000",
        ],
        slow_policy,
    );
    let client = server.client();
    let rt = runtime();
    let body = review(
        "u-drain",
        "CREATE",
        pod("p", hardened_container("a")),
        json!({}),
    );
    let c = client.clone();
    let in_flight = rt.spawn(async move { c.review("/validate", &body).await });
    // Let the request reach a worker, then ask the server to stop.
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let text = rt.block_on(client.get("/metrics")).text();
        if metric(&text, "policy_evaluations_in_flight") >= 1.0 {
            break;
        }
        assert!(Instant::now() < until, "the request never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill")
        .success());
    server.wait_log("draining", Duration::from_secs(10));
    let answer = rt.block_on(in_flight).expect("task");
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["response"]["uid"], "u-drain");
    // New connections are refused once the listener is closed.
    assert!(rt
        .block_on(client.send("GET", "/healthz", None, Vec::new()))
        .is_err());
    assert_eq!(server.terminate_wait(), Some(0));
}

impl Server {
    /// The exit code after a SIGTERM already sent (bounded).
    fn terminate_wait(&mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                return s.code();
            }
            assert!(
                Instant::now() < deadline,
                "the server did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn the_deploy_manifests_pass_the_restricted_level() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new(env!("CARGO_BIN_EXE_policy"))
        .args([
            "eval",
            "--no-config",
            "--pss",
            "restricted",
            "--format",
            "json",
        ])
        .args(["-p", "deploy/kubernetes/policies", "deploy/kubernetes"])
        .current_dir(&repo)
        .output()
        .expect("run policy");
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["findings"], json!([]), "{report:#}");
    assert_eq!(report["errors"], json!([]), "{report:#}");
    let inputs = report["inputs"].as_array().expect("inputs");
    assert!(inputs.len() >= 9, "{inputs:?}");
    assert!(
        inputs.iter().all(|i| i["status"] == "evaluated"),
        "{inputs:?}"
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The example policy's unit tests pass, as docs/admission.md tells users to check.
    let out = Command::new(env!("CARGO_BIN_EXE_policy"))
        .args(["test", "--no-config", "deploy/kubernetes/policies"])
        .current_dir(&repo)
        .output()
        .expect("run policy test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("3 passed, 0 failed, 0 errors, 0 skipped"),
        "{stdout}"
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}");
}
