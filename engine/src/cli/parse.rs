//! `policy parse`: prints the documents exactly as policies receive them.

use std::io::Write;

use serde_json::json;

use super::args::{DockerfileInput, ParseArgs};
use super::eval::{collect_inputs, load_config};
use super::ExitStatus;
use crate::inputs::{dockerfile, DocumentKind};

pub(super) fn run(mut a: ParseArgs, out: &mut dyn Write) -> anyhow::Result<ExitStatus> {
    let cfg = load_config(&a.config)?;
    if a.format == super::conftest::ParseFormat::Conftest {
        a.input.empty_yaml_as_null = true;
        let files = collect_inputs(&a.input, cfg.as_ref())?;
        return super::conftest::write_parsed(&files, out);
    }
    let files = collect_inputs(&a.input, cfg.as_ref())?;
    if a.inventory {
        return print_inventory(&files, out);
    }
    let mut status = ExitStatus::Success;
    let mut items = Vec::new();
    for f in &files {
        let mut docs = Vec::new();
        for d in &f.documents {
            let value = if d.kind == DocumentKind::Dockerfile
                && a.dockerfile_input == DockerfileInput::Conftest
            {
                dockerfile::conftest_view(d).0
            } else {
                d.value.clone()
            };
            let mut doc = json!({
                "kind": d.kind,
                "index": d.index,
                "input": value,
            });
            if a.spans {
                doc["spans"] = serde_json::to_value(d.source_map.to_sorted())?;
            }
            docs.push(doc);
        }
        if !f.errors.is_empty() {
            status = ExitStatus::Error;
        }
        let mut item = json!({ "path": &*f.path, "documents": docs });
        if !f.errors.is_empty() {
            item["errors"] = serde_json::to_value(&f.errors)?;
            for e in &f.errors {
                eprintln!("{e}");
            }
        }
        if let Some(reason) = &f.skipped {
            item["skipped"] = json!(reason);
            eprintln!("{}: skipped: {reason}", f.path);
        }
        items.push(item);
    }
    serde_json::to_writer_pretty(&mut *out, &items)?;
    writeln!(out)?;
    Ok(status)
}

/// `policy parse --inventory`: the inventory of every Kubernetes document of `files`.
/// Files that could not be read are reported on stderr and make the exit status 2, as
/// without the flag.
fn print_inventory(
    files: &[crate::inputs::FileReport],
    out: &mut dyn Write,
) -> anyhow::Result<ExitStatus> {
    let mut status = ExitStatus::Success;
    for f in files {
        for e in &f.errors {
            eprintln!("{e}");
            status = ExitStatus::Error;
        }
        if let Some(reason) = &f.skipped {
            eprintln!("{}: skipped: {reason}", f.path);
        }
    }
    let inventory = crate::eval::inventory::build(files.iter().flat_map(|f| f.documents.iter()));
    serde_json::to_writer_pretty(&mut *out, &json!({ "inventory": inventory }))?;
    writeln!(out)?;
    Ok(status)
}
