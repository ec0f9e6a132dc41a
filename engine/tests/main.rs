//! The engine's integration tests, as one test binary (ripgrep's pattern): every binary
//! links wasmtime and regorus, so one binary instead of one per file saves most of the
//! link time of a test build. Each file keeps its path and stays a module of its own; a
//! new test file is registered here with a `#[path]` + `mod` pair.

// Each file still declares its own `mod support;` (so it reads, and merges, as before);
// the helpers are small, so compiling them once per file costs nothing worth a rewrite.
#![allow(clippy::duplicate_mod)]

#[path = "cli.rs"]
mod cli;
#[path = "cluster.rs"]
mod cluster;
#[path = "config.rs"]
mod config;
#[path = "conftest_cli.rs"]
mod conftest_cli;
#[path = "conftest_parity.rs"]
mod conftest_parity;
#[path = "formats.rs"]
mod formats;
#[path = "hostile.rs"]
mod hostile;
#[path = "integrations.rs"]
mod integrations;
#[path = "lsp.rs"]
mod lsp;
#[path = "lsp_cluster.rs"]
mod lsp_cluster;
#[path = "peers.rs"]
mod peers;
#[path = "perkind.rs"]
mod perkind;
#[path = "pss.rs"]
mod pss;
#[path = "serve.rs"]
mod serve;
#[path = "shard.rs"]
mod shard;
#[path = "stream.rs"]
mod stream;
#[path = "supply.rs"]
mod supply;
#[path = "test_cmd.rs"]
mod test_cmd;
#[path = "watch.rs"]
mod watch;
