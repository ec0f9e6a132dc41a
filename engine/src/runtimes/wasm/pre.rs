//! Checking a compiled module against ABI v1 and preparing it for cheap instantiation.
//!
//! Before anything runs, the module's imports and exports are checked by type, so a
//! module that is not a policy is refused with a message naming the export or import at
//! fault (rather than a linker error). The result is a [`wasmtime::InstancePre`]: imports
//! resolved once, so each evaluation only creates a `Store` and instantiates.

use std::path::Path;

use policy_sdk::abi::names;
use wasmtime::{Caller, Engine, ExternType, InstancePre, Linker, Module, ValType};

use super::errors::{Result, WasmError};
use super::runtime::HostState;

/// Expected shape of one exported function.
struct FuncSig {
    name: &'static str,
    params: &'static [Wasm],
    results: &'static [Wasm],
}

#[derive(Clone, Copy, PartialEq)]
enum Wasm {
    I32,
    I64,
}

impl Wasm {
    fn matches(self, ty: &ValType) -> bool {
        match self {
            Wasm::I32 => matches!(ty, ValType::I32),
            Wasm::I64 => matches!(ty, ValType::I64),
        }
    }
    fn name(self) -> &'static str {
        match self {
            Wasm::I32 => "i32",
            Wasm::I64 => "i64",
        }
    }
}

const EXPORTS: &[FuncSig] = &[
    FuncSig {
        name: names::ABI_VERSION,
        params: &[],
        results: &[Wasm::I32],
    },
    FuncSig {
        name: names::ALLOC,
        params: &[Wasm::I32],
        results: &[Wasm::I32],
    },
    FuncSig {
        name: names::DEALLOC,
        params: &[Wasm::I32, Wasm::I32],
        results: &[],
    },
    FuncSig {
        name: names::METADATA,
        params: &[],
        results: &[Wasm::I64],
    },
    FuncSig {
        name: names::EVALUATE,
        params: &[Wasm::I32, Wasm::I32],
        results: &[Wasm::I64],
    },
];

fn signature(params: &[Wasm], results: &[Wasm]) -> String {
    let list = |v: &[Wasm]| v.iter().map(|w| w.name()).collect::<Vec<_>>().join(", ");
    match results {
        [] => format!("({})", list(params)),
        _ => format!("({}) -> {}", list(params), list(results)),
    }
}

/// Checks that `module` exports what ABI v1 requires and imports nothing but `env.log`.
pub(crate) fn check_module(path: &Path, module: &Module) -> Result<()> {
    for import in module.imports() {
        let is_log = import.module() == names::LOG_MODULE
            && import.name() == names::LOG
            && matches!(import.ty(), ExternType::Func(f)
                if f.params().len() == 3 && f.params().all(|p| matches!(p, ValType::I32))
                    && f.results().len() == 0);
        if !is_log {
            return Err(WasmError::UnsupportedImport {
                path: path.to_owned(),
                module: import.module().to_owned(),
                name: import.name().to_owned(),
            });
        }
    }
    let bad = |problem: String| WasmError::BadExport {
        path: path.to_owned(),
        problem,
    };
    match module.get_export(names::MEMORY) {
        Some(ExternType::Memory(m)) if !m.is_64() && !m.is_shared() => {}
        Some(ExternType::Memory(_)) => {
            return Err(bad(format!(
                "export `{}` must be a 32-bit, non-shared memory",
                names::MEMORY
            )))
        }
        Some(_) => return Err(bad(format!("export `{}` is not a memory", names::MEMORY))),
        None => return Err(bad(format!("missing export `{}`", names::MEMORY))),
    }
    for sig in EXPORTS {
        let want = signature(sig.params, sig.results);
        let func = match module.get_export(sig.name) {
            Some(ExternType::Func(f)) => f,
            Some(_) => return Err(bad(format!("export `{}` is not a function", sig.name))),
            None => {
                return Err(bad(format!(
                    "missing export `{}`; expected a function {want}",
                    sig.name
                )))
            }
        };
        let params: Vec<ValType> = func.params().collect();
        let results: Vec<ValType> = func.results().collect();
        let ok = params.len() == sig.params.len()
            && results.len() == sig.results.len()
            && sig.params.iter().zip(&params).all(|(w, t)| w.matches(t))
            && sig.results.iter().zip(&results).all(|(w, t)| w.matches(t));
        if !ok {
            return Err(bad(format!(
                "export `{}` has type {func}, expected {want}",
                sig.name
            )));
        }
    }
    Ok(())
}

/// The linker: provides `env.log` and nothing else (no WASI, no ambient authority).
pub(crate) fn linker(engine: &Engine) -> wasmtime::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    linker.func_wrap(
        names::LOG_MODULE,
        names::LOG,
        |mut caller: Caller<'_, HostState>, level: i32, ptr: i32, len: i32| {
            let message = caller
                .get_export(names::MEMORY)
                .and_then(|e| e.into_memory())
                .and_then(|mem| {
                    let data = mem.data(&caller);
                    let start = ptr as u32 as usize;
                    let end = start.checked_add(len as u32 as usize)?;
                    data.get(start..end)
                        .map(|b| String::from_utf8_lossy(b).into_owned())
                });
            // A bad pointer in a log call is ignored rather than failing the evaluation.
            if let Some(message) = message {
                caller.data_mut().log(level, message);
            }
        },
    )?;
    Ok(linker)
}

/// Prepares `module` for instantiation (imports resolved once).
pub(crate) fn instance_pre(
    linker: &Linker<HostState>,
    path: &Path,
    module: &Module,
) -> Result<InstancePre<HostState>> {
    linker
        .instantiate_pre(module)
        .map_err(|e| WasmError::Instantiate {
            path: path.to_owned(),
            message: e.to_string(),
            source: e.into(),
        })
}
