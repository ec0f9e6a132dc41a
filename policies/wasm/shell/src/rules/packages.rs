//! Package-manager commands, shared by DF106 (pinning), DF107 (caches), DF109
//! (signatures) and DF112 (`-y`): which manager a command runs, its subcommand, and the
//! package operands after it.

use crate::cmd::Invocation;
use crate::syntax::Word;

/// A package manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Manager {
    /// apt-get, apt, aptitude.
    Apt,
    /// Alpine's apk.
    Apk,
    /// yum.
    Yum,
    /// dnf, tdnf.
    Dnf,
    /// microdnf (never prompts).
    Microdnf,
    /// zypper.
    Zypper,
    /// pip, pip3, `python -m pip`.
    Pip,
    /// npm.
    Npm,
    /// yarn (classic `add`/`global add`).
    Yarn,
    /// pnpm.
    Pnpm,
    /// gem.
    Gem,
    /// `go install`.
    Go,
}

impl Manager {
    /// Whether it installs distribution packages (signed repositories, curated versions)
    /// rather than language packages from a public registry.
    pub fn is_distro(self) -> bool {
        matches!(
            self,
            Manager::Apt
                | Manager::Apk
                | Manager::Yum
                | Manager::Dnf
                | Manager::Microdnf
                | Manager::Zypper
        )
    }

    /// Options before or after the subcommand that take a separate value.
    pub fn with_value(self) -> &'static [&'static str] {
        match self {
            Manager::Apt => &[
                "-o",
                "-c",
                "-t",
                "--option",
                "--config-file",
                "--target-release",
                "--default-release",
            ],
            Manager::Apk => &[
                "-X",
                "--repository",
                "-t",
                "--virtual",
                "-p",
                "--root",
                "--repositories-file",
                "--arch",
                "--cache-dir",
                "--keys-dir",
            ],
            Manager::Yum | Manager::Dnf | Manager::Microdnf => &[
                "-c",
                "--config",
                "--installroot",
                "--releasever",
                "--enablerepo",
                "--disablerepo",
                "-x",
                "--exclude",
                "--repo",
                "--repoid",
                "--setopt",
                "--forcearch",
                "-d",
                "-e",
                "--debuglevel",
                "--errorlevel",
            ],
            Manager::Zypper => &[
                "--root",
                "-R",
                "--reposd-dir",
                "-D",
                "--cache-dir",
                "-C",
                "--config",
                "-c",
                "-t",
                "--type",
                "-r",
                "--repo",
                "--from",
            ],
            Manager::Pip => &[
                "-r",
                "--requirement",
                "-c",
                "--constraint",
                "-e",
                "--editable",
                "-i",
                "--index-url",
                "--extra-index-url",
                "-f",
                "--find-links",
                "-t",
                "--target",
                "--prefix",
                "--root",
                "--trusted-host",
                "--platform",
                "--python-version",
                "--implementation",
                "--abi",
                "--src",
                "--upgrade-strategy",
                "--progress-bar",
                "--cache-dir",
                "--log",
                "--proxy",
                "--retries",
                "--timeout",
                "--exists-action",
                "--no-binary",
                "--only-binary",
                "-C",
                "--config-settings",
                "--global-option",
                "--report",
                "--python",
            ],
            Manager::Npm | Manager::Yarn | Manager::Pnpm => &[
                "--prefix",
                "--registry",
                "--cache",
                "-w",
                "--workspace",
                "--tag",
                "--omit",
                "--include",
                "--userconfig",
                "--cwd",
                "--filter",
                "-C",
                "--dir",
            ],
            Manager::Gem => &[
                "-v",
                "--version",
                "-i",
                "--install-dir",
                "-n",
                "--bindir",
                "--source",
                "-s",
                "-P",
                "--trust-policy",
                "--platform",
                "-g",
                "--file",
            ],
            Manager::Go => &[
                "-o",
                "-C",
                "-p",
                "-tags",
                "-ldflags",
                "-gcflags",
                "-mod",
                "-modfile",
                "-pkgdir",
                "-toolexec",
                "-exec",
            ],
        }
    }
}

/// One package-manager invocation: the manager, its subcommand word, and the words after it.
#[derive(Debug, Clone, Copy)]
pub struct PkgCmd<'a> {
    /// The manager.
    pub manager: Manager,
    /// The subcommand (`install`, `add`, ...), as written.
    pub sub: &'a Word,
    /// The arguments after the subcommand.
    pub rest: &'a [Word],
    /// The arguments before the subcommand (global options).
    pub before: &'a [Word],
}

impl<'a> PkgCmd<'a> {
    /// The subcommand's literal text.
    pub fn action(&self) -> &'a str {
        self.sub.literal().unwrap_or("")
    }

    /// Whether the command installs packages.
    pub fn installs(&self) -> bool {
        match self.manager {
            Manager::Apt => self.action() == "install",
            Manager::Apk => self.action() == "add",
            Manager::Yum | Manager::Dnf | Manager::Microdnf => {
                matches!(self.action(), "install" | "groupinstall" | "localinstall")
            }
            Manager::Zypper => matches!(self.action(), "install" | "in"),
            Manager::Pip => self.action() == "install",
            Manager::Npm => matches!(self.action(), "install" | "i" | "add" | "isntall"),
            Manager::Yarn | Manager::Pnpm => self.action() == "add",
            Manager::Gem => self.action() == "install",
            Manager::Go => self.action() == "install",
        }
    }

    /// The operands after the subcommand (package names, files), options and their
    /// values left out.
    pub fn operands(&self) -> Vec<&'a Word> {
        operands(self.rest, self.manager.with_value())
    }

    /// Whether an option appears before or after the subcommand (long form, or a short
    /// letter alone or grouped), as [`Invocation::has_option`] reads it.
    pub fn has_option(&self, long: &str, short: Option<char>) -> bool {
        let all = |args: &'a [Word]| {
            let inv = Invocation {
                name: self.sub,
                args,
            };
            inv.has_option(long, short)
        };
        all(self.before) || all(self.rest)
    }

    /// Whether any argument's text is `text` exactly, or starts with `prefix=`.
    pub fn has_word(&self, pred: impl Fn(&str) -> bool) -> bool {
        self.before
            .iter()
            .chain(self.rest)
            .any(|w| w.literal().is_some_and(&pred))
    }
}

/// The words of `args` that are not options, for options in `with_value` taking the next
/// word; `--` ends the options.
pub fn operands<'a>(args: &'a [Word], with_value: &[&str]) -> Vec<&'a Word> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut done = false;
    while i < args.len() {
        let w = &args[i];
        i += 1;
        if done || !w.text.starts_with('-') || w.text == "-" {
            out.push(w);
            continue;
        }
        if w.text == "--" {
            done = true;
            continue;
        }
        if with_value.contains(&w.text.as_str()) {
            i += 1;
        }
    }
    out
}

/// The manager a command runs and its subcommand, if it is one of ours.
pub fn of<'a>(inv: &Invocation<'a>) -> Option<PkgCmd<'a>> {
    let (manager, args): (Manager, &'a [Word]) = match inv.command() {
        "apt-get" | "apt" | "aptitude" => (Manager::Apt, inv.args),
        "apk" => (Manager::Apk, inv.args),
        "yum" => (Manager::Yum, inv.args),
        "dnf" | "tdnf" | "dnf5" => (Manager::Dnf, inv.args),
        "microdnf" => (Manager::Microdnf, inv.args),
        "zypper" => (Manager::Zypper, inv.args),
        "npm" => (Manager::Npm, inv.args),
        "pnpm" => (Manager::Pnpm, inv.args),
        "gem" => (Manager::Gem, inv.args),
        "go" => (Manager::Go, inv.args),
        "yarn" => {
            // `yarn global add x` is `yarn add` for the global folder.
            let args = match inv.args.first().and_then(|w| w.literal()) {
                Some("global") => &inv.args[1..],
                _ => inv.args,
            };
            (Manager::Yarn, args)
        }
        name if is_pip(name) => (Manager::Pip, inv.args),
        name if name.starts_with("python") => {
            // `python3 -m pip install …`
            let k = inv.args.iter().position(|w| w.text == "-m")?;
            if !inv
                .args
                .get(k + 1)
                .and_then(|w| w.literal())
                .is_some_and(is_pip)
            {
                return None;
            }
            (Manager::Pip, &inv.args[k + 2..])
        }
        _ => return None,
    };
    let with_value = manager.with_value();
    let mut i = 0;
    while i < args.len() {
        let w = &args[i];
        if w.expands {
            return None;
        }
        if !w.text.starts_with('-') {
            return Some(PkgCmd {
                manager,
                sub: w,
                rest: &args[i + 1..],
                before: &args[..i],
            });
        }
        i += 1;
        if with_value.contains(&w.text.as_str()) {
            i += 1;
        }
    }
    None
}

fn is_pip(name: &str) -> bool {
    name == "pip"
        || name
            .strip_prefix("pip")
            .is_some_and(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// Whether an operand is a local file, directory or URL rather than a registry package.
pub fn is_location(t: &str) -> bool {
    t.starts_with('.')
        || t.starts_with('/')
        || t.starts_with('~')
        || t.contains("://")
        || t.starts_with("git+")
        || t.starts_with("file:")
        || [
            ".deb", ".rpm", ".apk", ".whl", ".tar.gz", ".tgz", ".zip", ".gem", ".tar.bz2",
        ]
        .iter()
        .any(|ext| t.ends_with(ext))
}
