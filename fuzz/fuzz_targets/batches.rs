//! A YAML stream read in batches (`inputs::batch`) gives what the whole text gives: the
//! first byte picks the batch size, the rest is the stream. A streamed run evaluates a
//! stream in batches only when every batch reads without an error and there is a
//! document (`eval::stream::scan_with`; else it loads the stream whole), so that is the
//! case checked (and the text is not only white space, nor has a bare carriage return): then the whole load has no error either, the same documents (kind,
//! index, span, value and source map), and the batches' texts put together are its text.
#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use policy_engine::inputs::batch::Batches;
use policy_engine::inputs::{load_bytes, Format, LoadOptions};

fuzz_target!(|data: &[u8]| {
    let Some((first, rest)) = data.split_first() else {
        return;
    };
    let opts = LoadOptions::default();
    let reader: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(rest.to_vec()));
    let size = usize::from(*first) + 1;
    let parts: Option<Vec<_>> = Batches::new(reader, "s.yaml", &opts, size, true)
        .map(|p| p.ok().filter(|b| b.errors.is_empty()))
        .collect();
    let Some(parts) = parts else {
        return; // read whole
    };
    if parts.iter().all(|p| p.documents.is_empty())
        || parts.iter().all(|p| p.source.trim().is_empty())
        || parts.iter().any(|p| policy_engine::inputs::yaml::has_bare_cr(&p.source))
    {
        return; // read whole
    }
    let whole = load_bytes("s.yaml", rest, Some(Format::Yaml), &opts);
    assert_eq!(whole.errors, Vec::new(), "clean batches, so a clean whole");
    let text: String = parts.iter().map(|p| &*p.source).collect();
    assert_eq!(Some(text.as_str()), whole.source.as_deref());
    let docs: Vec<_> = parts.iter().flat_map(|p| &p.documents).collect();
    assert_eq!(docs.len(), whole.documents.len());
    for (a, b) in docs.iter().zip(&whole.documents) {
        assert_eq!((a.kind, a.index, a.span), (b.kind, b.index, b.span));
        assert_eq!(a.value, b.value);
        assert_eq!(a.source_map.to_sorted(), b.source_map.to_sorted());
    }
});
