//! ## DF102: `apt-get update` and `apt-get install` in different RUN instructions
//!
//! ### What it does
//! Reports two forms of the same bug:
//!
//! - a `RUN` that runs `apt-get update` (or `apt update`) but installs nothing: the
//!   finding points at `apt-get update` and names the later `RUN` that installs, if any;
//! - a `RUN` that installs (`install`, `upgrade`, `dist-upgrade`, ...) without its own
//!   `apt-get update`, relying on the lists an earlier `RUN` of the same image downloaded
//!   (and kept). An install with no earlier update at all is not reported: it fails
//!   visibly, since base images ship without package lists. `add-apt-repository` counts
//!   as an update (it runs one itself).
//!
//! ### Why is this bad?
//! Docker caches each `RUN` as a layer, keyed by its text. `RUN apt-get update` is built
//! once and then reused for months, while the `RUN apt-get install …` after it is rebuilt
//! whenever its text changes: it then installs from stale package lists, getting old
//! (possibly vulnerable) versions, or fails on files the mirror has since removed.
//!
//! ### Example
//! ```dockerfile
//! RUN apt-get update
//! RUN apt-get install -y --no-install-recommends curl
//! ```
//! Use instead:
//! ```dockerfile
//! RUN apt-get update \
//!  && apt-get install -y --no-install-recommends curl \
//!  && rm -rf /var/lib/apt/lists/*
//! ```
//!
//! ### References
//! - <https://docs.docker.com/build/building/best-practices/#apt-get>

use policy_sdk::Severity;

use super::apt::{actions, first, refreshes, removes_lists, Action};
use super::{Hit, Rule};
use crate::run::Checker;

/// The rule.
pub const RULE: Rule = Rule {
    id: "DF102",
    title: "apt-get update and apt-get install in different RUN instructions",
    severity: Severity::Medium,
    description: "Docker caches each RUN as a layer keyed by its text: a separate \
        `RUN apt-get update` is reused for months while a later `RUN apt-get install …` is \
        rebuilt whenever it changes, so it installs from stale package lists (old, possibly \
        vulnerable versions) or fails on files the mirror no longer has. Reported on a RUN \
        that updates without installing, and on a RUN that installs relying on an earlier \
        RUN's update.",
    remediation: "Run `apt-get update && apt-get install -y …` in one RUN instruction (and end \
        it with `&& rm -rf /var/lib/apt/lists/*`).",
    references: &["https://docs.docker.com/build/building/best-practices/#apt-get"],
    check,
};

fn check(ck: &Checker<'_, '_>) -> Vec<Hit> {
    let a = ck.analysis;
    let mut hits = Vec::new();
    for (ri, run) in ck.runs() {
        let acts = actions(ck, ri);
        match (first(&acts, Action::Update), first(&acts, Action::Use)) {
            (Some(up), None) => {
                let later = a.later_runs(run).into_iter().find_map(|r| {
                    let acts = actions(ck, r);
                    let using = first(&acts, Action::Use)?;
                    let own_update = first(&acts, Action::Update).is_some() || refreshes(ck, r);
                    (!own_update).then(|| (ck.run(r).ins.line, using.shown()))
                });
                let shown = up.shown();
                let msg = match later {
                    Some((line, install)) => format!(
                        "{shown} runs in a RUN of its own: Docker caches this layer, so the \
                         {install} on line {line} keeps installing from its stale package \
                         lists. Run `apt-get update && apt-get install …` in one RUN."
                    ),
                    None => format!(
                        "{shown} runs without an install in the same RUN: it only adds package \
                         lists to the image, and a later install would use them stale once this \
                         layer is cached. Remove it, or run it in the RUN that installs."
                    ),
                };
                hits.push(Hit::words(
                    RULE.id,
                    ri,
                    up.cmd.origin,
                    up.cmd.inv.name,
                    up.sub,
                    msg,
                ));
            }
            (None, Some(using)) if !refreshes(ck, ri) => {
                // The lists come from an earlier layer: stale once that layer is cached.
                let source = a.earlier_runs(run).into_iter().rev().find(|&r| {
                    let acts = actions(ck, r);
                    first(&acts, Action::Update).is_some()
                        && first(&acts, Action::Use).is_some()
                        && !removes_lists(ck, r)
                });
                if let Some(src) = source {
                    let msg = format!(
                        "{} runs without `apt-get update` in the same RUN: it uses the package \
                         lists the RUN on line {} downloaded, a layer Docker caches, so when \
                         only this RUN changes it installs from stale lists. Start it with \
                         `apt-get update &&`.",
                        using.shown(),
                        ck.run(src).ins.line
                    );
                    hits.push(Hit::words(
                        RULE.id,
                        ri,
                        using.cmd.origin,
                        using.cmd.inv.name,
                        using.sub,
                        msg,
                    ));
                }
            }
            _ => {}
        }
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
    fn update_alone_names_the_later_install() {
        let h = hits(&[
            "FROM debian",
            "RUN apt-get update",
            "RUN apt-get install -y curl",
        ]);
        assert_eq!(h.len(), 1, "{h:?}");
        assert!(
            h[0].msg.contains("`apt-get install` on line 3"),
            "{}",
            h[0].msg
        );
        let h = hits(&["FROM debian", "RUN apt update -qq"]);
        assert!(h[0].msg.contains("without an install"), "{}", h[0].msg);
    }

    #[test]
    fn install_relying_on_an_earlier_update() {
        let h = hits(&[
            "FROM debian AS base",
            "RUN apt-get update && apt-get install -y curl",
            "FROM base",
            "RUN apt-get -y install git",
        ]);
        assert_eq!(h.len(), 1, "{h:?}");
        assert!(h[0].msg.contains("line 2"), "{}", h[0].msg);
        assert!(h[0].msg.starts_with("`apt-get install`"), "{}", h[0].msg);
    }

    #[test]
    fn fine() {
        for lines in [
            &[
                "FROM debian",
                "RUN apt-get update && apt-get install -y curl",
            ][..],
            &["FROM debian", "RUN apt-get install -y ./x.deb"][..],
            &[
                "FROM debian",
                "RUN apt-get update && apt-get install -y a && rm -rf /var/lib/apt/lists/*",
                "RUN apt-get install -y b",
            ][..],
            &[
                "FROM debian",
                "RUN apt-get update && apt-get install -y a",
                "RUN add-apt-repository ppa:x/y && apt-get install -y b",
            ][..],
            &[
                "FROM debian AS a",
                "RUN apt-get update && apt-get install -y a",
                "FROM debian",
                "RUN apt-get install -y b",
            ][..],
            &["FROM debian", "RUN echo apt-get update"][..],
        ] {
            assert!(hits(lines).is_empty(), "{lines:?}");
        }
    }

    #[test]
    fn nested_shell_counts_as_the_same_run() {
        let h = hits(&[
            "FROM debian",
            "RUN bash -c 'apt-get update && apt-get install -y curl'",
        ]);
        assert!(h.is_empty(), "{h:?}");
    }
}
