//! ## DF106: packages installed without a version
//!
//! ### What it does
//! Finds package installs that name packages without a version: `apt-get install`
//! (`pkg=1.2`), `apk add` (`pkg=1.2`, `pkg~1.2`), `yum`/`dnf install` (`pkg-1.2`),
//! `zypper install` (`pkg=1.2`), `pip install` (`pkg==1.2`, any version specifier),
//! `npm install`/`yarn add`/`pnpm add` (`pkg@1.2`; `@latest` is not a version),
//! `gem install` (`-v 1.2`, `pkg:1.2`) and `go install …@latest` (`@v1.2.3`). One
//! finding per command, listing the packages. Local files, URLs, requirement files
//! (`pip install -r`), lockfile installs (`npm install` / `npm ci` without names) and
//! bootstrapping the installer itself (`pip install --upgrade pip setuptools wheel`) are
//! not reported. Works in every `RUN` form, heredocs and `sh -c` scripts included.
//!
//! ### Why is this bad?
//! An unpinned install takes whatever the registry serves on the day of the build: two
//! builds of the same Dockerfile ship different code, and a compromised or typo-squatted
//! release goes straight into the image. For language registries (PyPI, npm, RubyGems,
//! Go modules) that is a supply-chain risk (severity low); for distribution packages,
//! which come signed from a curated repository, mostly a reproducibility one (info).
//!
//! ### Example
//! ```dockerfile
//! RUN pip install flask gunicorn
//! ```
//! Use instead:
//! ```dockerfile
//! RUN pip install --no-cache-dir flask==3.0.3 gunicorn==22.0.0
//! ```
//! (or `pip install -r requirements.txt` with pinned, hashed requirements).
//!
//! ### References
//! - hadolint DL3008, DL3013, DL3016, DL3018, DL3028, DL3033, DL3037, DL3041, DL3062

use policy_sdk::Severity;

use super::packages::{self, is_location, Manager, PkgCmd};
use super::{code, Hit, Rule};
use crate::run::Checker;
use crate::syntax::Word;

/// The rule.
pub const RULE: Rule = Rule {
    id: "DF106",
    title: "Packages installed without a version",
    severity: Severity::Low,
    description: "An install that names packages without versions takes whatever the \
        registry serves on the day of the build: builds are not reproducible, and a \
        compromised or typo-squatted release goes straight into the image. Language \
        packages (pip, npm, yarn, pnpm, gem, `go install …@latest`) are low severity; \
        distribution packages (apt, apk, yum, dnf, zypper), which come signed from curated \
        repositories, are info. Requirement files, lockfiles, local files and URLs are not \
        reported.",
    remediation: "Pin each package: `pkg=1.2.3` (apt, apk, zypper), `pkg-1.2.3` (yum, dnf), \
        `pkg==1.2.3` (pip), `pkg@1.2.3` (npm, yarn, pnpm, go install), `-v 1.2.3` (gem); or \
        install from a pinned lockfile or requirements file.",
    references: &[
        "https://docs.docker.com/build/building/best-practices/#apt-get",
        "https://github.com/hadolint/hadolint/wiki/DL3008",
        "https://github.com/hadolint/hadolint/wiki/DL3013",
    ],
    check,
};

fn check(ck: &Checker<'_, '_>) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (ri, _) in ck.runs() {
        for c in ck.commands(ri) {
            let Some(pc) = packages::of(&c.inv) else {
                continue;
            };
            if !pc.installs() {
                continue;
            }
            let loose = unpinned(&pc);
            let (Some(first), Some(last)) = (loose.first(), loose.last()) else {
                continue;
            };
            let names: Vec<&str> = loose.iter().map(|w| w.text.as_str()).collect();
            let shown = format!("{} {}", c.inv.name.text, pc.sub.text);
            let msg = format!(
                "`{shown}` installs {} without a version: {}",
                code(&names.join(" "), 60),
                advice(pc.manager)
            );
            let mut hit = Hit::words(RULE.id, ri, c.origin, first, last, msg);
            if pc.manager.is_distro() {
                hit = hit.with_severity(Severity::Info);
            }
            hits.push(hit);
        }
    }
    hits
}

fn advice(m: Manager) -> &'static str {
    match m {
        Manager::Apt => "pin them as `pkg=VERSION`",
        Manager::Apk => "pin them as `pkg=VERSION` (or `pkg~MAJOR.MINOR`)",
        Manager::Yum | Manager::Dnf | Manager::Microdnf => "pin them as `pkg-VERSION`",
        Manager::Zypper => "pin them as `pkg=VERSION`",
        Manager::Pip => "pin them as `pkg==VERSION`, or install from a pinned requirements file",
        Manager::Npm | Manager::Yarn | Manager::Pnpm => {
            "pin them as `pkg@VERSION`, or install from the lockfile"
        }
        Manager::Gem => "pin them with `-v VERSION` (or `pkg:VERSION`)",
        Manager::Go => "pin a version instead of a branch or `@latest` (`@v1.2.3`)",
    }
}

/// The package operands of an install that carry no version.
fn unpinned<'a>(pc: &PkgCmd<'a>) -> Vec<&'a Word> {
    let ops = pc.operands();
    if pc.manager == Manager::Gem && pc.has_option("--version", Some('v')) {
        return Vec::new();
    }
    if pc.manager == Manager::Pip
        && ops.iter().all(|w| {
            matches!(
                w.text.to_ascii_lowercase().as_str(),
                "pip" | "setuptools" | "wheel"
            )
        })
    {
        return Vec::new();
    }
    ops.into_iter()
        .filter(|w| {
            let Some(t) = w.literal() else {
                return false;
            };
            !t.is_empty() && !is_location(t) && !t.contains('*') && !pinned(pc.manager, t)
        })
        .collect()
}

fn pinned(m: Manager, t: &str) -> bool {
    match m {
        Manager::Apt => t.contains('='),
        Manager::Apk => t.contains(['=', '~', '<', '>']),
        Manager::Zypper => t.contains(['=', '<', '>']) || has_dash_version(t),
        Manager::Yum | Manager::Dnf | Manager::Microdnf => {
            // Groups (`@development-tools`) and module streams cannot be pinned this way.
            t.starts_with('@') || t.contains(['=', '<', '>']) || has_dash_version(t)
        }
        Manager::Pip => {
            let l = t.to_ascii_lowercase();
            matches!(l.as_str(), "pip" | "setuptools" | "wheel")
                || t.contains(['=', '<', '>', '~', '@', '!'])
        }
        Manager::Npm | Manager::Yarn | Manager::Pnpm => {
            match t.char_indices().skip(1).find(|&(_, c)| c == '@') {
                Some((k, _)) => !matches!(&t[k + 1..], "" | "latest" | "next" | "*"),
                // `user/repo` (GitHub) and `alias:` specs are not registry names.
                None => t.contains('/') && !t.starts_with('@') || t.contains(':'),
            }
        }
        Manager::Gem => t.contains(':'),
        Manager::Go => match t.rsplit_once('@') {
            Some((_, v)) => !matches!(
                v,
                "latest" | "master" | "main" | "HEAD" | "upgrade" | "patch"
            ),
            // Without a version, `go install` builds from the current module (go.mod pins it).
            None => true,
        },
    }
}

/// `name-1.2` (an RPM version after the name).
fn has_dash_version(t: &str) -> bool {
    t.char_indices()
        .any(|(i, c)| c == '-' && i > 0 && t[i + 1..].starts_with(|d: char| d.is_ascii_digit()))
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
    fn unpinned_installs() {
        let h = hits(&[
            "FROM debian",
            "RUN apt-get install -y --no-install-recommends curl=8.5.0-2 git ca-certificates",
            "RUN pip install --no-cache-dir flask==3.0 requests",
            "RUN npm install -g npm@latest typescript@5.4.5 @scope/pkg",
            "RUN go install golang.org/x/tools/gopls@latest",
            "RUN gem install bundler",
        ]);
        let msgs: Vec<&str> = h.iter().map(|h| h.msg.as_str()).collect();
        assert_eq!(h.len(), 5, "{msgs:?}");
        assert!(msgs[0].contains("`git ca-certificates`"), "{}", msgs[0]);
        assert_eq!(h[0].severity, Some(Severity::Info));
        assert!(msgs[1].contains("`requests`"), "{}", msgs[1]);
        assert_eq!(h[1].severity, None);
        assert!(msgs[2].contains("`npm@latest @scope/pkg`"), "{}", msgs[2]);
        assert!(msgs[3].contains("gopls@latest"), "{}", msgs[3]);
        assert!(msgs[4].contains("`bundler`"), "{}", msgs[4]);
    }

    #[test]
    fn pinned_or_not_registry_packages() {
        for line in [
            "RUN apt-get install -y curl=8.5.0-2 ./local.deb",
            "RUN apk add --no-cache --virtual .deps curl=8.5.0-r0 git~2.43",
            "RUN pip install -r requirements.txt . ./pkg 'flask>=3' -e git+https://x/y.git",
            "RUN pip install --upgrade pip setuptools wheel",
            "RUN python3 -m pip install --no-cache-dir 'django~=5.0'",
            "RUN npm install && npm ci && npm install ./dir left-pad@1.3.0 @scope/x@2.0.0",
            "RUN yum install -y httpd-2.4.6 @development",
            "RUN gem install rails -v 7.1.3 && gem install bundler:2.5.6",
            "RUN go install ./cmd/... && go install example.com/x@v1.2.3 && go install",
            "RUN apt-get install -y $PACKAGES",
            "RUN apt-get update",
        ] {
            assert!(hits(&["FROM debian", line]).is_empty(), "{line}");
        }
    }
}
