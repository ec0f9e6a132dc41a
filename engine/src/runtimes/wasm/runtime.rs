//! One evaluation: a fresh [`Store`] with limits and a deadline, an instance from the
//! [`InstancePre`], the request written into guest memory, the reply read back and checked.
//!
//! A store is never reused: whatever a guest leaves behind (globals, heap, a half-finished
//! call interrupted by the deadline) dies with it, so one document cannot influence the
//! next and a trapped instance is never called again.

use std::path::Path;
use std::sync::Arc;

use policy_sdk::abi::{names, unpack, LogLevel};
use wasmtime::{Engine, Instance, InstancePre, Memory, Store, StoreLimits};

use super::errors::{Result, WasmError};
use super::limits::WasmLimits;

/// A message a guest sent through `env.log`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestLog {
    /// The level the guest gave.
    pub level: LogLevel,
    /// The message (lossily decoded as UTF-8, truncated to the log budget).
    pub message: String,
}

/// Receives guest log messages: `(module path, message)`.
pub type LogSink = Arc<dyn Fn(&Path, &GuestLog) + Send + Sync>;

/// Per-store host data.
pub(crate) struct HostState {
    limits: StoreLimits,
    log_budget: usize,
    logs: Vec<GuestLog>,
}

impl HostState {
    fn new(limits: &WasmLimits) -> HostState {
        HostState {
            limits: limits.store_limits(),
            log_budget: limits.max_log_bytes,
            logs: Vec::new(),
        }
    }

    /// Records a log message within the budget.
    pub(crate) fn log(&mut self, level: i32, mut message: String) {
        if self.log_budget == 0 {
            return;
        }
        if message.len() > self.log_budget {
            let mut cut = self.log_budget;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
        }
        self.log_budget -= message.len();
        self.logs.push(GuestLog {
            level: LogLevel::from_i32(level),
            message,
        });
    }
}

/// One live instance inside its own store.
pub(crate) struct Session<'a> {
    path: &'a Path,
    limits: &'a WasmLimits,
    store: Store<HostState>,
    instance: Instance,
    memory: Memory,
}

impl<'a> Session<'a> {
    /// Creates a store with limits and deadline, and instantiates.
    pub(crate) fn new(
        engine: &Engine,
        pre: &InstancePre<HostState>,
        path: &'a Path,
        limits: &'a WasmLimits,
    ) -> Result<Session<'a>> {
        let mut store = Store::new(engine, HostState::new(limits));
        store.limiter(|state| &mut state.limits);
        store.set_epoch_deadline(limits.deadline_ticks());
        store.epoch_deadline_trap();
        let instance = pre.instantiate(&mut store).map_err(|e| {
            match WasmError::from_call(path, "instantiate", limits.deadline, e) {
                WasmError::Call {
                    message, source, ..
                } => WasmError::Instantiate {
                    path: path.to_owned(),
                    message,
                    source,
                },
                other => other,
            }
        })?;
        let memory = instance
            .get_memory(&mut store, names::MEMORY)
            .ok_or_else(|| WasmError::BadExport {
                path: path.to_owned(),
                problem: format!("missing export `{}`", names::MEMORY),
            })?;
        Ok(Session {
            path,
            limits,
            store,
            instance,
            memory,
        })
    }

    fn call_error(&self, function: &'static str, e: wasmtime::Error) -> WasmError {
        WasmError::from_call(self.path, function, self.limits.deadline, e)
    }

    fn export_error(&self, function: &'static str, e: wasmtime::Error) -> WasmError {
        WasmError::BadExport {
            path: self.path.to_owned(),
            problem: format!("export `{function}`: {e}"),
        }
    }

    /// `policy_abi_version()`.
    pub(crate) fn abi_version(&mut self) -> Result<i32> {
        let f = self
            .instance
            .get_typed_func::<(), i32>(&mut self.store, names::ABI_VERSION)
            .map_err(|e| self.export_error(names::ABI_VERSION, e))?;
        f.call(&mut self.store, ())
            .map_err(|e| self.call_error(names::ABI_VERSION, e))
    }

    /// `policy_metadata()`: the reply bytes.
    pub(crate) fn metadata(&mut self) -> Result<Vec<u8>> {
        let f = self
            .instance
            .get_typed_func::<(), i64>(&mut self.store, names::METADATA)
            .map_err(|e| self.export_error(names::METADATA, e))?;
        let packed = f
            .call(&mut self.store, ())
            .map_err(|e| self.call_error(names::METADATA, e))?;
        self.read_reply(names::METADATA, packed)
    }

    /// `policy_alloc` + write + `policy_evaluate`: the reply bytes.
    pub(crate) fn evaluate(&mut self, request: &[u8]) -> Result<Vec<u8>> {
        let len = i32::try_from(request.len()).map_err(|_| WasmError::BadReply {
            path: self.path.to_owned(),
            function: names::ALLOC,
            message: format!(
                "request of {} bytes does not fit a 32-bit guest",
                request.len()
            ),
        })?;
        let alloc = self
            .instance
            .get_typed_func::<i32, i32>(&mut self.store, names::ALLOC)
            .map_err(|e| self.export_error(names::ALLOC, e))?;
        let evaluate = self
            .instance
            .get_typed_func::<(i32, i32), i64>(&mut self.store, names::EVALUATE)
            .map_err(|e| self.export_error(names::EVALUATE, e))?;
        let ptr = alloc
            .call(&mut self.store, len)
            .map_err(|e| self.call_error(names::ALLOC, e))?;
        if ptr == 0 {
            return Err(WasmError::BadReply {
                path: self.path.to_owned(),
                function: names::ALLOC,
                message: format!("could not allocate {len} bytes for the request"),
            });
        }
        let size = self.memory.data_size(&self.store);
        self.memory
            .write(&mut self.store, ptr as u32 as usize, request)
            .map_err(|_| WasmError::BadReply {
                path: self.path.to_owned(),
                function: names::ALLOC,
                message: format!(
                    "returned pointer {} for {len} bytes, outside guest memory of {size} bytes",
                    ptr as u32
                ),
            })?;
        let packed = evaluate
            .call(&mut self.store, (ptr, len))
            .map_err(|e| self.call_error(names::EVALUATE, e))?;
        self.read_reply(names::EVALUATE, packed)
    }

    /// Copies a packed `(ptr, len)` reply out of guest memory, enforcing the output cap.
    fn read_reply(&self, function: &'static str, packed: i64) -> Result<Vec<u8>> {
        let (ptr, len) = unpack(packed);
        if len as usize > self.limits.max_output_bytes {
            return Err(WasmError::OutputTooLarge {
                path: self.path.to_owned(),
                len: u64::from(len),
                max: self.limits.max_output_bytes,
            });
        }
        let bad = |message: String| WasmError::BadReply {
            path: self.path.to_owned(),
            function,
            message,
        };
        if len == 0 {
            return Err(bad("empty reply (length 0)".into()));
        }
        let data = self.memory.data(&self.store);
        let start = ptr as usize;
        data.get(start..start + len as usize)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| {
                bad(format!(
                    "reply at {ptr} of {len} bytes lies outside guest memory of {} bytes",
                    data.len()
                ))
            })
    }

    /// The log messages recorded so far.
    pub(crate) fn take_logs(&mut self) -> Vec<GuestLog> {
        std::mem::take(&mut self.store.data_mut().logs)
    }
}
