//! `policy lsp`: runs the language server ([`crate::lsp`]) on stdin/stdout.

use super::args::LspArgs;
use super::ExitStatus;
use crate::lsp::{self, Exit};

pub(super) fn run(_a: LspArgs) -> anyhow::Result<ExitStatus> {
    Ok(match lsp::run_stdio()? {
        // The protocol's rule: 0 after `shutdown` then `exit`, 1 otherwise.
        Exit::Clean => ExitStatus::Success,
        Exit::WithoutShutdown => ExitStatus::Failure,
    })
}
