//! `policy serve`: the same policies as `policy eval`, enforced at Kubernetes admission.
//!
//! A front end like the CLI and the language server, over the same engine: it owns no
//! pipeline of its own ([`checker`] asks the engine for each check). What it adds is what
//! a webhook needs:
//!
//! * HTTPS (rustls, [`tls`]) with the certificate reloaded when cert-manager rotates it;
//! * the endpoints: `POST /validate` (AdmissionReview v1, [`admission`]), `POST
//!   /v1/evaluate` (a document in, the JSON report out), `GET /healthz`, `/readyz` and
//!   `/metrics` ([`metrics`]);
//! * behaviour under load and faults: a bounded worker pool that answers `429` when full
//!   ([`pool`]), a deadline per request, `400` with a JSON error for any malformed request,
//!   hot reload of policies and certificate, and a graceful drain on SIGTERM.
//!
//! HTTP is hyper's (HTTP/1.1), TLS is rustls's; nothing here parses HTTP or TLS by hand.

pub mod admission;
pub mod checker;
pub mod metrics;
pub mod pool;
pub mod tls;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::{json, Value};

use self::admission::{DecisionOptions, Operation};
use self::checker::Checker;
use self::metrics::{FindingLabels, Metrics};
use self::pool::Pool;
use self::tls::CertStore;
use crate::diagnostics::Report;
use crate::inputs::DocumentKind;
use crate::report::{self, Format};

/// A TLS handshake that takes longer than this is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything `policy serve` is told on its command line, besides the policies.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// `--listen`.
    pub listen: SocketAddr,
    /// `--tls-cert`: PEM certificate chain.
    pub tls_cert: PathBuf,
    /// `--tls-key`: PEM private key.
    pub tls_key: PathBuf,
    /// `--fail-on`, `--fail-on-warn`, `--enforce`.
    pub decision: DecisionOptions,
    /// `--workers`: evaluation threads.
    pub workers: usize,
    /// `--queue`: evaluations that may wait for a worker before `429`.
    pub queue: usize,
    /// `--request-timeout`.
    pub request_timeout: Duration,
    /// `--max-body-size`, in bytes.
    pub max_body: usize,
    /// `--drain-timeout`: how long SIGTERM waits for requests in flight.
    pub drain_timeout: Duration,
    /// `--reload-interval`: how often the policy and certificate files are looked at.
    pub reload_interval: Duration,
}

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The certificate or key is unusable.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The address cannot be bound, or the runtime cannot start. The reason is the
    /// error's source (printed after the `what` by the CLI's error chain).
    #[error("{what}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
}

/// Shared by every connection.
struct State {
    opts: ServeOptions,
    checker: Arc<Checker>,
    certs: Arc<CertStore>,
    pool: Pool,
    metrics: Arc<Metrics>,
    draining: AtomicBool,
}

/// Serves until SIGTERM or SIGINT, then drains and returns. Blocks the calling thread.
/// Prints `policy serve: listening on https://ADDR` to stderr once it accepts.
pub fn run(opts: ServeOptions, checker: Checker) -> Result<(), ServeError> {
    let certs = Arc::new(CertStore::load(&opts.tls_cert, &opts.tls_key)?);
    let tls_config = certs.server_config()?;
    let metrics = Arc::new(Metrics::new());
    let pool = Pool::new(opts.workers, opts.queue, metrics.in_flight.clone()).map_err(|e| {
        ServeError::Io {
            what: "cannot start the evaluation workers".into(),
            source: e,
        }
    })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("policy-serve-io")
        .enable_all()
        .build()
        .map_err(|e| ServeError::Io {
            what: "cannot start the async runtime".into(),
            source: e,
        })?;
    let state = Arc::new(State {
        opts,
        checker: Arc::new(checker),
        certs,
        pool,
        metrics,
        draining: AtomicBool::new(false),
    });
    let result = runtime.block_on(serve(state, tls_config));
    // Connections still open after the drain timeout are cut here.
    runtime.shutdown_timeout(Duration::from_millis(100));
    result
}

async fn serve(state: Arc<State>, tls_config: rustls::ServerConfig) -> Result<(), ServeError> {
    let listener = tokio::net::TcpListener::bind(state.opts.listen)
        .await
        .map_err(|e| ServeError::Io {
            what: format!("cannot listen on {}", state.opts.listen),
            source: e,
        })?;
    let local = listener.local_addr().map_err(|e| ServeError::Io {
        what: "cannot read the listening address".into(),
        source: e,
    })?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls_config));
    tokio::spawn(reload_loop(Arc::clone(&state)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    eprintln!("policy serve: listening on https://{local}");
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let tcp = match accepted {
                    Ok((tcp, _)) => tcp,
                    Err(e) => {
                        // Out of file descriptors and the like: wait, do not spin.
                        eprintln!("policy serve: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                let acceptor = acceptor.clone();
                let state = Arc::clone(&state);
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let Ok(Ok(stream)) =
                        tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await
                    else {
                        return;
                    };
                    let service = hyper::service::service_fn(move |req| {
                        handle(Arc::clone(&state), req)
                    });
                    let conn = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(Duration::from_secs(10))
                        .serve_connection(TokioIo::new(stream), service);
                    let _ = watcher.watch(conn).await;
                });
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    state.draining.store(true, Ordering::SeqCst);
    eprintln!("policy serve: draining (no new connections; waiting for requests in flight)");
    if tokio::time::timeout(state.opts.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        eprintln!(
            "policy serve: drain timeout ({} ms) reached; closing the remaining connections",
            state.opts.drain_timeout.as_millis()
        );
    }
    eprintln!("policy serve: stopped");
    Ok(())
}

/// SIGTERM (Kubernetes) or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Looks at the policy and certificate files every `--reload-interval`.
async fn reload_loop(state: Arc<State>) {
    let mut tick = tokio::time::interval(state.opts.reload_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let s = Arc::clone(&state);
        // Loading policies is CPU work: off the reactor.
        let outcomes = tokio::task::spawn_blocking(move || s.checker.reload_if_changed()).await;
        for outcome in outcomes.unwrap_or_default() {
            match outcome {
                checker::ReloadOutcome::Accepted => {
                    state.metrics.reload("policies", true);
                    eprintln!("policy serve: policies reloaded");
                }
                checker::ReloadOutcome::Rejected(e) => {
                    state.metrics.reload("policies", false);
                    eprintln!("policy serve: {e}");
                    for err in &e.new_errors {
                        eprintln!(
                            "policy serve: {}:{}:{}: {}",
                            err.file, err.line, err.column, err.message
                        );
                    }
                }
            }
        }
        match state.certs.reload_if_changed() {
            Ok(false) => {}
            Ok(true) => {
                state.metrics.reload("certificate", true);
                eprintln!("policy serve: TLS certificate reloaded");
            }
            Err(e) => {
                state.metrics.reload("certificate", false);
                eprintln!("policy serve: keeping the current TLS certificate: {e}");
            }
        }
    }
}

/// One answer, with what the metrics need to know about it.
struct Reply {
    response: Response<Full<Bytes>>,
    outcome: &'static str,
    dry_run: bool,
}

impl Reply {
    fn json(status: StatusCode, body: &Value, outcome: &'static str) -> Reply {
        let mut bytes = serde_json::to_vec(body).unwrap_or_default();
        bytes.push(b'\n');
        Reply::bytes(status, "application/json", bytes, outcome)
    }

    fn bytes(
        status: StatusCode,
        content_type: &'static str,
        body: Vec<u8>,
        outcome: &'static str,
    ) -> Reply {
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        Reply {
            response,
            outcome,
            dry_run: false,
        }
    }

    /// A JSON error: `{"error": {"code": N, "message": "..."}}`.
    fn error(status: StatusCode, message: impl Into<String>) -> Reply {
        let outcome = match status {
            StatusCode::TOO_MANY_REQUESTS => "overloaded",
            StatusCode::GATEWAY_TIMEOUT => "timeout",
            s if s.is_client_error() => "bad_request",
            _ => "error",
        };
        Reply::json(
            status,
            &json!({ "error": { "code": status.as_u16(), "message": message.into() } }),
            outcome,
        )
    }
}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let start = Instant::now();
    let deadline = start + state.opts.request_timeout;
    let (endpoint, reply) = route(&state, req, deadline).await;
    state.metrics.request(
        endpoint,
        reply.outcome,
        reply.dry_run,
        start.elapsed().as_secs_f64(),
    );
    Ok(reply.response)
}

async fn route(
    state: &Arc<State>,
    req: Request<Incoming>,
    deadline: Instant,
) -> (&'static str, Reply) {
    let path = req.uri().path().to_owned();
    // `/validate/LEVEL[/VERSION]`: the webhook's own path names its Pod Security level.
    let route_path = if path.starts_with("/validate/") {
        "/validate"
    } else {
        path.as_str()
    };
    let allowed: &[Method] = match route_path {
        "/validate" | "/v1/evaluate" => &[Method::POST],
        "/healthz" | "/readyz" | "/metrics" => &[Method::GET, Method::HEAD],
        _ => {
            return (
                "other",
                Reply::error(StatusCode::NOT_FOUND, format!("no endpoint {path}: use POST /validate[/LEVEL[/VERSION]], POST /v1/evaluate, GET /healthz, /readyz or /metrics")),
            )
        }
    };
    let endpoint = match route_path {
        "/validate" => "validate",
        "/v1/evaluate" => "evaluate",
        "/healthz" => "healthz",
        "/readyz" => "readyz",
        _ => "metrics",
    };
    if !allowed.contains(req.method()) {
        let mut reply = Reply::error(
            StatusCode::METHOD_NOT_ALLOWED,
            format!(
                "{} {path} is not supported: use {}",
                req.method(),
                allowed[0]
            ),
        );
        let allow = allowed
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        if let Ok(v) = HeaderValue::from_str(&allow) {
            reply.response.headers_mut().insert("allow", v);
        }
        return (endpoint, reply);
    }
    let reply = match endpoint {
        "validate" => validate(state, req, deadline).await,
        "evaluate" => evaluate(state, req, deadline).await,
        "healthz" => Reply::bytes(StatusCode::OK, "text/plain", b"ok\n".to_vec(), "ok"),
        "readyz" => readyz(state),
        _ => Reply::bytes(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            state.metrics.encode().into_bytes(),
            "ok",
        ),
    };
    (endpoint, reply)
}

/// Ready: not draining, the policies loaded (the server does not start otherwise; a
/// rejected reload keeps the last good set), and the certificate in use matches its key
/// and is inside its validity window (an expired certificate that cert-manager failed to
/// renew takes the replica out of the Service before the API server's calls fail).
fn readyz(state: &State) -> Reply {
    if state.draining.load(Ordering::SeqCst) {
        return Reply::error(StatusCode::SERVICE_UNAVAILABLE, "draining: shutting down");
    }
    let pair = state.certs.current();
    if let Err(e) = pair.keys_match() {
        return Reply::error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the TLS certificate is not usable: {e}"),
        );
    }
    if let Some(problem) = tls::validity_problem(&pair, std::time::SystemTime::now()) {
        return Reply::error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the TLS certificate is not usable: {problem}"),
        );
    }
    Reply::bytes(StatusCode::OK, "text/plain", b"ready\n".to_vec(), "ok")
}

/// The media type of a request, lower-case, without parameters.
fn media_type(req: &Request<Incoming>) -> Option<String> {
    let v = req.headers().get(CONTENT_TYPE)?.to_str().ok()?;
    Some(v.split(';').next()?.trim().to_ascii_lowercase())
}

/// Reads the body, refusing one larger than `--max-body-size` or slower than the deadline.
///
/// A body declared or found too large is still read and thrown away up to twice the
/// limit: closing a socket with unread data makes the kernel reset the connection, and
/// the client would see a broken pipe instead of the `400` that says why. Beyond twice
/// the limit the connection is cut.
async fn read_body(
    state: &State,
    req: Request<Incoming>,
    deadline: Instant,
) -> Result<Bytes, Reply> {
    let max = state.opts.max_body;
    let drain_cap = max.saturating_mul(2) as u64;
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = || {
        Reply::error(
            StatusCode::BAD_REQUEST,
            format!("the body is larger than the limit of {max} bytes (--max-body-size)"),
        )
    };
    if declared.is_some_and(|n| n > drain_cap) {
        return Err(too_large());
    }
    let mut body = req.into_body();
    let mut buf: Vec<u8> = Vec::new();
    let mut seen: u64 = 0;
    let read_all = async {
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| format!("cannot read the body: {e}"))?;
            if let Ok(data) = frame.into_data() {
                seen += data.len() as u64;
                if seen <= max as u64 {
                    buf.extend_from_slice(&data);
                } else if seen > drain_cap {
                    break;
                }
            }
        }
        Ok::<(), String>(())
    };
    match tokio::time::timeout_at(deadline.into(), read_all).await {
        Err(_) => Err(Reply::error(
            StatusCode::REQUEST_TIMEOUT,
            "the body did not arrive before the request deadline (--request-timeout)",
        )),
        Ok(Err(e)) => Err(Reply::error(StatusCode::BAD_REQUEST, e)),
        Ok(Ok(())) if seen > max as u64 || declared.is_some_and(|n| n > max as u64) => {
            Err(too_large())
        }
        Ok(Ok(())) => Ok(Bytes::from(buf)),
    }
}

/// The Pod Security level a `/validate` request asks for, as a `--pss` value, with how it
/// was written (for messages): from the path, `/validate/LEVEL` or
/// `/validate/LEVEL/VERSION`, which is what a webhook configuration can say (the API
/// server accepts only DNS-1123 path segments in `clientConfig.service.path` and no query
/// in `clientConfig.url`), or from `?pss=LEVEL[@VERSION]`, for other clients. `Err` is the
/// message for a path that is no endpoint, or one that says the level twice.
fn requested_pss(path: &str, query: Option<&str>) -> Result<Option<(String, String)>, String> {
    let from_query = query_param(query, "pss").map(|v| (v.clone(), format!("?pss={v}")));
    let rest = path.strip_prefix("/validate").unwrap_or_default();
    let segments: Vec<&str> = rest.split('/').skip(1).collect();
    let from_path = match segments.as_slice() {
        [] => None,
        [level] if !level.is_empty() => Some(((*level).to_owned(), format!("level {path}"))),
        [level, version] if !level.is_empty() && !version.is_empty() => {
            Some((format!("{level}@{version}"), format!("level {path}")))
        }
        _ => {
            return Err(format!(
                "no endpoint {path}: use POST /validate[/LEVEL[/VERSION]]"
            ))
        }
    };
    match (from_path, from_query) {
        (Some(_), Some(_)) => Err(format!(
            "{path} names a Pod Security level and so does ?pss=: use one of them"
        )),
        (p, q) => Ok(p.or(q)),
    }
}

/// The value of `name` in a query string, percent-decoded.
fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k) == name).then(|| percent_decode(v))
    })
}

/// `%40` → `@`, `+` → space (application/x-www-form-urlencoded, as URLs carry queries).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Waits for a pool job until the deadline; `Err` is the reply for a full pool, a
/// deadline or a lost job.
async fn run_job<T: Send + 'static>(
    state: &State,
    deadline: Instant,
    job: impl FnOnce() -> T + Send + 'static,
) -> Result<T, JobFailure> {
    let rx = state
        .pool
        .submit(deadline, job)
        .map_err(|_| JobFailure::Full)?;
    match tokio::time::timeout_at(deadline.into(), rx).await {
        Err(_) => Err(JobFailure::Deadline),
        Ok(Err(_)) if Instant::now() >= deadline => Err(JobFailure::Deadline),
        Ok(Err(_)) => Err(JobFailure::Lost),
        Ok(Ok(v)) => Ok(v),
    }
}

enum JobFailure {
    Full,
    Deadline,
    Lost,
}

impl JobFailure {
    fn message(&self, timeout: Duration) -> String {
        match self {
            JobFailure::Full => {
                "every evaluation worker is busy and the queue is full: retry later".into()
            }
            JobFailure::Deadline => format!(
                "policy evaluation did not finish within the request timeout of {} ms \
                 (--request-timeout)",
                timeout.as_millis()
            ),
            JobFailure::Lost => {
                "policy evaluation failed unexpectedly (a bug): see the server log".into()
            }
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            JobFailure::Full => StatusCode::TOO_MANY_REQUESTS,
            JobFailure::Deadline => StatusCode::GATEWAY_TIMEOUT,
            JobFailure::Lost => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// `POST /validate`.
async fn validate(state: &Arc<State>, req: Request<Incoming>, deadline: Instant) -> Reply {
    match media_type(&req).as_deref() {
        Some("application/json") => {}
        other => {
            return Reply::error(
                StatusCode::BAD_REQUEST,
                format!(
                    "wrong content type {}: an AdmissionReview is sent as application/json",
                    other.map_or("(none)".to_owned(), |t| format!("{t:?}"))
                ),
            )
        }
    }
    let pss = match requested_pss(req.uri().path(), req.uri().query()) {
        Ok(pss) => pss,
        Err(message) => return Reply::error(StatusCode::NOT_FOUND, message),
    };
    if let Some((flag, written)) = &pss {
        if let Err(e) = crate::eval::pss::parse_flag(flag) {
            return Reply::error(
                StatusCode::BAD_REQUEST,
                format!(
                    "invalid {written}: {e} (use /validate/LEVEL[/VERSION] or \
                     ?pss=LEVEL[@VERSION], e.g. /validate/restricted/v1.30)"
                ),
            );
        }
    }
    let pss = pss.map(|(flag, _)| flag);
    let body = match read_body(state, req, deadline).await {
        Ok(b) => b,
        Err(reply) => return reply,
    };
    let review = match admission::parse_review(&body) {
        Ok(r) => r,
        Err(e) => return Reply::error(StatusCode::BAD_REQUEST, e.0),
    };
    let dry_run = review.dry_run;
    let with_dry_run = |mut r: Reply| {
        r.dry_run = dry_run;
        r
    };
    let object = match (&review.object, review.operation) {
        (Some(obj), Operation::Create | Operation::Update) => obj,
        // DELETE and CONNECT do not create anything for the rules to check.
        _ => {
            let d = admission::allow_unchecked();
            return with_dry_run(Reply::json(
                StatusCode::OK,
                &admission::response(&review.uid, &d),
                d.outcome,
            ));
        }
    };
    let object = object.clone();
    let context = review.review.clone();
    let checker = Arc::clone(&state.checker);
    let name = format!("{}.json", review.subject.replace(['/', ' '], "_"));
    let job = move || checker.check_object(pss.as_deref(), &name, &object, &context);
    let report = match run_job(state, deadline, job).await {
        Ok(Ok(report)) => report,
        Ok(Err(e)) => {
            return with_dry_run(Reply::json(
                StatusCode::INTERNAL_SERVER_ERROR,
                &admission::error_response(&review.uid, 500, &e.to_string()),
                "error",
            ))
        }
        Err(f) => {
            let status = f.status();
            let mut reply = Reply::json(
                status,
                &admission::error_response(
                    &review.uid,
                    status.as_u16(),
                    &f.message(state.opts.request_timeout),
                ),
                "error",
            );
            reply.outcome = Reply::error(status, "").outcome;
            return with_dry_run(reply);
        }
    };
    count_findings(&state.metrics, &report);
    let decision = admission::decide(&report, &review.subject, &state.opts.decision);
    with_dry_run(Reply::json(
        StatusCode::OK,
        &admission::response(&review.uid, &decision),
        decision.outcome,
    ))
}

fn count_findings(metrics: &Metrics, report: &Report) {
    for f in &report.findings {
        metrics
            .findings
            .get_or_create(&FindingLabels {
                rule: f.rule.id.clone(),
                severity: f.severity.as_str().to_owned(),
            })
            .inc();
    }
}

/// `POST /v1/evaluate?kind=KIND&name=NAME`: the body is the document (JSON, YAML or a
/// Dockerfile); the answer is the versioned JSON report (`policy eval --format json`),
/// with the exit code `policy eval` would give in the `x-policy-exit-code` header.
async fn evaluate(state: &Arc<State>, req: Request<Incoming>, deadline: Instant) -> Reply {
    let media = media_type(&req);
    let default_name = match media.as_deref() {
        Some("application/json") => "document.json",
        Some("application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml") => {
            "document.yaml"
        }
        Some("text/plain" | "text/x-dockerfile") => "document",
        other => {
            return Reply::error(
                StatusCode::BAD_REQUEST,
                format!(
                    "wrong content type {}: send application/json, application/yaml or text/plain",
                    other.map_or("(none)".to_owned(), |t| format!("{t:?}"))
                ),
            )
        }
    };
    let query = req.uri().query().map(str::to_owned);
    let kind = match query_param(query.as_deref(), "kind") {
        None => None,
        Some(k) => match DocumentKind::parse(&k) {
            Some(kind) => Some(kind),
            None => {
                return Reply::error(
                    StatusCode::BAD_REQUEST,
                    format!("unknown kind {k:?}: use {}", DocumentKind::names()),
                )
            }
        },
    };
    let name = query_param(query.as_deref(), "name")
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| {
            if kind == Some(DocumentKind::Dockerfile) {
                "Dockerfile".into()
            } else {
                default_name.into()
            }
        });
    let body = match read_body(state, req, deadline).await {
        Ok(b) => b,
        Err(reply) => return reply,
    };
    let text = match String::from_utf8(body.to_vec()) {
        Ok(t) => t,
        Err(e) => {
            return Reply::error(
                StatusCode::BAD_REQUEST,
                format!(
                    "the body is not UTF-8 text (byte {})",
                    e.utf8_error().valid_up_to()
                ),
            )
        }
    };
    let checker = Arc::clone(&state.checker);
    let job = move || checker.check_text(&name, &text, kind);
    let report = match run_job(state, deadline, job).await {
        Ok(Ok(report)) => report,
        Ok(Err(e)) => return Reply::error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(f) => return Reply::error(f.status(), f.message(state.opts.request_timeout)),
    };
    count_findings(&state.metrics, &report);
    let ropts = &state.opts.decision.report;
    let exit = report.exit_status(ropts).code();
    let mut out = Vec::new();
    if let Err(e) = report::reporter(Format::Json, ropts).write(&report, &mut out) {
        return Reply::error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    }
    let outcome = match exit {
        0 => "allowed",
        1 => "denied",
        _ => "error",
    };
    let mut reply = Reply::bytes(StatusCode::OK, "application/json", out, outcome);
    reply
        .response
        .headers_mut()
        .insert("x-policy-exit-code", HeaderValue::from(u16::from(exit)));
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_decoded() {
        assert_eq!(
            query_param(Some("pss=restricted%40v1.30&x=1"), "pss").as_deref(),
            Some("restricted@v1.30")
        );
        assert_eq!(
            query_param(Some("a=1&pss=baseline@v1.24"), "pss").as_deref(),
            Some("baseline@v1.24")
        );
        assert_eq!(query_param(Some("pss"), "pss").as_deref(), Some(""));
        assert_eq!(query_param(None, "pss"), None);
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz+b"), "%zz b");
    }

    #[test]
    fn the_level_comes_from_the_path_or_the_query() {
        let flag = |path, query| requested_pss(path, query).map(|p| p.map(|(f, _)| f));
        assert_eq!(flag("/validate", None), Ok(None));
        assert_eq!(
            flag("/validate/restricted", None),
            Ok(Some("restricted".into()))
        );
        assert_eq!(
            flag("/validate/baseline/v1.30", None),
            Ok(Some("baseline@v1.30".into()))
        );
        assert_eq!(
            flag("/validate", Some("pss=restricted%40v1.30")),
            Ok(Some("restricted@v1.30".into()))
        );
        assert!(flag("/validate/a/b/c", None)
            .unwrap_err()
            .starts_with("no endpoint /validate/a/b/c"));
        assert!(flag("/validate//", None).is_err());
        assert!(flag("/validate/restricted", Some("pss=baseline"))
            .unwrap_err()
            .contains("use one of them"));
    }
}
