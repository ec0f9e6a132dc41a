//! The checks of hadolint and checkov, each mapped to the rules of ours that cover it or
//! to the reason none does: the coverage tables.
//!
//! Users coming from those tools need three things from one place: which of our rules
//! replaces a check they know (`policy rules --peer hadolint`), that their inline
//! ignores (`# hadolint ignore=DL3008`, `#checkov:skip=CKV_K8S_20`) keep working, and an
//! honest list of what is not covered. The tables are data (`peers/*.tsv`, one row per
//! peer check: ID, title, our rule IDs or `-`, note) so that a test can check them
//! against the loaded rules: every rule named exists, and a Rego rule's METADATA
//! `aliases` list exactly the peer checks mapped to it. Built-in WASM rules have no
//! METADATA block; their aliases come from these tables ([`covered_by`]).

use std::fmt;

/// A tool whose checks we map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Peer {
    /// hadolint (Dockerfiles), IDs `DLxxxx`.
    Hadolint,
    /// checkov (Dockerfiles and Kubernetes manifests), IDs `CKV_…`/`CKV2_…`.
    Checkov,
}

impl Peer {
    /// Every peer.
    pub const ALL: [Peer; 2] = [Peer::Hadolint, Peer::Checkov];

    /// The tool's name as typed on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Peer::Hadolint => "hadolint",
            Peer::Checkov => "checkov",
        }
    }

    /// Parses `hadolint` / `checkov` (any case).
    pub fn parse(s: &str) -> Option<Peer> {
        Peer::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
    }

    /// The tool an ID belongs to, from its form (`DL3008`, `CKV_K8S_20`, `CKV2_DOCKER_1`).
    pub fn of_id(id: &str) -> Option<Peer> {
        let upper = id.to_ascii_uppercase();
        if upper.starts_with("DL")
            && upper.len() == 6
            && upper[2..].bytes().all(|b| b.is_ascii_digit())
        {
            Some(Peer::Hadolint)
        } else if upper.starts_with("CKV_") || upper.starts_with("CKV2_") {
            Some(Peer::Checkov)
        } else {
            None
        }
    }

    fn table(self) -> &'static str {
        match self {
            Peer::Hadolint => include_str!("peers/hadolint.tsv"),
            Peer::Checkov => include_str!("peers/checkov.tsv"),
        }
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One row of a coverage table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    /// The peer.
    pub peer: Peer,
    /// The peer's check ID.
    pub id: &'static str,
    /// The peer's title for it.
    pub title: &'static str,
    /// Our rules that cover it (empty: none).
    pub ours: Vec<&'static str>,
    /// How ours differ, or why there is none.
    pub note: &'static str,
    /// 1-based line in the table (for the tests' messages).
    pub line: usize,
}

/// The rows of `peer`'s table, in order. Comment lines (`#`) and blank lines are skipped;
/// a row with fewer than three tab-separated fields is returned with what it has, and
/// the tests reject it.
pub fn table(peer: Peer) -> Vec<Coverage> {
    peer.table()
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|(i, l)| {
            let mut f = l.split('\t');
            let id = f.next().unwrap_or("").trim();
            let title = f.next().unwrap_or("").trim();
            let ours = f.next().unwrap_or("").trim();
            let note = f.next().unwrap_or("").trim();
            Coverage {
                peer,
                id,
                title,
                ours: if ours == "-" || ours.is_empty() {
                    Vec::new()
                } else {
                    ours.split(',').map(str::trim).collect()
                },
                note,
                line: i + 1,
            }
        })
        .collect()
}

/// The peer checks that `rule` covers, in table order (hadolint first).
pub fn covered_by(rule: &str) -> Vec<String> {
    Peer::ALL
        .into_iter()
        .flat_map(table)
        .filter(|c| c.ours.iter().any(|o| o.eq_ignore_ascii_case(rule)))
        .map(|c| c.id.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_well_formed_and_unique() {
        for peer in Peer::ALL {
            let rows = table(peer);
            assert!(rows.len() > 20, "{peer}");
            let mut seen = std::collections::HashSet::new();
            for r in &rows {
                assert_eq!(
                    Peer::of_id(r.id),
                    Some(peer),
                    "{peer}.tsv:{}: bad ID {:?}",
                    r.line,
                    r.id
                );
                assert!(
                    seen.insert(r.id),
                    "{peer}.tsv:{}: {} listed twice",
                    r.line,
                    r.id
                );
                assert!(!r.title.is_empty(), "{peer}.tsv:{}: no title", r.line);
                assert!(
                    !r.ours.is_empty() || !r.note.is_empty(),
                    "{peer}.tsv:{}: {} has no equivalent and no reason",
                    r.line,
                    r.id
                );
            }
        }
    }

    #[test]
    fn ids_name_their_peer() {
        assert_eq!(Peer::of_id("dl3008"), Some(Peer::Hadolint));
        assert_eq!(Peer::of_id("CKV2_K8S_5"), Some(Peer::Checkov));
        assert_eq!(Peer::of_id("DF001"), None);
        assert_eq!(Peer::of_id("DL30"), None);
        assert_eq!(Peer::parse("Hadolint"), Some(Peer::Hadolint));
        assert!(covered_by("DF100").contains(&"DL4006".to_string()));
    }
}
