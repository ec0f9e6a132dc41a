//! Shared helpers: repository paths and in-process evaluation.

use std::path::PathBuf;

use policy_engine::diagnostics::{ErrorRecord, Finding};
use policy_engine::eval::{self, PolicySet, Worker};
use policy_engine::inputs::{self, LoadOptions};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Parses `text` as if it were the file `filename` and evaluates every document.
pub fn eval_text(set: &PolicySet, filename: &str, text: &str) -> (Vec<Finding>, Vec<ErrorRecord>) {
    let opts = LoadOptions::default();
    let format = inputs::format_from_name(std::path::Path::new(filename))
        .or_else(|| inputs::format_from_content(text))
        .unwrap_or(inputs::Format::Yaml);
    let report = inputs::load_text(filename, text, format, &opts);
    let mut errors: Vec<ErrorRecord> = report.errors.into_iter().map(ErrorRecord::from).collect();
    let mut findings = Vec::new();
    let mut worker = Worker::new(set);
    for doc in &report.documents {
        let (f, e) = eval::evaluate_document(set, &mut worker, doc);
        findings.extend(f);
        errors.extend(e);
    }
    findings.sort_by(|a, b| {
        (a.location.span.start, &a.rule.id, &a.message).cmp(&(
            b.location.span.start,
            &b.rule.id,
            &b.message,
        ))
    });
    (findings, errors)
}
