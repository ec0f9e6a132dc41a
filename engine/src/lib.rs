//! `policy-engine`: a policy-as-code engine for container security.
//!
//! Inputs (Dockerfiles, Kubernetes manifests, image metadata, CI workflows) become
//! [`inputs::Document`]s: JSON values with a source map back to the original file.
//! Rego ([`runtimes::rego`]) and WASM ([`runtimes::wasm`]) policies evaluate them, and
//! [`eval`] turns their results into [`diagnostics::Finding`]s with exact locations.
//! Reporters in [`report`] format findings; the engine itself never formats.
//! [`testing`] runs policy tests (case files and Rego `test_*` rules) for `policy test`.
//! [`session::Session`] is the facade every front end checks through: the settings
//! layered by [`config::resolve`], a reloadable policy set, and the checks.
//!
//! Dependencies point one way: each module uses only modules to its left, and modules
//! of one group use neither each other:
//! `source, hint → inputs → rules → supply → diagnostics → runtimes → eval → config →
//! session → testing → report → lsp, serve → cli`.
//! [`diagnostics`] holds the result types shared from `runtimes` on; [`lsp`] is the
//! language server behind `policy lsp`, [`serve`] the admission webhook behind
//! `policy serve`, and [`cli`] registers every front end as a subcommand. The
//! `layering` unit test reads this order and fails on any `crate::` path against it.
//! docs/architecture.md says where each concept lives and how to add an input kind, a
//! runtime, a front end or an output format.

#![warn(missing_docs)]

pub mod cli;
pub mod config;
pub mod diagnostics;
pub mod eval;
pub mod hint;
pub mod inputs;
#[cfg(test)]
mod layering;
pub mod lsp;
pub mod report;
pub mod rules;
pub mod runtimes;
pub mod serve;
pub mod session;
pub mod source;
pub mod supply;
pub mod testing;

pub use policy_sdk::abi::{PathSegment, Severity};

/// The unit tests count Rego evaluations' memory as the `policy` binary does
/// ([`runtimes::rego::memory`]).
#[cfg(test)]
#[global_allocator]
static ALLOC: runtimes::rego::memory::Accounting = runtimes::rego::memory::Accounting::system();
