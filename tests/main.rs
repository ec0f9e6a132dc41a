//! End-to-end tests that drive the engine's public API across crates: the data-driven
//! case files of the built-in policies, and the example policies.

mod cases;
mod rule_docs;
mod support;
