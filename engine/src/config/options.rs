//! The typed form of a validated `.policy.yaml`: what the CLI and [`super::apply`] use,
//! with paths already resolved against the configuration file's directory and globs
//! already compiled, so that nothing downstream can fail on a bad configuration.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::inputs::discover::PathFilter;
use crate::source::Position;
use crate::Severity;

/// A loaded configuration file.
#[derive(Debug, Clone)]
pub struct Config {
    /// The configuration file, as it is shown in messages.
    pub file: PathBuf,
    /// The directory that relative paths and globs in the file are relative to, as
    /// joined onto paths given to the CLI (`""` for the current directory).
    pub base: PathBuf,
    /// `base`, made absolute and normalized: what input paths are matched against.
    pub abs_base: PathBuf,
    /// `policies`: policy files or directories, resolved against `base`.
    pub policies: Vec<PathBuf>,
    /// `data`: data files or directories, resolved against `base`.
    pub data: Vec<PathBuf>,
    /// `fail-on`.
    pub fail_on: Option<Severity>,
    /// `exclude`: inputs to skip.
    pub exclude: Option<Pattern>,
    /// `pss`, as written (already checked to be a valid `--pss` value).
    pub pss: Option<String>,
    /// `rules`: per-rule overrides, by rule ID.
    pub rules: BTreeMap<String, RuleEntry>,
    /// `settings`: merged into `data.settings`.
    pub settings: Option<serde_json::Map<String, serde_json::Value>>,
    /// `exceptions`.
    pub exceptions: Vec<Exception>,
    /// `images`: registry image references to check, with where each is written.
    pub images: Vec<(String, Position)>,
    /// `insecure-registries`: hosts that may answer plain HTTP.
    pub insecure_registries: Vec<String>,
}

/// What `rules: {ID: ...}` does to a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleOverride {
    /// `off`: the rule is not evaluated at all ([`Config::disabled_rules`]), and is not
    /// listed.
    Off,
    /// A severity: the rule's findings get this severity.
    Severity(Severity),
}

/// One entry of a `rules` map, with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleEntry {
    /// The override.
    pub action: RuleOverride,
    /// The position of the rule ID in the file.
    pub position: Position,
}

/// A calendar date (`YYYY-MM-DD`), compared field by field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Year.
    pub year: u32,
    /// Month, 1-12.
    pub month: u32,
    /// Day, 1-31.
    pub day: u32,
}

impl Date {
    /// Parses `YYYY-MM-DD`, checking that the day exists.
    pub fn parse(s: &str) -> Option<Date> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let part = s.get(r)?;
            if part.bytes().all(|c| c.is_ascii_digit()) {
                part.parse().ok()
            } else {
                None
            }
        };
        let date = Date {
            year: num(0..4)?,
            month: num(5..7)?,
            day: num(8..10)?,
        };
        let y = date.year;
        let leap = y.is_multiple_of(4) && (!y.is_multiple_of(100) || y.is_multiple_of(400));
        let days = match date.month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        (date.day >= 1 && date.day <= days).then_some(date)
    }

    /// Today's date in UTC, from the system clock.
    pub fn today() -> Date {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Date::from_days((secs / 86_400) as i64)
    }

    /// The date `days` days after 1970-01-01 (Howard Hinnant's `civil_from_days`).
    pub fn from_days(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Date {
            year: u32::try_from(year).unwrap_or(0),
            month: month as u32,
            day: day as u32,
        }
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// One `exceptions` entry.
#[derive(Debug, Clone)]
pub struct Exception {
    /// The rule ID whose findings are suppressed.
    pub rule: String,
    /// The `path` glob, as written.
    pub path: String,
    /// Which files it covers.
    pub matcher: Pattern,
    /// Why (required).
    pub reason: String,
    /// The last day the exception applies, if it has one.
    pub expires: Option<Date>,
    /// Where the entry starts in the configuration file.
    pub position: Position,
}

impl Exception {
    /// Whether the exception no longer applies on `today` (it applies through `expires`).
    pub fn is_expired(&self, today: Date) -> bool {
        self.expires.is_some_and(|e| today > e)
    }
}

/// A set of gitignore-style globs, matched against paths relative to the configuration
/// file's directory.
///
/// As in `.gitignore`: a pattern without a `/` (other than a trailing one) matches at any
/// depth (`*.tmp`, `vendor`); a pattern with one is anchored to the configuration's
/// directory (`/build`, `k8s/dev/*.yaml`); `*` does not cross `/` while `**` does; a
/// pattern that names a directory also matches everything below it; a trailing `/`
/// matches only below the directory. Negation (`!pattern`) is not supported.
#[derive(Debug, Clone)]
pub struct Pattern {
    set: GlobSet,
    /// The patterns themselves, without the `/**` that extends each to everything below:
    /// a directory they match is excluded as a whole ([`Pattern::is_match_dir`]).
    dirs: GlobSet,
}

impl Pattern {
    /// Compiles `patterns`; the error names the offending pattern's index and the reason.
    pub fn new<'a>(
        patterns: impl IntoIterator<Item = &'a str>,
    ) -> Result<Pattern, (usize, String)> {
        let mut builder = GlobSetBuilder::new();
        let mut dirs = GlobSetBuilder::new();
        for (i, raw) in patterns.into_iter().enumerate() {
            let glob = |g: &str| {
                GlobBuilder::new(g)
                    .literal_separator(true)
                    .build()
                    .map_err(|e| (i, format!("invalid glob {raw:?}: {}", e.kind())))
            };
            let (base, dir_only) = Self::expand(raw).map_err(|m| (i, m))?;
            builder.add(glob(&format!("{base}/**"))?);
            if !dir_only {
                builder.add(glob(&base)?);
            }
            dirs.add(glob(&base)?);
        }
        let build = |b: GlobSetBuilder| b.build().map_err(|e| (0, format!("invalid glob: {e}")));
        Ok(Pattern {
            set: build(builder)?,
            dirs: build(dirs)?,
        })
    }

    /// The glob one gitignore-style pattern stands for (matching the file or directory
    /// itself; everything below a match is matched by it plus `/**`), and whether it
    /// matches directories only (a trailing `/`).
    fn expand(raw: &str) -> Result<(String, bool), String> {
        let p = raw.trim();
        if p.is_empty() {
            return Err("empty pattern".to_string());
        }
        if p.starts_with('!') {
            return Err(format!(
                "negated pattern {raw:?}: negation is not supported; list only what to match"
            ));
        }
        let dir_only = p.ends_with('/');
        let p = p.trim_end_matches('/');
        let anchored = p.contains('/');
        let p = p.trim_start_matches('/');
        if p.is_empty() {
            return Err(format!("pattern {raw:?} matches nothing"));
        }
        let p = if anchored || p.starts_with("**") {
            p.to_string()
        } else {
            format!("**/{p}")
        };
        Ok((p, dir_only))
    }

    /// Whether `rel` (relative to the configuration's directory, `/`-separated) matches.
    pub fn is_match_relative(&self, rel: &str) -> bool {
        self.set.is_match(rel)
    }

    /// Whether the directory `rel` (relative to the configuration's directory,
    /// `/`-separated) matches as a whole, so that everything below it matches too and a
    /// walk need not enter it: a pattern names it (`vendor`, `vendor/`, `/build`), or it
    /// lies below a directory one names.
    pub fn is_match_dir(&self, rel: &str) -> bool {
        !rel.is_empty() && (self.dirs.is_match(rel) || self.set.is_match(rel))
    }
}

/// `path` made absolute against `cwd` and with `.`/`..` removed, without touching the
/// file system (so that it works for files that do not exist and through symlinks the
/// same way on both sides of a comparison).
pub fn normalize(cwd: &Path, path: &Path) -> PathBuf {
    let joined = cwd.join(path);
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

impl Config {
    /// `file` (an input path as given on the command line, relative to `cwd`) relative to
    /// the configuration's directory, `/`-separated; `None` when it lies outside.
    pub fn relative(&self, cwd: &Path, file: &str) -> Option<String> {
        relative(&self.abs_base, cwd, Path::new(file))
    }

    /// `exclude` as a discovery filter: inputs (and whole directories) it matches are
    /// left out before they are opened. `None` without `exclude`. `cwd` is the directory
    /// the paths given to discovery are relative to.
    pub fn exclude_filter(&self, cwd: &Path) -> Option<Arc<dyn PathFilter>> {
        let pattern = self.exclude.clone()?;
        Some(Arc::new(ExcludeFilter {
            pattern,
            abs_base: self.abs_base.clone(),
            cwd: cwd.to_path_buf(),
        }))
    }

    /// The IDs of the rules set to `off` under `rules`, for
    /// [`crate::eval::PolicyOptions::disabled_rules`].
    pub fn disabled_rules(&self) -> Vec<String> {
        self.rules
            .iter()
            .filter(|(_, e)| e.action == RuleOverride::Off)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Whether the input `file` is excluded by `exclude`.
    pub fn is_excluded(&self, cwd: &Path, file: &str) -> bool {
        match (&self.exclude, self.relative(cwd, file)) {
            (Some(p), Some(rel)) => p.is_match_relative(&rel),
            _ => false,
        }
    }
}

/// `path` (relative to `cwd`, or absolute) relative to `abs_base`, `/`-separated; `None`
/// when it lies outside.
fn relative(abs_base: &Path, cwd: &Path, path: &Path) -> Option<String> {
    let abs = normalize(cwd, path);
    let rel = abs.strip_prefix(abs_base).ok()?;
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    Some(parts.join("/"))
}

/// The configuration's `exclude`, applied by input discovery ([`Config::exclude_filter`]).
#[derive(Debug)]
struct ExcludeFilter {
    pattern: Pattern,
    abs_base: PathBuf,
    cwd: PathBuf,
}

impl PathFilter for ExcludeFilter {
    fn excludes(&self, path: &Path, is_dir: bool) -> bool {
        match relative(&self.abs_base, &self.cwd, path) {
            Some(rel) if is_dir => self.pattern.is_match_dir(&rel),
            Some(rel) => self.pattern.is_match_relative(&rel),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_and_reject_impossible_days() {
        assert_eq!(
            Date::parse("2024-02-29"),
            Some(Date {
                year: 2024,
                month: 2,
                day: 29
            })
        );
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-1-01",
            "24-01-01",
            "2024/01/01",
            "2024-01-+1",
        ] {
            assert_eq!(Date::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn days_since_epoch_become_calendar_dates() {
        assert_eq!(Date::from_days(0).to_string(), "1970-01-01");
        assert_eq!(Date::from_days(19_782).to_string(), "2024-02-29");
        assert_eq!(Date::from_days(20_454).to_string(), "2026-01-01");
    }

    #[test]
    fn exceptions_apply_through_their_expiry_day() {
        let d = |s| Date::parse(s).expect("date");
        let e = Exception {
            rule: "DF001".into(),
            path: "*".into(),
            matcher: Pattern::new(["*"]).expect("glob"),
            reason: "r".into(),
            expires: Some(d("2025-06-30")),
            position: Position::START,
        };
        assert!(!e.is_expired(d("2025-06-30")));
        assert!(e.is_expired(d("2025-07-01")));
    }

    #[test]
    fn patterns_follow_gitignore_anchoring() {
        let p = Pattern::new(["*.tmp", "/build", "k8s/dev/*.yaml", "vendor/"]).expect("globs");
        assert!(p.is_match_relative("a.tmp"));
        assert!(p.is_match_relative("deep/down/a.tmp"));
        assert!(p.is_match_relative("build/Dockerfile"));
        assert!(!p.is_match_relative("src/build/Dockerfile"));
        assert!(p.is_match_relative("k8s/dev/app.yaml"));
        assert!(!p.is_match_relative("k8s/dev/nested/app.yaml"));
        assert!(!p.is_match_relative("k8s/prod/app.yaml"));
        assert!(p.is_match_relative("x/vendor/lib/Dockerfile"));
        assert!(!p.is_match_relative("vendor"));
        // Whole directories, for a walk to skip.
        assert!(p.is_match_dir("vendor"));
        assert!(p.is_match_dir("x/vendor"));
        assert!(p.is_match_dir("x/vendor/lib"));
        assert!(p.is_match_dir("build"));
        assert!(!p.is_match_dir("src/build"));
        assert!(!p.is_match_dir("k8s/dev"), "only some files below it match");
        assert!(!p.is_match_dir("k8s"));
        assert!(!p.is_match_dir(""));
        assert!(Pattern::new(["!keep"]).is_err());
        assert_eq!(Pattern::new(["ok", "a["]).err().map(|e| e.0), Some(1));
    }

    #[test]
    fn normalize_is_lexical() {
        assert_eq!(
            normalize(Path::new("/a/b"), Path::new("../c/./d")),
            PathBuf::from("/a/c/d")
        );
    }
}
