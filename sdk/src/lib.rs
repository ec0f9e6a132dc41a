//! `policy-sdk`: the one definition of the WASM policy ABI, plus helpers for writing
//! guest policies in Rust.
//!
//! The engine depends on this crate (with default features off) for the [`abi`] types,
//! so the host and guests cannot drift apart. With the default `guest` feature it also
//! provides what a policy author needs:
//!
//! - typed, tolerant views of documents: [`dockerfile`], [`kubernetes`] (pod-spec helpers
//!   over every pod-bearing kind), [`image`];
//! - [`JsonPath`] and [`abi::GuestFinding`] builders to report findings at a path, and
//!   [`position`] to point at one word of a Dockerfile instruction (line and column);
//! - [`export_policy!`], which exports the ABI from two plain functions;
//! - [`testing`], to run the policy natively under `cargo test` on fixture files;
//! - [`log`], the optional host log import.
//!
//! The calling convention is specified in `sdk/ABI.md`.
#![warn(missing_docs)]

pub mod abi;

#[cfg(feature = "guest")]
pub mod dockerfile;
#[cfg(feature = "guest")]
pub mod export;
#[cfg(feature = "guest")]
pub mod image;
#[cfg(feature = "guest")]
mod input;
#[cfg(feature = "guest")]
pub mod kubernetes;
#[cfg(feature = "guest")]
pub mod log;
#[cfg(feature = "guest")]
mod path;
#[cfg(feature = "guest")]
pub mod position;
#[cfg(feature = "guest")]
pub mod testing;

pub use abi::{PathSegment, Severity};
#[cfg(feature = "guest")]
pub use input::{Error, Input};
#[cfg(feature = "guest")]
pub use path::JsonPath;
