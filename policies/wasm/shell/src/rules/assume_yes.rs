//! ## DF112: package install waits for a confirmation
//!
//! ### What it does
//! Finds `apt-get`/`apt` `install`, `upgrade`, `dist-upgrade`, `remove`, `purge` and
//! `autoremove` without `-y` (`--yes`, `--assume-yes`, `-qq`, or `-o
//! APT::Get::Assume-Yes=true`), `yum`/`dnf` installs, upgrades and removals without `-y`
//! (`--assumeyes`), and `zypper` installs without `-n` (`--non-interactive`) or `-y`
//! (`--no-confirm`). `microdnf` and `apk` never ask. A command fed by `yes |` is fine.
//! In every `RUN` form, heredocs and `sh -c` included.
//!
//! ### Why is this bad?
//! A build has no terminal: the command asks "Do you want to continue? [Y/n]", reads
//! end-of-file and aborts, so the build fails whenever there is something to install,
//! typically only after a base image update.
//!
//! ### Example
//! ```dockerfile
//! RUN apt-get update && apt-get install --no-install-recommends curl
//! ```
//! Use instead:
//! ```dockerfile
//! RUN apt-get update && apt-get install -y --no-install-recommends curl
//! ```
//!
//! ### References
//! - hadolint DL3014, DL3030, DL3034, DL3038

use policy_sdk::Severity;

use super::packages::{self, Manager};
use super::{Hit, Rule};
use crate::run::Checker;
use crate::syntax::Command;

/// The rule.
pub const RULE: Rule = Rule {
    id: "DF112",
    title: "Package install waits for a confirmation",
    severity: Severity::Low,
    description: "apt-get, yum, dnf and zypper ask for confirmation before they change \
        packages; a build has no terminal, so without -y (zypper: -n) the command aborts \
        and the build fails whenever there is something to install.",
    remediation: "Add `-y` (apt-get, yum, dnf) or `-n` (zypper: `zypper -n install`).",
    references: &[
        "https://github.com/hadolint/hadolint/wiki/DL3014",
        "https://docs.docker.com/build/building/best-practices/#apt-get",
    ],
    check,
};

fn check(ck: &Checker<'_, '_>) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (ri, run) in ck.runs() {
        let fed = fed_by_yes(run);
        for c in ck.commands(ri) {
            let Some(pc) = packages::of(&c.inv) else {
                continue;
            };
            let asks = match pc.manager {
                Manager::Apt => matches!(
                    pc.action(),
                    "install"
                        | "upgrade"
                        | "dist-upgrade"
                        | "full-upgrade"
                        | "remove"
                        | "purge"
                        | "autoremove"
                        | "reinstall"
                        | "build-dep"
                ),
                Manager::Yum | Manager::Dnf => matches!(
                    pc.action(),
                    "install"
                        | "groupinstall"
                        | "localinstall"
                        | "update"
                        | "upgrade"
                        | "remove"
                        | "erase"
                        | "reinstall"
                        | "downgrade"
                        | "autoremove"
                        | "distro-sync"
                ),
                Manager::Zypper => matches!(
                    pc.action(),
                    "install"
                        | "in"
                        | "update"
                        | "up"
                        | "remove"
                        | "rm"
                        | "dist-upgrade"
                        | "dup"
                        | "patch"
                ),
                _ => false,
            };
            if !asks || fed.contains(&c.inv.name.start) {
                continue;
            }
            // A simulation or dry run changes nothing and never asks.
            if pc.has_word(|t| {
                matches!(
                    t,
                    "-s" | "--simulate"
                        | "--dry-run"
                        | "--just-print"
                        | "--no-act"
                        | "--recon"
                        | "--print-uris"
                        | "--downloadonly"
                        | "--setopt=tsflags=test"
                )
            }) {
                continue;
            }
            let confirmed = match pc.manager {
                Manager::Apt => {
                    pc.has_option("--yes", Some('y'))
                        || pc.has_option("--assume-yes", None)
                        || pc.has_option("--force-yes", None)
                        || pc.has_word(|t| {
                            t == "-qq"
                                || t.to_ascii_lowercase().starts_with("apt::get::assume-yes=t")
                        })
                        || pc.has_word(|t| t.starts_with("-q=2") || t == "-qqy" || t == "-yqq")
                }
                Manager::Yum | Manager::Dnf => {
                    pc.has_option("--assumeyes", Some('y')) || pc.has_option("--assumeno", None)
                }
                _ => {
                    pc.has_option("--non-interactive", Some('n'))
                        || pc.has_option("--no-confirm", Some('y'))
                }
            };
            if confirmed {
                continue;
            }
            let flag = if pc.manager == Manager::Zypper {
                "-n"
            } else {
                "-y"
            };
            let msg = format!(
                "`{} {}` asks for confirmation, and a build cannot answer: it aborts when there is anything to do; add `{flag}`",
                c.inv.name.text, pc.sub.text
            );
            hits.push(Hit::words(RULE.id, ri, c.origin, c.inv.name, pc.sub, msg));
        }
    }
    hits
}

/// Start offsets of commands whose standard input is a pipe from `yes`.
fn fed_by_yes(run: &crate::run::Run<'_>) -> Vec<usize> {
    let mut out = Vec::new();
    for s in &run.scripts {
        for item in &s.script.items {
            for p in item.pipelines() {
                for pair in p.commands.windows(2) {
                    if let (Command::Simple(a), Command::Simple(b)) = (&pair[0], &pair[1]) {
                        if a.words.first().is_some_and(|w| w.text == "yes") {
                            if let Some(inv) = crate::cmd::Invocation::of(b) {
                                out.push(inv.name.start);
                            }
                        }
                    }
                }
            }
        }
    }
    out
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
    fn prompts() {
        let h = hits(&[
            "FROM debian",
            "RUN apt-get update && apt-get install --no-install-recommends curl",
            "RUN yum install httpd-2.4 && zypper install x",
        ]);
        assert_eq!(h.len(), 3, "{h:?}");
        assert!(
            h[0].msg.starts_with("`apt-get install` asks"),
            "{}",
            h[0].msg
        );
        assert!(h[2].msg.ends_with("add `-n`"), "{}", h[2].msg);
    }

    #[test]
    fn confirmed() {
        for line in [
            "RUN apt-get install -y curl && apt-get -qq install x && apt-get install --yes y",
            "RUN apt-get -o APT::Get::Assume-Yes=true install z && apt-get update",
            "RUN yum -y install x && dnf install --assumeyes y && microdnf install z",
            "RUN zypper -n install x && zypper in -y y && apk add z",
            "RUN yes | apt-get install x",
            "RUN if apt-get install -s x > /dev/null 2>&1; then echo ok; fi",
        ] {
            assert!(hits(&["FROM debian", line]).is_empty(), "{line}");
        }
    }
}
