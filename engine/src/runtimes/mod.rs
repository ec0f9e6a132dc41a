//! Policy runtimes: one folder per backend (`rego/`, `wasm/`), each turning a document
//! into raw results that [`crate::eval`] resolves into findings.
//!
//! A runtime never formats and never resolves locations itself: it reports *what* the
//! policy said (message, path or line, severity override) and lets `eval` map it to
//! file:line:column through the document's source map.

pub mod rego;
pub mod wasm;
