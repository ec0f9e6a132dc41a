//! What the server checks with: `initializationOptions`, the workspace root and its
//! `.policy.yaml`, merged the way `policy eval` merges flags and the configuration file.
//!
//! The layering itself is [`crate::config::resolve`], shared with the command line.
//! Relative paths (in the options and in the configuration file) resolve against the
//! workspace root, not the server's working directory, which editors set arbitrarily.
//! Nothing here fails: a bad option or configuration file becomes a message for the
//! user, and the server carries on with what is valid.

use std::path::{Path, PathBuf};

use crate::config::resolve::{ConfigSource, Layers};
use crate::config::{self, Config};
use crate::eval::PolicyOptions;
use crate::Severity;

/// `initializationOptions`, all optional (the editor layer of [`crate::config::resolve`]).
pub use crate::config::resolve::EditorOptions as InitOptions;
pub use crate::config::resolve::OneOrMany;

/// Everything resolved: what to load and how to grade findings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The workspace root: where relative paths start.
    pub root: PathBuf,
    /// The options as the client sent them.
    pub init: InitOptions,
    /// The configuration file in effect, if any.
    pub config: Option<Config>,
    /// Its absolute path (watched for changes even when it failed to load).
    pub config_file: Option<PathBuf>,
    /// What to load.
    pub policy: PolicyOptions,
    /// Findings below this severity are shown as hints.
    pub fail_on: Severity,
}

impl Settings {
    /// Resolves `init` against `root` and the `.policy.yaml` found from it. The strings
    /// returned are problems to show the user (each naming its file or option).
    pub fn resolve(root: &Path, init: InitOptions) -> (Settings, Vec<String>) {
        let (resolved, problems) = Layers {
            root: root.to_path_buf(),
            config: ConfigSource::Discover,
            absolute_paths: true,
            editor: Some(init.clone()),
            ..Layers::default()
        }
        .resolve_lenient();
        let settings = Settings {
            root: resolved.root,
            init,
            config: resolved.config,
            config_file: resolved.config_file,
            policy: resolved.policy,
            fail_on: resolved.fail_on,
        };
        (settings, problems.iter().map(ToString::to_string).collect())
    }

    /// Whether saving `path` changes the policy set: a `.rego` or `.wasm` file under a
    /// policy path, a JSON or YAML file under a data path, or the configuration file.
    pub fn affects_policies(&self, path: &Path) -> bool {
        if self.config_file.as_deref() == Some(path)
            || path.file_name().is_some_and(|n| n == config::FILE_NAME)
                && path.parent() == Some(self.root.as_path())
        {
            return true;
        }
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        // Compared as given, then resolved (an editor may report `/private/tmp/x` for a
        // policy path configured as `/tmp/x`).
        let real = std::fs::canonicalize(path).ok();
        let under = |roots: &[PathBuf]| {
            roots.iter().any(|r| {
                path.starts_with(r)
                    || real
                        .as_ref()
                        .is_some_and(|p| std::fs::canonicalize(r).is_ok_and(|r| p.starts_with(r)))
            })
        };
        match ext.as_str() {
            "rego" | "wasm" => under(&self.policy.paths),
            "json" | "yaml" | "yml" => under(&self.policy.data),
            _ => false,
        }
    }

    /// Whether the configuration's `exclude` leaves `path` out.
    pub fn is_excluded(&self, path: &str) -> bool {
        self.config
            .as_ref()
            .is_some_and(|c| c.is_excluded(&self.root, path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(json: serde_json::Value) -> InitOptions {
        serde_json::from_value(json).expect("valid options")
    }

    #[test]
    fn options_parse_with_defaults_and_single_strings() {
        assert_eq!(opts(serde_json::json!({})), InitOptions::default());
        let o = opts(serde_json::json!({
            "policyPaths": "policies", "data": ["d.yaml"], "failOn": "high",
            "noBuiltin": true, "pss": "restricted", "unknown": 1
        }));
        assert_eq!(o.policy_paths.0, ["policies"]);
        assert_eq!(o.data.0, ["d.yaml"]);
        assert_eq!(o.fail_on.as_deref(), Some("high"));
        assert!(o.no_builtin);
        assert_eq!(o.pss.as_deref(), Some("restricted"));
    }

    #[test]
    fn paths_resolve_against_the_root_and_the_configuration_comes_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::write(
            root.join(".policy.yaml"),
            "policies: [team]\ndata: [d.yaml]\nfail-on: medium\npss: baseline\nexclude: [vendor/]\nrules:\n  DF001: off\n  DF002: high\n",
        )
        .expect("write");
        let (s, problems) = Settings::resolve(
            root,
            opts(serde_json::json!({"policyPaths": ["mine", "/abs/p.rego"], "failOn": "high"})),
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            s.policy.paths,
            [
                root.join("team"),
                root.join("mine"),
                PathBuf::from("/abs/p.rego")
            ]
        );
        assert_eq!(s.policy.data, [root.join("d.yaml")]);
        assert!(s.policy.builtin);
        assert_eq!(
            s.policy.disabled_rules,
            ["DF001"],
            "rules turned off are not run"
        );
        assert_eq!(s.fail_on, Severity::High);
        assert_eq!(
            s.policy.extra_data,
            [serde_json::json!({"pss": {"level": "baseline", "version": "latest"}})]
        );
        assert_eq!(
            s.config_file.as_deref(),
            Some(root.join(".policy.yaml").as_path())
        );
        assert!(s.affects_policies(&root.join("team/x/a.rego")));
        assert!(s.affects_policies(&root.join("d.yaml")));
        assert!(s.affects_policies(&root.join(".policy.yaml")));
        assert!(!s.affects_policies(&root.join("team/notes.md")));
        assert!(!s.affects_policies(&root.join("other/a.rego")));
        let vendored = root.join("vendor/Dockerfile");
        assert!(s.is_excluded(&vendored.display().to_string()));
        assert!(!s.is_excluded(&root.join("Dockerfile").display().to_string()));
    }

    #[test]
    fn bad_values_are_reported_and_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(".policy.yaml"), "polices: []\n").expect("write");
        let (s, problems) = Settings::resolve(
            dir.path(),
            opts(serde_json::json!({"failOn": "urgent", "pss": "extreme", "noBuiltin": true})),
        );
        assert!(s.config.is_none());
        assert_eq!(s.fail_on, Severity::Low);
        assert!(s.policy.extra_data.is_empty());
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems[0].contains(".policy.yaml:1:1: unknown key `polices`"));
        assert!(problems[1].contains("failOn"));
        assert!(problems[2].contains("pss"));
        assert!(problems[3].contains("noBuiltin"));
    }
}
