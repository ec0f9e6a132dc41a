//! A YAML stream read in batches (`inputs::batch`) gives what the whole text gives: the
//! first byte picks the batch size, the rest is the stream. Where the whole load has
//! documents, the batches have the same documents (kind, index, span, value and source
//! map) and the same errors, and their texts put together are the text; where the whole
//! load fails the file (invalid UTF-8, a NUL byte), the batches end with an error.
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
    let whole = load_bytes("s.yaml", rest, Some(Format::Yaml), &opts);
    let reader: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(rest.to_vec()));
    let size = usize::from(*first) + 1;
    let parts: Vec<_> = Batches::new(reader, "s.yaml", &opts, size, true).collect();
    if whole.documents.is_empty() {
        return;
    }
    let parts: Vec<_> = parts
        .into_iter()
        .map(|p| p.expect("a text the whole load parsed reads in batches"))
        .collect();
    let text: String = parts.iter().map(|p| &*p.source).collect();
    assert_eq!(Some(text.as_str()), whole.source.as_deref());
    let docs: Vec<_> = parts.iter().flat_map(|p| &p.documents).collect();
    assert_eq!(docs.len(), whole.documents.len());
    for (a, b) in docs.iter().zip(&whole.documents) {
        assert_eq!((a.kind, a.index, a.span), (b.kind, b.index, b.span));
        assert_eq!(a.value, b.value);
        assert_eq!(a.source_map.to_sorted(), b.source_map.to_sorted());
    }
    let errors: Vec<_> = parts.iter().flat_map(|p| &p.errors).collect();
    let expected: Vec<_> = whole.errors.iter().collect();
    assert_eq!(errors, expected);
});
