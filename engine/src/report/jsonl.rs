//! The `jsonl` format: JSON Lines, one event per input as the run goes, for scripts that
//! read a large run while it runs (and stay in bounded memory).
//!
//! # Wire format
//!
//! One JSON object per line, each with an `event` field:
//!
//! 1. one `file` event per input, as soon as it is checked, in the order of the inputs'
//!    paths: the same object as `policy watch --format jsonl` writes
//!    (`{"event":"file","path":…,"status":"evaluated"|"skipped"|"failed",
//!    "documents":N (evaluated),"reason":… (skipped),"findings":[…],"errors":[…]}`, plus
//!    `suppressed`, `warnings` and `exceptions` arrays when they are not empty). Its
//!    findings, suppressed findings, errors, warnings and exceptions are the objects of
//!    the `json` format, those of the input: whose file is the input's, one of its
//!    documents' or under it (an input directory), and the rule errors met on it;
//! 2. one `run` event closing the output: `version`, `tool`, `run` and `summary` as in
//!    the `json` format (the summary counts the whole run), and `errors` and `warnings`
//!    (arrays, possibly empty) with those no `file` event held: the policy set's (a policy
//!    that does not compile), the run-wide step's.
//!
//! Fields and events may be added; consumers must ignore those they do not know.

use std::io;

use serde::Serialize;

use super::json::{
    WireError, WireException, WireFinding, WireHead, WireInput, WireSuppressed, WireWarning,
};
use super::stream::Streaming;
use super::{ReportOptions, Reporter, Summary};
use crate::diagnostics::{InputIndex, InputSummary, Report};

/// Writes JSON Lines.
#[derive(Debug, Clone)]
pub struct JsonlReporter {
    opts: ReportOptions,
}

impl JsonlReporter {
    /// A JSON Lines reporter; `opts.tool_version` goes into `tool.version`.
    pub fn new(opts: ReportOptions) -> Self {
        JsonlReporter { opts }
    }
}

/// The `file` event of one input (shared with `policy watch`).
#[derive(Serialize)]
pub(crate) struct FileEvent<'a> {
    #[serde(flatten)]
    input: WireInput<'a>,
    findings: Vec<WireFinding<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    suppressed: Vec<WireSuppressed<'a>>,
    errors: Vec<WireError<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<WireWarning<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    exceptions: Vec<WireException<'a>>,
}

impl<'a> FileEvent<'a> {
    /// The event of `input`, with nothing in it.
    pub(crate) fn new(input: &'a InputSummary) -> Self {
        FileEvent {
            input: WireInput::new(input),
            findings: Vec::new(),
            suppressed: Vec::new(),
            errors: Vec::new(),
            warnings: Vec::new(),
            exceptions: Vec::new(),
        }
    }

    /// The event of `report`'s only input, with everything of `report`.
    pub(crate) fn of_file(report: &'a Report) -> Option<Self> {
        let mut event = FileEvent::new(report.inputs.first()?);
        event.findings = report.findings.iter().map(WireFinding::new).collect();
        event.suppressed = report.suppressed.iter().map(WireSuppressed::new).collect();
        event.errors = report.errors.iter().map(WireError::new).collect();
        event.warnings = report.warnings.iter().map(WireWarning::new).collect();
        event.exceptions = report.exceptions.iter().map(WireException::new).collect();
        Some(event)
    }
}

#[derive(Serialize)]
#[serde(tag = "event", rename_all = "lowercase")]
enum Event<'a> {
    File(FileEvent<'a>),
    Run {
        #[serde(flatten)]
        head: WireHead<'a>,
        errors: Vec<WireError<'a>>,
        warnings: Vec<WireWarning<'a>>,
    },
}

fn write_line(event: &Event<'_>, out: &mut dyn io::Write) -> io::Result<()> {
    serde_json::to_writer(&mut *out, event).map_err(io::Error::from)?;
    writeln!(out)
}

impl Streaming for JsonlReporter {
    fn part(&self, part: &Report, out: &mut dyn io::Write) -> io::Result<()> {
        // Each item to its input's event; the others (a policy's error, say) are
        // written in the `run` event.
        let inputs = InputIndex::of(part);
        let mut events: Vec<FileEvent<'_>> = part.inputs.iter().map(FileEvent::new).collect();
        if let Some(shard) = &part.shard {
            for (event, position) in events.iter_mut().zip(&shard.positions) {
                event.input.position = Some(*position);
            }
        }
        for f in &part.findings {
            if let Some(i) = inputs.owner(&f.location.file) {
                events[i].findings.push(WireFinding::new(f));
            }
        }
        for s in &part.suppressed {
            if let Some(i) = inputs.owner(&s.finding.location.file) {
                events[i].suppressed.push(WireSuppressed::new(s));
            }
        }
        for e in &part.errors {
            if let Some(i) = inputs.owner_of_error(e) {
                events[i].errors.push(WireError::new(e));
            }
        }
        for w in &part.warnings {
            if let Some(i) = inputs.owner(&w.file) {
                events[i].warnings.push(WireWarning::new(w));
            }
        }
        for e in &part.exceptions {
            if let Some(i) = inputs.owner(&e.location.file) {
                events[i].exceptions.push(WireException::new(e));
            }
        }
        for event in events {
            write_line(&Event::File(event), out)?;
        }
        Ok(())
    }

    fn finish(
        &self,
        rest: &Report,
        summary: &Summary,
        out: &mut dyn io::Write,
    ) -> io::Result<()> {
        let inputs = InputIndex::of(rest);
        let (errors, warnings) = (
            (rest.errors.iter())
                .filter(|e| inputs.owner_of_error(e).is_none())
                .map(WireError::new)
                .collect(),
            (rest.warnings.iter())
                .filter(|w| inputs.owner(&w.file).is_none())
                .map(WireWarning::new)
                .collect(),
        );
        let head = WireHead::new(rest, summary, &self.opts);
        write_line(
            &Event::Run {
                head,
                errors,
                warnings,
            },
            out,
        )
    }
}

impl Reporter for JsonlReporter {
    fn write(&self, report: &Report, out: &mut dyn io::Write) -> io::Result<()> {
        self.part(report, out)?;
        self.finish(report, &Summary::of(report), out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    fn render(report: &Report) -> String {
        let mut out = Vec::new();
        JsonlReporter::new(ReportOptions::default())
            .write(report, &mut out)
            .expect("writing to a Vec cannot fail");
        String::from_utf8(out).expect("output is UTF-8")
    }

    #[test]
    fn jsonl_snapshot() {
        insta::assert_snapshot!(render(&fixture::report()));
    }

    /// Every finding, error and warning of the report is in exactly one event: its
    /// input's `file` event, else the `run` event.
    #[test]
    fn every_item_is_in_one_event() {
        let report = fixture::report();
        let events: Vec<serde_json::Value> = render(&report)
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON"))
            .collect();
        let count = |key: &str| -> usize {
            (events.iter())
                .map(|e| e[key].as_array().map_or(0, Vec::len))
                .sum()
        };
        assert_eq!(count("findings"), report.findings.len());
        assert_eq!(count("errors"), report.errors.len());
        assert_eq!(count("warnings"), report.warnings.len());
        assert_eq!(count("suppressed"), report.suppressed.len());
        let files = events.iter().filter(|e| e["event"] == "file").count();
        assert_eq!(files, report.inputs.len());
        assert_eq!(events.last().map(|e| &e["event"]), Some(&"run".into()));
    }
}
