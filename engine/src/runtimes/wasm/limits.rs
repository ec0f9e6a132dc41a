//! Resource limits for guests and the epoch ticker that enforces the wall-time deadline.
//!
//! Every limit has a default and is configurable. Memory, tables and instances are capped
//! per [`wasmtime::Store`] through [`wasmtime::StoreLimits`]; wall time through epoch
//! interruption: a background thread bumps the engine's epoch every `epoch_tick`, and each
//! store traps with [`wasmtime::Trap::Interrupt`] once its deadline (in ticks) passes.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::{Engine, StoreLimits, StoreLimitsBuilder};

/// Limits applied to every call into a guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WasmLimits {
    /// Wall time per evaluation (instantiation plus all calls). Default 2 s.
    pub deadline: Duration,
    /// Linear memory cap per instance, in bytes. Default 256 MiB.
    pub memory_bytes: usize,
    /// Largest reply (metadata or findings JSON) accepted from a guest. Default 16 MiB.
    pub max_output_bytes: usize,
    /// Tables per store. Default 4.
    pub max_tables: u32,
    /// Instances per store. Default 1 (a policy is one core module).
    pub max_instances: u32,
    /// Elements per table. Default 100 000.
    pub max_table_elements: u32,
    /// Linear memories per store. Default 1.
    pub max_memories: u32,
    /// Bytes of `env.log` output kept per evaluation; the rest is dropped. Default 64 KiB.
    pub max_log_bytes: usize,
    /// Granularity of the deadline (how often the ticker bumps the epoch). Default 10 ms.
    pub epoch_tick: Duration,
}

impl Default for WasmLimits {
    fn default() -> Self {
        WasmLimits {
            deadline: Duration::from_secs(2),
            memory_bytes: 256 << 20,
            max_output_bytes: 16 << 20,
            max_tables: 4,
            max_instances: 1,
            max_table_elements: 100_000,
            max_memories: 1,
            max_log_bytes: 64 << 10,
            epoch_tick: Duration::from_millis(10),
        }
    }
}

impl WasmLimits {
    /// The deadline in epoch ticks (at least 1). The call is interrupted between
    /// `deadline - epoch_tick` and `deadline` after it starts.
    pub fn deadline_ticks(&self) -> u64 {
        let tick = self.epoch_tick.as_nanos().max(1);
        let ticks = self.deadline.as_nanos().div_ceil(tick);
        u64::try_from(ticks).unwrap_or(u64::MAX).max(1)
    }

    /// The per-store resource limiter.
    pub(crate) fn store_limits(&self) -> StoreLimits {
        StoreLimitsBuilder::new()
            .memory_size(self.memory_bytes)
            .tables(self.max_tables as usize)
            .instances(self.max_instances as usize)
            .table_elements(self.max_table_elements as usize)
            .memories(self.max_memories as usize)
            .trap_on_grow_failure(false)
            .build()
    }
}

/// The background thread bumping the engine's epoch. It stops when dropped.
#[derive(Debug)]
pub(crate) struct EpochTicker {
    stop: Option<mpsc::Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

impl EpochTicker {
    /// Starts a ticker for `engine`.
    pub(crate) fn start(engine: Engine, tick: Duration) -> std::io::Result<EpochTicker> {
        let (stop, rx) = mpsc::channel::<()>();
        let tick = tick.max(Duration::from_millis(1));
        let handle = std::thread::Builder::new()
            .name("policy-wasm-epoch".into())
            .spawn(move || {
                // Ends when the sender is dropped (Disconnected) or sends.
                while let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(tick) {
                    engine.increment_epoch();
                }
            })?;
        Ok(EpochTicker {
            stop: Some(stop),
            handle: Some(handle),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_ticks_round_up() {
        let mut l = WasmLimits::default();
        assert_eq!(l.deadline_ticks(), 200);
        l.deadline = Duration::from_millis(205);
        assert_eq!(l.deadline_ticks(), 21);
        l.deadline = Duration::ZERO;
        assert_eq!(l.deadline_ticks(), 1);
    }
}
