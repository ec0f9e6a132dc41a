//! The protocol front: answers hover and code actions while diagnostics are computed.
//!
//! Evaluating a buffer can take a while (a large manifest, a workspace with cross-document
//! rules, a slow user policy). The session ([`super::server`]) evaluates on its own
//! thread, and this front reads the client's messages on another: hover and code action
//! requests are answered here at once from the last evaluation of the buffer (its
//! [`Snapshot`]), every other message is forwarded to the session in order.
//!
//! The front also records the latest version of every open buffer as edits go by
//! ([`Shared::latest`]), so that the session can tell that a result it just computed is
//! already stale (newer edits are queued) and evaluate the latest text instead of
//! publishing it.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, PoisonError};

use crossbeam_channel::{Receiver, Sender};
use lsp_server::{ErrorCode, Message, Request, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, Notification as _,
};
use lsp_types::request::{CodeActionRequest, HoverRequest, Request as _};
use lsp_types::{CodeActionParams, HoverParams};
use serde::de::DeserializeOwned;

use super::actions;
use super::analysis::Analysis;

/// The last evaluation of a buffer, with the text it is of.
#[derive(Debug)]
pub struct Snapshot {
    /// The buffer's version that was evaluated.
    pub version: i32,
    /// Its text then (code actions edit that text).
    pub text: String,
    /// The findings (shared with the session's copy of the buffer).
    pub analysis: Arc<Analysis>,
}

/// What the front and the session share, keyed by the URI's text.
#[derive(Debug, Default)]
pub struct Shared {
    snapshots: Mutex<HashMap<String, Arc<Snapshot>>>,
    latest: Mutex<HashMap<String, i32>>,
}

impl Shared {
    /// The last evaluation of `key`.
    pub fn snapshot(&self, key: &str) -> Option<Arc<Snapshot>> {
        self.snapshots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
    }

    /// Records the last evaluation of `key`.
    pub fn set_snapshot(&self, key: &str, snapshot: Snapshot) {
        self.snapshots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.to_string(), Arc::new(snapshot));
    }

    /// Forgets `key` (closed).
    pub fn remove(&self, key: &str) {
        self.snapshots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }

    /// The latest version of `key` the client has sent, possibly not yet applied by
    /// the session.
    pub fn latest(&self, key: &str) -> Option<i32> {
        self.latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .copied()
    }

    fn note_version(&self, key: String, version: Option<i32>) {
        let mut latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
        match version {
            Some(v) => {
                latest.insert(key, v);
            }
            None => {
                latest.remove(&key);
            }
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Versioned {
    text_document: VersionedDoc,
}

#[derive(serde::Deserialize)]
struct VersionedDoc {
    uri: lsp_types::Uri,
    version: Option<i32>,
}

/// Runs the front until the client's stream ends or says `exit`: `from_client` is the
/// transport's receiver, `to_session` where everything but hover and code actions goes.
pub fn run(
    from_client: Receiver<Message>,
    to_client: Sender<Message>,
    to_session: Sender<Message>,
    shared: Arc<Shared>,
) {
    let mut shutdown = false;
    for msg in from_client {
        match msg {
            Message::Request(req)
                if !shutdown
                    && (req.method == HoverRequest::METHOD
                        || req.method == CodeActionRequest::METHOD) =>
            {
                let id = req.id.clone();
                let response = catch_unwind(AssertUnwindSafe(|| answer(req, &shared)))
                    .unwrap_or_else(|_| {
                        Response::new_err(
                            id,
                            ErrorCode::InternalError as i32,
                            "internal error (a bug; see the server's stderr)".into(),
                        )
                    });
                if to_client.send(response.into()).is_err() {
                    return;
                }
            }
            msg => {
                let exit = match &msg {
                    Message::Request(req) => {
                        shutdown |= req.method == "shutdown";
                        false
                    }
                    Message::Notification(n) => {
                        match n.method.as_str() {
                            DidOpenTextDocument::METHOD | DidChangeTextDocument::METHOD => {
                                if let Ok(p) = serde_json::from_value::<Versioned>(n.params.clone())
                                {
                                    shared.note_version(
                                        p.text_document.uri.as_str().to_string(),
                                        p.text_document.version,
                                    );
                                }
                            }
                            DidCloseTextDocument::METHOD => {
                                if let Some(uri) = n.params.pointer("/textDocument/uri") {
                                    if let Some(uri) = uri.as_str() {
                                        shared.note_version(uri.to_string(), None);
                                    }
                                }
                            }
                            _ => {}
                        }
                        n.method == "exit"
                    }
                    Message::Response(_) => false,
                };
                if to_session.send(msg).is_err() || exit {
                    return;
                }
            }
        }
    }
}

fn params<P: DeserializeOwned>(req: &Request) -> Result<P, String> {
    serde_json::from_value(req.params.clone())
        .map_err(|e| format!("invalid params for {}: {e}", req.method))
}

/// Answers a hover or code action request from the buffer's last evaluation.
pub fn answer(req: Request, shared: &Shared) -> Response {
    let id = req.id.clone();
    let result = match req.method.as_str() {
        HoverRequest::METHOD => params::<HoverParams>(&req).map(|p| {
            let pos = p.text_document_position_params;
            let hover = shared
                .snapshot(pos.text_document.uri.as_str())
                .and_then(|s| actions::hover(&s.analysis, pos.position));
            serde_json::to_value(hover).unwrap_or_default()
        }),
        _ => params::<CodeActionParams>(&req).map(|p| {
            let uri = p.text_document.uri;
            // A quick fix edits the text it was computed on: none while the buffer has
            // edits that are not evaluated yet (the client asks again when the new
            // diagnostics arrive).
            let actions = shared
                .snapshot(uri.as_str())
                .filter(|s| shared.latest(uri.as_str()).is_none_or(|v| v == s.version))
                .map(|s| {
                    actions::code_actions(
                        &uri,
                        &s.text,
                        &s.analysis,
                        p.range,
                        &p.context.diagnostics,
                        p.context.only.as_deref(),
                    )
                })
                .unwrap_or_default();
            serde_json::to_value(actions).unwrap_or_default()
        }),
    };
    match result {
        Ok(value) => Response::new_ok(id, value),
        Err(e) => Response::new_err(id, ErrorCode::InvalidParams as i32, e),
    }
}
