//! "Did you mean" hints for names a person typed: configuration keys, severities, rule IDs.
//!
//! It exists so that the configuration checks ([`crate::config`]) and inline suppressions
//! ([`crate::eval::suppress`]) suggest alike, without one layer reaching into the other.

/// Edit distance (Levenshtein, by characters).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest of `candidates` to `word`, when it is close enough to be a likely typo.
/// Case is ignored and `_` counts as `-`.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase().replace('_', "-");
    candidates
        .into_iter()
        .map(|c| (distance(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(d, c)| *d <= (c.chars().count() / 2).clamp(1, 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_get_a_hint_only_when_close() {
        let ids = ["DF001", "DF002", "K8S001"];
        assert_eq!(suggest("DF0001", ids), Some("DF001"));
        assert_eq!(suggest("k8s01", ids), Some("K8S001"));
        assert_eq!(suggest("IMG123", ids), None);
    }
}
