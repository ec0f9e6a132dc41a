//! From a Dockerfile to the shell scripts its `RUN` instructions execute.
//!
//! For every `RUN` this finds what the shell actually runs and with which options:
//!
//! - shell form: the instruction's text, run by the stage's `SHELL` (`/bin/sh -c` by
//!   default; `SHELL ["/bin/bash", "-o", "pipefail", "-c"]` sets pipefail; `SHELL` is
//!   inherited by `FROM <stage>`). A `SHELL` that is not a POSIX shell (PowerShell, `cmd`)
//!   and Windows base images turn the shell form off;
//! - a `RUN <<EOF` whose text is only the heredoc: the body is the script (run by `SHELL`,
//!   or by its `#!` interpreter when it has one);
//! - a shell reading a heredoc (`RUN bash -e <<EOF`): the body, with that shell's options;
//! - exec form: nothing, unless it starts a shell on a script (`["sh", "-c", "…"]`);
//! - one level of `sh -c '…'` / `bash -c "…"` inside any of the above: the quoted script,
//!   parsed with its own options (a child shell does not inherit `set -o pipefail`).
//!
//! Offsets of every script are kept in the coordinates of the instruction's `value` or of
//! one heredoc body ([`Origin`]), so a finding maps back to a source line and column.
//! A script that does not parse is skipped: the rules report nothing rather than guess.

use policy_sdk::dockerfile::{Dockerfile, Instruction};
use policy_sdk::position::{InstructionSource, Position};

use crate::cmd::{basename, Invocation, ShellCall, ShellState, POSIX_SHELLS};
use crate::syntax::{self, Command, Remap, Script, Simple, Word};

/// Where a script's offsets point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Origin {
    /// Into the instruction's `value`.
    Value,
    /// Into the content of heredoc `n`.
    Heredoc(usize),
}

/// One script a `RUN` executes.
#[derive(Debug, Clone)]
pub struct RunScript {
    /// The parsed script.
    pub script: Script,
    /// Where its offsets point.
    pub origin: Origin,
    /// The shell options it starts with.
    pub state: ShellState,
    /// Run by a child shell (`sh -c '…'`, `bash <<EOF`) of the instruction's shell.
    pub nested: bool,
}

/// A `RUN` instruction and the scripts it executes.
#[derive(Debug)]
pub struct Run<'a> {
    /// Index in the document's `instructions`.
    pub index: usize,
    /// The instruction.
    pub ins: &'a Instruction,
    /// Its stage.
    pub stage: usize,
    /// The scripts, outermost first.
    pub scripts: Vec<RunScript>,
    /// The `WORKDIR` in effect, as written (relative ones joined), when the stage sets one.
    pub workdir: Option<String>,
    src: InstructionSource<'a>,
}

/// Context of one simple command inside its script.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ctx {
    /// Inside a command substitution.
    pub in_subst: bool,
    /// Inside the condition of `if`, `while` or `until`.
    pub in_condition: bool,
    /// Inside a function body.
    pub in_function: bool,
}

/// One simple command of a `RUN`, with where it is.
#[derive(Debug, Clone, Copy)]
pub struct CmdRef<'a> {
    /// The command.
    pub simple: &'a Simple,
    /// Its effective name and arguments.
    pub inv: Invocation<'a>,
    /// Index of its script in [`Run::scripts`].
    pub script: usize,
    /// Where its offsets point.
    pub origin: Origin,
    /// Context.
    pub ctx: Ctx,
}

impl<'a> Run<'a> {
    /// The source range of bytes `start..end` of `origin`, when it can be mapped.
    pub fn range(&self, origin: Origin, start: usize, end: usize) -> Option<(Position, Position)> {
        match origin {
            Origin::Value => self.src.value_range(start, end),
            Origin::Heredoc(h) => self.src.heredoc_range(h, start, end),
        }
    }

    /// The range of a word.
    pub fn word_range(&self, origin: Origin, w: &Word) -> Option<(Position, Position)> {
        self.range(origin, w.start, w.end)
    }

    /// Every simple command of every script, in execution order as far as it is
    /// known (by script origin, then by position).
    pub fn commands(&self) -> Vec<CmdRef<'_>> {
        let mut out = Vec::new();
        for (i, s) in self.scripts.iter().enumerate() {
            let mut found = Vec::new();
            collect(&s.script, Ctx::default(), &mut found);
            for (simple, ctx) in found {
                if let Some(inv) = Invocation::of(simple) {
                    out.push(CmdRef {
                        simple,
                        inv,
                        script: i,
                        origin: s.origin,
                        ctx,
                    });
                }
            }
        }
        out.sort_by_key(|c| (c.origin, c.inv.name.start));
        out
    }

    /// Whether the `RUN` has a `--mount` of `type` whose target starts with one of
    /// `targets`.
    pub fn has_mount(&self, types: &[&str], targets: &[&str]) -> bool {
        self.ins.mounts.iter().any(|m| {
            let ty = m.get("type").and_then(|v| v.as_str()).unwrap_or("bind");
            let target = ["target", "dst", "destination"]
                .iter()
                .find_map(|k| m.get(*k).and_then(|v| v.as_str()))
                .unwrap_or("");
            types.contains(&ty) && targets.iter().any(|t| target.starts_with(t))
        })
    }
}

/// Every simple command of `script`, depth first, in source order.
pub fn collect<'a>(script: &'a Script, ctx: Ctx, out: &mut Vec<(&'a Simple, Ctx)>) {
    for item in &script.items {
        for p in item.pipelines() {
            for c in &p.commands {
                collect_command(c, ctx, out);
            }
        }
    }
}

fn collect_words<'a>(
    words: impl Iterator<Item = &'a Word>,
    ctx: Ctx,
    out: &mut Vec<(&'a Simple, Ctx)>,
) {
    let sub = Ctx {
        in_subst: true,
        ..ctx
    };
    for w in words {
        for s in &w.substs {
            collect(s, sub, out);
        }
    }
}

fn collect_command<'a>(c: &'a Command, ctx: Ctx, out: &mut Vec<(&'a Simple, Ctx)>) {
    match c {
        Command::Simple(s) => {
            out.push((s, ctx));
            collect_words(
                s.assigns
                    .iter()
                    .chain(&s.words)
                    .chain(s.redirects.iter().map(|r| &r.target)),
                ctx,
                out,
            );
        }
        Command::Group { body, .. } => collect(body, ctx, out),
        Command::If {
            branches,
            otherwise,
        } => {
            let cond = Ctx {
                in_condition: true,
                ..ctx
            };
            for (c, b) in branches {
                collect(c, cond, out);
                collect(b, ctx, out);
            }
            if let Some(o) = otherwise {
                collect(o, ctx, out);
            }
        }
        Command::Loop { cond, body } => {
            collect(
                cond,
                Ctx {
                    in_condition: true,
                    ..ctx
                },
                out,
            );
            collect(body, ctx, out);
        }
        Command::For { words, body } => {
            collect_words(words.iter(), ctx, out);
            collect(body, ctx, out);
        }
        Command::Case { word, arms } => {
            collect_words(std::iter::once(word), ctx, out);
            for a in arms {
                collect(a, ctx, out);
            }
        }
        Command::Arith { .. } => {}
        Command::Function { body, .. } => collect_command(
            body,
            Ctx {
                in_function: true,
                ..ctx
            },
            out,
        ),
    }
}

/// The shell that runs shell-form instructions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shell {
    /// A POSIX shell (else the shell form is not analysed).
    pub posix: bool,
    /// The options it is started with.
    pub state: ShellState,
}

impl Default for Shell {
    fn default() -> Self {
        Shell {
            posix: true,
            state: ShellState::default(),
        }
    }
}

impl Shell {
    /// The shell a `SHELL ["…", …]` instruction sets.
    fn from_args(args: &[&str]) -> Shell {
        let Some(first) = args.first() else {
            return Shell::default();
        };
        let mut rest = &args[1..];
        let name = basename(first).trim_end_matches(".exe");
        if name == "busybox" {
            match rest.first() {
                Some(&"sh" | &"ash") => rest = &rest[1..],
                _ => {
                    return Shell {
                        posix: false,
                        state: ShellState::default(),
                    }
                }
            }
        }
        let mut state = ShellState::default();
        state.apply_options(rest);
        Shell {
            posix: POSIX_SHELLS.contains(&name),
            state,
        }
    }
}

/// Whether an image reference names a Windows image (whose default shell is `cmd`).
fn is_windows_image(image: &str) -> bool {
    let i = image.to_ascii_lowercase();
    i.contains("windows/") || i.contains("nanoserver") || i.contains("servercore")
}

/// The whole file, analysed.
#[derive(Debug)]
pub struct Analysis<'a> {
    /// The document.
    pub dockerfile: &'a Dockerfile,
    /// Every `RUN` with its scripts, in file order.
    pub runs: Vec<Run<'a>>,
    /// For each stage, the stages it builds on (nearest first).
    pub ancestors: Vec<Vec<usize>>,
    /// Stages whose layers end up in the image `docker build` produces: the final stage
    /// and the stages it builds on (`FROM <stage>`).
    pub shipped: Vec<bool>,
}

impl<'a> Analysis<'a> {
    /// Analyses every `RUN` of `dockerfile`.
    pub fn new(dockerfile: &'a Dockerfile) -> Self {
        let escape = dockerfile.escape();
        let n = dockerfile.stages.len();
        let parent_of = |s: usize| -> Option<usize> {
            let stage = dockerfile.stages.get(s)?;
            let p = stage.base.stage.or_else(|| {
                stage
                    .base
                    .image
                    .as_deref()
                    .and_then(|i| dockerfile.stage_by_name(i))
                    .map(|st| st.index)
            })?;
            (p < s).then_some(p)
        };
        let mut ancestors = vec![Vec::new(); n];
        for (s, anc) in ancestors.iter_mut().enumerate() {
            let mut cur = s;
            while let Some(p) = parent_of(cur) {
                anc.push(p);
                cur = p;
            }
        }
        let mut shipped = vec![false; n];
        if let Some(last) = n.checked_sub(1) {
            shipped[last] = true;
            for &p in &ancestors[last] {
                shipped[p] = true;
            }
        }

        let mut stage_shell: Vec<Shell> = vec![Shell::default(); n];
        let mut stage_workdir: Vec<Option<String>> = vec![None; n];
        let mut current = Shell::default();
        let mut workdir: Option<String> = None;
        let mut runs = Vec::new();
        for (index, ins) in dockerfile.instructions.iter().enumerate() {
            let Some(stage) = ins.stage else { continue };
            match ins.cmd.as_str() {
                "from" => {
                    workdir =
                        parent_of(stage).and_then(|p| stage_workdir.get(p).cloned().flatten());
                    current = match parent_of(stage) {
                        Some(p) => stage_shell.get(p).copied().unwrap_or_default(),
                        None => {
                            let image = dockerfile
                                .stages
                                .get(stage)
                                .and_then(|s| s.base.image.as_deref())
                                .unwrap_or("");
                            Shell {
                                posix: !is_windows_image(image),
                                state: ShellState::default(),
                            }
                        }
                    };
                }
                "workdir" => {
                    let path = ins.text();
                    let path = path.trim();
                    workdir = Some(match &workdir {
                        Some(base) if !path.starts_with('/') && !path.starts_with('$') => {
                            format!("{}/{path}", base.trim_end_matches('/'))
                        }
                        _ => path.to_owned(),
                    });
                }
                "shell" => {
                    let args: Vec<&str> = ins.arg_strings().collect();
                    current = Shell::from_args(&args);
                }
                "run" => {
                    let src = InstructionSource::new(ins, escape);
                    let scripts = scripts_of(ins, &src, current);
                    runs.push(Run {
                        index,
                        ins,
                        stage,
                        scripts,
                        workdir: workdir.clone(),
                        src,
                    });
                }
                _ => {}
            }
            if let Some(slot) = stage_shell.get_mut(stage) {
                *slot = current;
            }
            if let Some(slot) = stage_workdir.get_mut(stage) {
                slot.clone_from(&workdir);
            }
        }
        Analysis {
            dockerfile,
            runs,
            ancestors,
            shipped,
        }
    }

    /// The `RUN`s (indices in [`Analysis::runs`]) that run before `run` in the image it
    /// builds: earlier ones of its stage and those of the stages it builds on, in file order.
    pub fn earlier_runs(&self, run: &Run<'_>) -> Vec<usize> {
        let chain = self.ancestors.get(run.stage).cloned().unwrap_or_default();
        (0..self.runs.len())
            .filter(|&i| {
                let r = &self.runs[i];
                (r.stage == run.stage && r.index < run.index) || chain.contains(&r.stage)
            })
            .collect()
    }

    /// The `RUN`s (indices) that run after `run` on top of its result: later ones of its
    /// stage and those of the stages built on it.
    pub fn later_runs(&self, run: &Run<'_>) -> Vec<usize> {
        (0..self.runs.len())
            .filter(|&i| {
                let r = &self.runs[i];
                (r.stage == run.stage && r.index > run.index)
                    || self
                        .ancestors
                        .get(r.stage)
                        .is_some_and(|a| a.contains(&run.stage))
            })
            .collect()
    }
}

/// What the rules look at: the analysis plus the commands of every `RUN`, collected once
/// and shared (several rules, and rules looking at other `RUN`s, need them).
#[derive(Debug)]
pub struct Checker<'c, 'a> {
    /// The analysis.
    pub analysis: &'c Analysis<'a>,
    commands: Vec<Vec<CmdRef<'c>>>,
}

impl<'c, 'a> Checker<'c, 'a> {
    /// Collects the commands of every `RUN` of `analysis`.
    pub fn new(analysis: &'c Analysis<'a>) -> Self {
        let commands = analysis.runs.iter().map(Run::commands).collect();
        Checker { analysis, commands }
    }

    /// The `RUN`s, with their indices.
    pub fn runs(&self) -> impl Iterator<Item = (usize, &'c Run<'a>)> {
        self.analysis.runs.iter().enumerate()
    }

    /// `RUN` number `i`.
    pub fn run(&self, i: usize) -> &'c Run<'a> {
        &self.analysis.runs[i]
    }

    /// The simple commands of `RUN` number `i`, in order ([`Run::commands`]).
    pub fn commands(&self, i: usize) -> &[CmdRef<'c>] {
        self.commands.get(i).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// The scripts one `RUN` executes under `shell`.
fn scripts_of(ins: &Instruction, src: &InstructionSource<'_>, shell: Shell) -> Vec<RunScript> {
    let mut out = Vec::new();
    if ins.json {
        // Exec form: only a shell started on a script runs shell syntax.
        let Some(words) = exec_words(ins) else {
            return out;
        };
        let simple = Simple {
            words,
            ..Simple::default()
        };
        if let Some(inv) = Invocation::of(&simple) {
            if let Some(call) = ShellCall::of(&inv) {
                if let Some(word) = call.script {
                    // The exec form starts this shell directly: `SHELL` plays no part,
                    // and fixes go into the script itself, as for `sh -c` in a script.
                    if let Some(script) = parse_word(word) {
                        out.push(RunScript {
                            script,
                            origin: Origin::Value,
                            state: call.state,
                            nested: true,
                        });
                    }
                }
            }
        }
        return out;
    }
    if !shell.posix || !src.maps_value() {
        return out;
    }
    let text = ins.text();
    let Ok(value) = syntax::parse(&text) else {
        return out;
    };
    if let Some(h) = bare_heredoc(&value, ins) {
        // `RUN <<EOF`: the body is the script.
        let content = &ins.heredocs[h].content;
        let state = match content.strip_prefix("#!") {
            Some(shebang) => match shebang_shell(shebang) {
                Some(state) => state,
                None => return out,
            },
            None => shell.state,
        };
        if let Ok(script) = syntax::parse(content) {
            out.push(RunScript {
                script,
                origin: Origin::Heredoc(h),
                state,
                nested: false,
            });
        }
    } else {
        let stdin_scripts = stdin_heredocs(&value, ins);
        out.push(RunScript {
            script: value,
            origin: Origin::Value,
            state: shell.state,
            nested: false,
        });
        for (h, state) in stdin_scripts {
            if let Ok(script) = syntax::parse(&ins.heredocs[h].content) {
                out.push(RunScript {
                    script,
                    origin: Origin::Heredoc(h),
                    state,
                    nested: true,
                });
            }
        }
    }
    // One level of `sh -c '…'` inside the instruction's own scripts.
    let mut nested = Vec::new();
    for s in out.iter().filter(|s| !s.nested) {
        let mut found = Vec::new();
        collect(&s.script, Ctx::default(), &mut found);
        for (simple, ctx) in found {
            if ctx.in_subst {
                continue;
            }
            let Some(call) = Invocation::of(simple).and_then(|inv| ShellCall::of(&inv)) else {
                continue;
            };
            if let Some(script) = call.script.and_then(parse_word) {
                nested.push(RunScript {
                    script,
                    origin: s.origin,
                    state: call.state,
                    nested: true,
                });
            }
        }
    }
    out.extend(nested);
    out
}

/// Parses the text of a `-c` word and maps its offsets back to where the word is.
fn parse_word(word: &Word) -> Option<Script> {
    let mut script = syntax::parse(&word.text).ok()?;
    script.remap(&|o| word.offset(o));
    Some(script)
}

/// `RUN <<EOF` whose text is only one here-document: its index.
fn bare_heredoc(value: &Script, ins: &Instruction) -> Option<usize> {
    let [item] = value.items.as_slice() else {
        return None;
    };
    if !item.rest.is_empty() || item.first.commands.len() != 1 {
        return None;
    }
    let Command::Simple(s) = &item.first.commands[0] else {
        return None;
    };
    if !s.words.is_empty() || !s.assigns.is_empty() {
        return None;
    }
    let [r] = s.redirects.as_slice() else {
        return None;
    };
    if !r.is_heredoc() {
        return None;
    }
    heredoc_index(ins, &r.target.text, 0)
}

/// The index of the heredoc named `delimiter` (the `nth` one with that name).
fn heredoc_index(ins: &Instruction, delimiter: &str, nth: usize) -> Option<usize> {
    ins.heredocs
        .iter()
        .enumerate()
        .filter(|(_, h)| h.delimiter == delimiter)
        .nth(nth)
        .map(|(i, _)| i)
}

/// Shells in the instruction's text that read a here-document as their script
/// (`bash -e <<EOF`): the heredoc index and the shell's options.
fn stdin_heredocs(value: &Script, ins: &Instruction) -> Vec<(usize, ShellState)> {
    let mut found = Vec::new();
    collect(value, Ctx::default(), &mut found);
    let mut out = Vec::new();
    for (simple, ctx) in found {
        if ctx.in_subst {
            continue;
        }
        let Some(call) = Invocation::of(simple).and_then(|inv| ShellCall::of(&inv)) else {
            continue;
        };
        if call.script.is_some() {
            continue;
        }
        let stdin = simple
            .redirects
            .iter()
            .find(|r| r.is_heredoc() && matches!(r.fd, None | Some(0)));
        if let Some(r) = stdin {
            if let Some(h) = heredoc_index(ins, &r.target.text, 0) {
                out.push((h, call.state));
            }
        }
    }
    out
}

/// The options of a `#!` line naming a POSIX shell (`/bin/sh -e`, `/usr/bin/env bash`);
/// `None` for another interpreter.
fn shebang_shell(shebang: &str) -> Option<ShellState> {
    let line = shebang.lines().next().unwrap_or("");
    let mut parts = line.split_whitespace();
    let mut name = basename(parts.next()?);
    if name == "env" {
        name = basename(parts.find(|p| !p.starts_with('-'))?);
    }
    if !POSIX_SHELLS.contains(&name) || name == "busybox" {
        return None;
    }
    let rest: Vec<&str> = parts.collect();
    let mut state = ShellState::default();
    state.apply_options(&rest);
    Some(state)
}

/// The exec-form arguments as words whose offsets point into `value` (the JSON text).
/// `None` when the JSON text does not decode to the instruction's arguments.
fn exec_words(ins: &Instruction) -> Option<Vec<Word>> {
    let value = ins.text();
    let b = value.as_bytes();
    let mut words = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'"' {
            i += 1;
            continue;
        }
        let mut w = Word {
            start: i,
            ..Word::default()
        };
        i += 1;
        loop {
            match *b.get(i)? {
                b'"' => break,
                b'\\' => {
                    let (ch, len) = match *b.get(i + 1)? {
                        b'n' => ('\n', 2),
                        b't' => ('\t', 2),
                        b'r' => ('\r', 2),
                        b'b' => ('\u{8}', 2),
                        b'f' => ('\u{c}', 2),
                        b'u' => {
                            let hex = value.get(i + 2..i + 6)?;
                            let code = u32::from_str_radix(hex, 16).ok()?;
                            (char::from_u32(code).unwrap_or('\u{fffd}'), 6)
                        }
                        other => (other as char, 2),
                    };
                    push_char(&mut w, ch, i);
                    i += len;
                }
                _ => {
                    let ch = value[i..].chars().next()?;
                    push_char(&mut w, ch, i);
                    i += ch.len_utf8();
                }
            }
        }
        i += 1;
        w.end = i;
        words.push(w);
    }
    let expected: Vec<&str> = ins.arg_strings().collect();
    let got: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
    (expected == got).then_some(words)
}

fn push_char(w: &mut Word, ch: char, at: usize) {
    for _ in 0..ch.len_utf8() {
        w.map.push(at);
    }
    w.text.push(ch);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dockerfile(v: serde_json::Value) -> Dockerfile {
        serde_json::from_value(v).expect("view")
    }

    fn run(original: &str, value: &str) -> serde_json::Value {
        json!({"cmd": "run", "line": 2, "column": 1, "stage": 0, "original": original, "value": value})
    }

    #[test]
    fn shell_instruction_and_inheritance() {
        let d = dockerfile(json!({
            "stages": [
                {"index": 0, "name": "a", "base": {"image": "debian"}},
                {"index": 1, "base": {"image": "a", "stage": 0}},
                {"index": 2, "base": {"image": "mcr.microsoft.com/windows/servercore:ltsc2022"}}
            ],
            "instructions": [
                {"cmd": "from", "stage": 0},
                {"cmd": "shell", "stage": 0, "json": true, "args": ["/bin/bash", "-o", "pipefail", "-c"]},
                {"cmd": "from", "stage": 1},
                {"cmd": "run", "stage": 1, "line": 4, "column": 1, "original": "RUN a | b", "value": "a | b"},
                {"cmd": "from", "stage": 2},
                {"cmd": "run", "stage": 2, "line": 6, "column": 1, "original": "RUN dir", "value": "dir"}
            ]
        }));
        let a = Analysis::new(&d);
        assert_eq!(a.runs.len(), 2);
        assert!(a.runs[0].scripts[0].state.pipefail);
        assert!(a.runs[1].scripts.is_empty(), "windows: cmd, not analysed");
        assert_eq!(a.shipped, vec![false, false, true]);
    }

    #[test]
    fn exec_form_sh_c_maps_into_the_json_text() {
        let mut ins = run(
            r#"RUN ["sh", "-c", "cd /x \u0026\u0026 make"]"#,
            r#"["sh", "-c", "cd /x \u0026\u0026 make"]"#,
        );
        ins["json"] = json!(true);
        ins["args"] = json!(["sh", "-c", "cd /x && make"]);
        let d = dockerfile(
            json!({"stages": [{"index": 0}], "instructions": [{"cmd": "from", "stage": 0}, ins]}),
        );
        let a = Analysis::new(&d);
        let r = &a.runs[0];
        assert_eq!(r.scripts.len(), 1);
        let cmds = r.commands();
        let make = cmds
            .iter()
            .find(|c| c.inv.command() == "make")
            .expect("make");
        let (start, _) = r.word_range(Origin::Value, make.inv.name).expect("mapped");
        assert_eq!((start.line, start.column), (2, 38));
    }

    #[test]
    fn bare_heredoc_with_and_without_shebang() {
        let mut ins = run("RUN <<EOF\nset -e\napt-get update\nEOF", "<<EOF");
        ins["heredocs"] = json!([{"delimiter": "EOF", "content": "set -e\napt-get update\n", "line": 3, "end_line": 5}]);
        let mut py = run("RUN <<EOF\n#!/usr/bin/env python3\nprint(1)\nEOF", "<<EOF");
        py["heredocs"] = json!([{"delimiter": "EOF", "content": "#!/usr/bin/env python3\nprint(1)\n", "line": 3, "end_line": 5}]);
        let mut sh = run("RUN <<EOF\n#!/bin/sh -e\nx | y\nEOF", "<<EOF");
        sh["heredocs"] = json!([{"delimiter": "EOF", "content": "#!/bin/sh -e\nx | y\n", "line": 3, "end_line": 5}]);
        let d = dockerfile(
            json!({"stages": [{"index": 0}], "instructions": [{"cmd": "from", "stage": 0}, ins, py, sh]}),
        );
        let a = Analysis::new(&d);
        assert_eq!(a.runs[0].scripts.len(), 1);
        assert_eq!(a.runs[0].scripts[0].origin, Origin::Heredoc(0));
        let cmds = a.runs[0].commands();
        let (start, _) = a.runs[0]
            .word_range(Origin::Heredoc(0), cmds[1].inv.name)
            .expect("mapped");
        assert_eq!((start.line, start.column), (4, 1));
        assert!(a.runs[1].scripts.is_empty(), "python body is not shell");
        assert!(a.runs[2].scripts[0].state.errexit);
    }

    #[test]
    fn heredoc_as_stdin_of_a_shell_and_as_data() {
        let mut ins = run(
            "RUN bash -eo pipefail <<EOF\na | b\nEOF",
            "bash -eo pipefail <<EOF",
        );
        ins["heredocs"] =
            json!([{"delimiter": "EOF", "content": "a | b\n", "line": 3, "end_line": 4}]);
        let mut data = run("RUN cat <<EOF > /etc/x\na | b\nEOF", "cat <<EOF > /etc/x");
        data["heredocs"] =
            json!([{"delimiter": "EOF", "content": "a | b\n", "line": 3, "end_line": 4}]);
        let d = dockerfile(
            json!({"stages": [{"index": 0}], "instructions": [{"cmd": "from", "stage": 0}, ins, data]}),
        );
        let a = Analysis::new(&d);
        assert_eq!(a.runs[0].scripts.len(), 2);
        assert!(a.runs[0].scripts[1].nested && a.runs[0].scripts[1].state.pipefail);
        assert_eq!(a.runs[1].scripts.len(), 1, "a heredoc fed to cat is data");
    }

    #[test]
    fn nested_sh_c_keeps_outer_coordinates() {
        let value = "sh -c 'cd /app && make \"x y\"'";
        let d = dockerfile(json!({"stages": [{"index": 0}], "instructions": [
            {"cmd": "from", "stage": 0},
            run(&format!("RUN {value}"), value)
        ]}));
        let a = Analysis::new(&d);
        let r = &a.runs[0];
        assert_eq!(r.scripts.len(), 2);
        let cmds = r.commands();
        let names: Vec<&str> = cmds.iter().map(|c| c.inv.command()).collect();
        assert_eq!(names, ["sh", "cd", "make"]);
        let (start, end) = r
            .word_range(Origin::Value, cmds[2].inv.name)
            .expect("mapped");
        assert_eq!((start.column, end.column), (23, 27));
        assert_eq!(
            &value[cmds[2].inv.args[0].start..cmds[2].inv.args[0].end],
            "\"x y\""
        );
    }

    #[test]
    fn earlier_and_later_runs_follow_stages() {
        let d = dockerfile(json!({
            "stages": [
                {"index": 0, "name": "base", "base": {"image": "debian"}},
                {"index": 1, "name": "other", "base": {"image": "debian"}},
                {"index": 2, "base": {"image": "base"}}
            ],
            "instructions": [
                {"cmd": "from", "stage": 0},
                run("RUN a", "a"),
                {"cmd": "from", "stage": 1},
                {"cmd": "run", "stage": 1, "line": 5, "column": 1, "original": "RUN b", "value": "b"},
                {"cmd": "from", "stage": 2},
                {"cmd": "run", "stage": 2, "line": 7, "column": 1, "original": "RUN c", "value": "c"}
            ]
        }));
        let a = Analysis::new(&d);
        let c = &a.runs[2];
        let earlier: Vec<usize> = a.earlier_runs(c).iter().map(|&r| a.runs[r].index).collect();
        assert_eq!(earlier, [1]);
        let later: Vec<usize> = a
            .later_runs(&a.runs[0])
            .iter()
            .map(|&r| a.runs[r].index)
            .collect();
        assert_eq!(later, [5]);
        assert_eq!(a.shipped, vec![true, false, true]);
    }
}
