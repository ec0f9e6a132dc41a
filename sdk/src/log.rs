//! Guest logging through the optional `env.log(level, ptr, len)` import.
//!
//! A module that never logs does not import anything. Natively (under `cargo test`) the
//! messages go to stderr.

use crate::abi::LogLevel;

/// Sends `msg` to the host at `level`. The host may drop it or cap its size.
pub fn log(level: LogLevel, msg: &str) {
    #[cfg(target_arch = "wasm32")]
    #[allow(unsafe_code)]
    {
        #[link(wasm_import_module = "env")]
        extern "C" {
            #[link_name = "log"]
            fn host_log(level: i32, ptr: i32, len: i32);
        }
        // SAFETY: the host reads `len` bytes at `ptr` during the call and keeps no reference;
        // `msg` outlives the call.
        unsafe {
            host_log(
                level.as_i32(),
                msg.as_ptr() as usize as i32,
                msg.len() as i32,
            )
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("[{}] {}", level.as_str(), msg);
}

/// Logs at debug level.
pub fn debug(msg: &str) {
    log(LogLevel::Debug, msg)
}

/// Logs at info level.
pub fn info(msg: &str) {
    log(LogLevel::Info, msg)
}

/// Logs at warn level.
pub fn warn(msg: &str) {
    log(LogLevel::Warn, msg)
}
