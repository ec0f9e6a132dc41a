//! The ship-phase options of `policy eval` (`--image`, `--verify-images`, `oci://`
//! policies) and the `policy push` / `policy pull` subcommands: glue between the command
//! line, the configuration file and [`crate::supply`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use serde_json::{json, Value};

use super::ExitStatus;
use crate::config::Config;
use crate::diagnostics::{ErrorKind, ErrorRecord};
use crate::inputs::{DocumentKind, FileReport};
use crate::source::{Position, Span};
use crate::supply::image::{Origin, VerifyOptions};
use crate::supply::live::{map_paths, LiveBundles, LiveOptions};
use crate::supply::{bundle, Registry, RegistryOptions, SigningKey};

/// Registry options shared by `eval`, `push` and `pull`.
#[derive(Debug, Clone, Args, Default)]
pub struct RegistryArgs {
    /// Allow plain HTTP for this registry host (`host` or `host:port`); repeatable.
    /// Loopback registries (localhost, 127.0.0.1) may always answer plain HTTP.
    #[arg(long = "insecure-registry", value_name = "HOST")]
    pub insecure_registries: Vec<String>,
    /// Deadline of one registry request, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub registry_timeout: u64,
}

/// The ship-phase options of `policy eval`.
#[derive(Debug, Clone, Args, Default)]
pub struct SupplyArgs {
    /// Check this registry image (resolves the tag, fetches manifest and config, never
    /// layers); repeatable. With only `--image`, no files are checked.
    #[arg(long = "image", value_name = "REF")]
    pub images: Vec<String>,
    /// Look up and verify cosign signatures: of `--image`/`images:` images (IMG005), and of
    /// every container image in Kubernetes workloads (K8S015).
    #[arg(long)]
    pub verify_images: bool,
    /// A trusted public key (PEM) for image signatures, added to `settings.trusted_keys`;
    /// repeatable.
    #[arg(long = "trusted-key", value_name = "FILE")]
    pub trusted_keys: Vec<PathBuf>,
    /// Refuse `oci://` policy bundles that this public key (PEM) has not signed (POL003);
    /// repeatable (any one key suffices).
    #[arg(long = "verify-key", value_name = "FILE")]
    pub verify_keys: Vec<PathBuf>,
    /// Registry options.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// `oci://` policy bundles in the long-running front ends (`policy watch`, `policy lsp`,
/// `policy serve`).
#[derive(Debug, Clone, Args, Default)]
pub struct LiveArgs {
    /// Refuse `oci://` policy bundles that this public key (PEM) has not signed, at start
    /// and at every refresh; repeatable (any one key suffices).
    #[arg(long = "verify-key", value_name = "FILE")]
    pub verify_keys: Vec<PathBuf>,
    /// Resolve the tags of `oci://` policy bundles again this often (`30s`, `5m`, `1h`);
    /// a new bundle is loaded once it verifies, otherwise the last good one stays.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub policy_refresh: Option<Duration>,
    /// Registry options.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// Parses `500ms`, `30s`, `5m`, `1h` (a bare number is seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (e.g. 30s, 5m, 1h)"))?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "" | "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (use ms, s, m or h)")),
    };
    if d.is_zero() {
        return Err(format!("{s:?}: the duration must be more than zero"));
    }
    Ok(d)
}

/// Pulls and verifies the `oci://` bundles among `paths` and points each at its live
/// path (`None` without any). A bundle that cannot be had is an error: a front end that
/// starts has no older set to fall back on.
pub(super) fn open_live(
    args: &LiveArgs,
    cfg: Option<&Config>,
    paths: &mut [PathBuf],
) -> anyhow::Result<Option<LiveBundles>> {
    let refs = LiveBundles::references(paths);
    if refs.is_empty() {
        if args.policy_refresh.is_some() {
            eprintln!("policy: warning: --policy-refresh: no oci:// policy bundle to refresh");
        }
        return Ok(None);
    }
    let verify = read_public_keys(&args.verify_keys)?;
    let cache = bundle::default_cache_dir()
        .context("cannot find a cache directory for policy bundles (set XDG_CACHE_HOME)")?;
    let opts = registry_options(&args.registry, cfg);
    let live = LiveBundles::open(&refs, opts, &cache, verify)?;
    map_paths(paths, live.links());
    Ok(Some(live))
}

/// The options of `policy lsp`'s `oci://` bundles (the server resolves its paths itself).
pub(super) fn live_options(args: &LiveArgs) -> anyhow::Result<LiveOptions> {
    Ok(LiveOptions {
        registry: registry_options(&args.registry, None),
        verify: read_public_keys(&args.verify_keys)?,
        refresh: args.policy_refresh,
        cache: None,
    })
}

/// `policy push`.
#[derive(Debug, Clone, Args)]
pub struct PushArgs {
    /// Where to push the bundle (`host/repo:tag`; an `oci://` prefix is allowed).
    #[arg(value_name = "REF")]
    pub reference: String,
    /// The policy directory to pack (its `*.rego`, `*.wasm`, `*.json`, `*.yaml` files).
    #[arg(short = 'p', long = "policy", value_name = "DIR")]
    pub dir: PathBuf,
    /// Sign the bundle with this PKCS#8 PEM private key (ECDSA P-256, Ed25519 or RSA),
    /// cosign-style.
    #[arg(long, value_name = "FILE")]
    pub sign_key: Option<PathBuf>,
    /// Registry options.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// `policy sign`.
#[derive(Debug, Clone, Args)]
pub struct SignArgs {
    /// The image or policy bundle to sign (`host/repo:tag` or `host/repo@sha256:...`; an
    /// `oci://` prefix is allowed). A tag is resolved to the digest that is signed.
    #[arg(value_name = "REF")]
    pub reference: String,
    /// The PKCS#8 PEM private key (ECDSA P-256, Ed25519 or RSA).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Registry options.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// `policy pull`.
#[derive(Debug, Clone, Args)]
pub struct PullArgs {
    /// The bundle to pull (`host/repo:tag` or `@sha256:...`; an `oci://` prefix is allowed).
    #[arg(value_name = "REF")]
    pub reference: String,
    /// The directory to write its files into.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Refuse the bundle unless this public key (PEM) signed it; repeatable.
    #[arg(long = "verify-key", value_name = "FILE")]
    pub verify_keys: Vec<PathBuf>,
    /// Registry options.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

fn registry_options(args: &RegistryArgs, cfg: Option<&Config>) -> RegistryOptions {
    let mut insecure = args.insecure_registries.clone();
    if let Some(cfg) = cfg {
        insecure.extend(cfg.insecure_registries.iter().cloned());
    }
    RegistryOptions {
        insecure,
        timeout: Duration::from_secs(args.registry_timeout.max(1)),
        docker_config: None,
    }
}

fn registry(args: &RegistryArgs, cfg: Option<&Config>) -> anyhow::Result<Registry> {
    Ok(Registry::new(registry_options(args, cfg))?)
}

fn read_public_keys(files: &[PathBuf]) -> anyhow::Result<Vec<crate::supply::PublicKey>> {
    files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("cannot read key {}", f.display()))?;
            crate::supply::PublicKey::from_pem(f.display().to_string(), &text)
                .with_context(|| format!("{}", f.display()))
        })
        .collect()
}

/// The registry work of one `policy eval` run.
pub(super) struct Supply {
    args: SupplyArgs,
    reg: Option<Registry>,
    cfg_images: Vec<Origin>,
    keys: Vec<crate::supply::PublicKey>,
    key_errors: Vec<ErrorRecord>,
}

impl Supply {
    pub(super) fn new(args: &SupplyArgs, cfg: Option<&Config>) -> anyhow::Result<Supply> {
        let mut keys = read_public_keys(&args.trusted_keys)?;
        let mut key_errors = Vec::new();
        let mut cfg_images = Vec::new();
        if let Some(cfg) = cfg {
            let entries = cfg
                .settings
                .as_ref()
                .and_then(|s| s.get("trusted_keys"))
                .map(|v| match v {
                    Value::Array(a) => a.clone(),
                    other => vec![other.clone()],
                })
                .unwrap_or_default();
            let (k, errors) = crate::supply::load_trusted_keys(&entries, &cfg.base);
            keys.extend(k);
            for e in errors {
                key_errors.push(ErrorRecord::new(
                    ErrorKind::PolicyError,
                    cfg.file.display().to_string(),
                    1,
                    1,
                    e,
                ));
            }
            if !cfg.images.is_empty() {
                let text: std::sync::Arc<str> = std::fs::read_to_string(&cfg.file)
                    .unwrap_or_default()
                    .into();
                for (r, pos) in &cfg.images {
                    let end = Position::new(pos.line, pos.column + r.chars().count() as u32);
                    cfg_images.push(Origin {
                        reference: r.clone(),
                        file: cfg.file.display().to_string().into(),
                        text: text.clone(),
                        span: Span::new(*pos, end),
                    });
                }
            }
        }
        let mut insecure = args.registry.insecure_registries.clone();
        if let Some(cfg) = cfg {
            insecure.extend(cfg.insecure_registries.iter().cloned());
        }
        let mut args = args.clone();
        args.registry.insecure_registries = insecure;
        Ok(Supply {
            args,
            reg: None,
            cfg_images,
            keys,
            key_errors,
        })
    }

    /// Whether any registry image is to be checked.
    pub(super) fn has_images(&self) -> bool {
        !self.args.images.is_empty() || !self.cfg_images.is_empty()
    }

    fn reg(&mut self) -> anyhow::Result<&mut Registry> {
        if self.reg.is_none() {
            self.reg = Some(registry(&self.args.registry, None)?);
        }
        Ok(self.reg.as_mut().expect("just set"))
    }

    /// One report per registry image (command line first, then the configuration's).
    pub(super) fn image_inputs(&mut self) -> anyhow::Result<Vec<FileReport>> {
        let mut origins: Vec<Origin> = self
            .args
            .images
            .iter()
            .map(|r| Origin::command_line(r))
            .collect();
        origins.extend(self.cfg_images.iter().cloned());
        if origins.is_empty() {
            return Ok(Vec::new());
        }
        let verify = VerifyOptions {
            enabled: self.args.verify_images || !self.keys.is_empty(),
            keys: self.keys.clone(),
        };
        let reg = self.reg()?;
        Ok(origins
            .iter()
            .map(|o| crate::supply::image::load(reg, o, &verify))
            .collect())
    }

    /// Replaces `oci://` policy paths by their cached directories; failures (and refused
    /// signatures) come back as POL003 records, and the path is dropped.
    pub(super) fn resolve_bundles(
        &mut self,
        paths: &mut Vec<PathBuf>,
    ) -> anyhow::Result<Vec<ErrorRecord>> {
        let mut errors = self.key_errors.clone();
        if !paths.iter().any(|p| oci(p).is_some()) {
            return Ok(errors);
        }
        let verify = read_public_keys(&self.args.verify_keys)?;
        let cache = bundle::default_cache_dir()
            .context("cannot find a cache directory for policy bundles (set XDG_CACHE_HOME)")?;
        let reg = self.reg()?;
        let mut out = Vec::new();
        for p in std::mem::take(paths) {
            let Some(s) = oci(&p) else {
                out.push(p);
                continue;
            };
            match bundle::pull(reg, &s, &cache, &verify) {
                Ok(pulled) => out.push(pulled.dir),
                Err(e) => errors.push(ErrorRecord::new(
                    ErrorKind::PolicyError,
                    s.clone(),
                    1,
                    1,
                    e.to_string(),
                )),
            }
        }
        *paths = out;
        Ok(errors)
    }

    /// With `--verify-images`: the signature status of every container image in the
    /// Kubernetes documents, as `data.image_verification[IMAGE]` for K8S015.
    pub(super) fn workload_verification(
        &mut self,
        files: &[FileReport],
    ) -> anyhow::Result<Option<Value>> {
        if !self.args.verify_images {
            return Ok(None);
        }
        let mut images = BTreeMap::new();
        for doc in files.iter().flat_map(|f| &f.documents) {
            if doc.kind == DocumentKind::Kubernetes {
                container_images(&doc.value, 0, &mut images);
            }
        }
        let keys = self.keys.clone();
        let verify = VerifyOptions {
            enabled: true,
            keys,
        };
        let reg = self.reg()?;
        let mut out = serde_json::Map::new();
        for image in images.keys() {
            let report = crate::supply::image::load(reg, &Origin::command_line(image), &verify);
            out.insert(image.clone(), verification_summary(&report));
        }
        Ok(Some(json!({ "image_verification": out })))
    }
}

/// The `oci://` reference of a policy path (the configuration's entries may have been
/// joined onto its directory).
fn oci(p: &Path) -> Option<String> {
    crate::supply::live::oci_reference(p)
}

/// `{verified, digest, error}` of one workload image.
fn verification_summary(report: &FileReport) -> Value {
    if let Some(e) = report
        .errors
        .first()
        .filter(|_| report.documents.is_empty())
    {
        return json!({"verified": false, "digest": null, "error": e.message});
    }
    let Some(doc) = report.documents.first() else {
        return json!({"verified": false, "digest": null, "error": "no image"});
    };
    let digest = doc
        .value
        .pointer("/source/digest")
        .cloned()
        .unwrap_or(Value::Null);
    let sigs = doc
        .value
        .get("signatures")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if sigs
        .iter()
        .any(|s| s.get("verified") == Some(&Value::Bool(true)))
    {
        return json!({"verified": true, "digest": digest, "error": null});
    }
    let error = if sigs.is_empty() {
        "it has no cosign signature".to_string()
    } else {
        sigs.iter()
            .filter_map(|s| s.get("error").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("; ")
    };
    json!({"verified": false, "digest": digest, "error": error})
}

/// Every `image` of a container in a pod spec anywhere under `v`.
fn container_images(v: &Value, depth: usize, out: &mut BTreeMap<String, ()>) {
    if depth > 32 {
        return;
    }
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                if matches!(
                    k.as_str(),
                    "containers" | "initContainers" | "ephemeralContainers"
                ) {
                    for c in child.as_array().into_iter().flatten() {
                        if let Some(img) = c.get("image").and_then(Value::as_str) {
                            out.insert(img.to_string(), ());
                        }
                    }
                }
                container_images(child, depth + 1, out);
            }
        }
        Value::Array(items) => {
            for i in items {
                container_images(i, depth + 1, out);
            }
        }
        _ => {}
    }
}

/// Whether the user named any input path, or only `--image` (then `.` is not walked).
pub(super) fn only_images(supply: &Supply, paths: &[PathBuf]) -> bool {
    supply.has_images()
        && paths == [PathBuf::from(".")]
        && !std::env::args_os().skip(2).any(|a| a == ".")
}

/// `policy push REF -p DIR [--sign-key FILE]`.
pub(super) fn push(a: PushArgs, out: &mut dyn std::io::Write) -> anyhow::Result<ExitStatus> {
    let key = match &a.sign_key {
        Some(f) => {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("cannot read key {}", f.display()))?;
            Some(SigningKey::from_pem(&text).with_context(|| format!("{}", f.display()))?)
        }
        None => None,
    };
    let mut reg = registry(&a.registry, None)?;
    let reference = a.reference.strip_prefix("oci://").unwrap_or(&a.reference);
    let digest = bundle::push(&mut reg, reference, &a.dir, key.as_ref())?;
    writeln!(
        out,
        "pushed {} as {reference}@{digest}{}",
        a.dir.display(),
        if key.is_some() { " (signed)" } else { "" }
    )?;
    Ok(ExitStatus::Success)
}

/// `policy sign REF --key FILE`: what `cosign sign --key` stores, for pipelines without
/// cosign.
pub(super) fn sign(a: SignArgs, out: &mut dyn std::io::Write) -> anyhow::Result<ExitStatus> {
    let text = std::fs::read_to_string(&a.key)
        .with_context(|| format!("cannot read key {}", a.key.display()))?;
    let key = SigningKey::from_pem(&text).with_context(|| format!("{}", a.key.display()))?;
    let mut reg = registry(&a.registry, None)?;
    let reference = a.reference.strip_prefix("oci://").unwrap_or(&a.reference);
    let r = crate::supply::client::parse_reference(reference)?;
    let digest = reg.manifest(&r)?.digest;
    crate::supply::cosign::sign(&mut reg, &r, &digest, &key)?;
    writeln!(out, "signed {}/{}@{digest}", r.registry(), r.repository())?;
    Ok(ExitStatus::Success)
}

/// `policy pull REF DIR [--verify-key FILE]`.
pub(super) fn pull(a: PullArgs, out: &mut dyn std::io::Write) -> anyhow::Result<ExitStatus> {
    let verify = read_public_keys(&a.verify_keys)?;
    let mut reg = registry(&a.registry, None)?;
    let cache = bundle::default_cache_dir()
        .context("cannot find a cache directory for policy bundles (set XDG_CACHE_HOME)")?;
    let pulled = bundle::pull(&mut reg, &a.reference, &cache, &verify)?;
    let n = bundle::write_out(&pulled, &a.dir)?;
    writeln!(
        out,
        "pulled {} ({n} files) into {}",
        pulled.digest,
        display(&a.dir)
    )?;
    Ok(ExitStatus::Success)
}

fn display(p: &Path) -> String {
    p.display().to_string()
}
