//! Writing a report as the run goes, for the formats whose items stand alone.
//!
//! `policy eval` over many inputs hands out each input's part of the report as soon as it
//! is finished ([`crate::session::Session::check_plan_streaming`]), in the order of the
//! inputs' paths. A [`Streaming`] format writes at once what of a part can go out (the
//! findings, with their code frames; in `jsonl`, the input's whole `file` event), and
//! [`StreamWriter`] keeps only what the end needs: the error records, warnings and
//! conftest exceptions (with the lines of text their frames show), every input's
//! summary, and counts. Memory is then that of the findings in flight, not of the run.
//!
//! The output is the one the format's [`super::Reporter`] writes for the whole report,
//! when the inputs' paths are in the order of their findings (always, for inputs given
//! as files and directories): findings sorted by file, position and rule, then the
//! errors, exceptions, warnings and summary. The exit status is the one
//! [`Report::exit_status`] gives.
//!
//! SARIF, JUnit, JSON and the conftest formats are written once the run ends: they are
//! one document (or count passed tests over the whole run).

use std::io;
use std::time::Duration;

use super::{Format, ReportOptions, Summary};
use crate::diagnostics::{ExitStatus, InputStatus, Report};

/// A format written as the run goes.
pub trait Streaming {
    /// Writes what of `part` (one input's part of a report, finished; or, when a run
    /// could not be streamed, the whole report at the end) goes out at once.
    fn part(&self, part: &Report, out: &mut dyn io::Write) -> io::Result<()>;

    /// Writes the end of the output: `rest` holds every error record, warning, conftest
    /// exception and input summary of the run (sorted; with the texts their frames show)
    /// and no finding, `summary` counts the whole run.
    fn finish(&self, rest: &Report, summary: &Summary, out: &mut dyn io::Write) -> io::Result<()>;
}

/// The streaming writer of `format`, if it has one (`text`, `github`, `jsonl`).
pub fn streaming(format: Format, opts: &ReportOptions) -> Option<Box<dyn Streaming>> {
    match format {
        Format::Text => Some(Box::new(super::text::TextReporter::new(opts.clone()))),
        Format::Github => Some(Box::new(super::github::GithubReporter::new(opts.clone()))),
        Format::Jsonl => Some(Box::new(super::jsonl::JsonlReporter::new(opts.clone()))),
        _ => None,
    }
}

/// Writes a report part by part with a [`Streaming`] format, and gives the run's exit
/// status at the end.
pub struct StreamWriter {
    format: Box<dyn Streaming>,
    opts: ReportOptions,
    /// What the end writes ([`Streaming::finish`]).
    rest: Report,
    /// The counts of the findings and suppressed findings handed out.
    counted: Summary,
    /// Whether a finding handed out fails the run ([`ReportOptions::is_failing`]).
    failing: bool,
    /// The first write error: nothing more is written after it.
    error: Option<io::Error>,
}

/// How long written output may wait in a buffer before the caller flushes it
/// ([`StreamWriter::flush`]): output shows as the run goes, without a system call per
/// part.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

impl StreamWriter {
    /// A writer in `format`; `opts` grades the findings for the exit status.
    pub fn new(format: Box<dyn Streaming>, opts: ReportOptions) -> StreamWriter {
        StreamWriter {
            format,
            opts,
            rest: Report::default(),
            counted: Summary::default(),
            failing: false,
            error: None,
        }
    }

    /// Writes what of `part` goes out at once, and keeps what the end needs.
    pub fn part(&mut self, mut part: Report, out: &mut dyn io::Write) {
        if self.error.is_none() {
            if let Err(e) = self.format.part(&part, out) {
                self.error = Some(e);
            }
        }
        self.failing |= part.findings.iter().any(|f| self.opts.is_failing(f));
        let s = Summary::of(&Report {
            findings: std::mem::take(&mut part.findings),
            suppressed: std::mem::take(&mut part.suppressed),
            ..Report::default()
        });
        // `Summary::of` of findings alone: only the findings' counts are set.
        self.counted.add(&s);
        let keep_text =
            !part.errors.is_empty() || !part.warnings.is_empty() || !part.exceptions.is_empty();
        if keep_text {
            let wanted: Vec<&str> = (part.errors.iter().map(|e| e.file.as_str()))
                .chain(part.warnings.iter().map(|w| w.file.as_str()))
                .chain(part.exceptions.iter().map(|e| &*e.location.file))
                .collect();
            for (path, text) in std::mem::take(&mut part.sources) {
                if wanted.contains(&path.as_str()) {
                    self.rest.sources.entry(path).or_insert(text);
                }
            }
        }
        self.rest.errors.append(&mut part.errors);
        self.rest.warnings.append(&mut part.warnings);
        self.rest.exceptions.append(&mut part.exceptions);
        self.rest.inputs.append(&mut part.inputs);
        self.rest.owners.append(&mut part.owners);
        // The inputs' places in the run follow the inputs kept.
        match (&mut self.rest.shard, part.shard.take()) {
            (Some(kept), Some(shard)) => kept.positions.extend(shard.positions),
            (kept @ None, shard) => *kept = shard,
            (Some(_), None) => {}
        }
    }

    /// Whether a write failed: nothing more will be written ([`StreamWriter::finish`]
    /// returns the error).
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }

    /// Flushes `out`, so that what was written shows now.
    pub fn flush(&mut self, out: &mut dyn io::Write) {
        if self.error.is_none() {
            if let Err(e) = out.flush() {
                self.error = Some(e);
            }
        }
    }

    /// Writes `rest` (what is left of the run: its own errors and warnings, and all of
    /// it when the run was not streamed) and the end, and returns the run's exit status
    /// ([`Report::exit_status`]) with the first write error, if any.
    pub fn finish(mut self, rest: Report, out: &mut dyn io::Write) -> io::Result<ExitStatus> {
        self.part(rest, out);
        self.rest.sort();
        let mut summary = Summary::of(&self.rest);
        summary.add(&self.counted);
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.format.finish(&self.rest, &summary, out)?;
        out.flush()?;
        let skipped =
            (self.rest.inputs.iter()).any(|i| matches!(i.status, InputStatus::Skipped { .. }));
        Ok(if !self.rest.errors.is_empty() || skipped {
            ExitStatus::Error
        } else if self.failing {
            ExitStatus::Failure
        } else {
            ExitStatus::Success
        })
    }
}
