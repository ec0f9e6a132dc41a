//! The YAML/JSON loader with its source map: the first byte picks the format, the rest is
//! the file. Every document's spans stay inside the text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use policy_engine::inputs::{load_bytes, Format, LoadOptions};

fuzz_target!(|data: &[u8]| {
    let Some((first, rest)) = data.split_first() else {
        return;
    };
    let (name, format) = if first % 2 == 0 {
        ("f.yaml", Format::Yaml)
    } else {
        ("f.json", Format::Json)
    };
    let report = load_bytes(name, rest, Some(format), &LoadOptions::default());
    let lines = rest.split(|b| *b == b'\n').count() as u32 + 1;
    for doc in &report.documents {
        assert!(doc.span.end.line <= lines, "{:?}", doc.span);
    }
});
