//! `file:` URIs ↔ paths.
//!
//! Editors name documents by URI. The engine names them by path: configuration
//! exceptions and `exclude` patterns match paths, and policy files are read from disk. Only
//! `file:` URIs have a path; any other scheme (`untitled:`) is checked under the name the
//! URI gives it but never matched against the file system.

use std::path::{Path, PathBuf};

use lsp_types::Uri;

/// The path of a `file:` URI, percent-decoded; `None` for other schemes.
pub fn to_path(uri: &Uri) -> Option<PathBuf> {
    let s = uri.as_str();
    let rest = s
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("file://"))
        .map(|_| &s[7..])?;
    // Skip the authority (`localhost`, or empty).
    let path = &rest[rest.find('/')?..];
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let decoded = percent_decode(path)?;
    // `/C:/x` is `C:/x` on Windows.
    if cfg!(windows) {
        let b = decoded.as_bytes();
        if b.len() >= 3 && b[0] == b'/' && b[1].is_ascii_alphabetic() && b[2] == b':' {
            return Some(PathBuf::from(&decoded[1..]));
        }
    }
    Some(PathBuf::from(decoded))
}

/// The `file:` URI of an absolute path.
pub fn from_path(path: &Path) -> Option<Uri> {
    let s = path.to_str()?.replace('\\', "/");
    let mut out = String::from("file://");
    if !s.starts_with('/') {
        out.push('/');
    }
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out.parse().ok()
}

/// A name for a document: its path for `file:` URIs, else the URI's last segment
/// (`untitled:Untitled-1` → `Untitled-1`).
pub fn display_name(uri: &Uri) -> String {
    match to_path(uri) {
        Some(p) => p.display().to_string(),
        None => {
            let s = uri.as_str();
            let s = s.split(['?', '#']).next().unwrap_or(s);
            let last = s.rsplit(['/', ':']).next().unwrap_or(s);
            percent_decode(last).unwrap_or_else(|| last.to_string())
        }
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> Uri {
        s.parse().expect("valid URI")
    }

    #[test]
    fn file_uris_round_trip_through_paths() {
        let p = to_path(&uri("file:///tmp/my%20dir/Dockerfile")).expect("file URI");
        assert_eq!(p, PathBuf::from("/tmp/my dir/Dockerfile"));
        assert_eq!(
            to_path(&uri("file://localhost/etc/x.yaml")),
            Some(PathBuf::from("/etc/x.yaml"))
        );
        assert_eq!(to_path(&uri("untitled:Untitled-1")), None);
        if cfg!(unix) {
            let back = from_path(Path::new("/tmp/my dir/é.rego")).expect("uri");
            assert_eq!(back.as_str(), "file:///tmp/my%20dir/%C3%A9.rego");
            assert_eq!(to_path(&back), Some(PathBuf::from("/tmp/my dir/é.rego")));
        }
    }

    #[test]
    fn other_schemes_are_named_by_their_last_segment() {
        assert_eq!(display_name(&uri("untitled:Untitled-1")), "Untitled-1");
        assert_eq!(display_name(&uri("file:///a/Dockerfile")), "/a/Dockerfile");
    }

    #[test]
    fn bad_escapes_are_not_paths() {
        assert_eq!(percent_decode("/a%ZZ"), None);
        assert_eq!(percent_decode("%4"), Some("%4".to_string()));
    }
}
