//! Word-level lexing that mirrors BuildKit's Dockerfile parser.
//!
//! BuildKit splits instruction arguments in a few different ways (whitespace split,
//! quote-aware `parseWords`, builder flags, JSON arrays) and only unquotes words later,
//! when instructions are dispatched. These helpers reproduce each of those steps and keep
//! the byte range every word came from, so the document can point back at the source.

/// A word of a logical line: its text and the byte range (in the logical line) it was
/// read from, quotes and escapes included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Word {
    /// The word as BuildKit's AST holds it.
    pub text: String,
    /// Start offset in the logical line.
    pub start: usize,
    /// End offset (exclusive) in the logical line.
    pub end: usize,
}

impl Word {
    pub(crate) fn new(text: impl Into<String>, start: usize, end: usize) -> Self {
        Word {
            text: text.into(),
            start,
            end,
        }
    }
}

/// A variable lookup for expansion (`None` disables expansion).
pub(crate) type Env<'a> = Option<&'a dyn Fn(&str) -> Option<String>>;

/// Go's `unicode.IsSpace`.
pub(crate) fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// BuildKit's `reWhitespace`: `[\t\v\f\r ]`.
pub(crate) fn is_re_ws(c: char) -> bool {
    matches!(c, '\t' | '\x0b' | '\x0c' | '\r' | ' ')
}

/// `strings.TrimSpace` that also returns the offset of the trimmed text.
pub(crate) fn trim_space(s: &str) -> (usize, &str) {
    let start = s.len() - s.trim_start_matches(is_space).len();
    let t = s[start..].trim_end_matches(is_space);
    (start, t)
}

/// `reWhitespace.Split(s, -1)` on already-trimmed text, with offsets (`base` is added).
pub(crate) fn split_whitespace(s: &str, base: usize) -> Vec<Word> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    for (i, c) in s.char_indices() {
        if is_re_ws(c) {
            if let Some(st) = start.take() {
                out.push(Word::new(&s[st..i], base + st, base + i));
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(st) = start {
        out.push(Word::new(&s[st..], base + st, base + s.len()));
    }
    out
}

/// BuildKit's `parseWords`: quote-aware splitting that keeps quotes and escapes in the
/// words (they are removed later, when the instruction is evaluated).
pub(crate) fn parse_words(rest: &str, base: usize, escape: char) -> Vec<Word> {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let chars: Vec<(usize, char)> = rest.char_indices().collect();
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = String::new();
    let mut word_start = 0usize;
    let mut quote = '\0';
    let mut blank_ok = false;
    let mut i = 0usize;
    loop {
        let at_end = i >= chars.len();
        let (pos, ch) = if at_end { (rest.len(), '\0') } else { chars[i] };
        if phase == Phase::Spaces {
            if at_end {
                break;
            }
            if is_space(ch) {
                i += 1;
                continue;
            }
            phase = Phase::Word;
            word_start = pos;
        }
        if at_end {
            if blank_ok || !word.is_empty() {
                words.push(Word::new(
                    std::mem::take(&mut word),
                    base + word_start,
                    base + rest.len(),
                ));
            }
            break;
        }
        if phase == Phase::Word {
            if is_space(ch) {
                phase = Phase::Spaces;
                if blank_ok || !word.is_empty() {
                    words.push(Word::new(
                        std::mem::take(&mut word),
                        base + word_start,
                        base + pos,
                    ));
                }
                word.clear();
                blank_ok = false;
                i += 1;
                continue;
            }
            if ch == '\'' || ch == '"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
            }
            if ch == escape {
                if i + 1 == chars.len() {
                    i += 1;
                    continue;
                }
                word.push(ch);
                i += 1;
                word.push(chars[i].1);
                i += 1;
                continue;
            }
            word.push(ch);
            i += 1;
            continue;
        }
        // in quote
        if ch == quote {
            phase = Phase::Word;
        }
        if ch == escape && quote != '\'' {
            if i + 1 == chars.len() {
                phase = Phase::Word;
                i += 1;
                continue;
            }
            word.push(ch);
            i += 1;
            word.push(chars[i].1);
            i += 1;
            continue;
        }
        word.push(ch);
        i += 1;
    }
    words
}

/// BuildKit's `extractBuilderFlags`: leading `--name[=value]` words. Returns the offset
/// (within `line`) where the remaining arguments start, and the flag words with quotes
/// and backslash escapes removed.
pub(crate) fn extract_builder_flags(line: &str, base: usize) -> (usize, Vec<Word>) {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = String::new();
    let mut word_start = 0usize;
    let mut quote = '\0';
    let mut blank_ok = false;
    let mut i = 0usize;
    loop {
        let at_end = i >= chars.len();
        let (pos, ch) = if at_end { (line.len(), '\0') } else { chars[i] };
        if phase == Phase::Spaces {
            if at_end {
                break;
            }
            if is_space(ch) {
                i += 1;
                continue;
            }
            if ch != '-' || i + 1 == chars.len() || chars[i + 1].1 != '-' {
                return (pos, words);
            }
            phase = Phase::Word;
            word_start = pos;
        }
        if at_end {
            if word != "--" && (blank_ok || !word.is_empty()) {
                words.push(Word::new(word, base + word_start, base + line.len()));
            }
            break;
        }
        if phase == Phase::Word {
            if is_space(ch) {
                phase = Phase::Spaces;
                if word == "--" {
                    return (pos, words);
                }
                if blank_ok || !word.is_empty() {
                    words.push(Word::new(
                        std::mem::take(&mut word),
                        base + word_start,
                        base + pos,
                    ));
                }
                word.clear();
                blank_ok = false;
                i += 1;
                continue;
            }
            if ch == '\'' || ch == '"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
                i += 1;
                continue;
            }
            let mut c = ch;
            if ch == '\\' {
                if i + 1 == chars.len() {
                    i += 1;
                    continue;
                }
                i += 1;
                c = chars[i].1;
            }
            word.push(c);
            i += 1;
            continue;
        }
        // in quote
        if ch == quote {
            phase = Phase::Word;
            i += 1;
            continue;
        }
        let mut c = ch;
        if ch == '\\' {
            if i + 1 == chars.len() {
                phase = Phase::Word;
                i += 1;
                continue;
            }
            i += 1;
            c = chars[i].1;
        }
        word.push(c);
        i += 1;
    }
    (line.len(), words)
}

/// Byte ranges of the string tokens of a JSON array text that is known to be a valid
/// array of strings (quotes included).
pub(crate) fn json_string_ranges(s: &str) -> Vec<(usize, usize)> {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'"' {
            let start = i;
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                if bytes[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            out.push((start, (i + 1).min(bytes.len())));
        }
        i += 1;
    }
    out
}

/// The longest value one `ARG` default or `FROM` image may expand to. Real values are a few
/// hundred bytes; `ARG A1=${A0}${A0}` doubling reaches this after a dozen lines.
pub(crate) const MAX_EXPANDED_BYTES: usize = 64 * 1024;

/// The deepest nesting of `${VAR:-${VAR:-…}}` defaults that is expanded. Each level rescans
/// its argument, so unbounded nesting is quadratic in the word's length.
pub(crate) const MAX_EXPANSION_DEPTH: usize = 16;

/// Why a variable expansion was refused; the caller places it at the word's line:col.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExpandError(pub String);

/// Shell-style word processing as BuildKit applies it when it evaluates an instruction,
/// without variable expansion: removes quotes and escapes. The result is never longer than
/// `word`.
pub(crate) fn process_word(word: &str, escape: char) -> String {
    let mut out = String::new();
    let chars: Vec<char> = word.chars().collect();
    // Without an environment nothing expands, so no budget can be exceeded.
    let _ = process_chars(&chars, escape, None, &mut Vec::new(), 0, &mut out);
    out
}

/// Shell-style word processing with expansion of `$VAR`, `${VAR}`, `${VAR:-word}`,
/// `${VAR-word}`, `${VAR:+word}`, `${VAR+word}`, `${VAR:?msg}` and `${VAR?msg}`. Names that
/// are not set are pushed onto `unresolved`. Fails when the result would exceed
/// [`MAX_EXPANDED_BYTES`] or the defaults nest deeper than [`MAX_EXPANSION_DEPTH`].
pub(crate) fn expand_word(
    word: &str,
    escape: char,
    env: &dyn Fn(&str) -> Option<String>,
    unresolved: &mut Vec<String>,
) -> Result<String, ExpandError> {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::new();
    process_chars(&chars, escape, Some(env), unresolved, 0, &mut out)?;
    Ok(out)
}

fn push_checked(out: &mut String, s: &str) -> Result<(), ExpandError> {
    if out.len().saturating_add(s.len()) > MAX_EXPANDED_BYTES {
        return Err(ExpandError(format!(
            "variable expansion exceeds {} KiB; refusing a possible expansion bomb (ARG values \
             that double each other): shorten the ARG defaults",
            MAX_EXPANDED_BYTES / 1024
        )));
    }
    out.push_str(s);
    Ok(())
}

fn process_chars(
    chars: &[char],
    escape: char,
    env: Env<'_>,
    unresolved: &mut Vec<String>,
    depth: usize,
    out: &mut String,
) -> Result<(), ExpandError> {
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                out.push(chars[i]);
                i += 1;
            }
            i += 1;
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                let d = chars[i];
                if d == escape && i + 1 < chars.len() {
                    let n = chars[i + 1];
                    if !(n == '"' || n == '$' || n == escape) {
                        out.push(d);
                    }
                    out.push(n);
                    i += 2;
                } else if d == '$' && env.is_some() {
                    i = expand_var(chars, i, escape, env, unresolved, depth, out)?;
                } else {
                    out.push(d);
                    i += 1;
                }
            }
            i += 1;
        } else if c == escape {
            if i + 1 < chars.len() {
                out.push(chars[i + 1]);
            }
            i += 2;
        } else if c == '$' && env.is_some() {
            i = expand_var(chars, i, escape, env, unresolved, depth, out)?;
        } else {
            out.push(c);
            i += 1;
        }
    }
    if out.len() > MAX_EXPANDED_BYTES {
        return push_checked(out, "");
    }
    Ok(())
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Expands the variable reference starting at `chars[i] == '$'`; returns the index after it.
fn expand_var(
    chars: &[char],
    i: usize,
    escape: char,
    env: Env<'_>,
    unresolved: &mut Vec<String>,
    depth: usize,
    out: &mut String,
) -> Result<usize, ExpandError> {
    let lookup = |name: &str, unresolved: &mut Vec<String>| -> Option<String> {
        let v = env.and_then(|f| f(name));
        if v.is_none() && !unresolved.iter().any(|u| u == name) {
            unresolved.push(name.to_string());
        }
        v
    };
    let mut j = i + 1;
    if j < chars.len() && chars[j] == '{' {
        j += 1;
        let name_start = j;
        while j < chars.len() && is_name_char(chars[j]) {
            j += 1;
        }
        let name: String = chars[name_start..j].iter().collect();
        // find the matching close brace
        let mut braces = 1;
        let mut k = j;
        while k < chars.len() {
            match chars[k] {
                '{' => braces += 1,
                '}' => {
                    braces -= 1;
                    if braces == 0 {
                        break;
                    }
                }
                _ => {}
            }
            k += 1;
        }
        let modifier = &chars[j..k.min(chars.len())];
        let next = (k + 1).min(chars.len() + 1);
        let (op, arg): (&str, &[char]) = match modifier {
            [':', '-', r @ ..] => (":-", r),
            [':', '+', r @ ..] => (":+", r),
            [':', '?', r @ ..] => (":?", r),
            ['-', r @ ..] => ("-", r),
            ['+', r @ ..] => ("+", r),
            ['?', r @ ..] => ("?", r),
            r => ("", r),
        };
        let value = env.and_then(|f| f(&name));
        let expand_arg = |unresolved: &mut Vec<String>, out: &mut String| {
            if depth + 1 >= MAX_EXPANSION_DEPTH {
                return Err(ExpandError(format!(
                    "variable defaults nest deeper than {MAX_EXPANSION_DEPTH} levels \
                     (${{A:-${{B:-…}}}}); flatten them"
                )));
            }
            process_chars(arg, escape, env, unresolved, depth + 1, out)
        };
        match op {
            ":-" => match value {
                Some(v) if !v.is_empty() => push_checked(out, &v)?,
                _ => expand_arg(unresolved, out)?,
            },
            "-" => match value {
                Some(v) => push_checked(out, &v)?,
                None => expand_arg(unresolved, out)?,
            },
            ":+" => {
                if matches!(&value, Some(v) if !v.is_empty()) {
                    expand_arg(unresolved, out)?;
                }
            }
            "+" => {
                if value.is_some() {
                    expand_arg(unresolved, out)?;
                }
            }
            _ => {
                if let Some(v) = lookup(&name, unresolved) {
                    push_checked(out, &v)?;
                }
            }
        }
        return Ok(next.min(chars.len()));
    }
    let name_start = j;
    while j < chars.len() && is_name_char(chars[j]) {
        j += 1;
    }
    if j == name_start {
        out.push('$');
        return Ok(i + 1);
    }
    let name: String = chars[name_start..j].iter().collect();
    if let Some(v) = lookup(&name, unresolved) {
        push_checked(out, &v)?;
    }
    Ok(j)
}

/// Splits a logical line into shell words the way BuildKit's heredoc detection does
/// (quotes and escapes kept raw). `<<` followed by blanks absorbs them into the word.
pub(crate) fn heredoc_words(line: &str) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\r' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
                i += 1;
            }
            '\'' | '"' => {
                in_word = true;
                word.push(c);
                i += 1;
                while i < chars.len() && chars[i] != c {
                    if c == '"' && chars[i] == '\\' && i + 1 < chars.len() {
                        word.push(chars[i]);
                        i += 1;
                    }
                    word.push(chars[i]);
                    i += 1;
                }
                if i < chars.len() {
                    word.push(chars[i]);
                    i += 1;
                }
            }
            '\\' => {
                in_word = true;
                word.push(c);
                if i + 1 < chars.len() {
                    word.push(chars[i + 1]);
                }
                i += 2;
            }
            '<' if i + 1 < chars.len() && chars[i + 1] == '<' => {
                in_word = true;
                word.push_str("<<");
                i += 2;
                if i < chars.len() && chars[i] == '-' {
                    word.push('-');
                    i += 1;
                }
                while i < chars.len() && (chars[i] == ' ' || chars[i] == '\t') {
                    i += 1;
                }
            }
            _ => {
                in_word = true;
                word.push(c);
                i += 1;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// A heredoc marker found on an instruction line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeredocMarker {
    pub name: String,
    pub expand: bool,
    pub chomp: bool,
    #[cfg_attr(not(test), allow(dead_code))]
    pub fd: Option<u32>,
}

/// BuildKit's `ParseHeredoc`: `^(\d*)<<(-?)([^<]*)$` plus a single-word check.
pub(crate) fn parse_heredoc_word(word: &str) -> Option<HeredocMarker> {
    let digits = word.len() - word.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let rest = word[digits..].strip_prefix("<<")?;
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let rest = rest.trim_start_matches([' ', '\t']);
    if rest.is_empty() || rest.contains('<') {
        return None;
    }
    // a single shell word?
    let split = heredoc_words(rest);
    if split.len() != 1 {
        return None;
    }
    let name = process_word(rest, '\\');
    let quotes = |s: &str| s.chars().filter(|c| *c == '\'' || *c == '"').count();
    let expand = quotes(&name) == quotes(rest);
    let fd = if digits > 0 {
        word[..digits].parse().ok()
    } else {
        None
    };
    Some(HeredocMarker {
        name,
        expand,
        chomp,
        fd,
    })
}

/// Go's `strconv.Quote`, used to reproduce BuildKit's AST dump.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if (0x80..0xa0).contains(&(c as u32)) => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(w: &[Word]) -> Vec<&str> {
        w.iter().map(|w| w.text.as_str()).collect()
    }

    #[test]
    fn parse_words_keeps_quotes_and_offsets() {
        let w = parse_words(r#"abc="123 456" def"#, 10, '\\');
        assert_eq!(texts(&w), vec![r#"abc="123 456""#, "def"]);
        assert_eq!((w[0].start, w[0].end), (10, 23));
        assert_eq!((w[1].start, w[1].end), (24, 27));
    }

    #[test]
    fn builder_flags_stop_at_first_non_flag() {
        let line = r#"--mount=type=cache,target="/x y" --link  foo bar"#;
        let (rest, flags) = extract_builder_flags(line, 0);
        assert_eq!(
            texts(&flags),
            vec!["--mount=type=cache,target=/x y", "--link"]
        );
        assert_eq!(&line[rest..], "foo bar");
        assert_eq!((flags[1].start, flags[1].end), (33, 39));
        let (rest, flags) = extract_builder_flags("--doit=true -- foo", 0);
        assert_eq!(texts(&flags), vec!["--doit=true"]);
        assert_eq!(rest, 14);
    }

    #[test]
    fn expands_shell_forms() {
        let env = |n: &str| match n {
            "A" => Some("a".to_string()),
            "E" => Some(String::new()),
            _ => None,
        };
        let env: &dyn Fn(&str) -> Option<String> = &env;
        let mut u = Vec::new();
        let mut p = |s: &str| expand_word(s, '\\', env, &mut u).expect("within budget");
        assert_eq!(p("${A}:$A"), "a:a");
        assert_eq!(p("${X:-def}"), "def");
        assert_eq!(p("${E:-def}"), "def");
        assert_eq!(p("${E-def}"), "");
        assert_eq!(p("${X-def}"), "def");
        assert_eq!(p("${A:+yes}${X:+no}"), "yes");
        assert_eq!(p("${E+set}"), "set");
        assert_eq!(p("'$A'\"$A\"\\$A"), "$Aa$A");
        assert_eq!(p("img:${MISSING}"), "img:");
        assert_eq!(u, vec!["MISSING".to_string()]);
    }

    #[test]
    fn expansion_is_bounded_in_size_and_depth() {
        let big = "x".repeat(MAX_EXPANDED_BYTES / 2 + 1);
        let env = |n: &str| (n == "A").then(|| big.clone());
        let mut u = Vec::new();
        assert_eq!(
            expand_word("$A", '\\', &env, &mut u).map(|s| s.len()),
            Ok(big.len())
        );
        let err = expand_word("${A}${A}", '\\', &env, &mut u).unwrap_err();
        assert!(err.0.contains("exceeds 64 KiB"), "{}", err.0);
        // nesting within the limit expands; one level more is refused
        let nest = |n: usize| format!("{}z{}", "${U:-".repeat(n), "}".repeat(n));
        let ok = expand_word(&nest(MAX_EXPANSION_DEPTH - 1), '\\', &env, &mut u);
        assert_eq!(ok, Ok("z".to_string()));
        let err = expand_word(&nest(100_000), '\\', &env, &mut u).unwrap_err();
        assert!(err.0.contains("nest deeper than 16"), "{}", err.0);
    }

    #[test]
    fn heredoc_markers() {
        let m = parse_heredoc_word("<<EOF").expect("marker");
        assert_eq!((m.name.as_str(), m.expand, m.chomp), ("EOF", true, false));
        let m = parse_heredoc_word("<<-'END'").expect("marker");
        assert_eq!((m.name.as_str(), m.expand, m.chomp), ("END", false, true));
        let m = parse_heredoc_word("3<<\"X\"").expect("marker");
        assert_eq!((m.name.as_str(), m.expand, m.fd), ("X", false, Some(3)));
        assert_eq!(parse_heredoc_word("<<"), None);
        assert_eq!(parse_heredoc_word("a<<b"), None);
        assert_eq!(
            heredoc_words("RUN cat <<EOF1 <<  'EOF2' > x"),
            vec!["RUN", "cat", "<<EOF1", "<<'EOF2'", ">", "x"]
        );
    }

    #[test]
    fn go_quote_matches_strconv() {
        assert_eq!(go_quote("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(go_quote("\0\u{8}\n♥"), r#""\x00\b\n♥""#);
    }
}
