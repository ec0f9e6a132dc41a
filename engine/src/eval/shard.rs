//! `--shard K/N`: one of N CI jobs evaluates a stable, deterministic 1/N of the inputs.
//!
//! A monorepo's inputs are split between the jobs of a CI matrix by a hash of each
//! input's path: SHA-256 of the path relative to the current directory, with `/`
//! separators and no leading `./`, read as a big-endian integer of its first eight
//! bytes, modulo N. The hash is fixed (not std's randomised hasher), so every machine and
//! operating system puts a file in the same shard, and every input is in exactly one.
//!
//! Cross-document rules still see the whole run: a shard reads every input, builds
//! `data.inventory` and the Pod Security levels of Namespaces from all of them, and gives
//! combined packages every document, but evaluates per-document rules and reports
//! findings, errors and inputs only for its own files ([`super::evaluate`]). A combined
//! package's finding is reported by the shard that owns the file it points at; one that
//! points at no document is anchored at the run's first document (see
//! [`super::combine`]), so the shard owning that file reports it. Records that belong to
//! no input (policy load errors, the run-wide step's errors) are in every shard's report;
//! `policy merge` keeps one of each.

use std::path::Path;

use sha2::{Digest, Sha256};
use thiserror::Error;

/// Which part of a run this is: shard `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1-based, at most `count`.
    pub index: u32,
    /// How many shards the run is split into (at least 1).
    pub count: u32,
}

/// Why a `K/N` shard specification is invalid.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ShardError {
    /// Not of the form `K/N`.
    #[error("invalid shard `{0}`: expected K/N with whole numbers, 1 <= K <= N (e.g. 2/4)")]
    Syntax(String),
    /// `K` or `N` out of range.
    #[error("invalid shard `{0}`: K must be between 1 and N, and N at least 1 (e.g. 2/4)")]
    Range(String),
}

impl std::str::FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (k, n) = s
            .trim()
            .split_once('/')
            .ok_or_else(|| ShardError::Syntax(s.to_owned()))?;
        let parse = |t: &str| {
            let t = t.trim();
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ShardError::Syntax(s.to_owned()));
            }
            t.parse::<u32>()
                .map_err(|_| ShardError::Range(s.to_owned()))
        };
        let (index, count) = (parse(k)?, parse(n)?);
        if count == 0 || index == 0 || index > count {
            return Err(ShardError::Range(s.to_owned()));
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The key an input is hashed by: its path relative to `root` when it lies under it,
/// with `/` separators and without a leading `./`.
pub fn normalise(path: &str, root: &Path) -> String {
    let p = Path::new(path);
    let rel = if p.is_absolute() {
        p.strip_prefix(root).unwrap_or(p)
    } else {
        p
    };
    let mut s = rel.to_string_lossy().replace('\\', "/");
    while let Some(rest) = s.strip_prefix("./") {
        s = rest.to_owned();
    }
    s
}

/// The 1-based shard of `count` that the input at `path` belongs to.
pub fn shard_of(path: &str, root: &Path, count: u32) -> u32 {
    let digest = Sha256::digest(normalise(path, root).as_bytes());
    let mut head = [0u8; 8];
    head.copy_from_slice(&digest[..8]);
    let n = u64::from_be_bytes(head) % u64::from(count.max(1));
    // `n < count`, which is a u32.
    u32::try_from(n).unwrap_or(0) + 1
}

impl Shard {
    /// Whether the input at `path` (as given, resolved against `root`) is in this shard.
    pub fn contains(&self, path: &str, root: &Path) -> bool {
        shard_of(path, root, self.count) == self.index
    }
}

/// A sharded run: which shard, and the directory paths are taken relative to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardOptions {
    /// The shard.
    pub shard: Shard,
    /// The current directory of the run.
    pub root: std::path::PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        for bad in ["0/3", "4/3", "1/0", "0/0"] {
            assert!(
                matches!(bad.parse::<Shard>(), Err(ShardError::Range(_))),
                "{bad}"
            );
        }
        for bad in ["", "3", "a/b", "1/", "/2", "-1/2", "1/2/3", "1.5/2"] {
            assert!(
                matches!(bad.parse::<Shard>(), Err(ShardError::Syntax(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn paths_are_normalised_before_hashing() {
        let root = Path::new("/repo");
        assert_eq!(normalise("./a/b.yaml", root), "a/b.yaml");
        assert_eq!(normalise("/repo/a/b.yaml", root), "a/b.yaml");
        assert_eq!(normalise("a\\b.yaml", root), "a/b.yaml");
        for n in 1..6 {
            assert_eq!(
                shard_of("a/b.yaml", root, n),
                shard_of("/repo/./a/b.yaml".replace("/./", "/").as_str(), root, n)
            );
        }
        // Fixed across platforms and releases: SHA-256 of "a/b.yaml".
        let every: Vec<u32> = (1..=8).map(|n| shard_of("a/b.yaml", root, n)).collect();
        assert!(every.iter().zip(1..).all(|(k, n)| *k >= 1 && *k <= n));
        assert_eq!(shard_of("x", root, 1), 1);
    }
}
