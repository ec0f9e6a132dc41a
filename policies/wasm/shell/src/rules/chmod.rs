//! ## DF111: files made writable by everyone
//!
//! ### What it does
//! Finds `chmod` with a mode that lets every user write: octal modes whose last digit has
//! the write bit (`777`, `666`, `0757`, `-R 777`) and symbolic modes that add write for
//! others or all (`o+w`, `a+rwx`, `ugo=rwx`). Directories with the sticky bit (`1777`,
//! `+t`), like `/tmp`, are fine, and so is a scratch directory that a later `rm` of the
//! same `RUN` removes.
//!
//! ### Why is this bad?
//! Any process in the container, whatever user it runs as, can then change those files:
//! a compromised low-privilege process can rewrite the application, its configuration or
//! a script that root runs later. It usually hides a wrong owner: `chown` the files to
//! the user that needs to write them instead.
//!
//! ### Example
//! ```dockerfile
//! RUN chmod -R 777 /app
//! ```
//! Use instead:
//! ```dockerfile
//! RUN chown -R app:app /app/data && chmod -R 755 /app
//! ```
//! (or `COPY --chown=app:app …`).

use policy_sdk::Severity;

use super::{Hit, Rule};
use crate::run::Checker;

/// The rule.
pub const RULE: Rule = Rule {
    id: "DF111",
    title: "Files made writable by everyone",
    severity: Severity::Medium,
    description: "chmod 777 (or 666, o+w, a+w) lets every user in the container modify the \
        files: a compromised low-privilege process can rewrite the application or a script \
        root runs later. Directories with the sticky bit (1777) are fine.",
    remediation: "Give the files to the user that must write them (`chown`, `COPY --chown`) \
        and use 755/644 (or 775/664 for a shared group).",
    references: &["https://www.cisecurity.org/benchmark/docker"],
    check,
};

/// Whether a chmod mode argument grants write to others, without the sticky bit.
pub fn world_writable(mode: &str) -> bool {
    if !mode.is_empty() && mode.chars().all(|c| c.is_ascii_digit() && c < '8') {
        let digits: Vec<u32> = mode.chars().filter_map(|c| c.to_digit(8)).collect();
        let others = digits.last().copied().unwrap_or(0);
        let sticky = digits.len() == 4 && digits[0] & 1 == 1;
        return others & 2 != 0 && !sticky;
    }
    // Symbolic: comma-separated clauses `[ugoa]*[+=][rwxXst]*`.
    mode.split(',').any(|clause| {
        let who_end = clause.find(['+', '-', '=']).unwrap_or(clause.len());
        let (who, rest) = clause.split_at(who_end);
        if !who.chars().all(|c| "ugoa".contains(c)) || rest.is_empty() {
            return false;
        }
        let everyone = who.contains('o') || who.contains('a');
        let op = rest.as_bytes()[0];
        let perms = &rest[1..];
        everyone && (op == b'+' || op == b'=') && perms.contains('w') && !perms.contains('t')
    })
}

fn check(ck: &Checker<'_, '_>) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (ri, _) in ck.runs() {
        for c in ck.commands(ri) {
            if c.inv.command() != "chmod" {
                continue;
            }
            let mode = c
                .inv
                .args
                .iter()
                .find(|w| {
                    !w.text.starts_with('-') || w.text.starts_with("-w") || w.text.starts_with("-r")
                })
                .filter(|w| !w.text.starts_with("--"));
            let Some(mode) = mode else {
                continue;
            };
            let Some(m) = mode.literal() else {
                continue;
            };
            // A scratch directory removed later in the same RUN does not ship.
            let target = c.inv.args.last().map(|w| w.text.as_str()).unwrap_or("");
            let removed = ck.commands(ri).iter().any(|r| {
                r.inv.command() == "rm"
                    && r.inv.name.start > c.inv.name.start
                    && r.inv.args.iter().any(|w| w.text == target)
            });
            if world_writable(m) && !removed {
                let msg = format!(
                    "`chmod {m}` lets every user in the container modify these files: chown them to the user that writes them and use 755/644"
                );
                hits.push(Hit::words(RULE.id, ri, c.origin, c.inv.name, mode, msg));
            }
        }
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        for m in [
            "777", "0777", "666", "757", "o+w", "a+rwx", "ugo=rwx", "u+x,o+w", "2777",
        ] {
            assert!(world_writable(m), "{m}");
        }
        for m in [
            "755", "0644", "1777", "775", "u+x", "+x", "g+w", "o-w", "a+rX", "+t", "o+t",
        ] {
            assert!(!world_writable(m), "{m}");
        }
        let d = crate::rules::test_support::dockerfile(&[
            "FROM debian",
            "RUN t=\"$(mktemp -d)\" && chmod 777 \"$t\" && make -C \"$t\" && rm -rf \"$t\"",
        ]);
        let a = crate::run::Analysis::new(&d);
        assert!(check(&Checker::new(&a)).is_empty());
    }
}
