//! `policy serve`: the command line of the admission webhook. Resolves the same policy
//! flags and `.policy.yaml` as `policy eval`, then hands over to [`crate::serve`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use clap::{ArgAction, Args};

use super::args::{ConfigArgs, PolicyArgs};
use super::eval::layers;
use super::ExitStatus;
use crate::report::ReportOptions;
use crate::serve::admission::DecisionOptions;
use crate::serve::checker::{Checker, SessionFactory, VariantError};
use crate::serve::{self, ServeOptions};
use crate::session::Session;
use crate::supply::live::map_paths;

pub(super) const SERVE_ABOUT: &str = "Serve the policies over HTTPS: a Kubernetes validating admission webhook and a JSON evaluation API.

Endpoints:
  POST /validate[/LEVEL[/VERSION]]       AdmissionReview admission.k8s.io/v1 in and out
                                         (the Pod Security level; or ?pss=LEVEL[@VERSION])
  POST /v1/evaluate[?kind=KIND&name=N]   a JSON, YAML or Dockerfile body in, the JSON report out
  GET  /healthz  /readyz  /metrics       liveness, readiness, Prometheus metrics

Findings at or above --fail-on deny the admission, lower ones become warnings; every
finding is an audit annotation. Policy files (-p, -d, .policy.yaml's lists) and the TLS
certificate are reloaded when they change; a broken policy edit keeps the last good set.";

pub(super) const SERVE_AFTER_HELP: &str = "Exit codes:
  0  stopped by SIGTERM or Ctrl-C after draining the requests in flight
  2  the configuration, the policies or the certificate cannot be used, or the address
     cannot be bound

See docs/admission.md for installing the webhook in a cluster.";

/// `policy serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Configuration file.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Policies.
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// The address and port to listen on.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:8443")]
    pub listen: SocketAddr,
    /// The PEM certificate chain to serve (reloaded when the file changes).
    #[arg(long, value_name = "FILE")]
    pub tls_cert: PathBuf,
    /// The PEM private key of the certificate (reloaded when the file changes).
    #[arg(long, value_name = "FILE")]
    pub tls_key: PathBuf,
    /// Deny admission on findings at or above this severity
    /// (critical, high, medium, low, info) [default: the configuration's `fail-on`, or low].
    #[arg(long, value_name = "SEVERITY")]
    pub fail_on: Option<String>,
    /// Let warn results deny too.
    #[arg(long)]
    pub fail_on_warn: bool,
    /// Deny admission requests (true), or only warn (false: audit mode, for a dry run of
    /// the webhook in a live cluster).
    #[arg(long, value_name = "BOOL", default_value_t = true, action = ArgAction::Set)]
    pub enforce: bool,
    /// Evaluation threads [default: one per core].
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub workers: usize,
    /// Evaluations that may wait for a worker; more are answered 429 at once.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub queue: usize,
    /// Deadline of one request in milliseconds; keep it below the webhook's
    /// timeoutSeconds.
    #[arg(long, value_name = "MS", default_value_t = 4000)]
    pub request_timeout: u64,
    /// Largest request body accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 8 * 1024 * 1024)]
    pub max_body_size: usize,
    /// How long SIGTERM waits for requests in flight, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 25_000)]
    pub drain_timeout: u64,
    /// How often the policy, data and certificate files are checked for changes, in
    /// milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub reload_interval: u64,
    /// Load the policies for this Pod Security level (`/validate/LEVEL[/VERSION]`) at start
    /// instead of on its first request; repeatable (e.g. --preload-pss baseline
    /// --preload-pss restricted@v1.30).
    #[arg(long, value_name = "LEVEL[@VERSION]")]
    pub preload_pss: Vec<String>,
    /// `oci://` policy bundles: verification and refresh.
    #[command(flatten)]
    pub bundles: super::supply::LiveArgs,
}

pub(super) fn run(a: ServeArgs) -> anyhow::Result<ExitStatus> {
    // The same layers as `policy eval`: the configuration file, then the flags.
    let mut base = layers(&a.config, Some(&a.policy), None)?;
    base.flags.fail_on.clone_from(&a.fail_on);
    base.require_policies = true;
    // Validates everything once; each Pod Security level starts its session the same way.
    let mut settings = base.clone().resolve()?;
    let fail_on = settings.fail_on;
    if a.request_timeout == 0 || a.reload_interval == 0 {
        bail!("--request-timeout and --reload-interval must be at least 1 millisecond");
    }
    // `oci://` bundles: pulled and verified now, loaded from their live paths; with
    // --policy-refresh a new bundle on the tag is linked once it verifies, and the reload
    // loop below picks it up like a local edit (docs/supply-chain.md).
    let mut live = super::supply::open_live(
        &a.bundles,
        settings.config.as_ref(),
        &mut settings.policy.paths,
    )?;
    let links = live
        .as_ref()
        .map(|l| l.links().to_vec())
        .unwrap_or_default();
    if let (Some(live), Some(every)) = (live.as_mut(), a.bundles.policy_refresh) {
        live.spawn(every, |event| eprintln!("policy serve: {event}"));
    }
    let factory: SessionFactory = Box::new(move |pss: Option<&str>| {
        let mut layers = base.clone();
        if let Some(flag) = pss {
            crate::eval::pss::parse_flag(flag).map_err(|source| VariantError::Pss {
                flag: flag.to_owned(),
                source,
            })?;
            layers.flags.pss = Some(flag.to_owned());
        }
        let mut settings = layers
            .resolve()
            .map_err(|e| VariantError::Options(e.to_string()))?;
        map_paths(&mut settings.policy.paths, &links);
        Session::new(settings).map_err(|e| VariantError::Options(e.to_string()))
    });
    let checker = Checker::new(factory, &a.preload_pss).map_err(|e| match e {
        VariantError::Load { errors, .. } => {
            for err in &errors {
                eprintln!(
                    "{}:{}:{}: error: {}",
                    err.file, err.line, err.column, err.message
                );
            }
            anyhow::anyhow!(
                "the policies do not load ({} errors); fix them and start again",
                errors.len()
            )
        }
        other => anyhow::Error::new(other),
    })?;
    if let Some(cfg) = &settings.config {
        let warnings = checker.variant(None)?.config_warnings();
        super::eval::print_config_warnings(cfg, &warnings);
    }
    let workers = if a.workers == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        a.workers
    };
    let opts = ServeOptions {
        listen: a.listen,
        tls_cert: a.tls_cert,
        tls_key: a.tls_key,
        decision: DecisionOptions {
            report: ReportOptions {
                fail_on,
                fail_on_warn: a.fail_on_warn,
                ..ReportOptions::default()
            },
            enforce: a.enforce,
        },
        workers,
        queue: a.queue,
        request_timeout: Duration::from_millis(a.request_timeout),
        max_body: a.max_body_size,
        drain_timeout: Duration::from_millis(a.drain_timeout),
        reload_interval: Duration::from_millis(a.reload_interval),
    };
    serve::run(opts, checker)?;
    drop(live);
    Ok(ExitStatus::Success)
}
