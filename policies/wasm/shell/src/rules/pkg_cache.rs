//! ## DF107: package manager cache left in the image
//!
//! ### What it does
//! Finds installs that leave the package manager's download cache in the layer:
//! `pip install` without `--no-cache-dir` (or `PIP_NO_CACHE_DIR`), `yum`/`dnf`/`zypper`
//! installs without `yum clean all`/`dnf clean all`/`zypper clean` (or removing
//! `/var/cache/…`) later in the same `RUN`, and `yarn install`/`yarn add` without
//! `yarn cache clean`. Only stages whose layers end up in the image are reported (the
//! final stage and the stages it builds on); a cache or tmpfs `--mount` on the cache
//! directory is fine. (apk's cache is DF015's; apt's lists are DF103's.)
//!
//! ### Why is this bad?
//! The cache is tens to hundreds of megabytes that nothing uses at run time, and
//! cleaning it in a later `RUN` does not shrink the image: the layer that wrote it stays.
//!
//! ### Example
//! ```dockerfile
//! RUN dnf install -y nginx-1.24.0
//! ```
//! Use instead:
//! ```dockerfile
//! RUN dnf install -y nginx-1.24.0 && dnf clean all
//! ```
//!
//! ### References
//! - hadolint DL3042, DL3032, DL3036, DL3040, DL3060

use policy_sdk::Severity;

use super::packages::{self, Manager};
use super::{Hit, Rule};
use crate::run::{Checker, Run};

/// The rule.
pub const RULE: Rule = Rule {
    id: "DF107",
    title: "Package manager cache left in the image",
    severity: Severity::Low,
    description: "pip, yum, dnf, zypper and yarn keep what they download in a cache \
        directory; unless the RUN that installs also cleans it (or mounts it as a cache), it \
        stays in that layer for good, tens to hundreds of megabytes nothing uses at run time. \
        Reported in the final stage and the stages it builds on.",
    remediation: "Use `pip install --no-cache-dir`; end yum/dnf/zypper installs with \
        `&& yum clean all` / `&& dnf clean all` / `&& zypper clean -a`, and yarn installs with \
        `&& yarn cache clean`; or mount the cache: `RUN --mount=type=cache,target=/root/.cache/pip …`.",
    references: &[
        "https://docs.docker.com/build/cache/optimize/#use-cache-mounts",
        "https://github.com/hadolint/hadolint/wiki/DL3042",
        "https://github.com/hadolint/hadolint/wiki/DL3032",
    ],
    check,
};

/// Where each manager's cache lives (a cache/tmpfs mount there is fine).
fn cache_dirs(m: Manager) -> &'static [&'static str] {
    match m {
        Manager::Pip => &["/root/.cache", "/home", "/tmp/pip"],
        Manager::Yum => &["/var/cache/yum", "/var/cache"],
        Manager::Dnf | Manager::Microdnf => &["/var/cache/dnf", "/var/cache/libdnf5", "/var/cache"],
        Manager::Zypper => &["/var/cache/zypp", "/var/cache"],
        Manager::Yarn => &[
            "/usr/local/share/.cache",
            "/root/.cache",
            "/root/.yarn",
            "/home",
        ],
        _ => &[],
    }
}

fn check(ck: &Checker<'_, '_>) -> Vec<Hit> {
    let mut hits = Vec::new();
    let no_cache_env = env_disables_pip_cache(ck);
    for (ri, run) in ck.runs() {
        if !ck.analysis.shipped.get(run.stage).copied().unwrap_or(true) {
            continue;
        }
        let cmds = ck.commands(ri);
        let mut reported = Vec::new();
        for (k, c) in cmds.iter().enumerate() {
            if c.ctx.in_subst {
                continue;
            }
            let Some(pc) = packages::of(&c.inv) else {
                continue;
            };
            let m = pc.manager;
            let installs = match m {
                Manager::Pip => pc.installs(),
                Manager::Yum | Manager::Dnf | Manager::Zypper => pc.installs(),
                Manager::Yarn => matches!(pc.action(), "install" | "add"),
                _ => false,
            };
            if !installs || reported.contains(&m) {
                continue;
            }
            if run.has_mount(&["cache", "tmpfs"], cache_dirs(m)) {
                continue;
            }
            if m == Manager::Pip {
                if pc.has_option("--no-cache-dir", None)
                    || no_cache_env
                    || c.simple
                        .assigns
                        .iter()
                        .any(|a| a.text.starts_with("PIP_NO_CACHE_DIR="))
                    || cleans_later(ck, run, ri, k, m)
                {
                    continue;
                }
            } else if cleans_later(ck, run, ri, k, m) {
                continue;
            }
            let (what, fix) = match m {
                Manager::Pip => (
                    "keeps its download cache (~/.cache/pip)",
                    "add `--no-cache-dir`",
                ),
                Manager::Yum => (
                    "leaves its cache in /var/cache/yum",
                    "end the RUN with `&& yum clean all`",
                ),
                Manager::Dnf | Manager::Microdnf => (
                    "leaves its cache in /var/cache/dnf",
                    "end the RUN with `&& dnf clean all`",
                ),
                Manager::Zypper => (
                    "leaves its cache in /var/cache/zypp",
                    "end the RUN with `&& zypper clean -a`",
                ),
                _ => (
                    "leaves its cache in the image",
                    "end the RUN with `&& yarn cache clean`",
                ),
            };
            let msg = format!(
                "`{} {}` {what} in this layer: {fix}",
                c.inv.name.text, pc.sub.text
            );
            reported.push(m);
            hits.push(Hit::words(RULE.id, ri, c.origin, c.inv.name, pc.sub, msg));
        }
    }
    hits
}

/// Whether a command after number `k` of the RUN cleans `m`'s cache.
fn cleans_later(ck: &Checker<'_, '_>, run: &Run<'_>, ri: usize, k: usize, m: Manager) -> bool {
    let _ = run;
    ck.commands(ri).iter().skip(k + 1).any(|c| {
        let args: Vec<&str> = c.inv.args.iter().map(|w| w.text.as_str()).collect();
        if c.inv.command() == "rm" {
            return c.inv.args.iter().any(|w| {
                let t = w.text.trim_end_matches(['/', '*']);
                match m {
                    Manager::Pip => {
                        t.starts_with("/root/.cache")
                            || t.ends_with(".cache/pip")
                            || t.ends_with(".cache")
                    }
                    Manager::Yarn => {
                        t.contains(".cache/yarn")
                            || t.ends_with(".cache")
                            || t.contains(".yarn-cache")
                    }
                    _ => {
                        t == "/var/cache"
                            || t.starts_with("/var/cache/yum")
                            || t.starts_with("/var/cache/dnf")
                            || t.starts_with("/var/cache/zypp")
                            || t.starts_with("/var/cache/libdnf5")
                    }
                }
            });
        }
        let Some(pc) = packages::of(&c.inv) else {
            return false;
        };
        match (m, pc.manager) {
            (Manager::Pip, Manager::Pip) => pc.action() == "cache" && args.contains(&"purge"),
            (Manager::Yarn, Manager::Yarn) => pc.action() == "cache" && args.contains(&"clean"),
            (
                Manager::Yum | Manager::Dnf | Manager::Microdnf,
                Manager::Yum | Manager::Dnf | Manager::Microdnf,
            ) => pc.action() == "clean",
            (Manager::Zypper, Manager::Zypper) => matches!(pc.action(), "clean" | "cc"),
            _ => false,
        }
    })
}

/// `ENV PIP_NO_CACHE_DIR=…` anywhere before (pip reads any non-empty value but `0`/`false`
/// as on; a simple reading: the variable is set).
fn env_disables_pip_cache(ck: &Checker<'_, '_>) -> bool {
    ck.analysis.dockerfile.instructions.iter().any(|ins| {
        (ins.cmd == "env" || ins.cmd == "arg")
            && ins.arg_strings().any(|a| a.starts_with("PIP_NO_CACHE_DIR"))
    })
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
    fn caches_left() {
        let h = hits(&[
            "FROM fedora",
            "RUN pip install flask==3.0",
            "RUN dnf install -y nginx && echo done",
            "RUN yarn install --frozen-lockfile",
        ]);
        assert_eq!(h.len(), 3, "{h:?}");
        assert!(
            h[0].msg
                .starts_with("`pip install` keeps its download cache"),
            "{}",
            h[0].msg
        );
        assert!(h[1].msg.contains("dnf clean all"), "{}", h[1].msg);
        assert!(h[2].msg.contains("yarn cache clean"), "{}", h[2].msg);
    }

    #[test]
    fn caches_cleaned_or_not_shipped() {
        for lines in [
            &["FROM fedora", "RUN pip install --no-cache-dir flask"][..],
            &[
                "FROM fedora",
                "ENV PIP_NO_CACHE_DIR=1",
                "RUN pip install flask",
            ][..],
            &["FROM fedora", "RUN dnf install -y nginx && dnf clean all"][..],
            &[
                "FROM fedora",
                "RUN yum install -y x && rm -rf /var/cache/yum",
            ][..],
            &["FROM fedora", "RUN zypper in -y x && zypper clean -a"][..],
            &["FROM node", "RUN yarn install && yarn cache clean"][..],
            &[
                "FROM python AS build",
                "RUN pip install flask",
                "FROM python",
            ][..],
        ] {
            assert!(hits(lines).is_empty(), "{lines:?}");
        }
    }
}
