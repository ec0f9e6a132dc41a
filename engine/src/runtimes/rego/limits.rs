//! Size limits on the Rego builtins that can build a huge value in one call.
//!
//! regorus stops a runaway rule with a cooperative timer that it checks between
//! interpreter steps, never inside a builtin. A single call such as
//! `numbers.range(1, 1e9)` therefore runs to the end however long it takes, and a
//! large enough one asks the allocator for more memory than the machine has, which
//! aborts the whole process (Rust cannot turn a failed allocation into an error).
//! Measured in release with a 500 ms limit (`examples/rego_limits.rs`):
//! `numbers.range(1, 1e8)` ran 4.9 s (9.8x the limit) and peaked at 2.5 GB;
//! `numbers.range(1, 1e9)` asked for 24 GB at once and aborted; `replace` of a
//! 100,000-character string by itself asked for 6.5 GB and aborted.
//!
//! regorus looks up extensions before its builtins, so the few builtins whose output
//! can be far larger than their input are replaced here by versions with the same
//! results that first compute the size of the result and refuse, with an error naming
//! the limit, when it is too large. Everything else (loops, comprehensions, `walk`,
//! `concat`, regex matching) is either linear in values that already exist or is stepped by
//! the interpreter, so the timer bounds it.

use anyhow::{anyhow, bail, Result};
use regorus::Value;

/// Most elements `numbers.range`/`numbers.range_step` may return (~24 MB of values,
/// ~10 ms to build). A policy over container configs never needs more.
pub const MAX_RANGE_ELEMENTS: u64 = 1_000_000;

/// Most bytes a `replace`/`strings.replace_n` result may have.
pub const MAX_STRING_BYTES: usize = 64 * 1024 * 1024;

/// Installs the bounded builtins into `engine`.
pub(super) fn install(engine: &mut regorus::Engine) -> Result<()> {
    engine.add_extension("numbers.range".into(), 2, Box::new(range))?;
    engine.add_extension("numbers.range_step".into(), 3, Box::new(range_step))?;
    engine.add_extension("replace".into(), 3, Box::new(replace))?;
    engine.add_extension("strings.replace_n".into(), 2, Box::new(replace_n))?;
    super::sizecheck::install(engine)?;
    let mut regexes = RegexCache::default();
    engine.add_extension(
        "regex.replace".into(),
        3,
        Box::new(move |args: Vec<Value>| regex_replace(&mut regexes, &args)),
    )?;
    Ok(())
}

/// An integer argument (the engine runs regorus's builtins in strict mode, where a
/// non-integer operand is an error).
fn integer(name: &str, v: &Value) -> Result<i64> {
    match v {
        Value::Number(n) if n.is_integer() => n
            .as_i64()
            .ok_or_else(|| anyhow!("`{name}` operand {v} is out of range")),
        Value::Number(_) => bail!("operand must be integer"),
        _ => bail!("`{name}` expects numeric arguments"),
    }
}

/// Argument `i` (regorus checks the count before it calls an extension).
fn arg(args: &[Value], i: usize) -> Result<&Value> {
    args.get(i)
        .ok_or_else(|| anyhow!("missing argument {}", i + 1))
}

fn string<'a>(name: &str, v: &'a Value) -> Result<&'a str> {
    match v {
        Value::String(s) => Ok(s.as_ref()),
        _ => bail!("`{name}` expects string arguments"),
    }
}

/// The values `start, start±step, ...` up to `end` inclusive.
fn build_range(name: &str, start: i64, end: i64, step: i64) -> Result<Value> {
    let span = (i128::from(end) - i128::from(start)).unsigned_abs();
    let count = span / step.unsigned_abs() as u128 + 1;
    if count > u128::from(MAX_RANGE_ELEMENTS) {
        bail!(
            "`{name}({start}, {end})` would build {count} elements, over the limit of \
             {MAX_RANGE_ELEMENTS}; the call was refused before it ran away"
        );
    }
    let step = if end >= start { step } else { -step };
    let values: Vec<Value> = (0..count as i64)
        .map(|i| Value::from(start + i * step))
        .collect();
    Ok(Value::from(values))
}

fn range(args: Vec<Value>) -> Result<Value> {
    let name = "numbers.range";
    let start = integer(name, arg(&args, 0)?)?;
    let end = integer(name, arg(&args, 1)?)?;
    build_range(name, start, end, 1)
}

fn range_step(args: Vec<Value>) -> Result<Value> {
    let name = "numbers.range_step";
    let start = integer(name, arg(&args, 0)?)?;
    let end = integer(name, arg(&args, 1)?)?;
    match arg(&args, 2)? {
        Value::Number(n) if n.is_integer() && n.as_i64().is_some_and(|s| s > 0) => {
            build_range(name, start, end, n.as_i64().unwrap_or(1))
        }
        _ => bail!("step must be a positive integer"),
    }
}

/// The length of `s.replace(old, new)`, computed without building it.
fn replaced_len(s: &str, old: &str, new: &str) -> usize {
    let count = if old.is_empty() {
        // `str::replace` with an empty pattern inserts at every char boundary.
        s.chars().count() + 1
    } else {
        s.matches(old).count()
    };
    (s.len() - count.saturating_mul(old.len())).saturating_add(count.saturating_mul(new.len()))
}

fn check_len(name: &str, len: usize) -> Result<()> {
    if len > MAX_STRING_BYTES {
        bail!(
            "`{name}` would build a string of {len} bytes, over the limit of \
             {MAX_STRING_BYTES}; the call was refused before it ran away"
        );
    }
    Ok(())
}

fn replace(args: Vec<Value>) -> Result<Value> {
    let name = "replace";
    let s = string(name, arg(&args, 0)?)?;
    let old = string(name, arg(&args, 1)?)?;
    let new = string(name, arg(&args, 2)?)?;
    check_len(name, replaced_len(s, old, new))?;
    Ok(Value::String(s.replace(old, new).into()))
}

fn replace_n(args: Vec<Value>) -> Result<Value> {
    let name = "strings.replace_n";
    let Value::Object(patterns) = arg(&args, 0)? else {
        bail!("`{name}` expects an object of patterns");
    };
    let mut s: String = string(name, arg(&args, 1)?)?.to_string();
    // Same order as regorus: one pass per pattern, in key order.
    for (k, v) in patterns.iter_sorted() {
        let (Value::String(k), Value::String(v)) = (k, v) else {
            bail!("`{name}` expects string keys and values in pattern object.");
        };
        check_len(name, replaced_len(&s, k, v))?;
        s = s.replace(k.as_ref(), v.as_ref());
    }
    Ok(Value::String(s.into()))
}

/// regorus's bound on a compiled regex (`REGEX_SIZE_LIMIT` in its `builtins/regex.rs`).
const REGEX_SIZE_LIMIT: usize = 100 * 1024;

/// Compiled patterns of one engine (regorus caches them too; this keeps the
/// replacement as cheap as the builtin it stands in for).
#[derive(Clone, Default)]
struct RegexCache(std::collections::HashMap<String, regex::Regex>);

impl RegexCache {
    fn get(&mut self, pattern: &str) -> std::result::Result<regex::Regex, regex::Error> {
        if let Some(re) = self.0.get(pattern) {
            return Ok(re.clone());
        }
        let re = regex::RegexBuilder::new(pattern)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()?;
        if self.0.len() >= 256 {
            self.0.clear();
        }
        self.0.insert(pattern.to_string(), re.clone());
        Ok(re)
    }
}

/// `regex.replace` as regorus does it (`Regex::replace_all`; an invalid pattern gives
/// undefined), after bounding the size of the result.
fn regex_replace(cache: &mut RegexCache, args: &[Value]) -> Result<Value> {
    let name = "regex.replace";
    let s = string(name, arg(args, 0)?)?;
    let pattern = string(name, arg(args, 1)?)?;
    let repl = string(name, arg(args, 2)?)?;
    let re = match cache.get(pattern) {
        Ok(re) => re,
        Err(regex::Error::CompiledTooBig(_)) => {
            return Err(anyhow::Error::new(
                regorus::LimitError::RegexSizeLimitExceeded {
                    limit: REGEX_SIZE_LIMIT,
                },
            ))
        }
        Err(_) => return Ok(Value::Undefined),
    };
    // Each `$group` expands to at most the whole match.
    let dollars = repl.matches('$').count();
    let bound = |matches: usize, matched: usize| {
        (s.len() - matched)
            .saturating_add(matches.saturating_mul(repl.len()))
            .saturating_add(dollars.saturating_mul(matched))
    };
    // Worst case without looking: a match at every position, each the whole string.
    if bound(s.len() + 1, 0).saturating_add(dollars.saturating_mul(s.len())) > MAX_STRING_BYTES {
        let (mut matches, mut matched) = (0usize, 0usize);
        for m in re.find_iter(s) {
            matches += 1;
            matched += m.len();
        }
        check_len(name, bound(matches, matched))?;
    }
    Ok(Value::String(re.replace_all(s, repl).into()))
}
