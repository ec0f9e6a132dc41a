//! `.policy.yaml` validation: any text is a configuration or a list of problems with
//! positions, never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = policy_engine::config::load_text(Path::new("/fuzz"), Path::new(".policy.yaml"), text);
});
