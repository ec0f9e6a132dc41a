//! The files that integrate the tool elsewhere, checked where they cannot be run: the
//! tool's own Dockerfile (no Docker engine here), the GitHub Action (`action.yml`) and its
//! example workflow (no GitHub runner), and the pre-commit hook (no pre-commit). Each is
//! parsed and checked for what its consumer requires, and evaluated by the tool itself
//! with the built-in rules, which must find nothing in them.

mod support;

use serde_json::Value;
use support::{code, json_of, policy, repo};

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml(path: &str) -> Value {
    yaml_serde::from_str(&read(path)).unwrap_or_else(|e| panic!("{path} is not YAML: {e}"))
}

/// `policy eval --no-config -f json PATHS`: exit code and report.
fn eval(paths: &[&str]) -> (i32, Value) {
    let mut args = vec!["eval", "--no-config", "-f", "json"];
    args.extend_from_slice(paths);
    let out = policy(&args);
    (code(&out), json_of(&out))
}

/// A string value of `Cargo.toml`'s `[workspace.package]` (or `[workspace]`), e.g.
/// `rust-version`.
fn workspace_value(key: &str) -> String {
    let manifest = read("Cargo.toml");
    manifest
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
        })
        .unwrap_or_else(|| panic!("no {key} in Cargo.toml"))
}

/// Every `uses:` value anywhere in a YAML document.
fn uses_of(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("uses", Value::String(s)) => out.push(s.clone()),
                    _ => uses_of(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| uses_of(i, out)),
        _ => {}
    }
}

/// Whether `uses` names a remote action by a full 40-hex commit SHA (what WF001 asks).
fn pinned_by_sha(uses: &str) -> bool {
    uses.rsplit_once('@').is_some_and(|(_, rev)| {
        rev.len() == 40
            && rev
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

fn assert_clean(paths: &[&str]) -> Value {
    let (status, report) = eval(paths);
    assert_eq!(status, 0, "{report:#}");
    assert_eq!(report["findings"], serde_json::json!([]), "{report:#}");
    assert_eq!(report["errors"], serde_json::json!([]), "{report:#}");
    report
}

#[test]
fn the_tools_own_dockerfile_passes_the_built_in_rules() {
    let report = assert_clean(&["Dockerfile"]);
    // Nothing is hidden either: the base images are pinned for real, not suppressed.
    assert!(report.get("suppressed").is_none(), "{report:#}");
    assert_eq!(report["inputs"][0]["status"], "evaluated", "{report:#}");

    let out = policy(&["parse", "--no-config", "Dockerfile"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let parsed = json_of(&out);
    let doc = &parsed[0]["documents"][0];
    assert_eq!(doc["kind"], "dockerfile");
    let stages = doc["input"]["stages"].as_array().expect("stages");
    assert_eq!(stages.len(), 2, "a builder stage and a runtime stage");
    for stage in stages {
        let base = &stage["base"];
        let digest = base["digest"].as_str().unwrap_or_default();
        let hex = digest.strip_prefix("sha256:").unwrap_or_default();
        assert!(
            hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
            "{base:#}"
        );
        assert!(base["tag"].is_string(), "pinned by tag too: {base:#}");
    }
    // The builder is the Rust version the workspace needs, on the runtime's Debian.
    let builder = stages[0]["base"]["tag"].as_str().unwrap_or_default();
    let rust_version = workspace_value("rust-version");
    assert!(
        builder.starts_with(&format!("{rust_version}-")) && builder.ends_with("bookworm"),
        "builder {builder}, rust-version {rust_version}"
    );
    assert_eq!(
        stages[1]["base"]["repository"], "distroless/cc-debian12",
        "{:#}",
        stages[1]["base"]
    );

    let text = read("Dockerfile");
    let instructions: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect();
    let has = |needle: &str| instructions.iter().any(|l| l.contains(needle));
    assert!(has("USER 65532:65532"), "a numeric non-root USER");
    assert!(has("cargo build --locked --release"), "a --locked build");
    assert!(has(r#"ENTRYPOINT ["/usr/local/bin/policy"]"#));
    assert!(has("org.opencontainers.image.source="));
    assert!(!has("ADD "), "COPY, not ADD");
    // Every workspace member is in the build context (cargo reads all their manifests).
    let members = read("Cargo.toml");
    let members = members
        .lines()
        .find_map(|l| l.trim().strip_prefix("members = "))
        .expect("workspace members");
    for member in members.trim_matches(['[', ']']).split(',') {
        let member = member.trim().trim_matches('"');
        assert!(has(&format!("COPY {member} {member}")), "member {member}");
    }

    let ignore = read(".dockerignore");
    let rules: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(rules.first(), Some(&"*"), "the context is an allowlist");
    assert!(rules.contains(&"**/target/"), "{rules:?}");
    assert!(!rules.iter().any(|r| r.contains(".git")), "{rules:?}");
}

#[test]
fn the_action_is_a_well_formed_composite_action_with_pinned_actions() {
    let action = yaml("action.yml");
    for key in ["name", "description"] {
        assert!(action[key].as_str().is_some_and(|s| !s.is_empty()), "{key}");
    }
    let inputs = action["inputs"].as_object().expect("inputs");
    let names: Vec<&str> = inputs.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "paths",
            "policy",
            "data",
            "format",
            "fail-on",
            "config",
            "version",
            "upload-sarif"
        ]
    );
    for (name, input) in inputs {
        assert!(input["description"].is_string(), "inputs.{name}");
        assert!(input["default"].is_string(), "inputs.{name} has a default");
    }
    assert_eq!(action["inputs"]["format"]["default"], "sarif");
    assert_eq!(action["inputs"]["upload-sarif"]["default"], "false");

    let runs = &action["runs"];
    assert_eq!(runs["using"], "composite");
    let steps = runs["steps"].as_array().expect("steps");
    for step in steps {
        if step.get("run").is_some() {
            assert!(
                step["shell"].is_string(),
                "composite run steps need a shell: {step:#}"
            );
            // Inputs reach scripts through `env`, never pasted into the script text.
            let script = step["run"].as_str().unwrap_or_default();
            assert!(!script.contains("${{"), "{script}");
        }
    }
    let mut uses = Vec::new();
    uses_of(runs, &mut uses);
    assert!(
        uses.iter()
            .any(|u| u.starts_with("github/codeql-action/upload-sarif@")),
        "{uses:?}"
    );
    for u in &uses {
        assert!(pinned_by_sha(u), "not pinned to a commit SHA: {u}");
    }
    // The release source is the workspace's repository.
    let install = serde_json::to_string(&steps[0]["env"]).expect("json");
    assert!(
        install.contains(&workspace_value("repository")),
        "{install}"
    );
    assert_clean(&["action.yml"]);
}

#[test]
fn the_example_workflow_is_clean_and_least_privilege() {
    let path = "examples/workflows/policy.yml";
    let report = assert_clean(&[path]);
    assert_eq!(report["inputs"][0]["path"], path);
    let out = policy(&["parse", "--no-config", path]);
    assert_eq!(json_of(&out)[0]["documents"][0]["kind"], "workflow");

    let workflow = yaml(path);
    assert!(workflow["on"].get("pull_request_target").is_none());
    assert_eq!(
        workflow["permissions"],
        serde_json::json!({}),
        "nothing by default"
    );
    let jobs = workflow["jobs"].as_object().expect("jobs");
    for (name, job) in jobs {
        let perms = job["permissions"].as_object().expect("job permissions");
        for (scope, level) in perms {
            let allowed = match scope.as_str() {
                "security-events" => ["write", "read"].as_slice(),
                _ => ["read"].as_slice(),
            };
            assert!(
                level.as_str().is_some_and(|l| allowed.contains(&l)),
                "jobs.{name}.permissions.{scope}: {level}"
            );
        }
    }
    let mut uses = Vec::new();
    uses_of(&workflow, &mut uses);
    assert!(
        uses.contains(&"./".to_string()),
        "it runs this repository's action"
    );
    for u in uses.iter().filter(|u| !u.starts_with("./")) {
        assert!(pinned_by_sha(u), "not pinned to a commit SHA: {u}");
    }
    for step in workflow["jobs"]["policy"]["steps"]
        .as_array()
        .expect("steps")
    {
        if step["uses"]
            .as_str()
            .is_some_and(|u| u.starts_with("actions/checkout@"))
        {
            assert_eq!(step["with"]["persist-credentials"], false, "{step:#}");
        }
    }
}

#[test]
fn the_pre_commit_hook_has_what_pre_commit_requires() {
    let hooks = yaml(".pre-commit-hooks.yaml");
    let hooks = hooks.as_array().expect("a list of hooks");
    for hook in hooks {
        for key in ["id", "name", "entry", "language"] {
            assert!(
                hook[key].as_str().is_some_and(|s| !s.is_empty()),
                "{key}: {hook:#}"
            );
        }
    }
    let hook = hooks
        .iter()
        .find(|h| h["id"] == "policy")
        .expect("a `policy` hook");
    assert_eq!(hook["entry"], "policy eval");
    assert!(
        ["system", "unsupported", "rust"].contains(&hook["language"].as_str().unwrap_or_default())
    );
    assert_eq!(
        hook["types_or"],
        serde_json::json!(["dockerfile", "yaml", "json"])
    );
    assert_eq!(hook["pass_filenames"], true);
    assert_eq!(hook["require_serial"], false);

    // What the hook runs, with filenames as pre-commit passes them: this repository's own
    // integration files are clean.
    assert_clean(&[
        "Dockerfile",
        "action.yml",
        ".pre-commit-hooks.yaml",
        "examples/workflows/policy.yml",
    ]);
}

#[test]
fn the_readme_documents_every_integration() {
    let readme = read("README.md");
    for needle in [
        "## Integrations",
        "action.yml",
        "upload-sarif",
        ".pre-commit-config.yaml",
        "id: policy",
        r#"docker run --rm -v "$PWD:/src" -w /src"#,
    ] {
        assert!(readme.contains(needle), "README.md lacks {needle:?}");
    }
}
