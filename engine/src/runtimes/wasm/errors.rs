//! Errors of the WASM runtime: one enum, each variant naming the module (`path`) and
//! carrying enough context to report the problem as a rule error for that policy and
//! document while the run goes on.
//!
//! Traps and interrupts are classified by downcasting [`wasmtime::Trap`], never by message
//! text.

use std::path::PathBuf;
use std::time::Duration;

/// A boxed wasmtime error kept as the `source` of a [`WasmError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Result alias for this module.
pub type Result<T, E = WasmError> = std::result::Result<T, E>;

/// Everything that can go wrong loading or running a WASM policy.
#[derive(Debug, thiserror::Error)]
pub enum WasmError {
    /// The wasmtime engine could not be configured.
    #[error("cannot configure the wasm engine: {message}")]
    Engine {
        /// Why.
        message: String,
    },
    /// The module is not valid WebAssembly or could not be compiled.
    #[error("{}: cannot compile wasm module: {message}", path.display())]
    Compile {
        /// The module.
        path: PathBuf,
        /// Why.
        message: String,
        /// The wasmtime error.
        #[source]
        source: BoxError,
    },
    /// A required export is missing or has the wrong type.
    #[error("{}: not a policy module (ABI v{}): {problem}", path.display(), policy_sdk::abi::ABI_VERSION)]
    BadExport {
        /// The module.
        path: PathBuf,
        /// Which export and what is wrong with it.
        problem: String,
    },
    /// The module imports something the host does not provide.
    #[error("{}: module imports `{module}.{name}`, which the host does not provide (the only import allowed is `env.log(i32, i32, i32)`)", path.display())]
    UnsupportedImport {
        /// The module.
        path: PathBuf,
        /// Import module name.
        module: String,
        /// Import field name.
        name: String,
    },
    /// `policy_abi_version` returned a version this host does not implement.
    #[error("{}: module implements policy ABI version {found}, but this host implements version {expected}", path.display())]
    AbiVersion {
        /// The module.
        path: PathBuf,
        /// What the module returned.
        found: i32,
        /// What the host implements.
        expected: u32,
    },
    /// The metadata reply is missing, malformed or inconsistent.
    #[error("{}: bad metadata: {message}", path.display())]
    Metadata {
        /// The module.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The guest could not be instantiated (for example its minimum memory exceeds the cap).
    #[error("{}: cannot instantiate wasm module: {message}", path.display())]
    Instantiate {
        /// The module.
        path: PathBuf,
        /// Why.
        message: String,
        /// The wasmtime error.
        #[source]
        source: BoxError,
    },
    /// A call ran past the wall-time deadline and was interrupted.
    #[error("{}: policy exceeded its time limit of {} ms", path.display(), deadline.as_millis())]
    Timeout {
        /// The module.
        path: PathBuf,
        /// The configured deadline.
        deadline: Duration,
    },
    /// The guest trapped (unreachable, out-of-bounds access, stack overflow, ...).
    #[error("{}: policy trapped: {trap}", path.display())]
    Trap {
        /// The module.
        path: PathBuf,
        /// The trap code.
        trap: wasmtime::Trap,
        /// The wasmtime error, with the guest backtrace.
        #[source]
        source: BoxError,
    },
    /// Any other failure of a call into the guest.
    #[error("{}: call to `{function}` failed: {message}", path.display())]
    Call {
        /// The module.
        path: PathBuf,
        /// Which export was called.
        function: &'static str,
        /// Why.
        message: String,
        /// The wasmtime error.
        #[source]
        source: BoxError,
    },
    /// The guest's reply claims more bytes than the output cap allows.
    #[error("{}: reply of {len} bytes exceeds the output limit of {max} bytes", path.display())]
    OutputTooLarge {
        /// The module.
        path: PathBuf,
        /// Claimed reply length.
        len: u64,
        /// The cap.
        max: usize,
    },
    /// The guest handed back a pointer/length that is not usable, or its reply is not the
    /// expected JSON.
    #[error("{}: bad reply from `{function}`: {message}", path.display())]
    BadReply {
        /// The module.
        path: PathBuf,
        /// Which export.
        function: &'static str,
        /// Why.
        message: String,
    },
    /// The guest reported that it could not evaluate the document (`{"error": ...}`).
    #[error("{}: policy error: {message}", path.display())]
    Guest {
        /// The module.
        path: PathBuf,
        /// The guest's message.
        message: String,
    },
    /// A finding names a rule the module's metadata does not declare.
    #[error("{}: finding of rule `{rule}`, which the module's metadata does not declare", path.display())]
    UndeclaredRule {
        /// The module.
        path: PathBuf,
        /// The rule ID in the finding.
        rule: String,
    },
}

impl WasmError {
    /// Whether the call was interrupted by the wall-time deadline (report as `POL002`).
    pub fn is_timeout(&self) -> bool {
        matches!(self, WasmError::Timeout { .. })
    }

    /// Whether the error concerns loading the module (as opposed to one evaluation).
    pub fn is_load_error(&self) -> bool {
        matches!(
            self,
            WasmError::Engine { .. }
                | WasmError::Compile { .. }
                | WasmError::BadExport { .. }
                | WasmError::UnsupportedImport { .. }
                | WasmError::AbiVersion { .. }
                | WasmError::Metadata { .. }
        )
    }

    /// Classifies an error returned by a call into the guest: interrupts become
    /// [`WasmError::Timeout`], other traps [`WasmError::Trap`], anything else
    /// [`WasmError::Call`].
    pub(crate) fn from_call(
        path: &std::path::Path,
        function: &'static str,
        deadline: Duration,
        err: wasmtime::Error,
    ) -> WasmError {
        match err.downcast_ref::<wasmtime::Trap>().copied() {
            Some(wasmtime::Trap::Interrupt) => WasmError::Timeout {
                path: path.to_owned(),
                deadline,
            },
            Some(trap) => WasmError::Trap {
                path: path.to_owned(),
                trap,
                source: err.into(),
            },
            None => WasmError::Call {
                path: path.to_owned(),
                function,
                message: err.to_string(),
                source: err.into(),
            },
        }
    }
}
