//! The load generator behind the `policy serve` numbers in BENCHMARKS.md: a bounded,
//! open-loop HTTPS client on loopback, so that latency under a fixed request rate (and
//! the cost of a hot reload under load) is measured the same way every time, without a
//! tool from outside the workspace.
//!
//! It starts `policy serve` itself (a CA and a certificate made on the spot with rcgen,
//! the built-in policies plus one user policy, 127.0.0.1 only), then for each rate sends
//! AdmissionReviews of a typical Deployment at that rate for the given seconds over
//! keep-alive connections. Latency is measured from the *scheduled* send time, so a
//! server that falls behind is charged for the queue (no coordinated omission). After the
//! rates it sends a soak of requests (so that RSS is read before and after 100k requests),
//! reloads the user policy twice under load and counts errors, and times `policy eval` on
//! the same object: one process per object, and many objects in one process. The
//! server's CPU time per request comes from `/proc/PID/stat`, the client's own work
//! excluded.
//!
//! ```text
//! cargo build --release -p policy-engine --bin policy --example serve_load
//! target/release/examples/serve_load target/release/policy [seconds=10] [rates=200,500,1000] [soak=100000@1000]
//! ```

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::sync::Mutex;

const DEPLOYMENT: &str = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"team-a","labels":{"app":"web","team":"blue"}},"spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"automountServiceAccountToken":false,"securityContext":{"runAsNonRoot":true,"runAsUser":10001,"seccompProfile":{"type":"RuntimeDefault"}},"containers":[{"name":"web","image":"registry.example.com/team/web:1.4.2","ports":[{"containerPort":8080}],"securityContext":{"allowPrivilegeEscalation":false,"readOnlyRootFilesystem":true,"capabilities":{"drop":["ALL"]}},"resources":{"requests":{"cpu":"100m","memory":"64Mi"},"limits":{"memory":"128Mi"}}},{"name":"sidecar","image":"nginx:1.27","securityContext":{"privileged":true}}]}}}}"#;

const USER_POLICY: &str = r#"# METADATA
# title: Team label
# custom:
#   id: BEN001
#   severity: low
#   kinds: [kubernetes]
package bench.team

deny contains {"msg": "no team label", "path": ["metadata", "labels"]} if {
  not input.metadata.labels.team
}
"#;

fn review(uid: usize) -> Vec<u8> {
    format!(
        r#"{{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{{"uid":"u-{uid}","kind":{{"group":"apps","version":"v1","kind":"Deployment"}},"resource":{{"group":"apps","version":"v1","resource":"deployments"}},"namespace":"team-a","operation":"CREATE","userInfo":{{"username":"bench"}},"object":{DEPLOYMENT},"dryRun":false}}}}"#
    )
    .into_bytes()
}

/// The CPU time (user + system) of process `pid` so far, in milliseconds.
fn cpu_ms(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // After the command name in parentheses: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|v| v.parse::<f64>().ok()))
        .sum();
    // USER_HZ is 100 on every Linux this runs on.
    ticks * 10.0
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: std::net::SocketAddr, tls: &tokio_rustls::TlsConnector) -> Sender {
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    let stream = tls
        .connect(ServerName::try_from("localhost").expect("name"), tcp)
        .await
        .expect("TLS");
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    sender
}

/// Sends `rate` requests/s for `seconds`; returns (sorted latencies in µs, errors).
async fn run_rate(
    addr: std::net::SocketAddr,
    tls: &tokio_rustls::TlsConnector,
    rate: u64,
    seconds: u64,
) -> (Vec<u64>, usize) {
    // Enough keep-alive connections for the rate at a few ms each.
    let conns = (rate / 50).clamp(4, 64) as usize;
    let (tx, rx) = tokio::sync::mpsc::channel::<Sender>(conns);
    for _ in 0..conns {
        tx.send(connect(addr, tls).await).await.expect("pool");
    }
    let rx = Arc::new(Mutex::new(rx));
    let total = rate * seconds;
    let interval = Duration::from_nanos(1_000_000_000 / rate);
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let scheduled = start + interval * i as u32;
        tokio::time::sleep_until(scheduled).await;
        let (tx, rx) = (tx.clone(), Arc::clone(&rx));
        let body = review(i as usize);
        tasks.push(tokio::spawn(async move {
            let mut sender = rx.lock().await.recv().await.expect("a connection");
            let req = Request::post("/validate")
                .header("host", "localhost")
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(body)))
                .expect("request");
            let ok = match sender.send_request(req).await {
                Ok(resp) => {
                    let status = resp.status();
                    let body = resp.into_body().collect().await;
                    status == 200 && body.is_ok()
                }
                Err(_) => false,
            };
            let latency = scheduled.elapsed().as_micros() as u64;
            let _ = tx.send(sender).await;
            (latency, ok)
        }));
    }
    let mut lat = Vec::with_capacity(tasks.len());
    let mut errors = 0;
    for t in tasks {
        let (l, ok) = t.await.expect("task");
        lat.push(l);
        if !ok {
            errors += 1;
        }
    }
    lat.sort_unstable();
    (lat, errors)
}

fn pct(sorted: &[u64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i] as f64 / 1000.0
}

fn main() {
    let mut args = std::env::args().skip(1);
    let bin = args
        .next()
        .expect("usage: serve_load PATH/TO/policy [seconds] [rates]");
    let seconds: u64 = args.next().map_or(10, |s| s.parse().expect("seconds"));
    let rates: Vec<u64> = args.next().map_or(vec![200, 500, 1000], |s| {
        s.split(',').map(|r| r.parse().expect("rate")).collect()
    });
    let (soak, soak_rate): (u64, u64) = args.next().map_or((100_000, 1000), |s| {
        let (n, r) = s.split_once('@').expect("soak: N@RATE");
        (n.parse().expect("soak"), r.parse().expect("soak rate"))
    });

    let dir = tempfile::tempdir().expect("tempdir");
    let ca_key = KeyPair::generate().expect("key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "bench CA");
    let ca = ca_params.self_signed(&ca_key).expect("CA");
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(vec!["localhost".into()]).expect("params");
    params
        .subject_alt_names
        .push(SanType::IpAddress([127, 0, 0, 1].into()));
    let cert = params.signed_by(&key, &ca, &ca_key).expect("cert");
    std::fs::write(dir.path().join("tls.crt"), cert.pem()).expect("write");
    std::fs::write(dir.path().join("tls.key"), key.serialize_pem()).expect("write");
    std::fs::create_dir(dir.path().join("policies")).expect("mkdir");
    let policy_file = dir.path().join("policies/team.rego");
    std::fs::write(&policy_file, USER_POLICY).expect("write");
    std::fs::write(dir.path().join("deploy.json"), DEPLOYMENT).expect("write");

    let bin = std::fs::canonicalize(&bin).expect("the policy binary");
    let mut child = Command::new(&bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--tls-cert", "tls.crt"])
        .args(["--tls-key", "tls.key", "-p", "policies", "--no-config"])
        .args(["--fail-on", "high", "--reload-interval", "200"])
        .current_dir(dir.path())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn policy serve");
    let pid = child.id();
    let stderr = child.stderr.take().expect("stderr");
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for l in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(l);
        }
    });
    let addr: std::net::SocketAddr = loop {
        let l = lines
            .recv_timeout(Duration::from_secs(120))
            .expect("the server did not start");
        if let Some(a) = l.strip_prefix("policy serve: listening on https://") {
            break a.parse().expect("address");
        }
    };

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca.der().to_vec()))
        .expect("CA");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");

    // Warm up (first evaluations build caches), then measure.
    rt.block_on(run_rate(addr, &tls, 100, 2));
    let rss_before = rss_kib(pid);
    println!("| rate (req/s) | requests | p50 (ms) | p99 (ms) | p99.9 (ms) | max (ms) | errors | server CPU per request (ms) |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut sent = 0;
    let mut cpu_per_request = f64::NAN;
    let row = |rate: u64, lat: &[u64], errors: usize, cpu: f64| {
        println!(
            "| {rate} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {errors} | {cpu:.2} |",
            lat.len(),
            pct(lat, 0.5),
            pct(lat, 0.99),
            pct(lat, 0.999),
            pct(lat, 1.0)
        );
    };
    let mut p50_first = f64::NAN;
    for &rate in &rates {
        let cpu0 = cpu_ms(pid);
        let (lat, errors) = rt.block_on(run_rate(addr, &tls, rate, seconds));
        let cpu = (cpu_ms(pid) - cpu0) / lat.len() as f64;
        if cpu_per_request.is_nan() {
            cpu_per_request = cpu;
            p50_first = pct(&lat, 0.5);
        }
        sent += lat.len();
        row(rate, &lat, errors, cpu);
    }
    let rss_mid = rss_kib(pid);
    if soak > 0 {
        let cpu0 = cpu_ms(pid);
        let (lat, errors) = rt.block_on(run_rate(addr, &tls, soak_rate, soak.div_ceil(soak_rate)));
        let cpu = (cpu_ms(pid) - cpu0) / lat.len() as f64;
        sent += lat.len();
        print!("soak ");
        row(soak_rate, &lat, errors, cpu);
    }
    let rss_after = rss_kib(pid);
    println!("\nRSS: {rss_before} KiB after warm-up, {rss_mid} KiB after the rates, {rss_after} KiB after {sent} requests in all");

    // Two reloads under load: a new policy, then the old one back.
    let reload_rate = rates
        .iter()
        .copied()
        .find(|&r| r >= 500)
        .unwrap_or(rates[0]);
    let file = policy_file.clone();
    let reloader = std::thread::spawn(move || {
        for (i, text) in [
            USER_POLICY.replace("BEN001", "BEN002"),
            USER_POLICY.to_owned(),
        ]
        .iter()
        .enumerate()
        {
            std::thread::sleep(Duration::from_millis(1000 + 1000 * i as u64));
            std::fs::write(&file, text).expect("write");
        }
    });
    let (lat, errors) = rt.block_on(run_rate(addr, &tls, reload_rate, 5));
    reloader.join().expect("reloader");
    let reloads = lines
        .try_iter()
        .filter(|l| l.contains("policies reloaded"))
        .count();
    println!(
        "\nHot reload under load: {reloads} reloads during {} requests at {reload_rate} req/s, {errors} errors, p99 {:.2} ms",
        lat.len(),
        pct(&lat, 0.99)
    );

    // The alternatives: one `policy eval` process per object, and one for many objects.
    let eval = |target: &str| {
        let start = Instant::now();
        let out = Command::new(&bin)
            .args([
                "eval",
                "--no-config",
                "-p",
                "policies",
                "--fail-on",
                "high",
                target,
            ])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .status()
            .expect("policy eval");
        // 1: the privileged sidecar is a finding; anything else means it did not run.
        assert_eq!(out.code(), Some(1), "policy eval {target}");
        start.elapsed().as_secs_f64() * 1000.0
    };
    let n = 20;
    let per_process = (0..n).map(|_| eval("deploy.json")).sum::<f64>() / f64::from(n);
    let batch = 1000;
    std::fs::create_dir(dir.path().join("many")).expect("mkdir");
    for i in 0..batch {
        let text = DEPLOYMENT.replace(
            "\"name\":\"web\",\"namespace\"",
            &format!("\"name\":\"web-{i}\",\"namespace\""),
        );
        std::fs::write(dir.path().join(format!("many/d{i}.json")), text).expect("write");
    }
    let per_batched = eval("many") / f64::from(batch);
    println!("\nThe same Deployment checked by `policy eval`:");
    println!("- one process per object: {per_process:.1} ms per object ({n} runs): {:.0}x the server's p50 at {} req/s ({p50_first:.2} ms)", per_process / p50_first, rates[0]);
    println!("- {batch} objects in one process: {per_batched:.2} ms per object (wall, {} cores): the server's CPU per request ({cpu_per_request:.2} ms) is {:.2}x that", std::thread::available_parallelism().map_or(1, |n| n.get()), cpu_per_request / per_batched);

    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let status = child.wait().expect("wait");
    println!("server exit after SIGTERM: {status}");
    drop(dir);
}
