//! What a `RUN` does with apt (shared by DF102 and DF103): which commands refresh the
//! package lists, which use them, and whether the lists are removed again.

use crate::cmd::Invocation;
use crate::run::{Checker, CmdRef};
use crate::syntax::Word;

/// An apt command that matters here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `apt-get update`: downloads the package lists.
    Update,
    /// `install`, `upgrade`, ...: reads the package lists.
    Use,
    /// `apt-get distclean`/`dist-clean`: removes them.
    Clean,
}

/// Subcommands that read the package lists.
const USES_LISTS: &[&str] = &[
    "install",
    "upgrade",
    "dist-upgrade",
    "full-upgrade",
    "build-dep",
    "source",
    "download",
    "reinstall",
    "satisfy",
];

/// Options of apt-get/apt that take a separate value.
const WITH_VALUE: &[&str] = &[
    "-o",
    "-c",
    "-t",
    "--option",
    "--config-file",
    "--target-release",
    "--default-release",
];

/// The apt action of a command and its subcommand word.
pub fn action<'a>(inv: &Invocation<'a>) -> Option<(Action, &'a Word)> {
    // `xx-apt-get` (tonistiigi/xx) runs apt-get for the target platform.
    if !matches!(
        inv.command(),
        "apt-get" | "apt" | "aptitude" | "xx-apt-get" | "xx-apt"
    ) {
        return None;
    }
    let sub = *inv.operands(WITH_VALUE).first()?;
    let act = match sub.literal()? {
        "update" => Action::Update,
        "distclean" | "dist-clean" => Action::Clean,
        s if USES_LISTS.contains(&s) => Action::Use,
        _ => return None,
    };
    Some((act, sub))
}

/// One apt command of a `RUN`.
#[derive(Debug, Clone, Copy)]
pub struct Act<'r> {
    /// What it does.
    pub action: Action,
    /// The command.
    pub cmd: CmdRef<'r>,
    /// Its subcommand word (`install`).
    pub sub: &'r Word,
}

impl Act<'_> {
    /// The command as a reader would name it: `` `apt-get install` ``.
    pub fn shown(&self) -> String {
        format!("`{} {}`", self.cmd.inv.name.text, self.sub.text)
    }
}

/// The apt commands of `RUN` number `run` (outside command substitutions), in order.
pub fn actions<'c>(ck: &Checker<'c, '_>, run: usize) -> Vec<Act<'c>> {
    ck.commands(run)
        .iter()
        .filter(|c| !c.ctx.in_subst)
        .filter_map(|cmd| {
            action(&cmd.inv).map(|(action, sub)| Act {
                action,
                cmd: *cmd,
                sub,
            })
        })
        .collect()
}

/// The first command of `acts` doing `action`.
pub fn first<'a, 'r>(acts: &'a [Act<'r>], action: Action) -> Option<&'a Act<'r>> {
    acts.iter().find(|a| a.action == action)
}

/// Whether a `RUN` removes the package lists (`rm -rf /var/lib/apt/lists/*`,
/// `find /var/lib/apt/lists -delete`, `apt-get distclean`), or keeps them out of the
/// layer with a cache or tmpfs mount.
pub fn removes_lists(ck: &Checker<'_, '_>, run: usize) -> bool {
    if ck
        .run(run)
        .has_mount(&["cache", "tmpfs"], &["/var/lib/apt"])
    {
        return true;
    }
    ck.commands(run).iter().any(|c| {
        let targets_lists = |w: &&Word| {
            let t = w.text.trim_end_matches('/');
            t.starts_with("/var/lib/apt/lists") || t == "/var/lib/apt" || t == "/var/lib/apt/*"
        };
        match c.inv.command() {
            "rm" => c.inv.args.iter().any(|w| targets_lists(&w)),
            "find" => c.inv.args.first().is_some_and(|w| targets_lists(&w)),
            _ => matches!(action(&c.inv), Some((Action::Clean, _))),
        }
    })
}

/// Whether a `RUN` may refresh the lists some other way: `add-apt-repository` runs
/// `apt-get update` itself unless given `-n`/`--no-update`, and `xx-apt-get` updates
/// when it sets up a foreign architecture.
pub fn refreshes(ck: &Checker<'_, '_>, run: usize) -> bool {
    ck.commands(run).iter().any(|c| match c.inv.command() {
        "add-apt-repository" => !c.inv.has_option("--no-update", Some('n')),
        "xx-apt-get" | "xx-apt" => true,
        _ => false,
    })
}
