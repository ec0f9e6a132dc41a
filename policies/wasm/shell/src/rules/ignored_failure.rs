//! ## DF105: a failing command does not fail the RUN
//!
//! ### What it does
//! Finds commands in a `RUN` that are followed by another command after `;` or a new line
//! (heredoc bodies, `sh -c` scripts) while `set -e` is off, so their failure is ignored.
//! Only the first one per `RUN` is reported. Not reported: commands whose failure is
//! handled (`a || true`, `a || exit 1`), commands that cannot fail in a way that matters
//! (`echo`, `rm -f`, `mkdir -p`, `set`, `export`, tests such as `[ -f x ]`, ...), compound
//! commands (`if`, `for`, ...), and scripts under `set -e` (`set -e` earlier in the script,
//! `SHELL ["/bin/sh", "-e", "-c"]`, `sh -ec '…'`, a `#!/bin/sh -e` heredoc).
//!
//! ### Why is this bad?
//! A `RUN` fails only when its shell exits with an error, and a shell without `set -e`
//! exits with the status of its *last* command. In `RUN wget URL; tar -xzf app.tgz; rm -f
//! app.tgz`, a failed download makes `tar` fail, `rm -f` succeeds, and the build goes on
//! with no application in the image. Heredoc `RUN`s are especially exposed: each line is
//! such a command.
//!
//! ### Example
//! ```dockerfile
//! RUN <<EOF
//! apt-get update
//! apt-get install -y curl
//! rm -rf /var/lib/apt/lists/*
//! EOF
//! ```
//! Use instead:
//! ```dockerfile
//! RUN <<EOF
//! set -e
//! apt-get update
//! apt-get install -y curl
//! rm -rf /var/lib/apt/lists/*
//! EOF
//! ```
//!
//! ### References
//! - <https://docs.docker.com/reference/dockerfile/#here-documents>
//! - <https://pubs.opengroup.org/onlinepubs/9799919799/utilities/V3_chap02.html#set>

use policy_sdk::Severity;

use super::{code, Hit, Rule};
use crate::cmd::{apply_set, Invocation, ShellState};
use crate::run::{Checker, Origin};
use crate::syntax::{AndOr, Command, Connector, Script};

/// The rule.
pub const RULE: Rule = Rule {
    id: "DF105",
    title: "A failing command does not fail the RUN",
    severity: Severity::Low,
    description: "Without `set -e`, a shell exits with the status of its last command, so in \
        `RUN a; b` or a heredoc RUN with one command per line, a failure of `a` is ignored and \
        the build goes on with a broken image. Commands whose failure is handled (`|| true`), \
        harmless ones (`echo`, `rm -f`, `mkdir -p`, tests) and scripts under `set -e` are not \
        reported; only the first such command of a RUN is.",
    remediation: "Join the commands with `&&`, or make the script stop at the first error: start \
        it with `set -e` (heredocs: a first line `set -e`; or `SHELL [\"/bin/sh\", \"-e\", \
        \"-c\"]`).",
    references: &[
        "https://docs.docker.com/reference/dockerfile/#here-documents",
        "https://pubs.opengroup.org/onlinepubs/9799919799/utilities/V3_chap02.html#set",
    ],
    check,
};

/// Commands whose failure does not matter, or that cannot really fail.
const HARMLESS: &[&str] = &[
    "echo", "printf", "true", "false", ":", "set", "export", "unset", "shopt", "alias", "umask",
    "readonly", "declare", "typeset", "local", "trap", "hash", "exit", "return", "sleep", "wait",
    "[", "[[", "test", "ulimit", "source", ".", "eval", "exec", "kill", "pkill", "killall", "cat",
    "ls", "which", "type", "command",
];

fn check(ck: &Checker<'_, '_>) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (ri, run) in ck.runs() {
        let mut found = None;
        for script in &run.scripts {
            let mut state = script.state;
            if let Some(h) = first_ignored(&script.script, &mut state, script.origin, ri) {
                found = match found {
                    Some(f) if key(&f) <= key(&h) => Some(f),
                    _ => Some(h),
                };
            }
        }
        hits.extend(found);
    }
    hits
}

fn key(h: &Hit) -> (Origin, usize) {
    (h.origin, h.start)
}

/// The first command of `script` (or of a group, subshell or `if` branch in it) whose
/// failure is ignored.
fn first_ignored(
    script: &Script,
    state: &mut ShellState,
    origin: Origin,
    run: usize,
) -> Option<Hit> {
    let n = script.items.len();
    for (i, item) in script.items.iter().enumerate() {
        if let Some(h) = nested(item, state, origin, run) {
            return Some(h);
        }
        let before = *state;
        apply_sets(item, state);
        // `set -e && a; b`: `a` already runs under errexit.
        if i + 1 == n || item.background || before.errexit || state.errexit {
            continue;
        }
        if let Some(h) = ignored(item, origin, run) {
            return Some(h);
        }
    }
    None
}

/// `set` commands at this level change the options for what follows.
fn apply_sets(item: &AndOr, state: &mut ShellState) {
    for p in item.pipelines() {
        if let [Command::Simple(s)] = p.commands.as_slice() {
            if let Some(inv) = Invocation::of(s) {
                apply_set(state, &inv);
            }
        }
    }
}

/// Looks inside groups, subshells and `if` branches of a single-command item.
fn nested(item: &AndOr, state: &mut ShellState, origin: Origin, run: usize) -> Option<Hit> {
    for p in item.pipelines() {
        let [c] = p.commands.as_slice() else { continue };
        match c {
            Command::Group { body, subshell, .. } => {
                let mut inner = *state;
                let h = first_ignored(body, &mut inner, origin, run);
                if !subshell {
                    *state = inner;
                }
                if h.is_some() {
                    return h;
                }
            }
            Command::If {
                branches,
                otherwise,
            } => {
                for body in branches.iter().map(|(_, b)| b).chain(otherwise.iter()) {
                    let mut inner = *state;
                    if let Some(h) = first_ignored(body, &mut inner, origin, run) {
                        return Some(h);
                    }
                }
            }
            _ => {}
        }
    }
    None
}

/// Whether the failure of `item`, followed by another command, is ignored: the hit.
fn ignored(item: &AndOr, origin: Origin, run: usize) -> Option<Hit> {
    if item.rest.iter().any(|(c, _)| *c == Connector::Or) {
        return None;
    }
    // `[ -f x ] && rm x`: a conditional written as a list; a false test is no failure.
    let starts_with_test = matches!(item.first.commands.as_slice(), [Command::Simple(s)]
        if Invocation::of(s).is_some_and(|i| matches!(i.command(), "[" | "[[" | "test")));
    if starts_with_test && !item.rest.is_empty() {
        return None;
    }
    // The first command that can fail for real.
    let mut culprit = None;
    for p in item.pipelines() {
        let Some(Command::Simple(s)) = p.commands.last() else {
            return None;
        };
        // No command name (`A=1`, `$CC -o x`): an assignment, or nothing known.
        let Some(inv) = Invocation::of(s) else {
            continue;
        };
        if !harmless(&inv) && !p.bang {
            culprit = culprit.or(Some(inv));
        }
    }
    let inv = culprit?;
    let next = match item.separator {
        Some(';') => "`;`",
        _ => "a new line",
    };
    let cmd = code(&inv.short(), 30);
    let msg = if item.rest.is_empty() {
        format!(
            "{cmd} is followed by {next} without `set -e`, so the next command runs even when \
             {cmd} fails, and the RUN only fails if its last command does. Join the commands \
             with `&&`, or start the script with `set -e`."
        )
    } else {
        format!(
            "The `&&` list from {cmd} on is followed by {next} without `set -e`, so when one of \
             its commands fails the next command still runs, and the RUN only fails if its last \
             command does. Join the commands with `&&`, or start the script with `set -e`."
        )
    };
    let last = inv.args.last().unwrap_or(inv.name);
    Some(Hit::words(RULE.id, run, origin, inv.name, last, msg))
}

fn harmless(inv: &Invocation<'_>) -> bool {
    let name = inv.command();
    if HARMLESS.contains(&name) {
        return true;
    }
    let short = |c: char| {
        inv.args.iter().any(|w| {
            w.text
                .strip_prefix('-')
                .is_some_and(|f| !f.starts_with('-') && f.contains(c))
        })
    };
    match name {
        "rm" => short('f') || inv.has_option("--force", None),
        "mkdir" => short('p') || inv.has_option("--parents", None),
        "ln" => short('f') || inv.has_option("--force", None),
        "apt-get" | "apt" => inv
            .operands(&["-o", "-c", "-t"])
            .first()
            .is_some_and(|w| matches!(w.text.as_str(), "clean" | "autoclean" | "autoremove")),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::dockerfile;
    use crate::run::Analysis;

    fn hits(lines: &[&str]) -> Vec<Hit> {
        let d = dockerfile(lines);
        check(&Checker::new(&Analysis::new(&d)))
    }

    #[test]
    fn semicolon_hides_a_failure() {
        let h = hits(&[
            "FROM debian",
            "RUN wget -q https://e.x/a.tgz; tar -xzf a.tgz; rm -f a.tgz",
        ]);
        assert_eq!(h.len(), 1);
        assert!(
            h[0].msg.starts_with("`wget` is followed by `;`"),
            "{}",
            h[0].msg
        );
        assert_eq!(h[0].start, 0);
        let h = hits(&[
            "FROM debian",
            "RUN apt-get update && KEYS=x; gpg --recv-keys $KEYS",
        ]);
        assert_eq!(h.len(), 1);
        assert!(
            h[0].msg
                .starts_with("The `&&` list from `apt-get update` on is followed by `;`"),
            "{}",
            h[0].msg
        );
        let h = hits(&[
            "FROM debian",
            "RUN mkdir -p /a; cd /a && make; make install",
        ]);
        assert_eq!(h.len(), 1);
        assert!(
            h[0].msg.starts_with("The `&&` list from `cd` on"),
            "{}",
            h[0].msg
        );
    }

    #[test]
    fn handled_or_harmless() {
        for ok in [
            "RUN a && b && c",
            "RUN set -e; a; b",
            "RUN set -ex && a; b",
            "RUN a || true; b",
            "RUN echo start; rm -rf /tmp/x; mkdir -p /a; b",
            "RUN [ -f x ] && rm x; b",
            "RUN a",
            "RUN a & b",
            "RUN if a; then b; fi; c",
            "RUN sh -ec 'a; b'",
        ] {
            assert!(hits(&["FROM debian", ok]).is_empty(), "{ok}");
        }
        assert!(hits(&[
            "FROM debian",
            r#"SHELL ["/bin/bash", "-e", "-c"]"#,
            "RUN a; b"
        ])
        .is_empty());
    }

    #[test]
    fn inside_groups_and_nested_shells() {
        let h = hits(&["FROM debian", "RUN { a; b; } && c"]);
        assert_eq!(h.len(), 1);
        assert!(h[0].msg.starts_with("`a`"), "{}", h[0].msg);
        let h = hits(&["FROM debian", "RUN sh -c 'a; b'"]);
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].start, "sh -c '".len());
        // set -e in a subshell does not reach the outer script.
        let h = hits(&["FROM debian", "RUN (set -e; a; b); c; d"]);
        assert_eq!(h.len(), 1);
        assert!(h[0].msg.contains("`;`"), "{}", h[0].msg);
    }
}
