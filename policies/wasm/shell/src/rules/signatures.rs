//! ## DF109: package signature checks turned off
//!
//! ### What it does
//! Finds package installs told to accept unsigned or tampered packages:
//! `apt-get --allow-unauthenticated`, `--allow-insecure-repositories`, `--force-yes`,
//! `-o APT::Get::AllowUnauthenticated=true`; `apk --allow-untrusted`;
//! `yum`/`dnf`/`tdnf`/`microdnf --nogpgcheck` or `--setopt=gpgcheck=0`; `rpm --nosignature`,
//! `--nodigest`, `--nofiledigest`, `--noverify`. In every `RUN` form.
//!
//! ### Why is this bad?
//! Repository signatures are what makes a package mirror, a proxy or a CDN unable to
//! slip in a modified package. Without them, whoever controls the path controls the
//! image. `--force-yes` also allows downgrades to vulnerable versions.
//!
//! ### Example
//! ```dockerfile
//! RUN apk add --allow-untrusted /tmp/tool.apk
//! ```
//! Use instead: sign the package and install its public key (`/etc/apk/keys/`), or
//! verify the file's checksum before installing it.
//!
//! ### References
//! - checkov CKV2_DOCKER_7-11

use policy_sdk::Severity;

use super::{Hit, Rule};
use crate::run::Checker;

/// The rule.
pub const RULE: Rule = Rule {
    id: "DF109",
    title: "Package signature checks turned off",
    severity: Severity::High,
    description: "apt-get --allow-unauthenticated/--allow-insecure-repositories/--force-yes, \
        apk --allow-untrusted, yum/dnf --nogpgcheck (or gpgcheck=0) and rpm --nosignature/\
        --nodigest/--noverify install packages whose signatures are not checked: a mirror, \
        proxy or attacker on the path can substitute their own.",
    remediation: "Remove the option. Install the repository's signing key (apt: \
        /etc/apt/keyrings + signed-by; apk: /etc/apk/keys; rpm: rpm --import) or verify a \
        local package's checksum before installing it.",
    references: &[
        "https://wiki.debian.org/SecureApt",
        "https://wiki.alpinelinux.org/wiki/Alpine_Package_Keeper",
    ],
    check,
};

fn bad_option(command: &str, t: &str) -> bool {
    let l = t.to_ascii_lowercase();
    match command {
        "apt-get" | "apt" | "aptitude" => {
            matches!(
                t,
                "--allow-unauthenticated" | "--allow-insecure-repositories" | "--force-yes"
            ) || l.starts_with("apt::get::allowunauthenticated=t")
                || l.starts_with("acquire::allowinsecurerepositories=t")
        }
        "apk" => t == "--allow-untrusted",
        "yum" | "dnf" | "tdnf" | "microdnf" | "dnf5" => {
            t == "--nogpgcheck"
                || t == "--no-gpgchecks"
                || l.contains("gpgcheck=0")
                || l.contains("gpgcheck=false")
                || l.contains("gpgcheck=no")
        }
        "rpm" => matches!(
            t,
            "--nosignature" | "--nodigest" | "--nofiledigest" | "--noverify"
        ),
        "zypper" => matches!(t, "--no-gpg-checks" | "--gpg-auto-import-keys"),
        _ => false,
    }
}

fn check(ck: &Checker<'_, '_>) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (ri, _) in ck.runs() {
        for c in ck.commands(ri) {
            let command = c.inv.command();
            let bad: Vec<_> = c
                .inv
                .args
                .iter()
                .filter(|w| w.literal().is_some_and(|t| bad_option(command, t)))
                .collect();
            let (Some(first), Some(last)) = (bad.first(), bad.last()) else {
                continue;
            };
            let shown: Vec<&str> = bad.iter().map(|w| w.text.as_str()).collect();
            let msg = format!(
                "`{} {}` installs packages without checking their signatures: remove it and trust the repository's signing key instead",
                c.inv.name.text,
                shown.join(" ")
            );
            hits.push(Hit::words(RULE.id, ri, c.origin, first, last, msg));
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
    fn signatures_off() {
        let h = hits(&[
            "FROM debian",
            "RUN apt-get install -y --allow-unauthenticated --force-yes x",
            "RUN apk add --allow-untrusted /tmp/x.apk && dnf install -y --nogpgcheck y",
            "RUN rpm -i --nosignature z.rpm",
        ]);
        assert_eq!(h.len(), 4, "{h:?}");
        assert!(
            h[0].msg
                .contains("`apt-get --allow-unauthenticated --force-yes`"),
            "{}",
            h[0].msg
        );
    }

    #[test]
    fn signatures_on() {
        for line in [
            "RUN apt-get install -y x && apk add --no-cache y && dnf install -y --setopt=install_weak_deps=0 z",
            "RUN echo --nogpgcheck && rpm --import key.asc",
        ] {
            assert!(hits(&["FROM debian", line]).is_empty(), "{line}");
        }
    }
}
