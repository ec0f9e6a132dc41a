//! ## DF103: apt package lists left in the image
//!
//! ### What it does
//! Finds a `RUN` that downloads the package lists (`apt-get update`) and installs from
//! them, but does not remove them in the same `RUN` (`rm -rf /var/lib/apt/lists/*`, or
//! `apt-get distclean`), in a stage whose layers end up in the image: the final stage and
//! the stages it builds on (`FROM <stage>`); build stages are not reported. A `--mount=type=cache` (or `tmpfs`) on
//! `/var/lib/apt` or `/var/lib/apt/lists` keeps the lists out of the layer and is fine.
//!
//! ### Why is this bad?
//! The lists take tens of megabytes and are useless at run time. Removing them in a later
//! `RUN` does not help: the layer that added them stays in the image. They also let a later
//! `RUN apt-get install` work from stale lists (DF102) instead of failing.
//!
//! ### Example
//! ```dockerfile
//! RUN apt-get update && apt-get install -y --no-install-recommends curl
//! ```
//! Use instead:
//! ```dockerfile
//! RUN apt-get update \
//!  && apt-get install -y --no-install-recommends curl \
//!  && rm -rf /var/lib/apt/lists/*
//! ```
//!
//! ### References
//! - hadolint DL3009
//! - <https://docs.docker.com/build/building/best-practices/#apt-get>

use policy_sdk::Severity;

use super::apt::{actions, first, removes_lists, Action};
use super::{Hit, Rule};
use crate::run::Checker;

/// The rule.
pub const RULE: Rule = Rule {
    id: "DF103",
    title: "apt package lists left in the image",
    severity: Severity::Low,
    description: "`apt-get update` downloads package lists (tens of MB) that are useless at run \
        time. Unless the RUN that downloads them also removes them, they stay in its layer for \
        good: removing them in a later RUN does not shrink the image. Reported for RUNs that \
        update and install in the final stage or a stage it builds on (not in build stages); a \
        cache or tmpfs mount on /var/lib/apt is fine.",
    remediation: "End the RUN with `&& rm -rf /var/lib/apt/lists/*`, or mount the lists as a \
        cache: `RUN --mount=type=cache,target=/var/lib/apt/lists …`.",
    references: &[
        "https://github.com/hadolint/hadolint/wiki/DL3009",
        "https://docs.docker.com/build/building/best-practices/#apt-get",
    ],
    check,
};

fn check(ck: &Checker<'_, '_>) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (ri, run) in ck.runs() {
        if !ck.analysis.shipped.get(run.stage).copied().unwrap_or(true) {
            continue;
        }
        let acts = actions(ck, ri);
        let (Some(up), Some(using)) = (first(&acts, Action::Update), first(&acts, Action::Use))
        else {
            continue;
        };
        if removes_lists(ck, ri) {
            continue;
        }
        let msg = format!(
            "{} downloads package lists that stay in this layer: nothing in this RUN removes \
             /var/lib/apt/lists after the {}. End the RUN with `&& rm -rf /var/lib/apt/lists/*`.",
            up.shown(),
            using.shown()
        );
        hits.push(Hit::words(
            RULE.id,
            ri,
            up.cmd.origin,
            up.cmd.inv.name,
            up.sub,
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
    fn lists_kept() {
        let h = hits(&[
            "FROM debian",
            "RUN apt-get update && apt-get install -y curl",
        ]);
        assert_eq!(h.len(), 1);
        assert!(
            h[0].msg.starts_with("`apt-get update` downloads"),
            "{}",
            h[0].msg
        );
        assert!(
            h[0].msg.contains("after the `apt-get install`"),
            "{}",
            h[0].msg
        );
        assert_eq!((h[0].start, h[0].end), (0, 14));
    }

    #[test]
    fn lists_removed_or_not_shipped() {
        for lines in [
            &["FROM debian", "RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*"][..],
            &["FROM debian", "RUN apt-get update && apt-get install -y curl; apt-get clean; rm -rf /var/lib/apt/lists"][..],
            &["FROM debian", "RUN apt-get update && apt-get install -y curl && find /var/lib/apt/lists -type f -delete"][..],
            &["FROM debian", "RUN apt-get update && apt-get install -y curl && apt-get distclean"][..],
            &["FROM debian AS build", "RUN apt-get update && apt-get install -y gcc", "FROM scratch"][..],
            &["FROM debian", "RUN apt-get update"][..],
        ] {
            assert!(hits(lines).is_empty(), "{lines:?}");
        }
    }

    #[test]
    fn only_stages_of_the_final_image_count() {
        let h = hits(&[
            "FROM debian AS base",
            "RUN apt-get update && apt-get install -y curl",
            "FROM base AS app",
            "FROM debian AS tools",
            "RUN apt-get update && apt-get install -y gcc",
            "FROM app",
        ]);
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].run, 0);
    }
}
