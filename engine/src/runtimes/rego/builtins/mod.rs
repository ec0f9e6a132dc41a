//! Builtins that behave as OPA's, registered over regorus's own.
//!
//! regorus looks up extensions before its builtins, so a builtin whose regorus version
//! differs from OPA's (checked differentially in `tests/opa_diff.rs`) or that regorus
//! lacks is added here as an extension with OPA's semantics: Go's `fmt` for `sprintf`,
//! code points for `count`, Go's JSON escaping, the v0-era aliases, `crypto.*`,
//! `io.jwt.*`, and so on. One file per area; each has an `install`.
//!
//! Extensions raise errors the way strict builtins do; [`Registrar::add`] turns an error
//! into an undefined value unless the engine is strict (`--strict`,
//! `--show-builtin-errors`), as OPA does for builtin errors in non-strict mode.

mod compat;
mod crypto;
mod jwt;
mod net;
mod sprintf;

pub(crate) use sprintf::format_values as sprintf;
mod strings;
mod template;
mod yaml;

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::OnceLock;

use anyhow::Result;
use regorus::Value;

/// A call refused because its result would exceed a size limit. Unlike a builtin error,
/// it is never turned into "undefined" (that would let a resource cap pass silently): the
/// rule fails with POL001, strict or not.
#[derive(Debug)]
pub(super) struct LimitExceeded(pub String);

impl std::fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LimitExceeded {}

thread_local! {
    /// Set while [`lax`] runs: extensions of a strict engine behave as non-strict.
    static LAX: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with every extension on this thread non-strict (a builtin error is an
/// undefined value), whatever its engine's mode: how a strict engine's rule error is
/// told apart as a builtin error (it goes away when builtins are lax).
pub(super) fn lax<T>(f: impl FnOnce() -> T) -> T {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            LAX.with(|l| l.set(self.0));
        }
    }
    let _reset = Reset(LAX.with(|l| l.replace(true)));
    f()
}

/// Whether an extension of an engine in mode `strict` turns its errors into undefined
/// values now.
pub(super) fn errors_are_undefined(strict: bool) -> bool {
    !strict || LAX.with(Cell::get)
}

/// Registers extensions into one engine.
pub(super) struct Registrar<'a> {
    engine: &'a mut regorus::Engine,
    strict: bool,
    /// Name and argument count of everything added.
    added: Vec<(String, u8)>,
}

impl Registrar<'_> {
    /// Adds `name/nargs` as `f`; in non-strict mode an error makes the call undefined.
    pub(super) fn add<F>(&mut self, name: &str, nargs: u8, f: F) -> Result<()>
    where
        F: Fn(&[Value]) -> Result<Value> + Clone + Send + Sync + 'static,
    {
        let strict = self.strict;
        self.added.push((name.to_string(), nargs));
        let label = name.to_string();
        // A builtin already replaced (by the size-checked versions in `limits.rs`)
        // keeps that version: containment wins over compatibility.
        let _ = self.engine.add_extension(
            name.to_string(),
            nargs,
            Box::new(move |args: Vec<Value>| match f(&args) {
                Ok(v) => Ok(v),
                Err(e)
                    if errors_are_undefined(strict)
                        && e.downcast_ref::<LimitExceeded>().is_none() =>
                {
                    Ok(Value::Undefined)
                }
                Err(e) => Err(anyhow::anyhow!("{label}: {e}")),
            }),
        );
        Ok(())
    }
}

/// Installs every OPA-compatible builtin into `engine`; returns their names and
/// argument counts.
pub(super) fn install(engine: &mut regorus::Engine, strict: bool) -> Result<Vec<(String, u8)>> {
    let mut r = Registrar {
        engine,
        strict,
        added: Vec::new(),
    };
    r.add("sprintf", 2, sprintf::sprintf)?;
    strings::install(&mut r)?;
    compat::install(&mut r)?;
    crypto::install(&mut r)?;
    jwt::install(&mut r)?;
    net::install(&mut r)?;
    yaml::install(&mut r)?;
    template::install(&mut r)?;
    Ok(r.added)
}

/// Name → argument count of every extension [`install`] adds (for the load-time
/// checks of unknown functions and arity).
pub(super) fn arities() -> &'static BTreeMap<String, u8> {
    static ARITIES: OnceLock<BTreeMap<String, u8>> = OnceLock::new();
    ARITIES.get_or_init(|| {
        let mut engine = regorus::Engine::new();
        let mut all: BTreeMap<String, u8> = install(&mut engine, true)
            .map(|added| added.into_iter().collect())
            .unwrap_or_default();
        // conftest's builtins (`runtimes/rego/conftest.rs`), installed per policy set.
        for (name, n) in [
            ("parse_config", 2),
            ("parse_config_file", 1),
            ("parse_combined_config_files", 1),
        ] {
            all.insert(name.to_string(), n);
        }
        all
    })
}

/// The text OPA gives a Rego term (`ast.Term.String()`): `[1, "a"]`, `{"a": 1}`,
/// `{1, 2}`, `set()`.
pub(super) fn rego_term(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(_) => v.to_string(),
        Value::String(s) => sprintf::go_quote(s),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(rego_term).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Set(items) if items.is_empty() => "set()".into(),
        Value::Set(items) => {
            let items: Vec<String> = items.iter().map(rego_term).collect();
            format!("{{{}}}", items.join(", "))
        }
        Value::Object(fields) => {
            let items: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{}: {}", rego_term(k), rego_term(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        Value::Undefined => "undefined".into(),
    }
}

/// Argument `i` as a string.
pub(super) fn string_arg(args: &[Value], i: usize) -> Result<&str> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s.as_ref()),
        Some(other) => anyhow::bail!(
            "operand {} must be string but got {}",
            i + 1,
            type_name(other)
        ),
        None => anyhow::bail!("missing operand {}", i + 1),
    }
}

/// OPA's name for a value's type, for error messages.
pub(super) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Set(_) => "set",
        Value::Object(_) => "object",
        Value::Undefined => "undefined",
    }
}
