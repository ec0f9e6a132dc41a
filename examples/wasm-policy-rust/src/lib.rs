//! Example WASM policy written with `policy-sdk`.
//!
//! ## WASM001: the final stage of a Dockerfile must set a non-root USER
//!
//! ### What it does
//! Checks the `USER` in effect at the end of the final build stage (the image
//! `docker build` produces), following `FROM <stage>` back to the stage it builds on.
//!
//! ### Why is this bad?
//! Without a `USER`, or with `USER root`/`USER 0`, the container's processes run as root:
//! a compromise of the application is a compromise of root inside the container, one
//! kernel bug away from the host.
//!
//! ### Example
//! ```dockerfile
//! FROM debian:12
//! RUN apt-get update
//! ```
//! Use instead:
//! ```dockerfile
//! FROM debian:12
//! RUN useradd --uid 10001 app
//! USER 10001
//! ```
//!
//! The finding points at the last `USER` instruction when it names root, else at the final
//! `FROM`.

use policy_sdk::abi::{GuestFinding, PolicyMetadata, RuleMetadata};
use policy_sdk::dockerfile::{is_root_user, Dockerfile};
use policy_sdk::{Error, Input, Severity};

/// Rule ID.
pub const RULE: &str = "WASM001";

/// Settings: extra user names to treat as root (for images whose UID 0 account is renamed).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct Settings {
    root_users: Vec<String>,
}

/// The policy's metadata.
pub fn metadata() -> PolicyMetadata {
    PolicyMetadata {
        name: "wasm-policy-rust".into(),
        rules: vec![RuleMetadata {
            id: RULE.into(),
            title: "Final stage must set a non-root USER".into(),
            description: "The image a Dockerfile produces runs as root unless its final stage \
                          (or the stage it builds on) switches to a non-root `USER`."
                .into(),
            severity: Severity::High,
            kinds: vec!["dockerfile".into()],
            remediation: Some(
                "Create an unprivileged user and add `USER <name or UID>` (e.g. `USER 10001`) \
                 at the end of the final stage."
                    .into(),
            ),
            references: vec!["https://docs.docker.com/build/building/best-practices/#user".into()],
        }],
    }
}

/// Evaluates one document.
pub fn evaluate(input: &Input) -> Result<Vec<GuestFinding>, Error> {
    let Some(dockerfile) = input.dockerfile()? else {
        return Ok(Vec::new());
    };
    let settings: Settings = input.settings()?;
    Ok(check(&dockerfile, &settings).into_iter().collect())
}

fn check(dockerfile: &Dockerfile, settings: &Settings) -> Option<GuestFinding> {
    let stage = dockerfile.final_stage()?;
    let is_root = |user: &str| {
        is_root_user(user)
            || settings
                .root_users
                .iter()
                .any(|r| r == user.split(':').next().unwrap_or(user))
    };
    let label = match &stage.name {
        Some(name) => format!("final stage `{name}`"),
        None => "final stage".to_owned(),
    };
    match dockerfile.effective_user(stage.index) {
        Some((path, ins)) => {
            let user = ins.user_name()?;
            if !is_root(&user) {
                return None;
            }
            let msg = format!(
                "The {label} runs as root: `USER {user}` on line {} is the last USER in effect. \
                 Add `USER <non-root user>` (e.g. `USER 10001`) after it.",
                ins.line
            );
            Some(GuestFinding::at_path(RULE, msg, path).with_line(ins.line))
        }
        None => {
            let (path, from) = dockerfile.stage_from(stage.index)?;
            let image = stage.base.image.as_deref().unwrap_or("its base image");
            let msg = format!(
                "The {label} (FROM {image}, line {}) never sets USER, so the container runs as \
                 root. Add `USER <non-root user>` (e.g. `USER 10001`) at the end of the stage.",
                from.line
            );
            Some(GuestFinding::at_path(RULE, msg, path).with_line(from.line))
        }
    }
}

policy_sdk::export_policy!(metadata, evaluate);

#[cfg(test)]
mod tests {
    use super::*;
    use policy_sdk::testing::{Expected, Testcase};

    fn case(name: &str, fixture: &str) -> Testcase {
        Testcase::new(name, format!("fixtures/{fixture}"), "dockerfile")
    }

    #[test]
    fn no_user_reports_final_from() {
        case("no USER", "root.json")
            .expect(
                Expected::rule(RULE)
                    .at_pointer("/instructions/2")
                    .at_line(5)
                    .msg_contains("never sets USER"),
            )
            .run(metadata, evaluate);
    }

    #[test]
    fn root_user_reports_last_user() {
        case("USER root last", "user-root.json")
            .expect(
                Expected::rule(RULE)
                    .at_pointer("/instructions/4")
                    .at_line(5)
                    .msg_contains("`USER root`"),
            )
            .run(metadata, evaluate);
    }

    #[test]
    fn non_root_user_passes() {
        case("USER 10001", "nonroot.json").run(metadata, evaluate);
    }

    #[test]
    fn user_inherited_from_earlier_stage_passes() {
        case("inherits USER app", "inherited.json").run(metadata, evaluate);
    }

    #[test]
    fn settings_extend_root_names() {
        case("settings: UID 10001 counts as root", "nonroot.json")
            .settings(serde_json::json!({"root_users": ["10001"]}))
            .expect(Expected::rule(RULE).at_pointer("/instructions/4"))
            .run(metadata, evaluate);
    }

    #[test]
    fn other_kinds_are_ignored() {
        Testcase::new("kubernetes doc", "fixtures/root.json", "kubernetes").run(metadata, evaluate);
    }
}
