//! The guest side of the ABI: what [`export_policy!`](crate::export_policy) expands to.
//!
//! The request/reply handling ([`handle_metadata`], [`handle_evaluate`]) is plain safe Rust
//! over byte slices, shared with the native [`testing`](crate::testing) helpers so that
//! `cargo test` exercises the same JSON round trip as the host. Only the raw-pointer glue
//! (allocation and reading the request out of linear memory) is specific to wasm32.

use crate::abi::{EvaluateRequest, EvaluateResponse, GuestFinding, PolicyMetadata};
use crate::{Error, Input};

/// The signature of a policy's evaluate function.
pub type EvaluateFn = fn(&Input) -> Result<Vec<GuestFinding>, Error>;
/// The signature of a policy's metadata function.
pub type MetadataFn = fn() -> PolicyMetadata;

/// Serialises the metadata reply.
pub fn handle_metadata(metadata: MetadataFn) -> Vec<u8> {
    to_json(&metadata())
}

/// Decodes a request, runs `evaluate` and serialises the reply. A request that does not
/// decode, or an `Err` from the policy, becomes `{"error": "..."}`.
pub fn handle_evaluate(request: &[u8], evaluate: EvaluateFn) -> Vec<u8> {
    let response = match serde_json::from_slice::<EvaluateRequest>(request) {
        Ok(req) => match evaluate(&Input::new(req)) {
            Ok(findings) => EvaluateResponse::Findings { findings },
            Err(e) => EvaluateResponse::Error { error: e.0 },
        },
        Err(e) => EvaluateResponse::Error {
            error: format!("cannot decode request: {e}"),
        },
    };
    to_json(&response)
}

fn to_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_else(|e| {
        // Serialising these plain structs cannot fail in practice; keep the reply valid JSON.
        format!(
            r#"{{"error":"cannot encode reply: {}"}}"#,
            e.to_string().replace('"', "'")
        )
        .into_bytes()
    })
}

/// Raw-pointer glue used by the exported functions on wasm32. Every buffer crossing the
/// boundary is allocated with alignment 1 and its exact length, so `policy_dealloc(ptr, len)`
/// can free both host-allocated requests and guest replies.
#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
#[allow(unsafe_code)]
pub mod raw {
    use std::alloc::Layout;

    use super::{EvaluateFn, MetadataFn};
    use crate::abi::pack;

    /// `policy_alloc`: `len` bytes owned by the caller, or 0 when `len <= 0` or out of memory.
    pub fn alloc(len: i32) -> i32 {
        let Ok(len) = usize::try_from(len) else {
            return 0;
        };
        let Ok(layout) = Layout::from_size_align(len, 1) else {
            return 0;
        };
        if len == 0 {
            return 0;
        }
        // SAFETY: the layout has a non-zero size (checked above).
        let ptr = unsafe { std::alloc::alloc(layout) };
        ptr as usize as i32
    }

    /// `policy_dealloc`: frees a buffer from `policy_alloc` or a reply, given its exact length.
    pub fn dealloc(ptr: i32, len: i32) {
        let Ok(len) = usize::try_from(len) else {
            return;
        };
        if ptr == 0 || len == 0 {
            return;
        }
        let Ok(layout) = Layout::from_size_align(len, 1) else {
            return;
        };
        // SAFETY: the ABI (sdk/ABI.md, "Memory ownership") lets the host pass back only a
        // pointer it got from `policy_alloc(len)` or a reply `(ptr, len)`; both were allocated
        // here with exactly this layout and are freed at most once.
        unsafe { std::alloc::dealloc(ptr as u32 as usize as *mut u8, layout) }
    }

    fn leak(bytes: Vec<u8>) -> i64 {
        let len = bytes.len() as u32;
        let ptr = Box::into_raw(bytes.into_boxed_slice()) as *mut u8 as usize as u32;
        pack(ptr, len)
    }

    /// `policy_metadata`.
    pub fn metadata(f: MetadataFn) -> i64 {
        leak(super::handle_metadata(f))
    }

    /// `policy_evaluate`: takes ownership of the request buffer.
    pub fn evaluate(ptr: i32, len: i32, f: EvaluateFn) -> i64 {
        let request = match usize::try_from(len) {
            Ok(n) if ptr != 0 && n > 0 => {
                // SAFETY: the host wrote `len` bytes at `ptr`, a buffer it obtained from
                // `policy_alloc(len)`; nothing else aliases it during this call.
                let bytes =
                    unsafe { std::slice::from_raw_parts(ptr as u32 as usize as *const u8, n) };
                bytes.to_vec()
            }
            _ => Vec::new(),
        };
        dealloc(ptr, len);
        leak(super::handle_evaluate(&request, f))
    }
}

/// Exports ABI version 1 (see `sdk/ABI.md`) from two plain Rust functions:
/// `fn() -> PolicyMetadata` and `fn(&Input) -> Result<Vec<GuestFinding>, Error>`.
///
/// On wasm32 this defines `policy_abi_version`, `policy_alloc`, `policy_dealloc`,
/// `policy_metadata` and `policy_evaluate`; on other targets it only type-checks the two
/// functions, so `cargo test` runs natively through [`testing`](crate::testing).
///
/// ```
/// use policy_sdk::abi::{GuestFinding, PolicyMetadata};
/// use policy_sdk::{Error, Input};
///
/// fn metadata() -> PolicyMetadata { PolicyMetadata::default() }
/// fn evaluate(_input: &Input) -> Result<Vec<GuestFinding>, Error> { Ok(vec![]) }
///
/// policy_sdk::export_policy!(metadata, evaluate);
/// ```
#[macro_export]
macro_rules! export_policy {
    ($metadata:path, $evaluate:path $(,)?) => {
        const _: $crate::export::MetadataFn = $metadata;
        const _: $crate::export::EvaluateFn = $evaluate;

        #[cfg(target_arch = "wasm32")]
        const _: () = {
            #[allow(unsafe_code)]
            #[no_mangle]
            pub extern "C" fn policy_abi_version() -> i32 {
                $crate::abi::ABI_VERSION as i32
            }

            #[allow(unsafe_code)]
            #[no_mangle]
            pub extern "C" fn policy_alloc(len: i32) -> i32 {
                $crate::export::raw::alloc(len)
            }

            #[allow(unsafe_code)]
            #[no_mangle]
            pub extern "C" fn policy_dealloc(ptr: i32, len: i32) {
                $crate::export::raw::dealloc(ptr, len)
            }

            #[allow(unsafe_code)]
            #[no_mangle]
            pub extern "C" fn policy_metadata() -> i64 {
                $crate::export::raw::metadata($metadata)
            }

            #[allow(unsafe_code)]
            #[no_mangle]
            pub extern "C" fn policy_evaluate(ptr: i32, len: i32) -> i64 {
                $crate::export::raw::evaluate(ptr, len, $evaluate)
            }
        };
    };
}
