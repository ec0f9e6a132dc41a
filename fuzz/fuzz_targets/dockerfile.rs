//! The Dockerfile parser, including ARG and `${…}` expansion, the conftest view and the
//! source positions: any text parses or fails with an error, never a panic or a runaway.
#![no_main]

use libfuzzer_sys::fuzz_target;
use policy_engine::inputs::dockerfile;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(doc) = dockerfile::parse("Dockerfile", text) {
        let _ = dockerfile::conftest_view(&doc);
        // Every recorded span lies inside the text.
        let lines = text.split('\n').count() as u32 + 1;
        assert!(doc.span.end.line <= lines);
    }
});
