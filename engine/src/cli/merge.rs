//! `policy merge`: combines the reports of a sharded run (`policy eval --shard K/N`, one
//! CI job per shard) into the report, and the exit code, of one run
//! ([`crate::report::merge`]).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;

use super::ExitStatus;
use crate::report::merge::{self, Loaded};
use crate::report::{self, Format};
use crate::Severity;

/// `policy merge`.
#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// The reports to merge: JSON reports of `policy eval -f json` (any output format
    /// then), or SARIF logs (merged into one SARIF log).
    #[arg(required = true, value_name = "REPORT")]
    pub reports: Vec<PathBuf>,
    /// Output format [default: text; sarif when the reports are SARIF].
    #[arg(short = 'f', long, value_enum)]
    pub format: Option<Format>,
    /// Write the merged report to this file instead of stdout.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Grade with this threshold instead of the `--fail-on` the reports record
    /// (critical, high, medium, low, info).
    #[arg(long, value_name = "SEVERITY")]
    pub fail_on: Option<String>,
}

/// The help text's exit codes.
pub const MERGE_EXIT_CODES: &str = "\
Exit codes (as one run over all the shards' inputs would have given):
  0  no finding at or above the fail-on threshold the reports record (or --fail-on)
  1  findings at or above it
  2  a report records an error or a skipped input, or a report cannot be read or merged";

pub(super) fn run(a: MergeArgs, out: &mut dyn Write) -> anyhow::Result<ExitStatus> {
    let fail_on = match &a.fail_on {
        Some(s) => Some(Severity::parse(s).with_context(|| {
            format!("invalid --fail-on {s:?}: expected critical, high, medium, low or info")
        })?),
        None => None,
    };
    let mut json = Vec::new();
    let mut sarif = Vec::new();
    for path in &a.reports {
        let name = path.display().to_string();
        match merge::load(path)? {
            Loaded::Json(r) => json.push((name, *r)),
            Loaded::Sarif(v) => sarif.push((name, v)),
        }
    }
    let (bytes, status) = match (json.is_empty(), sarif.is_empty()) {
        (false, false) => bail!(
            "cannot merge JSON reports with SARIF logs ({} and {}): merge one kind",
            json[0].0,
            sarif[0].0
        ),
        (true, _) => {
            if a.format.is_some_and(|f| f != Format::Sarif) {
                bail!("SARIF logs merge into SARIF only: use -f sarif, or merge the JSON reports");
            }
            let merged = merge::merge_sarif(sarif, fail_on)?;
            let mut bytes = serde_json::to_vec_pretty(&merged.log)?;
            bytes.push(b'\n');
            (bytes, merged.status)
        }
        (false, true) => {
            let merged = merge::merge_json(json, fail_on)?;
            let format = a.format.unwrap_or_default();
            let mut bytes = Vec::new();
            report::reporter(format, &merged.options()).write(&merged.report, &mut bytes)?;
            (bytes, merged.exit_status())
        }
    };
    match &a.output {
        Some(path) => std::fs::write(path, bytes)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => out.write_all(&bytes)?,
    }
    Ok(status)
}
