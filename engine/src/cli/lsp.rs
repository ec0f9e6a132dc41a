//! `policy lsp`: runs the language server ([`crate::lsp`]) on stdin/stdout.

use super::args::LspArgs;
use super::ExitStatus;
use crate::lsp::{self, Exit};

pub(super) fn run(a: LspArgs) -> anyhow::Result<ExitStatus> {
    let bundles = super::supply::live_options(&a.bundles)?;
    Ok(match lsp::run_stdio_with(bundles)? {
        // The protocol's rule: 0 after `shutdown` then `exit`, 1 otherwise.
        Exit::Clean => ExitStatus::Success,
        Exit::WithoutShutdown => ExitStatus::Failure,
    })
}
