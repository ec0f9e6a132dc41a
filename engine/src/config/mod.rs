//! The project configuration file, `.policy.yaml`.
//!
//! It exists so that a repository can pin how it is checked (which policies and data,
//! the failure threshold, inputs to skip, rules to turn off or re-grade, and documented,
//! expiring exceptions) instead of repeating flags in every CI job. The CLI finds it
//! ([`discover`]), loads it ([`load`]), merges it under its own flags (flags win), and
//! after evaluation applies the rule overrides and exceptions to the report ([`apply`]).
//!
//! The file is parsed with the project's own YAML parser so that every validation
//! problem names `file:line:col` (see [`validate`]). docs/configuration.md documents the
//! format.

pub mod options;
pub mod resolve;
pub mod validate;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use thiserror::Error;

pub use options::{Config, Date, Exception, Pattern, RuleEntry, RuleOverride};

use crate::diagnostics::{Report, Suppressed, SuppressionSource};
use crate::inputs::{yaml, DocumentKind, LoadOptions};

/// The file name looked for by [`discover`].
pub const FILE_NAME: &str = ".policy.yaml";

/// One validation problem at a line and column of the configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// What is wrong.
    pub message: String,
}

/// Why a configuration file could not be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read the configuration file: {source}", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid YAML, or does not follow the schema. Each problem is shown
    /// on its own line as `file:line:col: message`.
    #[error("{}", render(file, problems))]
    Invalid {
        /// The file.
        file: PathBuf,
        /// Every problem found, in file order.
        problems: Vec<Problem>,
    },
}

fn render(file: &Path, problems: &[Problem]) -> String {
    let lines: Vec<String> = problems
        .iter()
        .map(|p| format!("{}:{}:{}: {}", file.display(), p.line, p.column, p.message))
        .collect();
    lines.join("\n")
}

/// The nearest `.policy.yaml` from `cwd` upwards, as a path relative to `cwd` (`.policy.yaml`,
/// `../.policy.yaml`, ...). The search stops at the root of the repository (the directory
/// holding `.git`) or at the file system root.
pub fn discover(cwd: &Path) -> Option<PathBuf> {
    let mut shown = PathBuf::new();
    for dir in cwd.ancestors() {
        let candidate = dir.join(FILE_NAME);
        if candidate.is_file() {
            return Some(shown.join(FILE_NAME));
        }
        if dir.join(".git").exists() {
            return None;
        }
        shown.push("..");
    }
    None
}

/// Loads and validates the configuration `file` (relative to `cwd`, or absolute).
pub fn load(cwd: &Path, file: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(cwd.join(file)).map_err(|source| ConfigError::Read {
        file: file.to_path_buf(),
        source,
    })?;
    load_text(cwd, file, &text)
}

/// Validates the configuration `text` read from `file` (relative to `cwd`, or absolute):
/// [`load`] without the read (the fuzz target `config` drives this).
pub fn load_text(cwd: &Path, file: &Path, text: &str) -> Result<Config, ConfigError> {
    let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let abs_base = options::normalize(cwd, &base);
    let invalid = |problems| ConfigError::Invalid {
        file: file.to_path_buf(),
        problems,
    };
    let blank = text.lines().all(|l| {
        let l = l.trim();
        l.is_empty() || l.starts_with('#') || l == "---"
    });
    if blank {
        return validate::validate(file, &base, &abs_base, &empty_document()).map_err(invalid);
    }
    let opts = LoadOptions {
        kind: Some(DocumentKind::Yaml),
        ..LoadOptions::default()
    };
    let (docs, errors) = yaml::parse_yaml(&file.display().to_string(), text, &opts);
    if !errors.is_empty() {
        return Err(invalid(
            errors
                .into_iter()
                .map(|e| Problem {
                    line: e.line,
                    column: e.column,
                    message: e.message,
                })
                .collect(),
        ));
    }
    match docs.as_slice() {
        [doc] => validate::validate(file, &base, &abs_base, doc).map_err(invalid),
        _ => {
            let pos = docs
                .get(1)
                .map_or(crate::source::Position::START, |d| d.span.start);
            Err(invalid(vec![Problem {
                line: pos.line,
                column: pos.column,
                message: "a configuration file holds exactly one YAML document".to_string(),
            }]))
        }
    }
}

fn empty_document() -> crate::inputs::Document {
    crate::inputs::Document {
        kind: DocumentKind::Yaml,
        path: Arc::from(""),
        index: 0,
        value: serde_json::Value::Null,
        source_map: crate::source::SourceMap::new(),
        source: Arc::from(""),
        first_line: 1,
        span: crate::source::Span::point(crate::source::Position::START),
    }
}

/// A note about the configuration, printed as a warning (it does not fail the run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// 1-based line in the configuration file.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// What to look at.
    pub message: String,
}

/// Applies `rules` overrides and `exceptions` to a finished report, as of `today`.
///
/// * A rule set to `off` loses its findings (suppressed ones too) and its catalog entry.
///   (The CLI does not even evaluate it: it passes [`Config::disabled_rules`] to
///   [`crate::eval::PolicyOptions::disabled_rules`]. This covers reports made without.)
/// * A rule given a severity has its findings (suppressed ones too), and its catalog
///   entry, re-graded.
/// * A finding of an exception's rule in a file matching its `path` moves from
///   `findings` to `suppressed` with the exception's reason, so it no longer fails the run.
/// * An expired exception suppresses nothing and yields a [`Warning`], so the findings it
///   used to hide are visible again and someone is told why.
/// * A rule ID in `rules` or `exceptions` that matches no loaded rule yields a warning
///   (with a "did you mean" hint), since it is most likely a typo.
///
/// `cwd` is the directory input paths in the report are relative to.
pub fn apply(config: &Config, report: &mut Report, cwd: &Path, today: Date) -> Vec<Warning> {
    let mut warnings = Vec::new();
    let known: Vec<&str> = report
        .rules
        .iter()
        .chain(&report.disabled)
        .map(|r| r.id.as_str())
        .chain(report.unloaded.iter().map(String::as_str))
        .collect();
    let mut unknown = |id: &str, line: u32, column: u32, what: &str| {
        if known.iter().any(|k| k.eq_ignore_ascii_case(id)) {
            return;
        }
        let hint = validate::suggest(id, known.iter().copied())
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        warnings.push(Warning {
            line,
            column,
            message: format!("{what} names rule `{id}`, which is not loaded{hint}"),
        });
    };
    for (id, entry) in &config.rules {
        unknown(id, entry.position.line, entry.position.column, "`rules`");
    }
    for e in &config.exceptions {
        unknown(&e.rule, e.position.line, e.position.column, "an exception");
    }
    let action_of = |id: &str| {
        config
            .rules
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(id))
            .map(|(_, e)| e.action)
    };

    // Re-grade or drop catalog entries, and findings with them.
    let mut regraded: Vec<(String, Arc<crate::rules::RuleMeta>)> = Vec::new();
    report.rules.retain_mut(|rule| match action_of(&rule.id) {
        Some(RuleOverride::Off) => false,
        Some(RuleOverride::Severity(sev)) => {
            let mut meta = (**rule).clone();
            meta.severity = sev;
            *rule = Arc::new(meta);
            regraded.push((rule.id.clone(), rule.clone()));
            true
        }
        None => true,
    });
    // Findings already suppressed in the source follow the same overrides, so that a rule
    // turned off disappears everywhere and a re-graded one shows its new severity.
    report
        .suppressed
        .retain_mut(|s| match action_of(&s.finding.rule.id) {
            Some(RuleOverride::Off) => false,
            Some(RuleOverride::Severity(sev)) => {
                s.finding.severity = sev;
                s.finding.rule = match regraded.iter().find(|(id, _)| *id == s.finding.rule.id) {
                    Some((_, meta)) => meta.clone(),
                    None => {
                        let mut meta = (*s.finding.rule).clone();
                        meta.severity = sev;
                        Arc::new(meta)
                    }
                };
                true
            }
            None => true,
        });
    let findings = std::mem::take(&mut report.findings);
    for mut f in findings {
        match action_of(&f.rule.id) {
            Some(RuleOverride::Off) => continue,
            Some(RuleOverride::Severity(sev)) => {
                f.severity = sev;
                match regraded.iter().find(|(id, _)| *id == f.rule.id) {
                    Some((_, meta)) => f.rule = meta.clone(),
                    None => {
                        let mut meta = (*f.rule).clone();
                        meta.severity = sev;
                        f.rule = Arc::new(meta);
                    }
                }
            }
            None => {}
        }
        let rel = config.relative(cwd, &f.location.file);
        let exception = config.exceptions.iter().find(|e| {
            !e.is_expired(today)
                && f.has_rule(&e.rule)
                && rel
                    .as_deref()
                    .is_some_and(|r| e.matcher.is_match_relative(r))
        });
        match exception {
            Some(e) => report.suppressed.push(Suppressed {
                finding: f,
                reason: e.reason.clone(),
                source: SuppressionSource::Config,
            }),
            None => report.findings.push(f),
        }
    }
    for e in &config.exceptions {
        if let Some(expires) = e.expires.filter(|_| e.is_expired(today)) {
            warnings.push(Warning {
                line: e.position.line,
                column: e.position.column,
                message: format!(
                    "the exception for {} on {:?} expired on {expires}; its findings are reported again (renew or remove it)",
                    e.rule, e.path
                ),
            });
        }
    }
    warnings.sort_by_key(|w| (w.line, w.column));
    report.sort();
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::{Finding, Level, Location};
    use crate::rules::{RuleMeta, RuleOrigin, RuntimeKind};
    use crate::source::{Position, Span};
    use crate::Severity;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(FILE_NAME), text).expect("write");
        load(dir.path(), Path::new(FILE_NAME))
    }

    fn problems(text: &str) -> Vec<Problem> {
        match parse(text) {
            Err(ConfigError::Invalid { problems, .. }) => problems,
            other => panic!("expected problems, got {other:?}"),
        }
    }

    fn rule(id: &str, severity: Severity) -> Arc<RuleMeta> {
        Arc::new(RuleMeta {
            id: id.to_string(),
            title: id.to_string(),
            description: String::new(),
            severity,
            kinds: Vec::new(),
            remediation: None,
            references: Vec::new(),
            aliases: Vec::new(),
            origin: RuleOrigin {
                builtin: true,
                runtime: RuntimeKind::Rego,
                file: "x.rego".to_string(),
                package: None,
            },
        })
    }

    fn finding(rule: &Arc<RuleMeta>, file: &str) -> Finding {
        Finding {
            related_rules: Vec::new(),
            rule: rule.clone(),
            severity: rule.severity,
            level: Level::Deny,
            message: "m".to_string(),
            location: Location {
                file: Arc::from(file),
                document: 0,
                span: Span::point(Position::START),
                path: Vec::new(),
            },
        }
    }

    fn date(s: &str) -> Date {
        Date::parse(s).expect("date")
    }

    #[test]
    fn a_full_configuration_loads_with_paths_relative_to_its_directory() {
        let cfg = parse(
            "policies: [policies, extra/x.rego]\ndata: data.yaml\nfail-on: High\nexclude: [vendor/]\npss: restricted@v1.30\nrules:\n  K8S006: off\n  DF003: high\nsettings:\n  team: a\nexceptions:\n  - rule: DF002\n    path: app/*\n    reason: r\n    expires: 2030-01-01\n",
        )
        .expect("valid");
        assert_eq!(
            cfg.policies,
            vec![PathBuf::from("policies"), PathBuf::from("extra/x.rego")]
        );
        assert_eq!(cfg.data, vec![PathBuf::from("data.yaml")]);
        assert_eq!(cfg.fail_on, Some(Severity::High));
        assert_eq!(cfg.pss.as_deref(), Some("restricted@v1.30"));
        assert_eq!(cfg.rules["K8S006"].action, RuleOverride::Off);
        assert_eq!(
            cfg.rules["DF003"].action,
            RuleOverride::Severity(Severity::High)
        );
        assert_eq!(cfg.rules["DF003"].position, Position::new(8, 3));
        assert_eq!(cfg.settings.as_ref().map(|s| s.len()), Some(1));
        assert_eq!(cfg.exceptions.len(), 1);
        assert_eq!(cfg.exceptions[0].expires, Some(date("2030-01-01")));
        assert_eq!(cfg.exceptions[0].position, Position::new(12, 5));

        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("ci")).expect("mkdir");
        std::fs::write(dir.path().join("ci/p.yaml"), "policies: [../p]\n").expect("write");
        let cfg = load(dir.path(), Path::new("ci/p.yaml")).expect("valid");
        assert_eq!(cfg.policies, vec![PathBuf::from("ci/../p")]);
        assert_eq!(cfg.relative(dir.path(), "ci/a/b"), Some("a/b".to_string()));
        assert_eq!(cfg.relative(dir.path(), "a/b"), None);
    }

    #[test]
    fn empty_and_comment_only_files_are_empty_configurations() {
        for text in ["", "# nothing yet\n", "---\n"] {
            let cfg = parse(text).expect("valid");
            assert!(cfg.policies.is_empty() && cfg.rules.is_empty() && cfg.fail_on.is_none());
        }
    }

    #[test]
    fn every_problem_is_reported_at_its_position() {
        let got = problems(
            "fail_on: high\npss: extreme\nsettings: [1]\nexceptions:\n  - rule: DF001\n    reason: \"\"\n    path: '!x'\n  - 3\n",
        );
        let want = [
            (1, 1, "unknown key `fail_on` (did you mean `fail-on`?)"),
            (2, 6, "`pss`: "),
            (3, 11, "`settings` must be a mapping, found a list"),
            (6, 13, "`exceptions[0].reason` must not be empty"),
            (7, 11, "`exceptions[0].path`: negated pattern"),
            (8, 5, "`exceptions[1]` must be a mapping"),
        ];
        assert_eq!(got.len(), want.len(), "{got:#?}");
        for (p, (line, column, start)) in got.iter().zip(want) {
            assert_eq!((p.line, p.column), (line, column), "{p:?}");
            assert!(p.message.starts_with(start), "{p:?}");
        }
    }

    #[test]
    fn errors_render_as_file_line_column() {
        let e = parse("polices: []\n").expect_err("invalid");
        assert_eq!(
            e.to_string(),
            ".policy.yaml:1:1: unknown key `polices` (did you mean `policies`?)"
        );
        let e = parse("a: [\n").expect_err("not YAML");
        assert!(e.to_string().starts_with(".policy.yaml:"), "{e}");
        let e = parse("a: 1\n---\nb: 2\n").expect_err("two documents");
        assert!(e.to_string().contains("exactly one YAML document"), "{e}");
    }

    #[test]
    fn apply_turns_off_regrades_and_suppresses() {
        let cfg = parse(
            "rules:\n  R1: off\n  R2: critical\n  R9: low\nexceptions:\n  - rule: R3\n    path: app/\n    reason: accepted\n  - rule: R2\n    path: old.txt\n    reason: stale\n    expires: 2020-01-01\n",
        )
        .expect("valid");
        let (r1, r2, r3) = (
            rule("R1", Severity::High),
            rule("R2", Severity::Low),
            rule("R3", Severity::Medium),
        );
        let mut report = Report {
            rules: vec![r1.clone(), r2.clone(), r3.clone()],
            findings: vec![
                finding(&r1, "a.txt"),
                finding(&r2, "old.txt"),
                finding(&r3, "app/x/y.txt"),
                finding(&r3, "other/app.txt"),
            ],
            ..Report::default()
        };
        let cwd = &cfg.abs_base.clone();
        let warnings = apply(&cfg, &mut report, cwd, date("2026-01-01"));

        let ids: Vec<&str> = report.rules.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["R2", "R3"]);
        assert_eq!(report.rules[0].severity, Severity::Critical);
        let kept: Vec<(&str, &str, Severity)> = report
            .findings
            .iter()
            .map(|f| (f.rule.id.as_str(), &*f.location.file, f.severity))
            .collect();
        assert_eq!(
            kept,
            [
                ("R2", "old.txt", Severity::Critical),
                ("R3", "other/app.txt", Severity::Medium)
            ]
        );
        assert_eq!(report.suppressed.len(), 1);
        assert_eq!(&*report.suppressed[0].finding.location.file, "app/x/y.txt");
        assert_eq!(report.suppressed[0].reason, "accepted");
        assert_eq!(report.suppressed[0].source, SuppressionSource::Config);

        let messages: Vec<(u32, &str)> = warnings
            .iter()
            .map(|w| (w.line, w.message.as_str()))
            .collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert_eq!(messages[0].0, 4);
        assert!(messages[0].1.contains("`R9`, which is not loaded"));
        assert_eq!(messages[1].0, 9);
        assert!(messages[1].1.contains("expired on 2020-01-01"));

        // The day before it expires, the same exception still suppresses.
        let mut report = Report {
            rules: vec![r2.clone()],
            findings: vec![finding(&r2, "old.txt")],
            ..Report::default()
        };
        let warnings = apply(&cfg, &mut report, cwd, date("2020-01-01"));
        assert!(report.findings.is_empty());
        assert_eq!(report.suppressed[0].reason, "stale");
        assert!(warnings.iter().all(|w| !w.message.contains("expired")));
    }

    #[test]
    fn discovery_walks_up_and_stops_at_the_repository_root() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("repo");
        std::fs::create_dir_all(root.join(".git")).expect("mkdir");
        std::fs::create_dir_all(root.join("a/b")).expect("mkdir");
        std::fs::write(dir.path().join(FILE_NAME), "").expect("write");
        assert_eq!(discover(&root.join("a/b")), None);
        std::fs::write(root.join(FILE_NAME), "").expect("write");
        assert_eq!(
            discover(&root.join("a/b")),
            Some(PathBuf::from("../../.policy.yaml"))
        );
        assert_eq!(discover(&root), Some(PathBuf::from(".policy.yaml")));
    }

    #[test]
    fn suggestions_only_for_close_words() {
        assert_eq!(
            validate::suggest("polcies", validate::KEYS),
            Some("policies")
        );
        assert_eq!(
            validate::suggest("fail_on", validate::KEYS),
            Some("fail-on")
        );
        assert_eq!(validate::suggest("colour", validate::KEYS), None);
    }
}
