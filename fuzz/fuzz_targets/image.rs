//! Image-metadata normalisation (docker inspect, OCI config and manifest, SBOM-like JSON)
//! on arbitrary JSON read as kind `image`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use policy_engine::inputs::{load_bytes, DocumentKind, Format, LoadOptions};

fuzz_target!(|data: &[u8]| {
    let opts = LoadOptions {
        kind: Some(DocumentKind::Image),
        ..LoadOptions::default()
    };
    let _ = load_bytes("image.json", data, Some(Format::Json), &opts);
});
