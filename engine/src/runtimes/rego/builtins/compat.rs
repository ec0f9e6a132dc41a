//! The v0-era builtins OPA 0.x had and conftest policies still call: `re_match`,
//! `any`, `all`, `set_diff` and `cast_*`.
//!
//! regorus accepts a v0 file that calls them, and its rules then fail at evaluation,
//! so a conftest policy written for OPA 0.x loaded but never fired. They are
//! registered under their old names with OPA 0.x's semantics. (OPA 1.x refuses them in
//! v1 files; here they are available in both, which only accepts more policies.)

use std::collections::BTreeSet;

use anyhow::{anyhow, bail, Result};
use regorus::Value;

use super::{string_arg, type_name, Registrar};

pub(super) fn install(r: &mut Registrar<'_>) -> Result<()> {
    r.add("re_match", 2, |a: &[Value]| {
        let re = regex::Regex::new(string_arg(a, 0)?).map_err(|e| anyhow!("{e}"))?;
        Ok(Value::from(re.is_match(string_arg(a, 1)?)))
    })?;
    r.add("any", 1, |a: &[Value]| {
        Ok(Value::from(members(a)?.contains(&Value::Bool(true))))
    })?;
    r.add("all", 1, |a: &[Value]| {
        Ok(Value::from(
            members(a)?.iter().all(|v| *v == Value::Bool(true)),
        ))
    })?;
    r.add("set_diff", 2, |a: &[Value]| match (a.first(), a.get(1)) {
        (Some(Value::Set(x)), Some(Value::Set(y))) => {
            let diff: BTreeSet<Value> = x.iter().filter(|v| !y.contains(v)).cloned().collect();
            Ok(Value::from(diff))
        }
        _ => bail!("operands must be sets"),
    })?;
    r.add("cast_array", 1, |a: &[Value]| match a.first() {
        Some(v @ Value::Array(_)) => Ok(v.clone()),
        Some(Value::Set(s)) => Ok(Value::from(s.iter().cloned().collect::<Vec<_>>())),
        other => bail!(
            "operand 1 must be one of {{array, set}} but got {}",
            name(other)
        ),
    })?;
    r.add("cast_set", 1, |a: &[Value]| match a.first() {
        Some(v @ Value::Set(_)) => Ok(v.clone()),
        Some(Value::Array(items)) => {
            Ok(Value::from(items.iter().cloned().collect::<BTreeSet<_>>()))
        }
        other => bail!(
            "operand 1 must be one of {{array, set}} but got {}",
            name(other)
        ),
    })?;
    for (fname, want) in [
        ("cast_string", "string"),
        ("cast_boolean", "boolean"),
        ("cast_null", "null"),
        ("cast_object", "object"),
    ] {
        r.add(fname, 1, move |a: &[Value]| match a.first() {
            Some(v) if type_name(v) == want => Ok(v.clone()),
            other => bail!("operand 1 must be {want} but got {}", name(other)),
        })?;
    }
    Ok(())
}

fn name(v: Option<&Value>) -> &'static str {
    v.map_or("nothing", type_name)
}

fn members(a: &[Value]) -> Result<Vec<Value>> {
    match a.first() {
        Some(Value::Array(items)) => Ok(items.iter().cloned().collect()),
        Some(Value::Set(items)) => Ok(items.iter().cloned().collect()),
        other => bail!(
            "operand 1 must be one of {{array, set}} but got {}",
            name(other)
        ),
    }
}
