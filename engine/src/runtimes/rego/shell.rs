//! `policy.shell_commands(script)`: the simple commands of a shell script as arrays of
//! words, a Rego builtin implemented in Rust.
//!
//! It exists for speed. The built-in Dockerfile rules look for a few literal words in the
//! commands of every `RUN` (`apt-get install` without `--no-install-recommends`, `sudo`,
//! `apk add` …). Written in Rego (`split`, `trim`, a regex, a comprehension per command),
//! that split took about 2 ms per Dockerfile of the shared corpus and made the Dockerfile
//! rules 5× slower than all other rules together; this function does the same split in
//! microseconds. `policies/lib/dockerfile.rego` calls it once per `RUN` and keeps the
//! result in a rule, so every rule shares it.
//!
//! The split is deliberately shallow (no quoting, expansion or nesting), exactly as
//! documented in docs/writing-policies.md:
//! 1. a command substitution `$(...)` that holds no parenthesis becomes `_SUBST_`, so
//!    it stays inside its word;
//! 2. `&`, `|`, `;`, `(`, `)` and newlines separate commands; tabs and carriage returns
//!    are blanks;
//! 3. a command is split into words at blanks, and `"`/`'` are trimmed from both ends of
//!    each word;
//! 4. leading `VAR=value` assignments and the keywords `then do else elif if while until
//!    ! { time exec nohup command` are dropped (only the first 16 words are looked at);
//! 5. empty commands are left out.

use anyhow::Result;
use regorus::Value;

/// Words that may precede the program of a simple command.
const PREFIX_WORDS: [&str; 13] = [
    "then", "do", "else", "elif", "if", "while", "until", "!", "{", "time", "exec", "nohup",
    "command",
];

/// How many leading words may be assignments or keywords.
const MAX_PREFIX: usize = 16;

/// Installs `policy.shell_commands` into `engine`.
pub(super) fn install(engine: &mut regorus::Engine) -> Result<()> {
    engine.add_extension(
        "policy.shell_commands".into(),
        1,
        Box::new(|args: Vec<Value>| {
            let script = match args.first() {
                Some(Value::String(s)) => s.clone(),
                _ => anyhow::bail!("`policy.shell_commands` expects a string"),
            };
            Ok(Value::from(
                commands(&script)
                    .into_iter()
                    .map(|words| {
                        Value::from(words.into_iter().map(Value::from).collect::<Vec<_>>())
                    })
                    .collect::<Vec<_>>(),
            ))
        }),
    )?;
    Ok(())
}

/// Replaces every `$(...)` holding no parenthesis with `_SUBST_`.
fn substitute(script: &str) -> String {
    let mut out = String::with_capacity(script.len());
    let mut rest = script;
    while let Some(start) = rest.find("$(") {
        let body = &rest[start + 2..];
        match body.find([')', '(']) {
            Some(end) if body.as_bytes()[end] == b')' => {
                out.push_str(&rest[..start]);
                out.push_str("_SUBST_");
                rest = &body[end + 1..];
            }
            _ => {
                // Not a flat substitution: keep `$(` and look again after it.
                out.push_str(&rest[..start + 2]);
                rest = body;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The simple commands of `script` (see the module documentation).
pub fn commands(script: &str) -> Vec<Vec<String>> {
    let flat = substitute(script);
    flat.split(['&', '|', ';', '(', ')', '\n'])
        .filter_map(|part| {
            let words: Vec<String> = part
                .split([' ', '\t', '\r'])
                .filter(|w| !w.is_empty())
                .map(|w| w.trim_matches(['"', '\'']).to_string())
                .collect();
            let first = words
                .iter()
                .take(MAX_PREFIX)
                .position(|w| !w.contains('=') && !PREFIX_WORDS.contains(&w.as_str()))
                .unwrap_or(words.len());
            let words = words[first..].to_vec();
            (!words.is_empty()).then_some(words)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(script: &str) -> Vec<Vec<&'static str>> {
        commands(script)
            .into_iter()
            .map(|c| {
                c.into_iter()
                    .map(|w| &*Box::leak(w.into_boxed_str()))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn splits_at_operators_and_drops_prefixes() {
        assert_eq!(
            words("apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y curl; rm -rf /x | tee y"),
            vec![
                vec!["apt-get", "update"],
                vec!["apt-get", "install", "-y", "curl"],
                vec!["rm", "-rf", "/x"],
                vec!["tee", "y"],
            ]
        );
        assert_eq!(
            words("if true; then sudo\tapk add --no-cache \"git\"; fi"),
            vec![
                vec!["true"],
                vec!["sudo", "apk", "add", "--no-cache", "git"],
                vec!["fi"]
            ]
        );
        assert_eq!(words("A=1 B=2"), Vec::<Vec<&str>>::new());
    }

    #[test]
    fn flat_substitutions_stay_in_their_word() {
        assert_eq!(
            words("apk add --virtual .deps $(cat pkgs | sort) && echo $(a (b)) x"),
            vec![
                vec!["apk", "add", "--virtual", ".deps", "_SUBST_"],
                vec!["echo", "$"],
                vec!["a"],
                vec!["b"],
                vec!["x"],
            ]
        );
    }

    #[test]
    fn quotes_are_trimmed_and_empty_quoted_words_kept() {
        assert_eq!(words("echo '' \"a b\""), vec![vec!["echo", "", "a", "b"]]);
    }
}
