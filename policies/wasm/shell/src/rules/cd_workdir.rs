//! ## DF113: `cd` where WORKDIR is meant
//!
//! ### What it does
//! Finds a `RUN` that starts with `cd /absolute/dir &&` in shell form, when the
//! directory is a literal path: the rest of the `RUN` runs there, which is what `WORKDIR`
//! says in one visible, inherited line. A `cd` later in a script, into a variable or a
//! relative path, inside a heredoc script or `sh -c`, is left alone (that is ordinary
//! shell). A `cd` with no effect at all is DF101's.
//!
//! ### Why is this bad?
//! The directory the image's commands run in is hidden inside shell text, and has to be
//! repeated in every `RUN`; a later `RUN` or the `CMD` silently runs elsewhere. Info:
//! it is a readability rule.
//!
//! ### Example
//! ```dockerfile
//! RUN cd /src && make && make install
//! ```
//! Use instead:
//! ```dockerfile
//! WORKDIR /src
//! RUN make && make install
//! ```
//!
//! ### References
//! - hadolint DL3003

use policy_sdk::Severity;

use super::{Hit, Rule};
use crate::run::{Checker, Origin};

/// The rule.
pub const RULE: Rule = Rule {
    id: "DF113",
    title: "cd where WORKDIR is meant",
    severity: Severity::Info,
    description: "A RUN that starts with `cd /dir &&` hides the working directory in shell \
        text, to be repeated in every RUN; WORKDIR says it once, visibly, and later \
        instructions inherit it.",
    remediation: "Put `WORKDIR /dir` before the RUN and drop the `cd`.",
    references: &["https://docs.docker.com/build/building/best-practices/#workdir"],
    check,
};

fn check(ck: &Checker<'_, '_>) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (ri, run) in ck.runs() {
        let Some(script) = run.scripts.first() else {
            continue;
        };
        if script.nested || script.origin != Origin::Value {
            continue;
        }
        let cmds = ck.commands(ri);
        let Some(first) = cmds.first() else {
            continue;
        };
        if first.script != 0 || first.inv.command() != "cd" || first.ctx.in_condition {
            continue;
        }
        // Something must run after it in this RUN.
        if cmds.len() < 2 {
            continue;
        }
        let Some(dir) = first.inv.args.first() else {
            continue;
        };
        if first.inv.args.len() != 1 || dir.literal().is_none_or(|t| !t.starts_with('/')) {
            continue;
        }
        let msg = format!(
            "`cd {}` at the start of the RUN: use `WORKDIR {}` so the directory is visible and inherited",
            dir.text, dir.text
        );
        hits.push(Hit::words(
            RULE.id,
            ri,
            first.origin,
            first.inv.name,
            dir,
            msg,
        ));
    }
    hits
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
    fn leading_cd() {
        let h = hits(&["FROM debian", "RUN cd /src && make"]);
        assert_eq!(h.len(), 1);
        assert_eq!((h[0].start, h[0].end), (0, 7));
        for line in [
            "RUN make && cd /x && make install",
            "RUN cd $SRC && make",
            "RUN cd build && make",
            "RUN cd /src",
        ] {
            assert!(hits(&["FROM debian", line]).is_empty(), "{line}");
        }
    }
}
