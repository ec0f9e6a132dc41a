//! The WASM ABI reply decoding: whatever bytes a guest returns from `metadata` or
//! `evaluate` become rules, findings or an error naming the module.
#![no_main]

use std::collections::HashSet;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use policy_engine::runtimes::wasm::{decode_evaluate_reply, decode_metadata_reply};

fuzz_target!(|data: &[u8]| {
    let path = Path::new("guest.wasm");
    let _ = decode_metadata_reply(path, data, false);
    let ids: HashSet<String> = ["X001".to_string(), "X002".to_string()].into();
    let _ = decode_evaluate_reply(path, &ids, data);
});
