//! The output of `policy watch`: one [`Cycle`] at a time, as JSON Lines or as text.
//!
//! Watch mode does not produce one report per run but a stream: an initial cycle that
//! checks everything, then one cycle per burst of file changes. This module exists so
//! that the stream is written by the report layer like every other format, reusing the
//! JSON reporter's wire structs (a finding in the stream is the same object as in
//! `--format json`) and the text reporter's findings and code frames. The CLI decides
//! what a cycle holds; nothing here watches files or evaluates.
//!
//! # Wire format (`--format jsonl`)
//!
//! One JSON object per line, each with an `event` field. A cycle writes, in this order:
//!
//! 1. at most one `policies` event: the first cycle always has one (`"loaded"`), later
//!    cycles have one when a policy or data file changed:
//!    `{"event":"policies","status":"loaded"|"reloaded"|"rejected","rules":N,"errors":[…]}`.
//!    `rules` counts the rules in use after the event (after `rejected`, those of the
//!    last good set, which stays in use). `errors` are the load errors of the set that
//!    was loaded, or of the set that was rejected, in the `errors[]` shape of the `json`
//!    format (`id`, `kind`, `file`, `line`, `column`, `rule`, `input`, `message`).
//! 2. one `removed` event per input that is gone (deleted, renamed away, newly ignored or
//!    excluded): `{"event":"removed","path":"k8s/old.yaml"}`. A consumer clears what it
//!    showed for that path.
//! 3. one `file` event per input checked in this cycle:
//!    `{"event":"file","path":…,"status":"evaluated"|"skipped"|"failed",
//!    "documents":N (evaluated),"reason":… (skipped),"findings":[…],"errors":[…]}`, plus
//!    `"suppressed":[…]` when a `# policy:ignore=` comment, a `policy.dev/ignore`
//!    annotation or a configuration exception suppressed something, and `"warnings":[…]`
//!    when a suppression was unknown, unused or malformed. Findings, suppressed
//!    findings, errors and warnings are the objects of the `json` format. A `file`
//!    event replaces everything earlier events said about its path.
//! 4. one `cycle` event closing it:
//!    `{"event":"cycle","initial":bool,"files":N,"removed":N,"findings":N,"errors":N,"duration_ms":N}`,
//!    where `files` counts the `file` events and `findings`/`errors` count the findings
//!    and error records of this cycle's events.
//!
//! Each line is flushed as soon as it is written. Fields may be added; consumers must
//! ignore fields and events they do not know.

use std::io;
use std::time::Duration;

use serde::Serialize;

use super::json::WireError;
use super::text::{clean, TextReporter};
use super::{plural, ReportOptions};
use crate::diagnostics::{ErrorRecord, InputSummary, Report};

/// What happened to the policy set in a cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyStatus {
    /// The first load, when watching starts.
    Loaded,
    /// A policy or data file changed and the new set is in use.
    Reloaded,
    /// A policy or data file changed but the new set is broken; the last good set stays.
    Rejected,
}

impl PolicyStatus {
    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyStatus::Loaded => "loaded",
            PolicyStatus::Reloaded => "reloaded",
            PolicyStatus::Rejected => "rejected",
        }
    }
}

/// The policy part of a cycle.
#[derive(Debug, Clone)]
pub struct PolicyUpdate {
    /// What happened.
    pub status: PolicyStatus,
    /// Rules in use afterwards.
    pub rules: usize,
    /// Load errors of the loaded, or rejected, set.
    pub errors: Vec<ErrorRecord>,
}

/// One cycle of watch mode: what changed and the results for it.
#[derive(Debug, Clone, Default)]
pub struct Cycle {
    /// The first cycle, which checks every input.
    pub initial: bool,
    /// Local wall-clock time of the cycle, `HH:MM:SS` (text headers only).
    pub clock: String,
    /// The policy set's news, if any.
    pub policies: Option<PolicyUpdate>,
    /// Inputs that are gone.
    pub removed: Vec<String>,
    /// One report per checked input: `inputs` has exactly that input, and the findings,
    /// suppressed findings, errors and sources are those of its documents.
    pub files: Vec<Report>,
    /// How long the cycle took.
    pub duration: Duration,
}

impl Cycle {
    /// Findings over all checked files.
    pub fn findings(&self) -> usize {
        self.files.iter().map(|f| f.findings.len()).sum()
    }

    /// Error records over all events of the cycle.
    pub fn errors(&self) -> usize {
        self.files.iter().map(|f| f.errors.len()).sum::<usize>()
            + self.policies.as_ref().map_or(0, |p| p.errors.len())
    }

    /// Whether the cycle has nothing to say (no policy news, nothing checked or removed).
    pub fn is_empty(&self) -> bool {
        !self.initial && self.policies.is_none() && self.removed.is_empty() && self.files.is_empty()
    }
}

/// Writes cycles.
pub trait CycleWriter {
    /// Writes `cycle` to `out`, flushing as it goes. Only I/O can fail.
    fn write(&self, cycle: &Cycle, out: &mut dyn io::Write) -> io::Result<()>;
}

/// `--format jsonl`: the documented event stream.
#[derive(Debug, Clone, Default)]
pub struct JsonlWriter;

#[derive(Serialize)]
#[serde(tag = "event", rename_all = "lowercase")]
enum Event<'a> {
    Policies {
        status: &'static str,
        rules: usize,
        errors: Vec<WireError<'a>>,
    },
    Removed {
        path: &'a str,
    },
    File(super::jsonl::FileEvent<'a>),
    Cycle {
        initial: bool,
        files: usize,
        removed: usize,
        findings: usize,
        errors: usize,
        duration_ms: u128,
    },
}

fn write_line(event: &Event<'_>, out: &mut dyn io::Write) -> io::Result<()> {
    serde_json::to_writer(&mut *out, event).map_err(io::Error::from)?;
    writeln!(out)?;
    out.flush()
}

/// The input a per-file report is about (its only entry in `inputs`).
fn input_of(report: &Report) -> Option<&InputSummary> {
    report.inputs.first()
}

impl CycleWriter for JsonlWriter {
    fn write(&self, cycle: &Cycle, out: &mut dyn io::Write) -> io::Result<()> {
        if let Some(p) = &cycle.policies {
            write_line(
                &Event::Policies {
                    status: p.status.as_str(),
                    rules: p.rules,
                    errors: p.errors.iter().map(WireError::new).collect(),
                },
                out,
            )?;
        }
        for path in &cycle.removed {
            write_line(&Event::Removed { path }, out)?;
        }
        for file in &cycle.files {
            if let Some(event) = super::jsonl::FileEvent::of_file(file) {
                write_line(&Event::File(event), out)?;
            }
        }
        write_line(
            &Event::Cycle {
                initial: cycle.initial,
                files: cycle.files.len(),
                removed: cycle.removed.len(),
                findings: cycle.findings(),
                errors: cycle.errors(),
                duration_ms: cycle.duration.as_millis(),
            },
            out,
        )
    }
}

/// `--format text`: a header line per cycle, then findings and errors as the text
/// reporter writes them.
///
/// ```text
/// [12:03:04] policies loaded: 57 rules
/// [12:03:04] 3 files checked: 1 finding, 0 errors
/// Dockerfile:1:6: HIGH [DF001] ...
/// [12:03:09] 1 file re-checked: 0 findings, 0 errors
/// ok: Dockerfile
/// ```
#[derive(Debug, Clone)]
pub struct TextWriter {
    text: TextReporter,
}

impl TextWriter {
    /// A text writer; `opts.color` turns on colour.
    pub fn new(opts: ReportOptions) -> Self {
        TextWriter {
            text: TextReporter::new(opts),
        }
    }
}

impl CycleWriter for TextWriter {
    fn write(&self, cycle: &Cycle, out: &mut dyn io::Write) -> io::Result<()> {
        let stamp = format!("[{}]", cycle.clock);
        if let Some(p) = &cycle.policies {
            let rules = plural(p.rules, "rule", "rules");
            let line = match p.status {
                PolicyStatus::Rejected => self.text.error(&format!(
                    "policies rejected, keeping the last good set ({rules}): {}",
                    plural(p.errors.len(), "error", "errors")
                )),
                status if p.errors.is_empty() => format!("policies {}: {rules}", status.as_str()),
                status => format!(
                    "policies {}: {rules}, {}",
                    status.as_str(),
                    plural(p.errors.len(), "error", "errors")
                ),
            };
            writeln!(out, "{} {line}", self.text.bold(&stamp))?;
            let errors = Report {
                errors: p.errors.clone(),
                ..Report::default()
            };
            self.text.write_body(&errors, out)?;
        }
        if cycle.initial || !cycle.files.is_empty() || !cycle.removed.is_empty() {
            let verb = if cycle.initial {
                "checked"
            } else {
                "re-checked"
            };
            let removed = if cycle.removed.is_empty() {
                String::new()
            } else {
                format!(", {} removed", cycle.removed.len())
            };
            writeln!(
                out,
                "{} {} {verb}{removed}: {}, {}",
                self.text.bold(&stamp),
                plural(cycle.files.len(), "file", "files"),
                plural(cycle.findings(), "finding", "findings"),
                plural(
                    cycle.files.iter().map(|f| f.errors.len()).sum(),
                    "error",
                    "errors"
                ),
            )?;
        }
        for path in &cycle.removed {
            writeln!(out, "removed: {}", clean(path))?;
        }
        for file in &cycle.files {
            self.text.write_body(file, out)?;
            let clean_file = file.findings.is_empty() && file.errors.is_empty();
            if let (false, true, Some(input)) = (cycle.initial, clean_file, input_of(file)) {
                writeln!(out, "ok: {}", clean(&input.path))?;
            }
        }
        out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::{ErrorKind, InputStatus};
    use crate::report::{fixture, Reporter};

    /// The fixture's report as the per-file reports of one cycle.
    fn cycle() -> Cycle {
        let report = fixture::report();
        let files = report
            .inputs
            .iter()
            .map(|input| Report {
                inputs: vec![input.clone()],
                findings: report
                    .findings
                    .iter()
                    .filter(|f| *f.location.file == *input.path)
                    .cloned()
                    .collect(),
                errors: report
                    .errors
                    .iter()
                    .filter(|e| {
                        e.kind != ErrorKind::PolicyError
                            && *e.input.as_ref().unwrap_or(&e.file) == input.path
                    })
                    .cloned()
                    .collect(),
                sources: report.sources.clone(),
                ..Report::default()
            })
            .collect();
        Cycle {
            initial: false,
            clock: "12:03:04".into(),
            policies: Some(PolicyUpdate {
                status: PolicyStatus::Rejected,
                rules: 6,
                errors: report
                    .errors
                    .iter()
                    .filter(|e| e.kind == ErrorKind::PolicyError)
                    .cloned()
                    .collect(),
            }),
            removed: vec!["k8s/old.yaml".into()],
            files,
            duration: Duration::from_millis(42),
        }
    }

    fn render(writer: &dyn CycleWriter, cycle: &Cycle) -> String {
        let mut out = Vec::new();
        writer
            .write(cycle, &mut out)
            .expect("writing to a Vec cannot fail");
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn jsonl_events_follow_the_documented_order_and_shapes() {
        let cycle = cycle();
        let out = render(&JsonlWriter, &cycle);
        let events: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
            .collect();
        let kinds: Vec<&str> = events
            .iter()
            .map(|e| e["event"].as_str().expect("event field"))
            .collect();
        let files = cycle.files.len();
        let mut expected = vec!["policies", "removed"];
        expected.extend(std::iter::repeat_n("file", files));
        expected.push("cycle");
        assert_eq!(kinds, expected);

        assert_eq!(events[0]["status"], "rejected");
        assert_eq!(events[0]["rules"], 6);
        assert_eq!(events[0]["errors"][0]["id"], "POL003");
        assert_eq!(events[1]["path"], "k8s/old.yaml");

        let dockerfile = events
            .iter()
            .find(|e| e["event"] == "file" && e["path"] == "Dockerfile")
            .expect("a file event for the Dockerfile");
        assert_eq!(dockerfile["status"], "evaluated");
        assert_eq!(dockerfile["documents"], 1);
        // The same finding objects as `--format json`.
        let first = &dockerfile["findings"][0];
        assert_eq!(first["rule_id"], "DF001");
        assert_eq!(first["start_line"], 1);
        assert_eq!(first["pointer"], "/stages/0/from");
        assert!(dockerfile.get("suppressed").is_none());
        let skipped = events
            .iter()
            .find(|e| e["status"] == "skipped")
            .expect("the skipped input");
        assert!(skipped["reason"].is_string());

        let last = events.last().expect("cycle event");
        assert_eq!(last["initial"], false);
        assert_eq!(last["files"], files);
        assert_eq!(last["removed"], 1);
        assert_eq!(last["findings"], cycle.findings());
        assert_eq!(last["errors"], cycle.errors());
        assert_eq!(last["duration_ms"], 42);
    }

    #[test]
    fn jsonl_finding_objects_are_the_json_formats() {
        let cycle = cycle();
        let mut json = Vec::new();
        crate::report::json::JsonReporter::new(ReportOptions::default())
            .write(&fixture::report(), &mut json)
            .expect("write");
        let json: serde_json::Value = serde_json::from_slice(&json).expect("JSON");
        let out = render(&JsonlWriter, &cycle);
        let streamed: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON line"))
            .filter(|e| e["event"] == "file")
            .flat_map(|e| e["findings"].as_array().cloned().unwrap_or_default())
            .collect();
        let all = json["findings"].as_array().expect("findings");
        assert_eq!(streamed.len(), all.len());
        for f in &streamed {
            assert!(all.contains(f), "{f} is not a `json` finding");
        }
    }

    #[test]
    fn text_has_a_header_per_cycle_and_the_text_reporters_findings() {
        let cycle = cycle();
        let out = render(&TextWriter::new(ReportOptions::default()), &cycle);
        let mut lines = out.lines();
        assert_eq!(
            lines.next(),
            Some("[12:03:04] policies rejected, keeping the last good set (6 rules): 1 error")
        );
        assert!(out.contains("error[POL003]"), "{out}");
        let header = format!(
            "[12:03:04] {} files re-checked, 1 removed: {} findings, {} errors",
            cycle.files.len(),
            cycle.findings(),
            cycle.errors() - 1
        );
        assert!(out.contains(&header), "{out}");
        assert!(out.contains("removed: k8s/old.yaml"), "{out}");
        assert!(
            out.contains("Dockerfile:1:6: HIGH [DF001]"),
            "the text reporter's header: {out}"
        );
        assert!(
            out.contains("1 | FROM ubuntu:latest"),
            "a code frame: {out}"
        );
        assert!(!out.contains("inputs:"), "no per-report summary: {out}");
    }

    #[test]
    fn text_lists_clean_files_after_the_first_cycle() {
        let input = InputSummary {
            path: "Dockerfile".into(),
            status: InputStatus::Evaluated { documents: 1 },
        };
        let mut cycle = Cycle {
            clock: "09:00:00".into(),
            files: vec![Report {
                inputs: vec![input],
                ..Report::default()
            }],
            ..Cycle::default()
        };
        let out = render(&TextWriter::new(ReportOptions::default()), &cycle);
        assert_eq!(
            out,
            "[09:00:00] 1 file re-checked: 0 findings, 0 errors\nok: Dockerfile\n"
        );
        cycle.initial = true;
        let out = render(&TextWriter::new(ReportOptions::default()), &cycle);
        assert_eq!(out, "[09:00:00] 1 file checked: 0 findings, 0 errors\n");
        assert!(!cycle.is_empty());
        assert!(Cycle::default().is_empty());
    }

    /// The small cycle docs/watch.md shows.
    fn docs_cycle() -> Cycle {
        let report = fixture::report();
        let dockerfile = Report {
            inputs: vec![report.inputs[0].clone()],
            findings: vec![report.findings[0].clone()],
            sources: report.sources.clone(),
            ..Report::default()
        };
        Cycle {
            initial: false,
            clock: "12:03:04".into(),
            policies: Some(PolicyUpdate {
                status: PolicyStatus::Reloaded,
                rules: 6,
                errors: Vec::new(),
            }),
            removed: vec!["k8s/old.yaml".into()],
            files: vec![dockerfile],
            duration: Duration::from_millis(42),
        }
    }

    /// docs/watch.md shows the writers' real output; keep it in sync.
    #[test]
    fn docs_samples_match_the_writers() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/watch.md");
        let doc = std::fs::read_to_string(&path).expect("docs/watch.md exists");
        let cycle = docs_cycle();
        for (name, out) in [
            ("jsonl", render(&JsonlWriter, &cycle)),
            (
                "text",
                render(&TextWriter::new(ReportOptions::default()), &cycle),
            ),
        ] {
            assert!(
                doc.contains(out.trim_end()),
                "the {name} sample in docs/watch.md is stale; it is now:\n{out}"
            );
        }
    }
}
