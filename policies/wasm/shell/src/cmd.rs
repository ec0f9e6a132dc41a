//! What a simple command means: its effective name behind wrappers (`sudo`, `env`,
//! `exec`…), its options, the shell options it sets (`set -eo pipefail`), and whether it
//! starts a shell on a script (`sh -c '…'`, `bash <<EOF`).
//!
//! Everything here reads words as written: a word with an expansion is never taken for
//! an option or a command name it might expand to.

use crate::syntax::{Simple, Word};

/// Shells that read POSIX `sh` syntax (and `set -e`/`set -o pipefail`).
pub const POSIX_SHELLS: &[&str] = &["sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "busybox"];

/// The last path component of a command name (`/usr/bin/apt-get` → `apt-get`).
pub fn basename(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// The shell options the rules care about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ShellState {
    /// `set -e`: a failing command ends the script.
    pub errexit: bool,
    /// `set -o pipefail`: a pipeline fails when any of its commands fails.
    pub pipefail: bool,
}

impl ShellState {
    /// Applies option arguments as `set` and shells take them (`-e`, `+e`, `-o pipefail`,
    /// `-euxo pipefail`, `-o errexit`). Stops at `--`, at the first operand, and after an
    /// argument holding `c` (`sh -ec`); returns the index of the first argument not
    /// consumed and whether `-c` was seen.
    pub fn apply_options(&mut self, args: &[&str]) -> (usize, bool) {
        let mut i = 0;
        while i < args.len() {
            let arg = args[i];
            i += 1;
            if arg == "--" || arg == "-" {
                break;
            }
            if arg.starts_with("--") {
                // bash's long options (`--login`, `--norc`) change nothing here.
                continue;
            }
            let (on, flags) = match arg.as_bytes().first() {
                Some(b'-') => (true, &arg[1..]),
                Some(b'+') => (false, &arg[1..]),
                _ => {
                    i -= 1;
                    break;
                }
            };
            let mut has_c = false;
            for f in flags.chars() {
                match f {
                    'e' => self.errexit = on,
                    'o' => {
                        if let Some(name) = args.get(i) {
                            i += 1;
                            match *name {
                                "errexit" => self.errexit = on,
                                "pipefail" => self.pipefail = on,
                                _ => {}
                            }
                        }
                    }
                    'c' => has_c = true,
                    _ => {}
                }
            }
            if has_c {
                return (i, true);
            }
        }
        (i, false)
    }
}

/// A simple command with the wrappers (`sudo`, `env`, `exec`, ...) looked through.
#[derive(Debug, Clone, Copy)]
pub struct Invocation<'a> {
    /// The effective command word.
    pub name: &'a Word,
    /// Its arguments.
    pub args: &'a [Word],
}

impl<'a> Invocation<'a> {
    /// The effective command of `cmd`, or `None` for a command with no words, a name
    /// that is an expansion, or a query such as `command -v x`.
    pub fn of(cmd: &'a Simple) -> Option<Self> {
        let words = cmd.words.as_slice();
        let mut i = 0;
        // Bounded: each wrapper consumes at least its own word.
        while i < words.len() {
            let name = words[i].literal()?;
            let rest = &words[i + 1..];
            let skip = match basename(name) {
                "sudo" | "doas" => options(
                    rest,
                    &["-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U"],
                ),
                "env" => {
                    let mut k = options(rest, &["-u", "-C", "-S", "--unset", "--chdir"]);
                    while rest
                        .get(k)
                        .is_some_and(|w| w.text.contains('=') && !w.text.starts_with('='))
                    {
                        k += 1;
                    }
                    k
                }
                "exec" => options(rest, &["-a"]),
                "nohup" | "builtin" => 0,
                "time" => options(rest, &["-f", "-o"]),
                "nice" => options(rest, &["-n"]),
                "stdbuf" => options(rest, &["-i", "-o", "-e"]),
                "timeout" => options(rest, &["-s", "-k", "--signal", "--kill-after"]) + 1,
                "gosu" | "su-exec" => 1,
                "command" => {
                    if rest
                        .iter()
                        .take_while(|w| w.text.starts_with('-'))
                        .any(|w| w.text.contains('v') || w.text.contains('V'))
                    {
                        return None;
                    }
                    options(rest, &[])
                }
                _ => {
                    return Some(Invocation {
                        name: &words[i],
                        args: rest,
                    })
                }
            };
            i += 1 + skip;
        }
        None
    }

    /// The basename of the command (`apt-get`).
    pub fn command(&self) -> &'a str {
        basename(&self.name.text)
    }

    /// How a reader names the command: its basename, plus its first argument when that
    /// is a plain subcommand (`apt-get update`, `go build`, `curl`).
    pub fn short(&self) -> String {
        match self.args.first().and_then(|w| w.literal()) {
            Some(sub)
                if !sub.is_empty()
                    && sub.len() <= 24
                    && sub
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                    && !sub.starts_with('-') =>
            {
                format!("{} {sub}", self.command())
            }
            _ => self.command().to_owned(),
        }
    }

    /// The argument texts.
    pub fn arg_texts(&self) -> Vec<&'a str> {
        self.args.iter().map(|w| w.text.as_str()).collect()
    }

    /// The arguments that are not options, for a command whose options in `with_value`
    /// take a separate value (`-o file`). Stops treating words as options after `--`.
    pub fn operands(&self, with_value: &[&str]) -> Vec<&'a Word> {
        let mut out = Vec::new();
        let mut i = 0;
        let mut options_done = false;
        while i < self.args.len() {
            let w = &self.args[i];
            i += 1;
            if options_done || !w.text.starts_with('-') || w.text == "-" {
                out.push(w);
                continue;
            }
            if w.text == "--" {
                options_done = true;
                continue;
            }
            if with_value.contains(&w.text.as_str()) {
                i += 1;
            }
        }
        out
    }

    /// Whether an option is present: a long option (`--no-cache-dir`, also as
    /// `--name=value`) or a short flag letter, alone or grouped (`-y`, `-qy`).
    pub fn has_option(&self, long: &str, short: Option<char>) -> bool {
        self.args.iter().any(|w| {
            let t = w.text.as_str();
            if let Some(l) = t.strip_prefix("--") {
                return l == long.trim_start_matches('-')
                    || l.strip_prefix(long.trim_start_matches('-'))
                        .is_some_and(|r| r.starts_with('='));
            }
            match (short, t.strip_prefix('-')) {
                (Some(c), Some(flags)) => {
                    !flags.is_empty()
                        && flags.chars().all(|f| f.is_ascii_alphanumeric())
                        && flags.contains(c)
                }
                _ => false,
            }
        })
    }
}

/// How many leading words of `rest` are options (with the value of those in
/// `with_value`), stopping at `--` (consumed) or the first operand.
fn options(rest: &[Word], with_value: &[&str]) -> usize {
    let mut k = 0;
    while let Some(w) = rest.get(k) {
        let t = w.text.as_str();
        if t == "--" {
            return k + 1;
        }
        if !t.starts_with('-') || t == "-" || w.expands {
            break;
        }
        k += 1;
        if with_value.contains(&t) {
            k += 1;
        }
    }
    k.min(rest.len())
}

/// A shell started on a script: `sh -c '…'`, `bash -eo pipefail -c "…"`, or a shell
/// reading its script from standard input (`bash <<EOF`, `sh -s -e <<EOF`).
#[derive(Debug, Clone)]
pub struct ShellCall<'a> {
    /// The shell's options.
    pub state: ShellState,
    /// The `-c` script word; `None` when the script comes from standard input.
    pub script: Option<&'a Word>,
}

impl<'a> ShellCall<'a> {
    /// Recognises a shell invocation. `busybox sh -c` counts; a shell running a script
    /// file (`sh ./install.sh`) does not.
    pub fn of(inv: &Invocation<'a>) -> Option<Self> {
        let mut args = inv.args;
        match inv.command() {
            "busybox" => {
                let first = args.first()?.literal()?;
                if !matches!(first, "sh" | "ash") {
                    return None;
                }
                args = &args[1..];
            }
            name if POSIX_SHELLS.contains(&name) => {}
            _ => return None,
        }
        let texts: Vec<&str> = args
            .iter()
            .map(|w| if w.expands { "\u{0}" } else { w.text.as_str() })
            .collect();
        let mut state = ShellState::default();
        let (next, has_c) = state.apply_options(&texts);
        if has_c {
            let script = args.get(next)?;
            return Some(ShellCall {
                state,
                script: Some(script),
            });
        }
        // No `-c`: the script is the first operand (a file), else standard input.
        let operands = &texts[next.min(texts.len())..];
        if operands.is_empty() || texts.contains(&"-s") {
            return Some(ShellCall {
                state,
                script: None,
            });
        }
        None
    }
}

/// The effect of a `set` command on the shell options, if `inv` is one.
pub fn apply_set(state: &mut ShellState, inv: &Invocation<'_>) -> bool {
    if inv.command() != "set" || inv.name.text != "set" {
        return false;
    }
    let texts = inv.arg_texts();
    state.apply_options(&texts);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::{parse, Command};

    fn simple(src: &str) -> Simple {
        match parse(src)
            .expect("parses")
            .items
            .remove(0)
            .first
            .commands
            .remove(0)
        {
            Command::Simple(s) => s,
            other => panic!("not simple: {other:?}"),
        }
    }

    #[test]
    fn set_options() {
        let mut s = ShellState::default();
        s.apply_options(&["-euxo", "pipefail"]);
        assert_eq!(
            s,
            ShellState {
                errexit: true,
                pipefail: true
            }
        );
        s.apply_options(&["+o", "pipefail", "+e"]);
        assert_eq!(s, ShellState::default());
        s.apply_options(&["-o", "errexit", "-o", "pipefail"]);
        assert!(s.errexit && s.pipefail);
    }

    #[test]
    fn wrappers_are_looked_through() {
        let c = simple("sudo -u app env -i A=1 B=2 /usr/bin/apt-get install -y x");
        let inv = Invocation::of(&c).expect("command");
        assert_eq!(inv.command(), "apt-get");
        assert_eq!(inv.arg_texts(), ["install", "-y", "x"]);
        let c = simple("timeout -s KILL 30 curl -fsSL x");
        assert_eq!(Invocation::of(&c).map(|i| i.command()), Some("curl"));
        assert_eq!(
            Invocation::of(&c).map(|i| i.short()).as_deref(),
            Some("curl")
        );
        let c = simple("/usr/bin/apt-get update -qq");
        assert_eq!(
            Invocation::of(&c).map(|i| i.short()).as_deref(),
            Some("apt-get update")
        );
        let c = simple("command -v curl");
        assert!(Invocation::of(&c).is_none());
        let c = simple("$CC -o x");
        assert!(Invocation::of(&c).is_none());
    }

    #[test]
    fn options_and_operands() {
        let c = simple("curl -fsSL -o /tmp/x.sh --retry 3 https://e.x/i.sh");
        let inv = Invocation::of(&c).expect("command");
        assert!(inv.has_option("--location", Some('L')));
        assert!(!inv.has_option("--remote-name", Some('O')));
        let ops: Vec<&str> = inv
            .operands(&["-o", "--retry"])
            .iter()
            .map(|w| w.text.as_str())
            .collect();
        assert_eq!(ops, ["https://e.x/i.sh"]);
        let c = simple("pip install --no-cache-dir=1 x");
        assert!(Invocation::of(&c)
            .expect("command")
            .has_option("--no-cache-dir", None));
    }

    #[test]
    fn shell_calls() {
        let c = simple("bash -euxo pipefail -c 'a | b'");
        let call = ShellCall::of(&Invocation::of(&c).expect("cmd")).expect("shell");
        assert!(call.state.errexit && call.state.pipefail);
        assert_eq!(call.script.map(|w| w.text.as_str()), Some("a | b"));
        let c = simple("sh -ec \"x\"");
        let call = ShellCall::of(&Invocation::of(&c).expect("cmd")).expect("shell");
        assert!(call.state.errexit);
        assert_eq!(call.script.map(|w| w.text.as_str()), Some("x"));
        let c = simple("sh ./install.sh");
        assert!(ShellCall::of(&Invocation::of(&c).expect("cmd")).is_none());
        let c = simple("bash -e");
        let call = ShellCall::of(&Invocation::of(&c).expect("cmd")).expect("stdin");
        assert!(call.script.is_none() && call.state.errexit);
        let c = simple("busybox sh -c 'x'");
        assert!(
            ShellCall::of(&Invocation::of(&c).expect("cmd")).is_some_and(|c| c.script.is_some())
        );
        let c = simple("python3 -c 'print(1)'");
        assert!(ShellCall::of(&Invocation::of(&c).expect("cmd")).is_none());
    }

    #[test]
    fn set_is_recognised() {
        let mut s = ShellState::default();
        let c = simple("set -eux");
        assert!(apply_set(&mut s, &Invocation::of(&c).expect("cmd")));
        assert!(s.errexit && !s.pipefail);
        let c = simple("/bin/set -o pipefail");
        assert!(!apply_set(&mut s, &Invocation::of(&c).expect("cmd")));
    }
}
