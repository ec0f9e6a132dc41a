//! The protocol state machine and the session: open buffers, the policy set, and which
//! diagnostics are out of date.
//!
//! The session runs on one thread and the protocol front ([`super::front`]) on another:
//! hover and code actions are answered by the front from the last evaluation of the
//! buffer, at once, even while an evaluation runs here. What matters is not evaluating
//! stale text, and not making the user wait when the server is idle. Edits therefore mark
//! a buffer dirty, and dirty buffers are evaluated as soon as no message is queued (the
//! adaptive debounce: at once when idle; while an evaluation runs, the edits that arrive
//! queue up, and the next evaluation takes only the latest text). A result that is
//! already stale when it is ready (the front has seen newer edits) is dropped, unless the
//! buffer has published nothing for [`MAX_FLUSH_LAG`]. Policy reloads wait [`DEBOUNCE`],
//! so a save that the client reports twice (`didSave` and a file watcher) reloads once.
//!
//! Every message is handled under `catch_unwind`: a bug in one handler answers that
//! request with `InternalError` and the session goes on.

use std::collections::{BTreeSet, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, RequestId, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidChangeWatchedFiles, DidCloseTextDocument, DidOpenTextDocument,
    DidSaveTextDocument, LogMessage, Notification as _, PublishDiagnostics, ShowMessage,
};
use lsp_types::request::{CodeActionRequest, HoverRequest, Request as _};
use lsp_types::{
    CodeActionKind, CodeActionOptions, CodeActionProviderCapability, Diagnostic,
    DidChangeTextDocumentParams, DidChangeWatchedFilesParams, DidCloseTextDocumentParams,
    DidOpenTextDocumentParams, DidSaveTextDocumentParams, HoverProviderCapability,
    InitializeResult, LogMessageParams, MessageType, PositionEncodingKind, SaveOptions,
    ServerCapabilities, ServerInfo, ShowMessageParams, TextDocumentSyncCapability,
    TextDocumentSyncKind, TextDocumentSyncOptions, TextDocumentSyncSaveOptions, Uri,
};
use serde::de::DeserializeOwned;

use super::analysis::{self, Analysis, Loaded};
use super::position::{apply_changes, TextIndex};
use super::settings::{InitOptions, Settings};
use super::transport::MALFORMED;
use super::uri;
use super::workspace::Workspace;
use super::LspError;
use crate::config;
use crate::diagnostics::{ErrorRecord, Report};
use crate::eval::incremental::Incremental;
use crate::eval::{cluster, PolicyOptions, PolicySet, ReloadRejected, Worker};
use crate::inputs::{Document, FileReport};
use crate::rules::{RuleMeta, POLICY_EXTENSIONS};
use crate::session::Session;
use crate::supply::bundle;
use crate::supply::live::{map_paths, LiveBundles, LiveOptions, RefreshEvent};

/// How long policy-file events are collected before the policies are reloaded.
pub const DEBOUNCE: Duration = Duration::from_millis(150);

/// How long pending work may wait while messages keep arriving, and how long a buffer
/// under a stream of edits may go without published diagnostics.
const MAX_FLUSH_LAG: Duration = Duration::from_secs(1);

/// At most this many policy errors are listed in one message.
const MAX_LISTED_ERRORS: usize = 10;

/// How the session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// `shutdown` then `exit`: the process should exit with 0.
    Clean,
    /// `exit` without `shutdown`, or the input ended: exit with 1.
    WithoutShutdown,
}

/// The server's capabilities.
pub fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        position_encoding: Some(PositionEncodingKind::UTF16),
        text_document_sync: Some(TextDocumentSyncCapability::Options(
            TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(TextDocumentSyncKind::INCREMENTAL),
                save: Some(TextDocumentSyncSaveOptions::SaveOptions(SaveOptions {
                    include_text: Some(false),
                })),
                ..TextDocumentSyncOptions::default()
            },
        )),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
            code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
            ..CodeActionOptions::default()
        })),
        ..ServerCapabilities::default()
    }
}

/// Runs a whole session on `conn`: the `initialize` handshake, then messages until
/// `exit` or the end of input.
pub fn serve(conn: &Connection) -> Result<Exit, LspError> {
    serve_with(conn, LiveOptions::default())
}

/// [`serve`], with `oci://` policy bundles (in `policyPaths` or the configuration's
/// `policies`) verified and refreshed as `bundles` says: a new bundle on a tag reloads
/// the policies once it verifies; one that does not is shown as an error and the last
/// good set stays.
pub fn serve_with(conn: &Connection, bundles: LiveOptions) -> Result<Exit, LspError> {
    let Some((id, params)) = wait_for_initialize(conn)? else {
        return Ok(Exit::WithoutShutdown);
    };
    let (root, init, mut problems) = read_initialize(&params);
    let watch = params
        .pointer("/capabilities/workspace/didChangeWatchedFiles/dynamicRegistration")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let result = InitializeResult {
        capabilities: capabilities(),
        server_info: Some(ServerInfo {
            name: "policy".to_string(),
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
        }),
    };
    send(&conn.sender, Response::new_ok(id, result))?;
    let (mut settings, more) = Settings::resolve(&root, init);
    problems.extend(more);
    let mut live = Live::new(bundles);
    problems.extend(live.link(&mut settings));
    let session = Session::new(settings.resolved.clone())
        .map_err(|e| LspError::Io(std::io::Error::other(e.to_string())))?;
    let mut server = Server::new(conn.sender.clone(), settings, session, watch);
    server.live = live;
    // The front answers hover and code actions while this thread evaluates.
    let (to_session, from_front) = crossbeam_channel::unbounded();
    {
        let (from_client, to_client) = (conn.receiver.clone(), conn.sender.clone());
        let shared = Arc::clone(&server.shared);
        std::thread::Builder::new()
            .name("policy-lsp-front".into())
            .spawn(move || super::front::run(from_client, to_client, to_session, shared))
            .map_err(LspError::Io)?;
    }
    for p in problems {
        server.show(MessageType::WARNING, p);
    }
    server.watch_disk();
    let errors = server.set.errors.clone();
    server.config_warnings();
    server.after_load(&errors, false, true);
    server.run(&from_front)
}

/// Waits for `initialize`, answering anything else as the protocol requires. `None`
/// when the client exits or disconnects first.
fn wait_for_initialize(
    conn: &Connection,
) -> Result<Option<(RequestId, serde_json::Value)>, LspError> {
    for msg in &conn.receiver {
        match msg {
            Message::Request(req) if req.method == "initialize" => {
                return Ok(Some((req.id, req.params)));
            }
            Message::Request(req) => send(
                &conn.sender,
                Response::new_err(
                    req.id,
                    ErrorCode::ServerNotInitialized as i32,
                    format!("{}: the server is not initialized yet", req.method),
                ),
            )?,
            Message::Notification(n) if n.method == "exit" => return Ok(None),
            Message::Notification(n) if n.method == MALFORMED => {
                if let Some(id) = malformed_id(&n) {
                    send(&conn.sender, invalid_request(id, &n))?;
                }
            }
            // Other notifications before initialize are dropped, as the spec says.
            Message::Notification(_) | Message::Response(_) => {}
        }
    }
    Ok(None)
}

/// The workspace root, the options, and problems with them, from `initialize` params.
/// Read from the raw JSON so that one odd field elsewhere cannot fail the handshake.
fn read_initialize(params: &serde_json::Value) -> (PathBuf, InitOptions, Vec<String>) {
    let mut problems = Vec::new();
    let from_uri = |v: Option<&serde_json::Value>| {
        v.and_then(|v| v.as_str())
            .and_then(|s| s.parse::<Uri>().ok())
            .and_then(|u| uri::to_path(&u))
    };
    let cwd = std::env::current_dir().unwrap_or_default();
    let root = from_uri(params.get("rootUri"))
        .or_else(|| from_uri(params.pointer("/workspaceFolders/0/uri")))
        .or_else(|| {
            params
                .get("rootPath")
                .and_then(|v| v.as_str())
                .map(PathBuf::from)
        })
        .map(|p| config::options::normalize(&cwd, &p))
        .unwrap_or(cwd);
    let init = match params.get("initializationOptions") {
        None | Some(serde_json::Value::Null) => InitOptions::default(),
        Some(v) => serde_json::from_value(v.clone()).unwrap_or_else(|e| {
            problems.push(format!(
                "invalid initializationOptions ({e}); using the defaults"
            ));
            InitOptions::default()
        }),
    };
    (root, init, problems)
}

fn send(sender: &Sender<Message>, msg: impl Into<Message>) -> Result<(), LspError> {
    sender.send(msg.into()).map_err(|_| LspError::Disconnected)
}

fn malformed_id(n: &Notification) -> Option<RequestId> {
    serde_json::from_value(n.params.get("id")?.clone()).ok()
}

fn invalid_request(id: RequestId, n: &Notification) -> Response {
    let why = n.params["error"].as_str().unwrap_or("malformed message");
    Response::new_err(id, ErrorCode::InvalidRequest as i32, why.to_string())
}

/// An open buffer.
#[derive(Debug)]
struct OpenDoc {
    uri: Uri,
    language_id: String,
    version: i32,
    text: String,
    /// The last evaluation (of an older text while the buffer is dirty), shared with the
    /// front's snapshot.
    analysis: Arc<Analysis>,
    /// When diagnostics were last published for it.
    published_at: Option<Instant>,
    /// The buffer parsed at a version, as it joins the run of another buffer (`None`
    /// inside: nothing to evaluate, e.g. empty or excluded).
    parsed: Option<(i32, Option<Arc<FileReport>>)>,
    /// What its last evaluation computed, reused where the next one has the same inputs
    /// (documents whose value did not change, the same combined input).
    kept: Incremental,
    /// What its last parse read, reused for the documents whose text did not change.
    reuse: crate::inputs::yaml::Reuse,
}

/// The session.
struct Server {
    sender: Sender<Message>,
    settings: Settings,
    /// The engine: resolved settings, the policy set, and the watcher over the policy
    /// files on disk (which works whatever the client supports).
    session: Session,
    /// Policy files the session's watcher saw change on disk.
    disk_tx: Sender<PathBuf>,
    disk_rx: Receiver<PathBuf>,
    /// A policy file changed on disk: reload if it really changed since the last load.
    disk_pending: bool,
    /// The snapshot of the session's policy set the buffers are evaluated with.
    set: Arc<PolicySet>,
    rules: Vec<Arc<RuleMeta>>,
    worker: Worker,
    /// Keyed by the URI's text (`Uri` itself has interior mutability).
    docs: HashMap<String, OpenDoc>,
    /// Buffers edited since their last evaluation.
    dirty: BTreeSet<String>,
    /// Buffers whose cross-document findings may have changed (another buffer or a
    /// workspace file changed): evaluated with the dirty ones, published only when their
    /// diagnostics differ.
    related: BTreeSet<String>,
    /// The workspace's files on disk, for cross-document rules.
    workspace: Workspace,
    /// Said once: the workspace has more files than are read.
    said_truncated: bool,
    /// A policy file changed: reload before evaluating anything else.
    reload_pending: bool,
    /// When the pending reload is done.
    deadline: Option<Instant>,
    /// Since when buffers have been waiting to be evaluated.
    eval_since: Option<Instant>,
    /// The last evaluation of each buffer, for the front, and the versions it has seen.
    shared: Arc<super::front::Shared>,
    /// Policy files that have load-error diagnostics, to clear after a good reload.
    policy_error_files: Vec<Uri>,
    /// Register file watchers for policy files when `initialized` arrives.
    watch: bool,
    shutdown: bool,
    next_id: i32,
    /// The `oci://` policy bundles and their refreshes.
    live: Live,
}

/// The `oci://` policy bundles of the session ([`crate::supply::live`]).
struct Live {
    opts: LiveOptions,
    bundles: Option<LiveBundles>,
    tx: Sender<RefreshEvent>,
    rx: Receiver<RefreshEvent>,
}

impl Live {
    fn new(opts: LiveOptions) -> Live {
        let (tx, rx) = crossbeam_channel::unbounded();
        Live {
            opts,
            bundles: None,
            tx,
            rx,
        }
    }

    /// Points the `oci://` paths of `settings` at their live paths, pulling (and
    /// verifying) the bundles when the set of references changed. A problem to show
    /// when a bundle cannot be had (its path then fails to load, naming it).
    fn link(&mut self, settings: &mut Settings) -> Option<String> {
        let refs = LiveBundles::references(&settings.resolved.policy.paths);
        let current: Vec<String> = self
            .bundles
            .as_ref()
            .map(|l| l.links().iter().map(|(r, _)| r.clone()).collect())
            .unwrap_or_default();
        let mut problem = None;
        if refs != current {
            self.bundles = None;
            if !refs.is_empty() {
                let cache = self.opts.cache.clone().or_else(bundle::default_cache_dir);
                let mut registry = self.opts.registry.clone();
                if let Some(cfg) = &settings.config {
                    registry
                        .insecure
                        .extend(cfg.insecure_registries.iter().cloned());
                }
                let opened = match cache {
                    Some(cache) => {
                        LiveBundles::open(&refs, registry, &cache, self.opts.verify.clone())
                            .map_err(|e| e.to_string())
                    }
                    None => Err(
                        "cannot find a cache directory for policy bundles (set XDG_CACHE_HOME)"
                            .to_string(),
                    ),
                };
                match opened {
                    Ok(mut live) => {
                        if let Some(every) = self.opts.refresh {
                            let tx = self.tx.clone();
                            live.spawn(every, move |event| {
                                let _ = tx.send(event);
                            });
                        }
                        self.bundles = Some(live);
                    }
                    Err(e) => problem = Some(format!("policy: {e}")),
                }
            }
        }
        if let Some(live) = &self.bundles {
            map_paths(&mut settings.resolved.policy.paths, live.links());
            map_paths(&mut settings.policy.paths, live.links());
        }
        problem
    }
}

impl Server {
    fn new(sender: Sender<Message>, settings: Settings, session: Session, watch: bool) -> Self {
        let set = session.policies();
        let (disk_tx, disk_rx) = crossbeam_channel::unbounded();
        Server {
            sender,
            settings,
            session,
            disk_tx,
            disk_rx,
            disk_pending: false,
            worker: Worker::new(&set),
            rules: set.rules(),
            set,
            docs: HashMap::new(),
            dirty: BTreeSet::new(),
            related: BTreeSet::new(),
            workspace: Workspace::default(),
            said_truncated: false,
            reload_pending: false,
            deadline: None,
            eval_since: None,
            shared: Arc::default(),
            policy_error_files: Vec::new(),
            watch,
            shutdown: false,
            next_id: 0,
            live: Live::new(LiveOptions::default()),
        }
    }

    fn run(&mut self, receiver: &Receiver<Message>) -> Result<Exit, LspError> {
        loop {
            // Pending evaluations are due at once: the biased select below handles every
            // queued message first, so a burst is coalesced into one evaluation.
            let due = match (self.deadline, self.eval_since) {
                (_, Some(_)) => Some(Instant::now()),
                (deadline, None) => deadline,
            };
            let timer = match due {
                Some(due) => crossbeam_channel::at(due),
                None => crossbeam_channel::never(),
            };
            // A client that never pauses still gets diagnostics, at most this late.
            let now = Instant::now();
            if self.deadline.is_some_and(|d| now >= d + MAX_FLUSH_LAG)
                || self.eval_since.is_some_and(|d| now >= d + MAX_FLUSH_LAG)
            {
                self.guarded(|s| s.flush_all());
                continue;
            }
            let disk = self.disk_rx.clone();
            // Biased: queued messages are handled before the debounce timer, so a burst of
            // edits already in the pipe is coalesced into one evaluation of the latest text.
            let bundles = self.live.rx.clone();
            let msg = crossbeam_channel::select_biased! {
                recv(receiver) -> msg => match msg {
                    Ok(msg) => msg,
                    Err(_) => return Ok(Exit::WithoutShutdown),
                },
                recv(disk) -> path => {
                    if let Ok(path) = path {
                        self.on_disk_change(&path);
                    }
                    continue;
                },
                recv(bundles) -> event => {
                    if let Ok(event) = event {
                        self.on_bundle(&event);
                    }
                    continue;
                },
                recv(timer) -> _ => {
                    self.guarded(|s| s.flush_all());
                    continue;
                },
            };
            match msg {
                Message::Request(req) => self.on_request(req)?,
                Message::Notification(n) if n.method == "exit" => {
                    return Ok(if self.shutdown {
                        Exit::Clean
                    } else {
                        Exit::WithoutShutdown
                    });
                }
                Message::Notification(n) => {
                    if !self.shutdown {
                        self.guarded(|s| s.on_notification(n));
                    }
                }
                // Answers to our own requests (watcher registration) need no action.
                Message::Response(_) => {}
            }
        }
    }

    /// Runs `f`, turning a panic into an error message instead of ending the session.
    fn guarded(&mut self, f: impl FnOnce(&mut Self)) -> bool {
        if catch_unwind(AssertUnwindSafe(|| f(self))).is_ok() {
            return true;
        }
        // The evaluator may be mid-evaluation; start from a fresh one.
        self.worker = Worker::new(&self.set);
        self.workspace.reset_prepared();
        self.show(
            MessageType::ERROR,
            "policy: internal error while handling a message (a bug; see the server's stderr)"
                .to_string(),
        );
        false
    }

    fn on_request(&mut self, req: Request) -> Result<(), LspError> {
        let id = req.id.clone();
        if self.shutdown {
            return send(
                &self.sender,
                Response::new_err(
                    id,
                    ErrorCode::InvalidRequest as i32,
                    "the server is shutting down".into(),
                ),
            );
        }
        let response = match req.method.as_str() {
            "shutdown" => {
                self.shutdown = true;
                Response::new_ok(id, serde_json::Value::Null)
            }
            "initialize" => Response::new_err(
                id,
                ErrorCode::InvalidRequest as i32,
                "initialize was already received".into(),
            ),
            // Answered by the front; here only if it forwarded one (it does not).
            HoverRequest::METHOD | CodeActionRequest::METHOD => {
                let mut result = None;
                let ok = self.guarded(|s| result = Some(super::front::answer(req, &s.shared)));
                match result {
                    Some(r) if ok => r,
                    _ => Response::new_err(
                        id,
                        ErrorCode::InternalError as i32,
                        "internal error (a bug; see the server's stderr)".into(),
                    ),
                }
            }
            other => Response::new_err(
                id,
                ErrorCode::MethodNotFound as i32,
                format!("unknown method {other}"),
            ),
        };
        send(&self.sender, response)
    }

    fn on_notification(&mut self, n: Notification) {
        match n.method.as_str() {
            "initialized" => self.register_watchers(),
            DidOpenTextDocument::METHOD => {
                if let Some(p) = self.notification_params::<DidOpenTextDocumentParams>(&n) {
                    let d = p.text_document;
                    let key = d.uri.as_str().to_string();
                    self.dirty.remove(&key);
                    self.docs.insert(
                        key.clone(),
                        OpenDoc {
                            uri: d.uri,
                            language_id: d.language_id,
                            version: d.version,
                            text: d.text,
                            analysis: Arc::default(),
                            published_at: None,
                            parsed: None,
                            kept: Incremental::default(),
                            reuse: Default::default(),
                        },
                    );
                    self.evaluate(&key, false);
                    // The buffer's text replaces its file in the others' run.
                    self.relate_others(&key);
                }
            }
            DidChangeTextDocument::METHOD => {
                if let Some(p) = self.notification_params::<DidChangeTextDocumentParams>(&n) {
                    let key = p.text_document.uri.as_str().to_string();
                    let Some(doc) = self.docs.get_mut(&key) else {
                        return;
                    };
                    apply_changes(
                        &mut doc.text,
                        p.content_changes.iter().map(|c| (c.range, c.text.as_str())),
                    );
                    doc.version = p.text_document.version;
                    self.relate_others(&key);
                    self.dirty.insert(key);
                    self.schedule_eval();
                }
            }
            DidCloseTextDocument::METHOD => {
                if let Some(p) = self.notification_params::<DidCloseTextDocumentParams>(&n) {
                    let key = p.text_document.uri.as_str();
                    self.dirty.remove(key);
                    let key = key.to_string();
                    self.related.remove(&key);
                    self.shared.remove(&key);
                    if let Some(doc) = self.docs.remove(&key) {
                        // Buffers of unknown kind never had diagnostics from here (and a
                        // policy file may carry load errors that must stay).
                        if doc.analysis.format.is_some() {
                            self.publish(&doc.uri, &[], None);
                        }
                        // Its file on disk (or nothing) takes its place in the others' run.
                        self.relate_others(&key);
                    }
                }
            }
            DidSaveTextDocument::METHOD => {
                if let Some(p) = self.notification_params::<DidSaveTextDocumentParams>(&n) {
                    self.maybe_reload([p.text_document.uri]);
                }
            }
            DidChangeWatchedFiles::METHOD => {
                if let Some(p) = self.notification_params::<DidChangeWatchedFilesParams>(&n) {
                    let uris: Vec<Uri> = p.changes.into_iter().map(|c| c.uri).collect();
                    self.workspace_changed(&uris);
                    self.maybe_reload(uris);
                }
            }
            MALFORMED => {
                let why = n.params["error"].as_str().unwrap_or("malformed message");
                self.log(MessageType::WARNING, format!("ignored a message: {why}"));
                if let Some(id) = malformed_id(&n) {
                    let _ = send(&self.sender, invalid_request(id, &n));
                }
            }
            // `$/cancelRequest`, `$/setTrace`, configuration changes: nothing to do.
            _ => {}
        }
    }

    fn notification_params<P: DeserializeOwned>(&self, n: &Notification) -> Option<P> {
        match serde_json::from_value(n.params.clone()) {
            Ok(p) => Some(p),
            Err(e) => {
                self.log(
                    MessageType::WARNING,
                    format!("ignored {}: invalid params: {e}", n.method),
                );
                None
            }
        }
    }

    /// A policy reload is due after [`DEBOUNCE`].
    fn schedule(&mut self) {
        self.deadline
            .get_or_insert_with(|| Instant::now() + DEBOUNCE);
    }

    /// Buffers are waiting to be evaluated: as soon as no message is queued.
    fn schedule_eval(&mut self) {
        self.eval_since.get_or_insert_with(Instant::now);
    }

    /// A policy, data or configuration file changed on disk (seen by the session's own
    /// watcher, so also in clients that register no file watchers).
    fn on_disk_change(&mut self, path: &Path) {
        if self.shutdown {
            return;
        }
        if self.settings.resolved.is_config_file(path) {
            self.reload_pending = true;
        } else {
            self.disk_pending = true;
        }
        self.schedule();
    }

    /// An `oci://` bundle was refreshed: a new one reloads the policies (its files under
    /// the live path changed), a refused one is shown and the last good set stays.
    fn on_bundle(&mut self, event: &RefreshEvent) {
        if self.shutdown {
            return;
        }
        if event.updated() {
            self.log(MessageType::INFO, format!("policy: {event}"));
            self.disk_pending = true;
            self.schedule();
        } else {
            self.show(MessageType::ERROR, format!("policy: {event}"));
        }
    }

    /// Starts the session's watcher over the policy files; a failure is shown and the
    /// server relies on the client's notifications.
    fn watch_disk(&mut self) {
        let tx = self.disk_tx.clone();
        if let Err(e) = self.session.watch_policies(move |p| {
            let _ = tx.send(p);
        }) {
            self.log(
                MessageType::WARNING,
                format!("{e}: policy changes are picked up on save only"),
            );
        }
    }

    fn maybe_reload(&mut self, uris: impl IntoIterator<Item = Uri>) {
        let relevant = uris
            .into_iter()
            .filter_map(|u| uri::to_path(&u))
            .any(|p| self.settings.affects_policies(&p));
        if relevant {
            self.reload_pending = true;
            self.schedule();
        }
    }

    /// Does the pending work: a policy reload (which re-evaluates every buffer), else
    /// the dirty buffers.
    fn flush_all(&mut self) {
        self.eval_since = None;
        let now = Instant::now();
        if self.deadline.is_some_and(|d| now >= d) {
            self.deadline = None;
            let disk = std::mem::take(&mut self.disk_pending);
            if std::mem::take(&mut self.reload_pending) {
                self.reload(true);
            } else if disk {
                self.reload(false);
            }
        }
        let dirty = std::mem::take(&mut self.dirty);
        let related = std::mem::take(&mut self.related);
        for key in &dirty {
            self.evaluate(key, false);
        }
        for key in related.difference(&dirty) {
            self.evaluate(key, true);
        }
    }

    /// Whether the policy set in use judges documents against the rest of the run.
    fn cross_document(&self) -> bool {
        cluster::is_cross_document(&self.set)
    }

    /// `key` changed (or joined or left the run): the other open buffers' cross-document
    /// findings may change with it.
    fn relate_others(&mut self, key: &str) {
        if !self.cross_document() {
            return;
        }
        let others: Vec<String> = self.docs.keys().filter(|k| *k != key).cloned().collect();
        if !others.is_empty() {
            self.related.extend(others);
            self.schedule_eval();
        }
    }

    /// Files changed on disk (the client's watchers): with cross-document rules, the
    /// workspace is listed again and every open buffer re-checked against it.
    fn workspace_changed(&mut self, uris: &[Uri]) {
        if !self.cross_document() {
            return;
        }
        let inputs = uris
            .iter()
            .filter_map(uri::to_path)
            .any(|p| p.starts_with(&self.settings.root));
        if inputs {
            self.workspace.invalidate();
            self.related.extend(self.docs.keys().cloned());
            self.schedule_eval();
        }
    }

    /// Evaluates one buffer and publishes its diagnostics (`quiet`: only when they
    /// changed, for a buffer whose own text did not).
    fn evaluate(&mut self, key: &str, quiet: bool) {
        let analysis = if self.cross_document() {
            self.analyze_in_run(key)
        } else {
            self.analyze_alone(key)
        };
        let Some(analysis) = analysis else {
            return;
        };
        let latest = self.shared.latest(key);
        let Some(doc) = self.docs.get_mut(key) else {
            return;
        };
        let version = doc.version;
        // Already stale: newer edits are queued, and the next evaluation takes them;
        // a buffer under a stream of edits still gets diagnostics every so often.
        let stale = latest.is_some_and(|v| v != version)
            && doc
                .published_at
                .is_some_and(|at| at.elapsed() < MAX_FLUSH_LAG);
        if stale {
            return;
        }
        let publish = analysis.format.is_some()
            && !(quiet && doc.analysis.diagnostics == analysis.diagnostics);
        // One analysis, shared by the buffer and the front's snapshot, and published
        // from a borrow: no copy of the findings or diagnostics per evaluation.
        let analysis = Arc::new(analysis);
        self.shared.set_snapshot(
            key,
            super::front::Snapshot {
                version,
                text: doc.text.clone(),
                analysis: Arc::clone(&analysis),
            },
        );
        doc.analysis = analysis;
        if publish {
            doc.published_at = Some(Instant::now());
            let _ = send(
                &self.sender,
                publish_notification(&doc.uri, &doc.analysis.diagnostics, Some(version)),
            );
        }
    }

    /// A buffer parsed at its current version, as it joins a run (kept per version).
    fn parsed(&mut self, key: &str) -> Option<Arc<FileReport>> {
        let doc = self.docs.get_mut(key)?;
        if let Some((version, file)) = &doc.parsed {
            if *version == doc.version {
                return file.clone();
            }
        }
        let file = match load(&self.session, &self.settings, doc) {
            Loaded::File(_, file) => Some(Arc::new(file)),
            Loaded::Done(_) => None,
        };
        doc.parsed = Some((doc.version, file.clone()));
        file
    }

    /// Evaluates buffer `key` on its own (the set has no cross-document rule), reusing
    /// what its last evaluation computed where the inputs are the same.
    fn analyze_alone(&mut self, key: &str) -> Option<Analysis> {
        let doc = self.docs.get_mut(key)?;
        let (format, file) = match load(&self.session, &self.settings, doc) {
            Loaded::Done(analysis) => return Some(analysis),
            Loaded::File(format, file) => (format, file),
        };
        let run: Vec<&Document> = file.documents.iter().collect();
        let report = self.session.check_file_incremental(
            &mut doc.kept,
            &self.set,
            &mut self.worker,
            file.clone(),
            &run,
        );
        drop(run);
        Some(analysis::finish(
            format,
            Arc::new(file),
            &doc.text,
            &self.settings,
            report,
        ))
    }

    /// Evaluates buffer `key` within its run: the workspace's files, with the open
    /// buffers' text in place of theirs ([`super::workspace`]).
    fn analyze_in_run(&mut self, key: &str) -> Option<Analysis> {
        let doc = self.docs.get_mut(key)?;
        let (format, file) = match load(&self.session, &self.settings, doc) {
            Loaded::Done(analysis) => return Some(analysis),
            Loaded::File(format, file) => (format, file),
        };
        let own = Arc::new(file);
        doc.parsed = Some((doc.version, Some(Arc::clone(&own))));
        self.workspace
            .refresh(&self.session, &self.settings.root.clone());
        if self.workspace.truncated && !self.said_truncated {
            self.said_truncated = true;
            self.log(
                MessageType::WARNING,
                format!(
                    "policy: the workspace has more than {} input files; cross-document rules see the first {} only",
                    super::workspace::MAX_FILES,
                    super::workspace::MAX_FILES
                ),
            );
        }
        // The open buffers by file name; each stands for its file on disk.
        let mut keys: Vec<String> = self.docs.keys().cloned().collect();
        keys.sort();
        let mut buffers: Vec<(String, Option<Arc<FileReport>>)> = Vec::new();
        for k in keys {
            let parsed = if k == key {
                Some(Arc::clone(&own))
            } else {
                self.parsed(&k)
            };
            if let Some(doc) = self.docs.get(&k) {
                buffers.push((uri::display_name(&doc.uri), parsed));
            }
        }
        let mut run_files: Vec<Arc<FileReport>> = Vec::new();
        let mut used = vec![false; buffers.len()];
        for (path, file) in self.workspace.files() {
            let shown = path.display().to_string();
            match buffers.iter().position(|(n, _)| *n == shown) {
                Some(i) => {
                    used[i] = true;
                    run_files.extend(buffers[i].1.clone());
                }
                None => run_files.push(Arc::clone(file)),
            }
        }
        for (i, (_, file)) in buffers.iter().enumerate() {
            if !used[i] {
                run_files.extend(file.clone());
            }
        }
        let run: Vec<&Document> = run_files.iter().flat_map(|f| f.documents.iter()).collect();
        let (prepared, worker, _errors) = self.workspace.prepare(&self.set, &run);
        let doc = self.docs.get_mut(key)?;
        let report = self.session.check_file_incremental(
            &mut doc.kept,
            &prepared,
            worker,
            (*own).clone(),
            &run,
        );
        Some(analysis::finish(
            format,
            own,
            &doc.text,
            &self.settings,
            report,
        ))
    }

    /// Reloads the policies. `forced` (a save the client reported, or a configuration
    /// change): the settings are resolved again and the set is loaded again. Otherwise (a
    /// change the watcher saw): only if a policy or data file changed since the last load
    /// (accepted or not), so that late events for one edit do not reload twice.
    fn reload(&mut self, forced: bool) {
        let outcome = if forced {
            let (mut settings, problems) =
                Settings::resolve(&self.settings.root, self.settings.init.clone());
            for p in problems {
                self.show(MessageType::WARNING, p);
            }
            if let Some(p) = self.live.link(&mut settings) {
                self.show(MessageType::ERROR, p);
            }
            let same = same_policies(&self.settings.policy, &settings.policy);
            self.settings = settings;
            if same {
                self.session.reload()
            } else {
                // Other policy paths: a new session. A set with errors is refused and the
                // last one stays. (The first set is used even with errors, like
                // `policy eval` does: there is nothing to keep yet.)
                match Session::new(self.settings.resolved.clone()) {
                    Ok(candidate) if candidate.policies().errors.is_empty() => {
                        self.session = candidate;
                        self.watch_disk();
                        Ok(self.session.policies())
                    }
                    Ok(candidate) => Err(candidate.policies().errors.clone()),
                    Err(e) => {
                        self.show(MessageType::ERROR, format!("policy: {e}"));
                        return;
                    }
                }
                .map_err(|errors| ReloadRejected {
                    new_errors: errors.clone(),
                    errors,
                    kept: Arc::clone(&self.set),
                })
            }
        } else {
            match self.session.reload_if_changed() {
                Some(outcome) => outcome,
                None => return,
            }
        };
        match outcome {
            Ok(set) => {
                let errors = set.errors.clone();
                self.rules = set.rules();
                self.worker = Worker::new(&set);
                self.set = set;
                self.config_warnings();
                self.after_load(&errors, true, true);
            }
            Err(rejected) => self.after_load(&rejected.errors, true, false),
        }
    }

    /// Reports a load or a `reload` (`accepted`: its set is in use; otherwise the last
    /// good set stays) and re-evaluates every open buffer.
    fn after_load(&mut self, errors: &[ErrorRecord], reload: bool, accepted: bool) {
        self.publish_policy_errors(errors);
        if !errors.is_empty() {
            let mut lines: Vec<String> = errors
                .iter()
                .take(MAX_LISTED_ERRORS)
                .map(|e| format!("{}:{}:{}: {}", e.file, e.line, e.column, e.message))
                .collect();
            if errors.len() > MAX_LISTED_ERRORS {
                lines.push(format!("… and {} more", errors.len() - MAX_LISTED_ERRORS));
            }
            let head = if accepted {
                format!("policy: {} policy error(s):", errors.len())
            } else {
                format!(
                    "policy: reload failed with {} policy error(s); keeping the previous policies:",
                    errors.len()
                )
            };
            self.show(MessageType::ERROR, format!("{head}\n{}", lines.join("\n")));
        } else if reload {
            self.log(MessageType::INFO, "policies reloaded".to_string());
        }
        // Every open buffer against the (possibly) new set.
        self.dirty.clear();
        self.related.clear();
        self.workspace.reset_prepared();
        let keys: Vec<String> = self.docs.keys().cloned().collect();
        for key in keys {
            self.evaluate(&key, false);
        }
    }

    /// Shows the configuration's warnings about the loaded rules (rule IDs that match
    /// nothing, expired exceptions) once per load, in the log.
    fn config_warnings(&self) {
        let Some(cfg) = &self.settings.config else {
            return;
        };
        let mut report = Report {
            rules: self.rules.clone(),
            disabled: self.set.disabled.clone(),
            ..Report::default()
        };
        let warnings = config::apply(cfg, &mut report, &self.settings.root, config::Date::today());
        for w in warnings {
            self.log(
                MessageType::WARNING,
                format!(
                    "{}:{}:{}: {}",
                    cfg.file.display(),
                    w.line,
                    w.column,
                    w.message
                ),
            );
        }
    }

    /// Policy load errors as diagnostics on the policy files themselves (the files that
    /// exist on disk), and cleared from files that no longer have any.
    fn publish_policy_errors(&mut self, errors: &[ErrorRecord]) {
        let mut by_file: HashMap<String, (Uri, Vec<Diagnostic>)> = HashMap::new();
        for e in errors {
            let path = Path::new(&e.file);
            if !path.is_absolute() || !path.is_file() {
                continue;
            }
            let Some(u) = uri::from_path(path) else {
                continue;
            };
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let mut d = analysis::error_diagnostic(e, &TextIndex::new(&text));
            d.severity = Some(lsp_types::DiagnosticSeverity::ERROR);
            by_file
                .entry(u.as_str().to_string())
                .or_insert_with(|| (u, Vec::new()))
                .1
                .push(d);
        }
        for old in std::mem::take(&mut self.policy_error_files) {
            if !by_file.contains_key(old.as_str()) {
                self.publish(&old, &[], None);
            }
        }
        for (u, diagnostics) in by_file.into_values() {
            self.publish(&u, &diagnostics, None);
            self.policy_error_files.push(u);
        }
    }

    fn register_watchers(&mut self) {
        if !self.watch {
            return;
        }
        self.next_id += 1;
        let params = serde_json::json!({
            "registrations": [{
                "id": "policy-files",
                "method": DidChangeWatchedFiles::METHOD,
                "registerOptions": {"watchers": [
                    {"globPattern": format!("**/*.{{{}}}", POLICY_EXTENSIONS.join(","))},
                    {"globPattern": "**/*.{json,yaml,yml}"}
                ]}
            }]
        });
        let req = Request::new(
            RequestId::from(format!("policy-{}", self.next_id)),
            "client/registerCapability".to_string(),
            params,
        );
        let _ = send(&self.sender, req);
    }

    fn publish(&self, uri: &Uri, diagnostics: &[Diagnostic], version: Option<i32>) {
        let _ = send(
            &self.sender,
            publish_notification(uri, diagnostics, version),
        );
    }

    fn show(&self, typ: MessageType, message: String) {
        let _ = send(
            &self.sender,
            Notification::new(
                ShowMessage::METHOD.to_string(),
                ShowMessageParams { typ, message },
            ),
        );
    }

    fn log(&self, typ: MessageType, message: String) {
        let _ = send(
            &self.sender,
            Notification::new(
                LogMessage::METHOD.to_string(),
                LogMessageParams { typ, message },
            ),
        );
    }
}

/// Whether two settings load the same policy set (then a reload keeps the session).
fn same_policies(a: &PolicyOptions, b: &PolicyOptions) -> bool {
    a.paths == b.paths
        && a.data == b.data
        && a.builtin == b.builtin
        && a.extra_data == b.extra_data
        && a.disabled_rules == b.disabled_rules
}

/// Parses an open buffer's text as what its name and language say it is.
fn load(session: &Session, settings: &Settings, doc: &mut OpenDoc) -> Loaded {
    let name = uri::display_name(&doc.uri);
    let reuse = Some(&mut doc.reuse);
    analysis::load(session, settings, &name, &doc.language_id, &doc.text, reuse)
}

/// `textDocument/publishDiagnostics` for `uri`, serialised from borrows: the same JSON as
/// `lsp_types::PublishDiagnosticsParams` (whose `version` is left out when `None`).
fn publish_notification(
    uri: &Uri,
    diagnostics: &[Diagnostic],
    version: Option<i32>,
) -> Notification {
    #[derive(serde::Serialize)]
    struct Params<'a> {
        uri: &'a Uri,
        diagnostics: &'a [Diagnostic],
        #[serde(skip_serializing_if = "Option::is_none")]
        version: Option<i32>,
    }
    Notification::new(
        PublishDiagnostics::METHOD.to_string(),
        Params {
            uri,
            diagnostics,
            version,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostics_are_published_as_lsp_types_writes_them() {
        let uri: Uri = "file:///w/deploy.yaml".parse().expect("uri");
        let diagnostics = vec![
            Diagnostic {
                range: lsp_types::Range::new(
                    lsp_types::Position::new(3, 2),
                    lsp_types::Position::new(3, 9),
                ),
                severity: Some(lsp_types::DiagnosticSeverity::ERROR),
                code: Some(lsp_types::NumberOrString::String("K8S001".into())),
                source: Some("policy".into()),
                message: "container \"app\" runs privileged".into(),
                ..Diagnostic::default()
            },
            Diagnostic::default(),
        ];
        for version in [Some(7), None] {
            let ours = publish_notification(&uri, &diagnostics, version);
            let theirs = lsp_types::PublishDiagnosticsParams {
                uri: uri.clone(),
                diagnostics: diagnostics.clone(),
                version,
            };
            assert_eq!(ours.method, "textDocument/publishDiagnostics");
            assert_eq!(ours.params, serde_json::to_value(theirs).expect("json"));
        }
    }

    #[test]
    fn the_root_comes_from_root_uri_then_folders_then_root_path() {
        let (root, _, _) = read_initialize(&serde_json::json!({
            "rootUri": "file:///w/a", "workspaceFolders": [{"uri": "file:///w/b", "name": "b"}]
        }));
        assert_eq!(root, PathBuf::from("/w/a"));
        let (root, _, _) = read_initialize(&serde_json::json!({
            "rootUri": null, "workspaceFolders": [{"uri": "file:///w/b", "name": "b"}]
        }));
        assert_eq!(root, PathBuf::from("/w/b"));
        let (root, _, _) = read_initialize(&serde_json::json!({"rootPath": "/w/c"}));
        assert_eq!(root, PathBuf::from("/w/c"));
    }

    #[test]
    fn bad_initialization_options_fall_back_to_defaults() {
        let (_, init, problems) = read_initialize(&serde_json::json!({
            "initializationOptions": {"policyPaths": 3}
        }));
        assert_eq!(init, InitOptions::default());
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].contains("initializationOptions"),
            "{problems:?}"
        );
    }

    #[test]
    fn capabilities_advertise_utf16_incremental_sync_hover_and_quick_fixes() {
        let caps = serde_json::to_value(capabilities()).expect("serialize");
        assert_eq!(caps["positionEncoding"], "utf-16");
        assert_eq!(caps["textDocumentSync"]["change"], 2);
        assert_eq!(caps["hoverProvider"], true);
        assert_eq!(
            caps["codeActionProvider"]["codeActionKinds"],
            serde_json::json!(["quickfix"])
        );
    }
}
