//! ## DF100: a pipe in RUN without `pipefail`
//!
//! ### What it does
//! Finds pipelines (`a | b`) in `RUN` instructions that run without the shell's
//! `pipefail` option: neither `SHELL ["/bin/bash", "-o", "pipefail", "-c"]` (or `-eo
//! pipefail`, …) earlier in the stage nor `set -o pipefail` earlier in the script. The
//! script of `sh -c '…'`, heredoc bodies and the exec form's `["bash", "-c", "…"]` are
//! checked with their own shell's options.
//!
//! Reported at the first command whose failure the pipe hides. Pipelines whose earlier
//! commands cannot fail (`echo`, `printf`, `yes`) or only read and filter text (`find`,
//! `grep`, `sort`, `awk`, `sed`, `xargs`, … — a failure there leaves the next command with
//! less input, which it usually notices), pipelines used as a condition
//! (`if curl … | grep -q …`), pipelines ending in a command that fails by itself on
//! missing input (`… | grep PATTERN`, `… | sha256sum -c`), `curl … | sh` (reported by
//! DF005) and pipelines whose failure is explicitly ignored (`… || true`) are not
//! reported. Setting pipefail once fixes every pipeline of a `RUN`, so there is one
//! finding per `RUN`.
//!
//! ### Why is this bad?
//! A pipeline's exit status is that of its last command. In
//! `curl -fsSL https://example.com/tool.tgz | tar -xz`, a failed download gives `tar` an
//! empty stream, `tar` may succeed, and the build goes on with a missing or truncated
//! tool. With `pipefail`, the pipeline fails when any of its commands fails.
//!
//! ### Example
//! ```dockerfile
//! RUN curl -fsSL https://example.com/tool.tgz | tar -xz -C /usr/local/bin
//! ```
//! Use instead:
//! ```dockerfile
//! SHELL ["/bin/bash", "-o", "pipefail", "-c"]
//! RUN curl -fsSL https://example.com/tool.tgz | tar -xz -C /usr/local/bin
//! ```
//! `/bin/sh` on Debian and Ubuntu is dash, which may not know `pipefail`: switch to bash
//! with `SHELL` there. BusyBox `ash` (Alpine) supports `set -o pipefail`.
//!
//! ### References
//! - hadolint DL4006
//! - <https://docs.docker.com/build/building/best-practices/#using-pipes>

use policy_sdk::Severity;

use super::{code, Hit, Rule};
use crate::cmd::{apply_set, Invocation, ShellState};
use crate::run::{Checker, Origin, RunScript};
use crate::syntax::{AndOr, Command, Connector, Pipeline, Script};

/// The rule.
pub const RULE: Rule = Rule {
    id: "DF100",
    title: "Pipe in RUN without pipefail",
    severity: Severity::Low,
    description: "A pipeline's exit status is that of its last command: in \
        `curl -fsSL URL | tar -xz`, a failed download is ignored and the build goes on with a \
        missing or truncated file. Set `pipefail` so that the pipeline fails when any command \
        in it fails. Pipelines fed only by commands that cannot fail or that only filter text \
        (`echo`, `find`, `grep`, `sort`, …), pipelines ending in `grep PATTERN` or \
        `sha256sum -c` (which fail on missing input), conditions (`if a | grep -q x`), \
        `curl … | sh` (DF005) and pipelines ending in `|| true` are not reported; one finding \
        per RUN.",
    remediation: "Add `SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]` before the RUN \
        (Debian's /bin/sh, dash, may not support pipefail), or start the script with \
        `set -o pipefail &&` (bash, zsh, BusyBox ash).",
    references: &[
        "https://github.com/hadolint/hadolint/wiki/DL4006",
        "https://docs.docker.com/build/building/best-practices/#using-pipes",
    ],
    check,
};

/// Commands whose failure rarely matters when they feed a pipe: they cannot fail
/// (`echo`), or they only read and filter text, so a failure leaves the next command with
/// less input (`find … | xargs …`, `grep … | sha256sum -c`), which that command usually
/// notices. What remains are producers whose failure silently changes the result:
/// downloads, builds, archivers, `git`, `make … | tee log`.
const HARMLESS_SOURCES: &[&str] = &[
    "echo",
    "printf",
    "yes",
    "true",
    ":",
    "find",
    "grep",
    "egrep",
    "fgrep",
    "sort",
    "uniq",
    "awk",
    "gawk",
    "mawk",
    "sed",
    "cut",
    "tr",
    "head",
    "tail",
    "wc",
    "ls",
    "tee",
    "xargs",
    "locale",
    "apt-mark",
    "dpkg",
    "dpkg-query",
    "env",
    "printenv",
    "basename",
    "dirname",
];

/// Shells a script can be piped into.
const SHELLS: &[&str] = &["sh", "bash", "dash", "ash", "zsh", "ksh"];

/// Whether the last command of a pipeline fails by itself when the commands before it
/// fail and leave it no input: `grep PATTERN` (not `-v`, `-c`, `-L`) and `sha256sum -c`.
fn fails_on_empty_input(inv: &Invocation<'_>) -> bool {
    match inv.command() {
        "grep" | "egrep" | "fgrep" => {
            !inv.has_option("--invert-match", Some('v'))
                && !inv.has_option("--count", Some('c'))
                && !inv.has_option("--files-without-match", Some('L'))
        }
        name if name.ends_with("sum") => inv.has_option("--check", Some('c')),
        _ => false,
    }
}

fn check(ck: &Checker<'_, '_>) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (ri, run) in ck.runs() {
        // One finding per RUN: setting pipefail once fixes all its pipelines.
        let mut found = Vec::new();
        for script in &run.scripts {
            let mut w = Walker {
                run: ri,
                script,
                hits: Vec::new(),
            };
            let mut state = script.state;
            w.list(&script.script, &mut state, false);
            found.extend(w.hits);
        }
        found.sort_by_key(|h| (h.origin, h.start));
        let total = found.len();
        if let Some(mut hit) = found.into_iter().next() {
            if total > 1 {
                hit.msg.push_str(&format!(
                    " ({} more pipeline{} in this RUN.)",
                    total - 1,
                    if total == 2 { "" } else { "s" }
                ));
            }
            hits.push(hit);
        }
    }
    hits
}

struct Walker<'s> {
    run: usize,
    script: &'s RunScript,
    hits: Vec<Hit>,
}

impl Walker<'_> {
    fn list(&mut self, script: &Script, state: &mut ShellState, condition: bool) {
        for item in &script.items {
            self.and_or(item, state, condition);
        }
    }

    fn and_or(&mut self, item: &AndOr, state: &mut ShellState, condition: bool) {
        let ignored = item.rest.iter().any(|(c, p)| {
            *c == Connector::Or
                && p.commands.len() == 1
                && matches!(&p.commands[0], Command::Simple(s)
                    if Invocation::of(s).is_some_and(|i| matches!(i.command(), "true" | ":")))
        });
        for p in item.pipelines() {
            if p.commands.len() > 1 && !state.pipefail && !condition && !ignored {
                self.report(p);
            }
            for c in &p.commands {
                self.command(c, state, condition, p.commands.len() > 1);
            }
        }
    }

    fn command(&mut self, c: &Command, state: &mut ShellState, condition: bool, piped: bool) {
        match c {
            Command::Simple(s) => {
                // A `set` in a pipeline runs in a subshell and changes nothing here.
                if !piped {
                    if let Some(inv) = Invocation::of(s) {
                        apply_set(state, &inv);
                    }
                }
            }
            Command::Group { body, subshell, .. } => {
                if *subshell || piped {
                    let mut inner = *state;
                    self.list(body, &mut inner, condition);
                } else {
                    self.list(body, state, condition);
                }
            }
            Command::If {
                branches,
                otherwise,
            } => {
                for (cond, body) in branches {
                    self.list(cond, state, true);
                    self.list(body, state, condition);
                }
                if let Some(o) = otherwise {
                    self.list(o, state, condition);
                }
            }
            Command::Loop { cond, body } => {
                self.list(cond, state, true);
                self.list(body, state, condition);
            }
            Command::For { body, .. } => self.list(body, state, condition),
            Command::Case { arms, .. } => {
                for arm in arms {
                    self.list(arm, state, condition);
                }
            }
            Command::Function { body, .. } => {
                let mut inner = *state;
                self.command(body, &mut inner, condition, false);
            }
            Command::Arith { .. } => {}
        }
    }

    fn report(&mut self, p: &Pipeline) {
        let last = p.commands.len() - 1;
        let names: Vec<Option<Invocation<'_>>> = p
            .commands
            .iter()
            .map(|c| match c {
                Command::Simple(s) => Invocation::of(s),
                _ => None,
            })
            .collect();
        // The first command whose failure the pipeline would hide.
        let masked = names[..last]
            .iter()
            .position(|n| !n.is_some_and(|i| HARMLESS_SOURCES.contains(&i.command())));
        let Some(m) = masked else { return };
        let Some(inv) = names[m] else { return };
        if let Some(consumer) = names[last] {
            // `curl … | sh` is DF005's finding already.
            if matches!(inv.command(), "curl" | "wget") && SHELLS.contains(&consumer.command()) {
                return;
            }
            if fails_on_empty_input(&consumer) {
                return;
            }
        }
        let last_name = names[last]
            .map(|i| code(i.command(), 30))
            .unwrap_or_else(|| "the last command".to_owned());
        let how = if self.script.nested {
            "start this shell's script with `set -o pipefail;`"
        } else {
            "add `SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]` before this RUN, or start it with `set -o pipefail &&`"
        };
        let msg = format!(
            "{} is piped into {last_name} without `pipefail`, so the pipeline's status is only \
             that of {last_name}: if {} fails, the build goes on. To fail on any error in the \
             pipe, {how}.",
            code(&inv.short(), 30),
            code(&inv.short(), 30),
        );
        let origin: Origin = self.script.origin;
        let last_word = inv.args.last().unwrap_or(inv.name);
        self.hits.push(Hit::words(
            RULE.id, self.run, origin, inv.name, last_word, msg,
        ));
    }
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
    fn reports_a_plain_pipe_at_the_masked_command() {
        let h = hits(&[
            "FROM debian",
            "RUN apt-get update && curl -fsSL x | tar -xz",
        ]);
        assert_eq!(h.len(), 1);
        assert!(
            h[0].msg.contains("`curl` is piped into `tar`"),
            "{}",
            h[0].msg
        );
        assert_eq!(h[0].start, "apt-get update && ".len());
    }

    #[test]
    fn pipefail_from_shell_or_set() {
        assert!(hits(&[
            "FROM debian",
            r#"SHELL ["/bin/bash", "-o", "pipefail", "-c"]"#,
            "RUN curl x | tar -xz"
        ])
        .is_empty());
        assert!(hits(&["FROM debian", "RUN set -euxo pipefail; curl x | tar -xz"]).is_empty());
        assert!(hits(&["FROM debian", "RUN set -o pipefail && curl x | tar -xz"]).is_empty());
        // Set after the pipe is too late; set inside a subshell does not leak.
        assert_eq!(
            hits(&["FROM debian", "RUN curl x | tar -xz; set -o pipefail"]).len(),
            1
        );
        assert_eq!(
            hits(&["FROM debian", "RUN (set -o pipefail); curl x | tar -xz"]).len(),
            1
        );
    }

    #[test]
    fn exemptions() {
        for ok in [
            "RUN echo 'deb http://x stable main' | tee /etc/apt/sources.list.d/x.list",
            "RUN yes | pip uninstall x",
            "RUN if curl -fsS x | grep -q ok; then echo up; fi",
            "RUN curl x | tar -xz || true",
            "RUN a || b",
            r#"RUN ["/bin/sh", "-c", "echo a | tee b"]"#,
            "RUN x=$(curl -s y | head -1) && echo $x",
            "RUN iptables --version | grep legacy",
            "RUN curl -fsSL https://e.x/SHA256SUMS | sha256sum -c -",
            "RUN curl -fsSL https://e.x/i.sh | sh",
        ] {
            assert!(hits(&["FROM debian", ok]).is_empty(), "{ok}");
        }
    }

    #[test]
    fn nested_shell_has_its_own_options() {
        let h = hits(&[
            "FROM debian",
            r#"SHELL ["/bin/bash", "-o", "pipefail", "-c"]"#,
            "RUN su app -c 'true' && bash -c 'curl x | tar -xz'",
        ]);
        assert_eq!(h.len(), 1);
        assert!(
            h[0].msg.contains("start this shell's script"),
            "{}",
            h[0].msg
        );
        assert!(hits(&["FROM debian", "RUN bash -o pipefail -c 'curl x | tar -xz'"]).is_empty());
        let h = hits(&["FROM debian", r#"RUN ["bash", "-c", "make | tee log"]"#]);
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn one_finding_per_run_counting_the_others() {
        let h = hits(&[
            "FROM debian",
            "RUN curl a | tar -xz && git archive HEAD | gzip > a.tgz",
        ]);
        assert_eq!(h.len(), 1);
        assert!(
            h[0].msg.ends_with("(1 more pipeline in this RUN.)"),
            "{}",
            h[0].msg
        );
    }

    #[test]
    fn non_posix_shell_is_skipped() {
        assert!(hits(&[
            "FROM mcr.microsoft.com/powershell",
            r#"SHELL ["pwsh", "-Command"]"#,
            "RUN Get-Item x | Remove-Item"
        ])
        .is_empty());
    }
}
