//! The YAML/JSON loader with its source map: the first byte picks the format, the rest is
//! the file. Every document's spans stay inside the text. A YAML text is also loaded as
//! an editor's buffer (`inputs::load_buffer`), before and after a character is typed
//! into it (where the first byte says), reusing the parts of the last parse: each time,
//! exactly what loading it whole gives.
#![no_main]

use libfuzzer_sys::fuzz_target;
use policy_engine::inputs::yaml::Reuse;
use policy_engine::inputs::{load_buffer, load_bytes, Format, LoadOptions};
use policy_engine::inputs::{Document, FileReport};

fn key(d: &Document) -> impl PartialEq + std::fmt::Debug + '_ {
    (
        (d.kind, d.index, d.span, &d.value),
        d.source_map.to_sorted(),
        (&*d.source, d.first_line, &*d.path),
    )
}

fn same(a: &FileReport, b: &FileReport) {
    let (ka, kb): (Vec<_>, Vec<_>) = (
        a.documents.iter().map(key).collect(),
        b.documents.iter().map(key).collect(),
    );
    assert_eq!(ka, kb);
    assert_eq!(a.errors, b.errors);
    assert_eq!(a.skipped, b.skipped);
}

fuzz_target!(|data: &[u8]| {
    let Some((first, rest)) = data.split_first() else {
        return;
    };
    let (name, format) = if first % 2 == 0 {
        ("f.yaml", Format::Yaml)
    } else {
        ("f.json", Format::Json)
    };
    let opts = LoadOptions::default();
    let report = load_bytes(name, rest, Some(format), &opts);
    let lines = rest.split(|b| *b == b'\n').count() as u32 + 1;
    for doc in &report.documents {
        assert!(doc.span.end.line <= lines, "{:?}", doc.span);
    }
    let (Format::Yaml, Ok(text)) = (format, std::str::from_utf8(rest)) else {
        return;
    };
    let mut reuse = Reuse::default();
    same(&load_buffer(name, text, Some(format), &opts, &mut reuse), &report);
    let mut at = usize::from(*first / 2) * text.len() / 128;
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let typed = ["x", "\n", ":", " "][usize::from(*first) % 4];
    let mut edited = text.to_string();
    edited.insert_str(at, typed);
    let whole = load_bytes(name, edited.as_bytes(), Some(format), &opts);
    same(&load_buffer(name, &edited, Some(format), &opts, &mut reuse), &whole);
});
