//! `policy lsp`: a language server, so editors show findings while the user types.
//!
//! It exists for the editor loop of the roadmap: diagnostics for unsaved buffers, the
//! rule's documentation on hover, and a quick fix that inserts a suppression comment.
//! It sits at the top of the dependency chain beside [`crate::cli`] (`inputs → rules →
//! runtimes → eval → report → cli/lsp`) and adds no evaluation logic of its own: a
//! buffer is parsed and evaluated exactly as `policy eval` would check the file.
//!
//! | module | job |
//! |---|---|
//! | [`transport`] | `Content-Length` framing over stdio, tolerant of malformed input |
//! | [`server`] | the protocol state machine, the open buffers, debouncing, reloads |
//! | [`front`] | hover and code actions answered while the session evaluates |
//! | [`settings`] | `initializationOptions` + `.policy.yaml` → what to load |
//! | [`analysis`] | one buffer → findings → diagnostics (severity mapping) |
//! | [`actions`] | hover and the "Suppress ID here" quick fix |
//! | [`position`] | engine positions (characters) ↔ LSP positions (UTF-16) |
//! | [`uri`] | `file:` URIs ↔ paths |
//! | [`workspace`] | the run a buffer belongs to: workspace files + unsaved buffers |
//!
//! The protocol types come from `lsp-types` and the message plumbing from `lsp-server`
//! (synchronous, crossbeam channels, as rust-analyzer uses them). docs/lsp.md is the
//! user documentation.

pub mod actions;
pub mod analysis;
pub mod front;
pub mod position;
pub mod server;
pub mod settings;
pub mod transport;
pub mod uri;
pub mod workspace;

pub use server::{serve, serve_with, Exit};

/// Why the server stopped other than by the protocol's `exit`.
#[derive(Debug, thiserror::Error)]
pub enum LspError {
    /// The client stopped reading our messages.
    #[error("cannot write to the client: the connection is closed")]
    Disconnected,
    /// Writing to the client failed.
    #[error("cannot write to the client: {0}")]
    Io(#[from] std::io::Error),
}

/// Runs the server over stdin and stdout until the client says `exit` or closes stdin.
pub fn run_stdio() -> Result<Exit, LspError> {
    run_stdio_with(crate::supply::live::LiveOptions::default())
}

/// [`run_stdio`], with `oci://` policy bundles verified and refreshed as `bundles` says
/// (`policy lsp --verify-key --policy-refresh`).
pub fn run_stdio_with(bundles: crate::supply::live::LiveOptions) -> Result<Exit, LspError> {
    let (conn, threads) = transport::stdio();
    let exit = server::serve_with(&conn, bundles);
    drop(conn);
    // Flushes what is queued; a client that has gone away is no error once it said exit.
    let joined = threads.join();
    let exit = exit?;
    if exit == Exit::WithoutShutdown {
        return Ok(exit);
    }
    joined?;
    Ok(exit)
}
