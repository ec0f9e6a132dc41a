//! [`JsonPath`]: where in a document a finding points, built step by step while a policy
//! walks the document.
//!
//! The host turns the path into file:line:column through the document's source map, so a
//! policy never computes positions itself.

use crate::abi::PathSegment;

/// A path into a JSON document: object keys and array indices from the root.
///
/// ```
/// use policy_sdk::JsonPath;
/// let p = JsonPath::root().key("spec").key("containers").index(0);
/// assert_eq!(p.pointer(), "/spec/containers/0");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct JsonPath(Vec<PathSegment>);

impl JsonPath {
    /// The document root (an empty path).
    pub fn root() -> Self {
        JsonPath(Vec::new())
    }

    /// This path extended with an object key.
    pub fn key(&self, key: impl Into<String>) -> Self {
        let mut next = self.clone();
        next.0.push(PathSegment::Key(key.into()));
        next
    }

    /// This path extended with an array index.
    pub fn index(&self, index: usize) -> Self {
        let mut next = self.clone();
        next.0.push(PathSegment::Index(index));
        next
    }

    /// The segments.
    pub fn segments(&self) -> &[PathSegment] {
        &self.0
    }

    /// The path as an RFC 6901 JSON Pointer (`""` for the root).
    pub fn pointer(&self) -> String {
        let mut out = String::new();
        for seg in &self.0 {
            out.push('/');
            match seg {
                PathSegment::Index(i) => out.push_str(&i.to_string()),
                PathSegment::Key(k) => out.push_str(&k.replace('~', "~0").replace('/', "~1")),
            }
        }
        out
    }
}

impl From<Vec<PathSegment>> for JsonPath {
    fn from(v: Vec<PathSegment>) -> Self {
        JsonPath(v)
    }
}

impl From<JsonPath> for Vec<PathSegment> {
    fn from(p: JsonPath) -> Self {
        p.0
    }
}

impl IntoIterator for JsonPath {
    type Item = PathSegment;
    type IntoIter = std::vec::IntoIter<PathSegment>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a JsonPath {
    type Item = PathSegment;
    type IntoIter = std::iter::Cloned<std::slice::Iter<'a, PathSegment>>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().cloned()
    }
}

impl std::fmt::Display for JsonPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.pointer())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_escapes_keys() {
        let p = JsonPath::root().key("a/b").key("c~d").index(3);
        assert_eq!(p.pointer(), "/a~1b/c~0d/3");
        assert_eq!(JsonPath::root().pointer(), "");
    }
}
