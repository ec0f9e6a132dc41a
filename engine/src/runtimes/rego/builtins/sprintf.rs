//! `sprintf` with Go's `fmt` semantics, as OPA implements it.
//!
//! OPA's `sprintf` hands its arguments to Go's `fmt.Sprintf`: an integer becomes an
//! `int64`, any other number a `float64`, a string a Go string, and every other value
//! the text of the Rego term (`[1, "a"]`, `{"a": 1}`, `set()`). So widths, flags,
//! precisions, `%!d(string=x)` markers for a verb that does not fit, `%!d(MISSING)`
//! and `%!(EXTRA ...)` are all Go's. regorus's own `sprintf` differs in all of these
//! (`%d` of -7 printed `--7`, widths were ignored, bad verbs were errors), and ported
//! policies build their messages with it, so this replaces it.

use std::fmt::Write as _;

use anyhow::{bail, Result};
use regorus::Value;

use super::rego_term;

/// A Go `fmt` operand.
enum Arg {
    Int(i128),
    /// An integer too large for `i128`, as decimal text (Go: `*big.Int`).
    Big(String),
    Float(f64),
    Str(String),
}

impl Arg {
    fn from_value(v: &Value) -> Arg {
        match v {
            Value::Number(n) => {
                if n.is_integer() {
                    match n.as_i128() {
                        Some(i) => Arg::Int(i),
                        None => Arg::Big(v.to_string()),
                    }
                } else {
                    Arg::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => Arg::Str(s.to_string()),
            other => Arg::Str(rego_term(other)),
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            Arg::Int(_) => "int64",
            Arg::Big(_) => "*big.Int",
            Arg::Float(_) => "float64",
            Arg::Str(_) => "string",
        }
    }

    /// `%v` with no flags (what a `%!` marker shows).
    fn plain(&self) -> String {
        match self {
            Arg::Int(i) => i.to_string(),
            Arg::Big(s) | Arg::Str(s) => s.clone(),
            Arg::Float(f) => fmt_g(*f, None, false),
        }
    }
}

#[derive(Default, Clone, Copy)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// `sprintf(format, values)` from Rust: the text a Rego rule's message gets, for code
/// that computes a built-in rule's results natively (`eval::native`).
pub(crate) fn format_values(format: &str, values: &[Value]) -> String {
    let args: Vec<Arg> = values.iter().map(Arg::from_value).collect();
    go_sprintf(format, &args)
}

/// The `sprintf(format, values)` builtin.
pub(super) fn sprintf(args: &[Value]) -> Result<Value> {
    let (Some(Value::String(format)), Some(values)) = (args.first(), args.get(1)) else {
        bail!("sprintf: operand 1 must be string");
    };
    let Value::Array(values) = values else {
        bail!("sprintf: operand 2 must be array");
    };
    let args: Vec<Arg> = values.iter().map(Arg::from_value).collect();
    Ok(Value::from(go_sprintf(format, &args)))
}

fn go_sprintf(format: &str, args: &[Arg]) -> String {
    let mut out = String::new();
    let mut next = 0usize;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.peek() {
            match f {
                '-' => {
                    spec.minus = true;
                    spec.zero = false;
                }
                '+' => spec.plus = true,
                '#' => spec.sharp = true,
                ' ' => spec.space = true,
                '0' => spec.zero = !spec.minus,
                _ => break,
            }
            chars.next();
        }
        spec.width = number(&mut chars);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.prec = Some(number(&mut chars).unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args.get(next) {
            None => {
                let _ = write!(out, "%!{verb}(MISSING)");
            }
            Some(arg) => {
                next += 1;
                out.push_str(&format_arg(arg, verb, spec));
            }
        }
    }
    if next < args.len() {
        out.push_str("%!(EXTRA ");
        let extra: Vec<String> = args[next..]
            .iter()
            .map(|a| format!("{}={}", a.type_name(), a.plain()))
            .collect();
        out.push_str(&extra.join(", "));
        out.push(')');
    }
    out
}

fn number(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<usize> {
    let mut n: Option<usize> = None;
    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
        n = Some(n.unwrap_or(0).saturating_mul(10).saturating_add(d as usize));
        chars.next();
    }
    // A width beyond any real message is refused by Go ("%!(BADWIDTH)"); cap it.
    n.map(|n| n.min(1_000_000))
}

fn bad_verb(arg: &Arg, verb: char) -> String {
    format!("%!{verb}({}={})", arg.type_name(), arg.plain())
}

fn format_arg(arg: &Arg, verb: char, spec: Spec) -> String {
    match arg {
        Arg::Int(i) => match verb {
            'v' | 'd' => pad_number(
                sign(*i < 0, spec),
                &with_prec(i.unsigned_abs().to_string(), spec),
                spec,
            ),
            'b' => int_radix(*i, 2, "0b", spec),
            'o' => int_radix(*i, 8, "0", spec),
            'O' => int_radix(
                *i,
                8,
                "0o",
                Spec {
                    sharp: true,
                    ..spec
                },
            ),
            'x' => int_radix(*i, 16, "0x", spec),
            'X' => int_radix(*i, 16, "0X", spec).to_uppercase(),
            'c' => pad(
                &u32::try_from(*i)
                    .ok()
                    .and_then(char::from_u32)
                    .unwrap_or('\u{FFFD}')
                    .to_string(),
                spec,
            ),
            'q' => pad(
                &format!(
                    "'{}'",
                    u32::try_from(*i)
                        .ok()
                        .and_then(char::from_u32)
                        .unwrap_or('\u{FFFD}')
                ),
                spec,
            ),
            'U' => pad(&format!("U+{:04X}", i), spec),
            _ => bad_verb(arg, verb),
        },
        Arg::Big(s) => match verb {
            'v' | 'd' | 's' => pad(s, spec),
            _ => bad_verb(arg, verb),
        },
        Arg::Float(f) => {
            let body = match verb {
                'v' => fmt_g(f.abs(), spec.prec, false),
                'g' => fmt_g(f.abs(), spec.prec, false),
                'G' => fmt_g(f.abs(), spec.prec, true),
                'e' => fmt_e(f.abs(), spec.prec.unwrap_or(6), false),
                'E' => fmt_e(f.abs(), spec.prec.unwrap_or(6), true),
                'f' | 'F' => format!("{:.*}", spec.prec.unwrap_or(6), f.abs()),
                _ => return bad_verb(arg, verb),
            };
            pad_number(sign(f.is_sign_negative() && *f != 0.0, spec), &body, spec)
        }
        Arg::Str(s) => match verb {
            'v' | 's' => pad(&truncate(s, spec.prec), spec),
            'q' => pad(&go_quote(&truncate(s, spec.prec)), spec),
            'x' | 'X' => {
                let bytes = truncate(s, spec.prec);
                let sep = if spec.space { " " } else { "" };
                let mut hex: Vec<String> = bytes
                    .as_bytes()
                    .iter()
                    .map(|b| {
                        let h = format!("{b:02x}");
                        if spec.sharp && spec.space {
                            format!("0x{h}")
                        } else {
                            h
                        }
                    })
                    .collect();
                if spec.sharp && !spec.space && !hex.is_empty() {
                    hex[0] = format!("0x{}", hex[0]);
                }
                let text = hex.join(sep);
                pad(
                    &if verb == 'X' {
                        text.to_uppercase()
                    } else {
                        text
                    },
                    spec,
                )
            }
            _ => bad_verb(arg, verb),
        },
    }
}

fn sign(negative: bool, spec: Spec) -> &'static str {
    if negative {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    }
}

/// An integer's digits with Go's precision (minimum digits; `.0` of zero is empty).
fn with_prec(digits: String, spec: Spec) -> String {
    match spec.prec {
        Some(0) if digits == "0" => String::new(),
        Some(p) if digits.len() < p => format!("{}{digits}", "0".repeat(p - digits.len())),
        _ => digits,
    }
}

fn int_radix(i: i128, radix: u32, prefix: &str, spec: Spec) -> String {
    let mag = i.unsigned_abs();
    let digits = match radix {
        2 => format!("{mag:b}"),
        8 => format!("{mag:o}"),
        _ => format!("{mag:x}"),
    };
    let mut digits = with_prec(digits, spec);
    if spec.sharp && !(prefix == "0" && digits.starts_with('0')) {
        digits = format!("{prefix}{digits}");
    }
    pad_number(sign(i < 0, spec), &digits, spec)
}

/// Pads a number: zeros go between the sign and the digits (Go's `0` flag, ignored for
/// integers with a precision).
fn pad_number(sign: &str, body: &str, spec: Spec) -> String {
    let len = sign.chars().count() + body.chars().count();
    match spec.width {
        Some(w) if w > len && spec.zero && !spec.minus && spec.prec.is_none() => {
            format!("{sign}{}{body}", "0".repeat(w - len))
        }
        _ => pad(
            &format!("{sign}{body}"),
            Spec {
                zero: false,
                ..spec
            },
        ),
    }
}

fn pad(s: &str, spec: Spec) -> String {
    let len = s.chars().count();
    match spec.width {
        Some(w) if w > len => {
            let fill = if spec.zero && !spec.minus { "0" } else { " " }.repeat(w - len);
            if spec.minus {
                format!("{s}{fill}")
            } else {
                format!("{fill}{s}")
            }
        }
        _ => s.to_string(),
    }
}

fn truncate(s: &str, prec: Option<usize>) -> String {
    match prec {
        Some(p) => s.chars().take(p).collect(),
        None => s.to_string(),
    }
}

/// Go's `strconv.Quote`.
pub(super) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Decimal digits (no trailing zeros) and decimal-point position of `f >= 0`: shortest
/// round-trip digits when `prec` is `None`, else rounded to `prec` significant digits.
fn digits(f: f64, prec: Option<usize>) -> (Vec<u8>, i32) {
    if f == 0.0 {
        return (Vec::new(), 0);
    }
    let text = match prec {
        None => format!("{f:e}"),
        Some(p) => format!("{:.*e}", p.max(1) - 1, f),
    };
    let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut ds: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    while ds.last() == Some(&b'0') {
        ds.pop();
    }
    (ds, exp + 1)
}

fn fmt_e_digits(ds: &[u8], dp: i32, prec: usize, upper: bool) -> String {
    let mut s = String::new();
    s.push(ds.first().map_or('0', |&d| d as char));
    if prec > 0 {
        s.push('.');
        for i in 1..=prec {
            s.push(ds.get(i).map_or('0', |&d| d as char));
        }
    }
    let exp = if ds.is_empty() { 0 } else { dp - 1 };
    let _ = write!(
        s,
        "{}{}{:02}",
        if upper { 'E' } else { 'e' },
        if exp < 0 { '-' } else { '+' },
        exp.unsigned_abs()
    );
    s
}

fn fmt_f_digits(ds: &[u8], dp: i32, prec: usize) -> String {
    let mut s = String::new();
    if dp > 0 {
        for i in 0..dp as usize {
            s.push(ds.get(i).map_or('0', |&d| d as char));
        }
    } else {
        s.push('0');
    }
    if prec > 0 {
        s.push('.');
        for i in 1..=prec {
            let idx = i64::from(dp) + i as i64 - 1;
            let d = usize::try_from(idx).ok().and_then(|j| ds.get(j));
            s.push(d.map_or('0', |&d| d as char));
        }
    }
    s
}

fn fmt_e(f: f64, prec: usize, upper: bool) -> String {
    let (ds, dp) = digits(f, Some(prec + 1));
    fmt_e_digits(&ds, dp, prec, upper)
}

/// Go's `%g` (`prec` `None` is the shortest representation, as `%v` uses).
fn fmt_g(f: f64, prec: Option<usize>, upper: bool) -> String {
    let shortest = prec.is_none();
    let (ds, dp) = digits(f, prec.map(|p| p.max(1)));
    let nd = ds.len() as i32;
    let mut p = match prec {
        None => nd,
        Some(p) => p.max(1) as i32,
    };
    let mut eprec = p;
    if eprec > nd && nd >= dp {
        eprec = nd;
    }
    if shortest {
        eprec = 6;
    }
    let exp = dp - 1;
    if !ds.is_empty() && (exp < -4 || exp >= eprec) {
        if p > nd {
            p = nd;
        }
        return fmt_e_digits(&ds, dp, (p - 1).max(0) as usize, upper);
    }
    if p > dp {
        p = nd;
    }
    fmt_f_digits(&ds, dp, (p - dp).max(0) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(format: &str, args: Vec<Arg>) -> String {
        go_sprintf(format, &args)
    }

    #[test]
    fn integers_follow_go() {
        assert_eq!(
            run(
                "%d|%5d|%-5d|%05d",
                vec![Arg::Int(-7), Arg::Int(42), Arg::Int(42), Arg::Int(-42)]
            ),
            "-7|   42|42   |-0042"
        );
        assert_eq!(
            run(
                "%o %x %X %b %#x %#o %O",
                vec![
                    Arg::Int(8),
                    Arg::Int(-255),
                    Arg::Int(255),
                    Arg::Int(5),
                    Arg::Int(255),
                    Arg::Int(8),
                    Arg::Int(8)
                ]
            ),
            "10 -ff FF 101 0xff 010 0o10"
        );
        assert_eq!(
            run("%+d % d %.3d", vec![Arg::Int(5), Arg::Int(5), Arg::Int(5)]),
            "+5  5 005"
        );
    }

    #[test]
    fn floats_follow_go() {
        assert_eq!(
            run(
                "%v %v %v %v",
                vec![
                    Arg::Float(1.5),
                    Arg::Float(1e21),
                    Arg::Float(0.0001),
                    Arg::Float(0.00001)
                ]
            ),
            "1.5 1e+21 0.0001 1e-05"
        );
        assert_eq!(
            run(
                "%f %.2f %e %g %G",
                vec![
                    Arg::Float(3.14259),
                    Arg::Float(2.675),
                    Arg::Float(1234.5678),
                    Arg::Float(0.000012345),
                    Arg::Float(1e-7)
                ]
            ),
            "3.142590 2.67 1.234568e+03 1.2345e-05 1E-07"
        );
        assert_eq!(
            run(
                "%.3g %8.2f|%-8.2f|",
                vec![
                    Arg::Float(1234.5678),
                    Arg::Float(-3.14259),
                    Arg::Float(3.14259)
                ]
            ),
            "1.23e+03    -3.14|3.14    |"
        );
    }

    #[test]
    fn markers_follow_go() {
        assert_eq!(run("%s %d", vec![Arg::Int(5)]), "%!s(int64=5) %!d(MISSING)");
        assert_eq!(
            run("%s", vec![Arg::Str("a".into()), Arg::Int(1)]),
            "a%!(EXTRA int64=1)"
        );
        assert_eq!(
            run("%d%%%", vec![Arg::Float(1.5)]),
            "%!d(float64=1.5)%%!(NOVERB)"
        );
        assert_eq!(
            run(
                "%x|%5s|%-5s|%.1s",
                vec![
                    Arg::Str("hi".into()),
                    Arg::Str("ab".into()),
                    Arg::Str("ab".into()),
                    Arg::Str("xyz".into())
                ]
            ),
            "6869|   ab|ab   |x"
        );
    }
}
