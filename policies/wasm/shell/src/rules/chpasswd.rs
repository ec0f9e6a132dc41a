//! ## DF110: password set with chpasswd
//!
//! ### What it does
//! Finds `chpasswd` (and `passwd --stdin`) in a `RUN`: a password written into the
//! build, as in `echo 'root:secret' | chpasswd`.
//!
//! ### Why is this bad?
//! The password is in the Dockerfile and in the image history (`docker history`), and
//! the account it unlocks exists in every container started from the image. Containers
//! should not have login passwords at all; a service that needs a credential gets it at
//! run time.
//!
//! ### Example
//! ```dockerfile
//! RUN echo 'app:hunter2' | chpasswd
//! ```
//! Use instead: no password (`useradd --no-log-init -r app`), and secrets at run time.
//!
//! ### References
//! - checkov CKV2_DOCKER_17

use policy_sdk::Severity;

use super::{Hit, Rule};
use crate::run::Checker;

/// The rule.
pub const RULE: Rule = Rule {
    id: "DF110",
    title: "Password set with chpasswd",
    severity: Severity::Medium,
    description: "`chpasswd` (or `passwd --stdin`) in a RUN writes a password into the \
        Dockerfile and the image history, and every container of the image has an account \
        that can log in with it.",
    remediation: "Do not give container accounts passwords; create users without one \
        (`useradd -r`), and pass credentials a service needs at run time.",
    references: &["https://docs.docker.com/build/building/secrets/"],
    check,
};

fn check(ck: &Checker<'_, '_>) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (ri, _) in ck.runs() {
        for c in ck.commands(ri) {
            let hit = match c.inv.command() {
                "chpasswd" => true,
                "passwd" => c.inv.args.iter().any(|w| w.text == "--stdin"),
                _ => false,
            };
            if hit {
                let msg = format!(
                    "`{}` sets a password that stays in the image history: create the account without a password and pass credentials at run time",
                    c.inv.name.text
                );
                hits.push(Hit::words(
                    RULE.id, ri, c.origin, c.inv.name, c.inv.name, msg,
                ));
            }
        }
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::dockerfile;
    use crate::run::Analysis;

    #[test]
    fn chpasswd_in_a_pipeline() {
        let d = dockerfile(&[
            "FROM debian",
            "RUN echo 'root:pw' | chpasswd && useradd -r app",
        ]);
        let h = check(&Checker::new(&Analysis::new(&d)));
        assert_eq!(h.len(), 1);
        assert_eq!((h[0].start, h[0].end), (17, 25));
        let d = dockerfile(&["FROM debian", "RUN useradd -r app && passwd -d app"]);
        assert!(check(&Checker::new(&Analysis::new(&d))).is_empty());
    }
}
