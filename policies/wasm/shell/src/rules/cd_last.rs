//! ## DF101: `cd` as the last command of a RUN has no effect
//!
//! ### What it does
//! Finds a `cd` that is the last command a shell runs before it exits: the last command of
//! a `RUN` (also inside a final `{ …; }` group or `if` branch, and after `&&`), of a
//! subshell `( … )`, or of the script of `sh -c '…'`. `cd` commands that only return
//! somewhere (`cd -`, `cd ..`, `cd /`, `cd`, `cd ~`, `cd $OLDPWD`, or back to the stage's
//! `WORKDIR`) are not reported, nor is `cd` used with other commands (`cd src && make`),
//! which is fine.
//!
//! ### Why is this bad?
//! The working directory is a property of the shell process. Each `RUN` starts a new shell
//! in the `WORKDIR`, so `RUN cd /app` changes nothing for the instructions that follow,
//! and neither does `(cd /app)` or `sh -c 'cd /app'` for the commands after it. The author
//! almost always expected the change to last, and the next commands run somewhere else.
//!
//! ### Example
//! ```dockerfile
//! RUN git clone https://example.com/app.git /src/app && cd /src/app
//! RUN make
//! ```
//! Use instead:
//! ```dockerfile
//! RUN git clone https://example.com/app.git /src/app
//! WORKDIR /src/app
//! RUN make
//! ```
//!
//! ### References
//! - hadolint DL3003 (which reports every `cd`; this rule reports only those without effect)
//! - <https://docs.docker.com/reference/dockerfile/#workdir>

use policy_sdk::Severity;

use super::{code, Hit, Rule};
use crate::cmd::Invocation;
use crate::run::{Checker, Origin, Run};
use crate::syntax::{Command, Connector, Script, Word};

/// The rule.
pub const RULE: Rule = Rule {
    id: "DF101",
    title: "cd as the last command of a RUN has no effect",
    severity: Severity::Low,
    description: "The working directory belongs to the shell process: each RUN starts a new \
        shell in the WORKDIR, so a `cd` that is the last command of a RUN (or of a subshell \
        `( … )`, or of `sh -c '…'`) changes nothing for what comes next. `cd src && make` is \
        fine and not reported, nor are `cd` commands that only return (`cd -`, `cd ..`, `cd /`, \
        back to the WORKDIR).",
    remediation: "Use `WORKDIR <dir>` to change the directory of the following instructions, \
        or run the commands that need the directory in the same shell (`cd dir && make`).",
    references: &[
        "https://github.com/hadolint/hadolint/wiki/DL3003",
        "https://docs.docker.com/reference/dockerfile/#workdir",
    ],
    check,
};

/// Where a shell's last `cd` lives.
#[derive(Clone, Copy)]
enum Scope {
    Run,
    Subshell,
    ShellScript,
}

fn check(ck: &Checker<'_, '_>) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (ri, run) in ck.runs() {
        for script in &run.scripts {
            let scope = if script.nested {
                Scope::ShellScript
            } else {
                Scope::Run
            };
            let mut found = Vec::new();
            last_cds(&script.script, &mut found);
            for cd in found {
                if let Some(h) = hit(ri, run, script.origin, cd, scope) {
                    hits.push(h);
                }
            }
            subshells(&script.script, &mut |body| {
                let mut found = Vec::new();
                last_cds(body, &mut found);
                for cd in found {
                    if let Some(h) = hit(ri, run, script.origin, cd, Scope::Subshell) {
                        hits.push(h);
                    }
                }
            });
        }
    }
    hits
}

/// The words of the `cd` commands a script may end with.
fn last_cds<'s>(script: &'s Script, out: &mut Vec<&'s [Word]>) {
    let Some(item) = script.items.last() else {
        return;
    };
    if item.background {
        return;
    }
    // What runs last when all goes well: the last pipeline joined by `&&` (a trailing
    // `|| …` only handles errors).
    let mut last = &item.first;
    for (c, p) in &item.rest {
        if *c == Connector::And {
            last = p;
        }
    }
    if last.commands.len() != 1 || last.bang {
        return;
    }
    match &last.commands[0] {
        Command::Simple(s) => {
            if let Some(inv) = Invocation::of(s) {
                if inv.name.literal() == Some("cd") && std::ptr::eq(inv.name, &s.words[0]) {
                    out.push(&s.words);
                }
            }
        }
        Command::Group {
            body,
            subshell: false,
            ..
        } => last_cds(body, out),
        Command::If {
            branches,
            otherwise,
        } => {
            for (_, body) in branches {
                last_cds(body, out);
            }
            if let Some(o) = otherwise {
                last_cds(o, out);
            }
        }
        _ => {}
    }
}

/// Calls `f` on the body of every subshell `( … )` of `script`.
fn subshells(script: &Script, f: &mut dyn FnMut(&Script)) {
    for item in &script.items {
        for p in item.pipelines() {
            // The members of a multi-command pipeline are subshells of their own; a `cd`
            // there is odd but not this rule's business.
            if p.commands.len() != 1 {
                continue;
            }
            walk_command(&p.commands[0], f);
        }
    }
}

fn walk_command(c: &Command, f: &mut dyn FnMut(&Script)) {
    match c {
        Command::Group { body, subshell, .. } => {
            if *subshell {
                f(body);
            }
            subshells(body, f);
        }
        Command::If {
            branches,
            otherwise,
        } => {
            for (cond, body) in branches {
                subshells(cond, f);
                subshells(body, f);
            }
            if let Some(o) = otherwise {
                subshells(o, f);
            }
        }
        Command::Loop { cond, body } => {
            subshells(cond, f);
            subshells(body, f);
        }
        Command::For { body, .. } => subshells(body, f),
        Command::Case { arms, .. } => {
            for a in arms {
                subshells(a, f);
            }
        }
        Command::Function { body, .. } => walk_command(body, f),
        Command::Simple(_) | Command::Arith { .. } => {}
    }
}

/// Targets that only return somewhere.
fn is_return(target: Option<&Word>, workdir: Option<&str>) -> bool {
    let Some(t) = target else { return true };
    let text = t.text.as_str();
    if matches!(
        text,
        "-" | ".." | "/" | "~" | "~/" | "$HOME" | "${HOME}" | "$OLDPWD" | "${OLDPWD}"
    ) {
        return true;
    }
    let norm = |p: &str| p.trim_end_matches('/').to_owned();
    workdir.is_some_and(|w| !text.is_empty() && norm(w) == norm(text))
}

fn hit(ri: usize, run: &Run<'_>, origin: Origin, words: &[Word], scope: Scope) -> Option<Hit> {
    let cd = words.first()?;
    // `cd -P dir`, `cd -L dir`: the target is the first operand.
    let target = words[1..]
        .iter()
        .find(|w| !w.text.starts_with('-') || w.text == "-");
    if is_return(target, run.workdir.as_deref()) {
        return None;
    }
    let target = target?;
    let shown = code(&format!("cd {}", target.text), 60);
    let dir = &target.text;
    let msg = match scope {
        Scope::Run => format!(
            "{shown} is the last command of this RUN, so it changes nothing: the next \
             instruction starts in the WORKDIR{}, not where this RUN ended. Use `WORKDIR {dir}` \
             instead.",
            run.workdir
                .as_deref()
                .map(|w| format!(" ({})", code(w, 40)))
                .unwrap_or_default()
        ),
        Scope::Subshell => format!(
            "{shown} is the last command of a subshell `( … )`, so it changes nothing: the \
             directory change ends with the subshell. Drop the parentheses, or run the commands \
             that need {} inside them.",
            code(dir, 40)
        ),
        Scope::ShellScript => format!(
            "{shown} is the last command of the script of this `sh -c`, so it changes nothing: \
             the directory change ends with that shell. Use `WORKDIR {dir}`, or run the commands \
             that need it inside the same script."
        ),
    };
    Some(Hit::words(RULE.id, ri, origin, cd, target, msg))
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
    fn reports_a_trailing_cd() {
        for bad in [
            "RUN cd /app",
            "RUN git clone x /app && cd /app",
            "RUN mkdir /app; cd /app",
            "RUN make && { echo done; cd /app; }",
            "RUN if [ -d /app ]; then cd /app; fi",
            "RUN make && cd /app || exit 1",
        ] {
            let h = hits(&["FROM debian", bad]);
            assert_eq!(h.len(), 1, "{bad}");
            assert!(
                h[0].msg.contains("last command of this RUN"),
                "{}",
                h[0].msg
            );
            assert!(h[0].msg.contains("`cd /app`"), "{}", h[0].msg);
        }
    }

    #[test]
    fn position_covers_cd_and_its_target() {
        let h = hits(&["FROM debian", "RUN make && cd /app"]);
        assert_eq!((h[0].start, h[0].end), (8, 15));
    }

    #[test]
    fn fine_uses_of_cd() {
        for ok in [
            "RUN cd /src && make",
            "RUN cd /src && make && cd -",
            "RUN cd /tmp && make && cd ..",
            "RUN cd /tmp && x && cd",
            "RUN cd /tmp && x && cd /",
            "RUN (cd /src && make) && echo ok",
            "RUN sh -c 'cd /src && make'",
            "RUN for d in a b; do cd $d; done",
            "RUN cd /app &",
            "RUN echo cd /app",
        ] {
            assert!(hits(&["FROM debian", ok]).is_empty(), "{ok}");
        }
        assert!(hits(&[
            "FROM debian",
            "WORKDIR /app/",
            "RUN cd /tmp && x && cd /app"
        ])
        .is_empty());
        assert!(hits(&[
            "FROM debian",
            "WORKDIR /srv",
            "WORKDIR app",
            "RUN cd /x && y && cd /srv/app"
        ])
        .is_empty());
    }

    #[test]
    fn subshell_and_nested_shell() {
        let h = hits(&["FROM debian", "RUN (cd /src) && make"]);
        assert_eq!(h.len(), 1);
        assert!(h[0].msg.contains("subshell"), "{}", h[0].msg);
        let h = hits(&["FROM debian", "RUN sh -c 'cd /src' && make"]);
        assert_eq!(h.len(), 1);
        assert!(h[0].msg.contains("sh -c"), "{}", h[0].msg);
        assert_eq!(h[0].start, "sh -c '".len());
    }
}
