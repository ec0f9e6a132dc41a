//! Inline suppression parsing (`# policy:ignore=…` comments and the `policy.dev/ignore`
//! annotation) over documents of any shape: the first byte picks Dockerfile or YAML.
#![no_main]

use libfuzzer_sys::fuzz_target;
use policy_engine::eval::suppress;
use policy_engine::inputs::{load_bytes, Format, LoadOptions};

fuzz_target!(|data: &[u8]| {
    let Some((first, rest)) = data.split_first() else {
        return;
    };
    let (name, format) = if first % 2 == 0 {
        ("Dockerfile", Format::Dockerfile)
    } else {
        ("k.yaml", Format::Yaml)
    };
    let report = load_bytes(name, rest, Some(format), &LoadOptions::default());
    let docs: Vec<_> = report.documents.iter().collect();
    let _ = suppress::scan(&docs);
});
