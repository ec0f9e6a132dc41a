//! Kubernetes Pod Security Standards settings: `--pss LEVEL[@VERSION]` and `data.pss`.
//!
//! The PSS rules (`policies/pss/*.rego`) are built in but opt-in: they are loaded only
//! when `data.pss` is present (from `--pss` or a data file) and read the level and the
//! Kubernetes version from it. This module parses the flag and validates `data.pss`, so
//! a typo is an error rather than a silently skipped check.

use thiserror::Error;

/// Built-in policy files that belong to the PSS rules (loaded only with `data.pss`).
pub(crate) fn is_pss_policy(path: &str) -> bool {
    path.starts_with("policies/pss/") || path == "policies/lib/pss.rego"
}

/// Levels with checks; `privileged` is valid too and runs none.
pub const LEVELS: &[&str] = &["privileged", "baseline", "restricted"];

/// An invalid `--pss` value or `data.pss` setting.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PssError {
    /// The level is not privileged, baseline or restricted.
    #[error("unknown Pod Security level {0:?}: use baseline, restricted or privileged")]
    Level(String),
    /// The version is not `latest`, `vX.Y` or `X.Y` with X = 1.
    #[error("invalid Kubernetes version {0:?}: use latest or v1.N (e.g. v1.30)")]
    Version(String),
    /// `data.pss` is not an object with a string `level`.
    #[error("data.pss must be an object with a string `level` (and an optional `version`)")]
    Shape,
}

/// Whether `v` is `latest`, `v1.N` or `1.N`.
fn valid_version(v: &str) -> bool {
    if v == "latest" {
        return true;
    }
    let rest = v.strip_prefix('v').unwrap_or(v);
    match rest.split_once('.') {
        Some(("1", minor)) => {
            !minor.is_empty() && minor.len() <= 6 && minor.bytes().all(|b| b.is_ascii_digit())
        }
        _ => false,
    }
}

/// Parses `LEVEL[@VERSION]` into the data it adds: `{"pss": {"level", "version"}}`.
pub fn parse_flag(flag: &str) -> Result<serde_json::Value, PssError> {
    let (level, version) = match flag.split_once('@') {
        Some((l, v)) => (l, v),
        None => (flag, "latest"),
    };
    if !LEVELS.contains(&level) {
        return Err(PssError::Level(level.to_string()));
    }
    if !valid_version(version) {
        return Err(PssError::Version(version.to_string()));
    }
    Ok(serde_json::json!({"pss": {"level": level, "version": version}}))
}

/// Validates `data.pss`: `Ok(false)` when absent, `Ok(true)` when valid.
pub(crate) fn requested(data: &serde_json::Value) -> Result<bool, PssError> {
    let Some(pss) = data.get("pss") else {
        return Ok(false);
    };
    let level = pss
        .get("level")
        .and_then(|l| l.as_str())
        .ok_or(PssError::Shape)?;
    if !LEVELS.contains(&level) {
        return Err(PssError::Level(level.to_string()));
    }
    match pss.get("version") {
        None | Some(serde_json::Value::Null) => Ok(true),
        Some(serde_json::Value::String(v)) if valid_version(v) => Ok(true),
        Some(other) => Err(PssError::Version(match other.as_str() {
            Some(s) => s.to_string(),
            None => other.to_string(),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_forms() {
        assert_eq!(
            parse_flag("restricted").unwrap(),
            serde_json::json!({"pss": {"level": "restricted", "version": "latest"}})
        );
        assert_eq!(
            parse_flag("baseline@v1.24").unwrap()["pss"]["version"],
            "v1.24"
        );
        assert_eq!(
            parse_flag("baseline@1.30").unwrap()["pss"]["version"],
            "1.30"
        );
        assert_eq!(parse_flag("strict"), Err(PssError::Level("strict".into())));
        for bad in [
            "baseline@",
            "baseline@v2.1",
            "baseline@v1",
            "baseline@1.x",
            "baseline@v1.2.3",
        ] {
            assert!(
                matches!(parse_flag(bad), Err(PssError::Version(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn data_validation() {
        assert_eq!(requested(&serde_json::json!({})), Ok(false));
        assert_eq!(
            requested(&serde_json::json!({"pss": {"level": "baseline"}})),
            Ok(true)
        );
        assert_eq!(
            requested(&serde_json::json!({"pss": {"level": "baseline", "version": 1.2}})),
            Err(PssError::Version("1.2".into()))
        );
        assert_eq!(
            requested(&serde_json::json!({"pss": "restricted"})),
            Err(PssError::Shape)
        );
    }
}
