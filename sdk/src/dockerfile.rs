//! Typed, tolerant view of a Dockerfile document.
//!
//! The engine parses a Dockerfile into `{directives, args, stages, instructions}` (see
//! `sdk/ABI.md`, "Document shapes"). Every field here is optional or defaulted so that a
//! policy built against this crate keeps working when the engine adds fields.

use serde::Deserialize;
use serde_json::Value;

use crate::input::null_default;
use crate::JsonPath;

/// A whole Dockerfile.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct Dockerfile {
    /// Parser directives (`# syntax=`, `# escape=`), as the engine reports them.
    #[serde(deserialize_with = "null_default")]
    pub directives: Value,
    /// Global `ARG`s declared before the first `FROM`.
    #[serde(deserialize_with = "null_default")]
    pub args: Value,
    /// Build stages, in order.
    #[serde(deserialize_with = "null_default")]
    pub stages: Vec<Stage>,
    /// Every instruction of the file, in order (each names its `stage`).
    #[serde(deserialize_with = "null_default")]
    pub instructions: Vec<Instruction>,
}

/// One build stage (`FROM ... [AS name]` and what follows).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct Stage {
    /// 0-based stage index.
    pub index: usize,
    /// The `AS` name, if any.
    pub name: Option<String>,
    /// 1-based line of the `FROM`.
    pub line: u32,
    /// 1-based last line of the stage.
    pub end_line: u32,
    /// The base image.
    #[serde(deserialize_with = "null_default")]
    pub base: BaseImage,
}

/// The image a stage builds on.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct BaseImage {
    /// The reference as written (`debian:12`, `builder`, `scratch`).
    pub image: Option<String>,
    /// Registry host, when the reference names one.
    pub registry: Option<String>,
    /// Repository (`library/debian`).
    pub repository: Option<String>,
    /// Tag, when given.
    pub tag: Option<String>,
    /// Digest, when given.
    pub digest: Option<String>,
    /// `FROM scratch`.
    pub scratch: bool,
    /// Index of an earlier stage this one builds on (`FROM builder`).
    pub stage: Option<usize>,
}

/// One `--name=value` flag of an instruction.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct Flag {
    /// Flag name without dashes (`from`, `chown`, `mount`).
    pub name: String,
    /// Flag value (`None` for a bare `--flag`).
    pub value: Option<String>,
}

/// One instruction.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct Instruction {
    /// Lower-case instruction name (`from`, `run`, `user`, ...).
    pub cmd: String,
    /// 1-based first line.
    pub line: u32,
    /// 1-based last line (continuations and heredocs included).
    pub end_line: u32,
    /// 1-based column of the instruction keyword.
    pub column: u32,
    /// Index of the stage the instruction belongs to.
    pub stage: Option<usize>,
    /// The instruction as written.
    pub original: String,
    /// `--name=value` flags.
    #[serde(deserialize_with = "null_default")]
    pub flags: Vec<Flag>,
    /// Whether the arguments were in JSON (exec) form.
    pub json: bool,
    /// Arguments (strings in most cases; kept as JSON so new shapes cannot break a policy).
    #[serde(deserialize_with = "null_default")]
    pub args: Vec<Value>,
    /// The argument text after the flags.
    #[serde(deserialize_with = "null_default")]
    pub value: Value,
    /// For `USER`: the user part.
    pub user: Option<String>,
    /// For `USER`: the group part.
    pub group: Option<String>,
    /// For `RUN`, `COPY` and `ADD`: the heredoc bodies (`<<EOF … EOF`), in order.
    #[serde(deserialize_with = "null_default")]
    pub heredocs: Vec<Heredoc>,
    /// For `RUN`: the `--mount` flags, parsed (`{"type": "cache", "target": "/root/.cache"}`;
    /// a field without `=` is `true`).
    #[serde(deserialize_with = "null_default")]
    pub mounts: Vec<serde_json::Map<String, Value>>,
}

/// One heredoc body of an instruction.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct Heredoc {
    /// The delimiter word, without `<<`, `-` or quotes (`EOF`).
    pub delimiter: String,
    /// The body, each line with its newline (leading tabs removed when `strip_tabs`).
    pub content: String,
    /// `<<-EOF`: leading tabs are removed from each body line.
    pub strip_tabs: bool,
    /// The delimiter was quoted (`<<"EOF"`), so the body is not expanded.
    pub quoted: bool,
    /// 1-based line of the first body line (the terminator line when the body is empty).
    pub line: u32,
    /// 1-based line of the terminator.
    pub end_line: u32,
}

impl Instruction {
    /// Whether this is instruction `name` (case-insensitive).
    pub fn is(&self, name: &str) -> bool {
        self.cmd.eq_ignore_ascii_case(name)
    }

    /// The value of flag `name`, if present.
    pub fn flag(&self, name: &str) -> Option<&Flag> {
        self.flags.iter().find(|f| f.name == name)
    }

    /// The string arguments.
    pub fn arg_strings(&self) -> impl Iterator<Item = &str> {
        self.args.iter().filter_map(Value::as_str)
    }

    /// The argument text: `value` when it is a string, else the string arguments joined by
    /// spaces.
    pub fn text(&self) -> String {
        match &self.value {
            Value::String(s) => s.clone(),
            _ => self.arg_strings().collect::<Vec<_>>().join(" "),
        }
    }

    /// For `USER`: the user part, from `user` or parsed from the text (`name[:group]`).
    pub fn user_name(&self) -> Option<String> {
        if let Some(u) = &self.user {
            return Some(u.clone());
        }
        if !self.is("user") {
            return None;
        }
        let text = self.text();
        let text = text.trim();
        let user = text.split(':').next().unwrap_or(text).trim();
        (!user.is_empty()).then(|| user.to_owned())
    }
}

/// Whether a `USER` value names root: `root`, UID `0`, or `0`/`root` with a group.
pub fn is_root_user(user: &str) -> bool {
    let user = user.trim();
    let user = user.split(':').next().unwrap_or(user).trim();
    user == "root" || (!user.is_empty() && user.bytes().all(|b| b == b'0'))
}

impl Dockerfile {
    /// The escape character of the file: the `# escape=` directive, else a backslash.
    pub fn escape(&self) -> char {
        match self.directives.get("escape").and_then(Value::as_str) {
            Some("`") => '`',
            _ => '\\',
        }
    }

    /// The final stage (the one `docker build` produces without `--target`).
    pub fn final_stage(&self) -> Option<&Stage> {
        self.stages.last()
    }

    /// The instructions of stage `index`, each with its path (`/instructions/<i>`).
    pub fn stage_instructions(
        &self,
        index: usize,
    ) -> impl Iterator<Item = (JsonPath, &Instruction)> + '_ {
        self.instructions()
            .filter(move |(_, ins)| ins.stage == Some(index))
    }

    /// Every instruction with its path (`/instructions/<i>`).
    pub fn instructions(&self) -> impl Iterator<Item = (JsonPath, &Instruction)> + '_ {
        self.instructions
            .iter()
            .enumerate()
            .map(|(i, ins)| (JsonPath::root().key("instructions").index(i), ins))
    }

    /// The `FROM` instruction of stage `index`, with its path.
    pub fn stage_from(&self, index: usize) -> Option<(JsonPath, &Instruction)> {
        self.stage_instructions(index)
            .find(|(_, ins)| ins.is("from"))
    }

    /// The stage named `name` (case-insensitive, as BuildKit matches stage names).
    pub fn stage_by_name(&self, name: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| {
            s.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
    }

    /// The last `USER` instruction in effect for stage `index`: the stage's own last `USER`,
    /// else the one inherited from the stage it builds on (`FROM builder`). Returns the
    /// instruction with its path.
    pub fn effective_user(&self, index: usize) -> Option<(JsonPath, &Instruction)> {
        let mut current = index;
        // Each hop goes to an earlier stage, so this ends; the bound guards bad input.
        for _ in 0..=self.stages.len() {
            if let Some(found) = self
                .stage_instructions(current)
                .filter(|(_, ins)| ins.is("user"))
                .last()
            {
                return Some(found);
            }
            let stage = self.stages.iter().find(|s| s.index == current)?;
            let parent = match stage.base.stage {
                Some(p) => p,
                None => stage
                    .base
                    .image
                    .as_deref()
                    .and_then(|img| self.stage_by_name(img))
                    .map(|s| s.index)?,
            };
            if parent >= current {
                return None;
            }
            current = parent;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tolerant_of_missing_and_null_fields() {
        let d: Dockerfile = serde_json::from_value(json!({
            "stages": [{"index": 0, "base": null, "extra": 1}],
            "instructions": [{"cmd": "user", "value": "app:app", "stage": 0, "new_field": []}],
            "args": null
        }))
        .expect("tolerant");
        assert_eq!(d.instructions[0].user_name().as_deref(), Some("app"));
        assert_eq!(
            d.effective_user(0).map(|(p, _)| p.pointer()),
            Some("/instructions/0".into())
        );
    }

    #[test]
    fn heredocs_mounts_and_escape() {
        let d: Dockerfile = serde_json::from_value(json!({
            "directives": {"escape": "`"},
            "instructions": [{
                "cmd": "run",
                "mounts": [{"type": "cache", "target": "/var/lib/apt/lists"}],
                "heredocs": [{"delimiter": "EOF", "content": "set -e\n", "line": 3, "end_line": 4}]
            }]
        }))
        .expect("view");
        assert_eq!(d.escape(), '`');
        let run = &d.instructions[0];
        assert_eq!(run.heredocs[0].delimiter, "EOF");
        assert_eq!(run.heredocs[0].line, 3);
        assert_eq!(run.mounts[0]["type"], "cache");
        assert_eq!(Dockerfile::default().escape(), '\\');
    }

    #[test]
    fn root_users() {
        assert!(is_root_user("root"));
        assert!(is_root_user("0"));
        assert!(is_root_user("0:0"));
        assert!(is_root_user(" root:wheel"));
        assert!(!is_root_user("10001"));
        assert!(!is_root_user("app"));
        assert!(!is_root_user(""));
    }

    #[test]
    fn user_inherited_from_named_stage() {
        let d: Dockerfile = serde_json::from_value(json!({
            "stages": [
                {"index": 0, "name": "base", "base": {"image": "debian"}},
                {"index": 1, "base": {"image": "BASE"}}
            ],
            "instructions": [
                {"cmd": "from", "stage": 0},
                {"cmd": "user", "stage": 0, "user": "app"},
                {"cmd": "from", "stage": 1}
            ]
        }))
        .expect("view");
        let (path, ins) = d.effective_user(1).expect("inherited");
        assert_eq!(path.pointer(), "/instructions/1");
        assert_eq!(ins.user_name().as_deref(), Some("app"));
    }
}
