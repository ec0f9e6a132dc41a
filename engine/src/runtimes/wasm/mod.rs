//! WASM runtime: runs policy modules implementing ABI v1 (`sdk/ABI.md`) on wasmtime,
//! sandboxed.
//!
//! - One [`wasmtime::Engine`] per [`WasmHost`], with epoch interruption and a ticker thread
//!   ([`limits`]).
//! - Each module is compiled once and cached on disk by sha256 + engine config
//!   ([`cache`]); loading checks its imports/exports ([`pre`]), its ABI version and its
//!   metadata, and keeps an [`wasmtime::InstancePre`].
//! - Each evaluation gets a fresh `Store` ([`runtime`]) with memory/table/instance caps,
//!   a wall-time deadline and an output cap; a trap, timeout or bad reply becomes a
//!   [`WasmError`] for that policy and document, and the host stays usable.
//! - No WASI and no ambient authority: the only import a module may have is `env.log`.
//!
//! This module does not resolve locations or build findings: it returns the guest's
//! [`GuestFinding`]s (checked against the declared rules) and lets `eval` do the rest.

pub mod cache;
pub mod errors;
pub mod limits;
pub mod pre;
pub mod runtime;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use policy_sdk::abi::{
    EvaluateRequest, EvaluateResponse, GuestFinding, PolicyMetadata, ABI_VERSION,
};
use wasmtime::{Engine, InstancePre, Linker};

pub use cache::{default_cache_dir, CacheOutcome};
pub use errors::{Result, WasmError};
pub use limits::WasmLimits;
pub use runtime::{GuestLog, LogSink};
/// The trap codes carried by [`WasmError::Trap`].
pub use wasmtime::Trap;

use crate::inputs::DocumentKind;
use crate::rules::{RuleMeta, RuleOrigin, RuntimeKind};
use cache::ModuleCache;
use limits::EpochTicker;
use runtime::{HostState, Session};

/// The shared part of a host: engine, linker, cache, limits and the ticker.
struct HostInner {
    engine: Engine,
    linker: Linker<HostState>,
    cache: ModuleCache,
    limits: WasmLimits,
    // Dropped last among users of the engine's epoch; stops the thread.
    _ticker: EpochTicker,
}

/// Loads and runs WASM policies. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct WasmHost {
    inner: Arc<HostInner>,
    log_sink: Option<LogSink>,
}

impl std::fmt::Debug for WasmHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmHost")
            .field("limits", &self.inner.limits)
            .field("cache_dir", &self.inner.cache.dir())
            .finish_non_exhaustive()
    }
}

impl WasmHost {
    /// A host with these limits. `cache_dir` overrides where precompiled modules are kept
    /// (default: [`default_cache_dir`]); an unusable directory only disables the disk cache.
    pub fn new(limits: WasmLimits, cache_dir: Option<PathBuf>) -> Result<Self> {
        Self::build(limits, cache_dir.or_else(default_cache_dir))
    }

    /// A host that keeps compiled modules in memory only (no disk cache).
    pub fn without_disk_cache(limits: WasmLimits) -> Result<Self> {
        Self::build(limits, None)
    }

    fn build(limits: WasmLimits, cache_dir: Option<PathBuf>) -> Result<Self> {
        let engine_err = |e: wasmtime::Error| WasmError::Engine {
            message: e.to_string(),
        };
        let engine = Engine::new(&cache::engine_config()).map_err(engine_err)?;
        let linker = pre::linker(&engine).map_err(engine_err)?;
        let ticker = EpochTicker::start(engine.clone(), limits.epoch_tick).map_err(|e| {
            WasmError::Engine {
                message: format!("cannot start the epoch ticker thread: {e}"),
            }
        })?;
        let cache = ModuleCache::new(&engine, cache_dir);
        Ok(WasmHost {
            inner: Arc::new(HostInner {
                engine,
                linker,
                cache,
                limits,
                _ticker: ticker,
            }),
            log_sink: None,
        })
    }

    /// Sends guest `env.log` messages of policies loaded from now on to `sink`
    /// (by default they are dropped).
    pub fn with_log_sink(mut self, sink: LogSink) -> Self {
        self.log_sink = Some(sink);
        self
    }

    /// The limits in force.
    pub fn limits(&self) -> &WasmLimits {
        &self.inner.limits
    }

    /// The disk cache directory, when one is in use.
    pub fn cache_dir(&self) -> Option<&Path> {
        self.inner.cache.dir()
    }

    /// Loads a module: compile (or fetch from cache), check the ABI, read and validate the
    /// metadata. `path` names the module in rules and errors; `builtin` marks built-in
    /// policies.
    pub fn load(&self, path: &Path, bytes: &[u8], builtin: bool) -> Result<WasmPolicy> {
        self.load_traced(path, bytes, builtin).map(|(p, _)| p)
    }

    /// Like [`WasmHost::load`], also saying whether the module came from a cache.
    pub fn load_traced(
        &self,
        path: &Path,
        bytes: &[u8],
        builtin: bool,
    ) -> Result<(WasmPolicy, CacheOutcome)> {
        let inner = &self.inner;
        let (module, outcome, digest, cache_warning) = inner
            .cache
            .get_or_compile(&inner.engine, bytes)
            .map_err(|e| WasmError::Compile {
                path: path.to_owned(),
                message: e.to_string(),
                source: e.into(),
            })?;
        pre::check_module(path, &module)?;
        let pre = pre::instance_pre(&inner.linker, path, &module)?;

        let mut session = Session::new(&inner.engine, &pre, path, &inner.limits)?;
        let found = session.abi_version()?;
        if u32::try_from(found).ok() != Some(ABI_VERSION) {
            return Err(WasmError::AbiVersion {
                path: path.to_owned(),
                found,
                expected: ABI_VERSION,
            });
        }
        let reply = session.metadata()?;
        self.forward_logs(path, session.take_logs());
        drop(session);

        let (metadata, rules) = decode_metadata_reply(path, &reply, builtin)?;
        let rule_ids = rules.iter().map(|r| r.id.clone()).collect();
        Ok((
            WasmPolicy {
                metadata,
                rules,
                path: path.to_owned(),
                digest,
                rule_ids,
                pre,
                host: self.clone(),
                cache_warning,
            },
            outcome,
        ))
    }

    fn forward_logs(&self, path: &Path, logs: Vec<GuestLog>) {
        if let Some(sink) = &self.log_sink {
            for log in &logs {
                sink(path, log);
            }
        }
    }
}

/// Turns the metadata reply into rule metadata, refusing empty, duplicate or unknown data.
fn rule_metas(path: &Path, metadata: &PolicyMetadata, builtin: bool) -> Result<Vec<Arc<RuleMeta>>> {
    let bad = |message: String| WasmError::Metadata {
        path: path.to_owned(),
        message,
    };
    if metadata.rules.is_empty() {
        return Err(bad("the module declares no rules".into()));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(metadata.rules.len());
    for rule in &metadata.rules {
        let id = rule.id.trim();
        if id.is_empty() {
            return Err(bad("a rule has an empty `id`".into()));
        }
        if !seen.insert(id.to_owned()) {
            return Err(bad(format!("rule `{id}` is declared twice")));
        }
        let kinds = rule
            .kinds
            .iter()
            .map(|k| {
                DocumentKind::parse(k)
                    .ok_or_else(|| bad(format!("rule `{id}` names unknown document kind `{k}`")))
            })
            .collect::<Result<Vec<_>>>()?;
        out.push(Arc::new(RuleMeta {
            id: id.to_owned(),
            title: if rule.title.trim().is_empty() {
                id.to_owned()
            } else {
                rule.title.clone()
            },
            description: rule.description.clone(),
            severity: rule.severity,
            kinds,
            remediation: rule.remediation.clone(),
            references: rule.references.clone(),
            aliases: if builtin {
                crate::rules::peers::covered_by(id)
            } else {
                Vec::new()
            },
            origin: RuleOrigin {
                builtin,
                runtime: RuntimeKind::Wasm,
                file: path.display().to_string(),
                package: None,
            },
        }));
    }
    Ok(out)
}

/// A loaded, validated policy module. `Send + Sync`: evaluate from any thread.
#[derive(Clone)]
pub struct WasmPolicy {
    /// The metadata the module returned.
    pub metadata: PolicyMetadata,
    /// Its rules, ready for reporting. [`crate::eval::PolicySet::load`] removes those
    /// turned off; results the module still returns for them are dropped.
    pub rules: Vec<Arc<RuleMeta>>,
    path: PathBuf,
    digest: [u8; 32],
    rule_ids: HashSet<String>,
    pre: InstancePre<HostState>,
    host: WasmHost,
    cache_warning: Option<String>,
}

impl std::fmt::Debug for WasmPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmPolicy")
            .field("path", &self.path)
            .field("metadata", &self.metadata)
            .finish_non_exhaustive()
    }
}

impl super::CompiledPolicy for WasmPolicy {
    fn path(&self) -> &Path {
        &self.path
    }

    fn rules(&self) -> &[Arc<RuleMeta>] {
        &self.rules
    }

    fn disable_rules(&mut self, off: &dyn Fn(&RuleMeta) -> bool) -> Vec<Arc<RuleMeta>> {
        let (removed, kept) = std::mem::take(&mut self.rules)
            .into_iter()
            .partition(|r| off(r));
        self.rules = kept;
        removed
    }

    fn evaluate_document(
        &self,
        doc: &crate::inputs::Document,
        data: &serde_json::Value,
    ) -> std::result::Result<Vec<super::RawResult>, super::RuleFailure> {
        let request = EvaluateRequest {
            kind: doc.kind.as_str().to_string(),
            path: doc.path.to_string(),
            document: doc.value.clone(),
            settings: self.settings(data),
        };
        match self.evaluate(&request) {
            Ok(guest) => Ok(guest
                .into_iter()
                .filter_map(|g| {
                    let rule = self.rules.iter().find(|r| r.id == g.rule)?;
                    Some(super::RawResult {
                        rule: rule.clone(),
                        level: crate::diagnostics::Level::Deny,
                        message: g.msg,
                        location: super::RawLocation {
                            path: g.path,
                            line: g.line,
                            end_line: g.end_line,
                            column: g.column,
                            end_column: g.end_column,
                        },
                        severity: g.severity,
                    })
                })
                .collect()),
            Err(e) => Err(super::RuleFailure {
                rule: self
                    .rules
                    .iter()
                    .map(|r| r.id.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                file: self.path.display().to_string(),
                line: 1,
                column: 1,
                timeout: e.is_timeout(),
                message: e.to_string(),
            }),
        }
    }
}

impl WasmPolicy {
    /// The settings this module gets: `data.settings.<name>`, where the name is the one
    /// its metadata declares, else its file stem; `null` when there are none.
    pub fn settings(&self, data: &serde_json::Value) -> serde_json::Value {
        let name = if self.metadata.name.is_empty() {
            self.path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        } else {
            self.metadata.name.clone()
        };
        data.get("settings")
            .and_then(|s| s.get(&name))
            .cloned()
            .unwrap_or(serde_json::Value::Null)
    }

    /// Set when this load found a bad compile cache entry, discarded it and recompiled:
    /// names the file and the reason ([`CacheOutcome::Recompiled`]).
    pub fn cache_warning(&self) -> Option<&str> {
        self.cache_warning.as_deref()
    }

    /// Where the module was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// SHA-256 of the module bytes.
    pub fn digest(&self) -> [u8; 32] {
        self.digest
    }

    /// Evaluates one document in a fresh instance. Errors concern this policy and this
    /// document only; the policy stays usable.
    pub fn evaluate(&self, req: &EvaluateRequest) -> Result<Vec<GuestFinding>> {
        let inner = &self.host.inner;
        let request = serde_json::to_vec(req).map_err(|e| WasmError::BadReply {
            path: self.path.clone(),
            function: policy_sdk::abi::names::EVALUATE,
            message: format!("cannot encode the request: {e}"),
        })?;
        let mut session = Session::new(&inner.engine, &self.pre, &self.path, &inner.limits)?;
        let result = session.evaluate(&request);
        self.host.forward_logs(&self.path, session.take_logs());
        drop(session);
        let reply = result?;
        decode_evaluate_reply(&self.path, &self.rule_ids, &reply)
    }
}

/// Decodes the bytes a guest's `evaluate` returned: the findings of rules it declared, or
/// an error naming the module. Never panics, whatever the bytes (fuzz target `wasm_reply`).
pub fn decode_evaluate_reply(
    path: &Path,
    rule_ids: &HashSet<String>,
    reply: &[u8],
) -> Result<Vec<GuestFinding>> {
    let response: EvaluateResponse =
        serde_json::from_slice(reply).map_err(|e| WasmError::BadReply {
            path: path.to_owned(),
            function: policy_sdk::abi::names::EVALUATE,
            message: format!("reply is not an EvaluateResponse JSON object: {e}"),
        })?;
    match response {
        EvaluateResponse::Error { error } => Err(WasmError::Guest {
            path: path.to_owned(),
            message: error,
        }),
        EvaluateResponse::Findings { findings } => {
            if let Some(f) = findings.iter().find(|f| !rule_ids.contains(&f.rule)) {
                return Err(WasmError::UndeclaredRule {
                    path: path.to_owned(),
                    rule: f.rule.clone(),
                });
            }
            Ok(findings)
        }
    }
}

/// Decodes a guest's `metadata` reply into its rules, refusing empty, duplicate or
/// unknown data (fuzz target `wasm_reply`).
pub fn decode_metadata_reply(
    path: &Path,
    reply: &[u8],
    builtin: bool,
) -> Result<(PolicyMetadata, Vec<Arc<RuleMeta>>)> {
    let metadata: PolicyMetadata =
        serde_json::from_slice(reply).map_err(|e| WasmError::Metadata {
            path: path.to_owned(),
            message: format!("reply is not a PolicyMetadata JSON object: {e}"),
        })?;
    let rules = rule_metas(path, &metadata, builtin)?;
    Ok((metadata, rules))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + Clone>() {}

    #[test]
    fn host_and_policy_are_send_sync() {
        assert_send_sync::<WasmHost>();
        assert_send_sync::<WasmPolicy>();
    }
}
