//! `policy-sdk`: the one definition of the WASM policy ABI, plus helpers for writing
//! guest policies in Rust.
//!
//! The engine depends on this crate (with default features off) for the [`abi`] types,
//! so the host and guests cannot drift apart.
#![warn(missing_docs)]

pub mod abi;

pub use abi::{PathSegment, Severity};
