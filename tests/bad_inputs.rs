//! Hostile and broken inputs: each must give a clear error with file:line:column, never a
//! panic, a stack overflow or a hang, and must not stop the other inputs from loading.

use std::path::{Path, PathBuf};

use policy_engine::inputs::discover::{collect_with_stdin, DiscoverOptions};
use policy_engine::inputs::{load_file, DocumentKind, FileReport, InputError, LoadOptions};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

fn load(path: &Path) -> FileReport {
    load_file(path, &LoadOptions::default(), true)
}

/// The only error of a report that loaded nothing.
fn sole_error(r: &FileReport) -> &InputError {
    assert!(r.documents.is_empty(), "{} loaded documents", r.path);
    assert!(r.skipped.is_none(), "{} skipped: {:?}", r.path, r.skipped);
    assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
    &r.errors[0]
}

fn temp_file(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn alias_bomb_is_refused() {
    let path = fixture("yaml/alias-bomb.yaml");
    let r = load(&path);
    let e = sole_error(&r);
    assert_eq!(e.path, path.display().to_string());
    // The alias at which the expansion passed the limit.
    assert_eq!((e.line, e.column), (6, 10));
    assert!(e.message.contains("alias bomb"), "{}", e.message);
    assert!(e
        .to_string()
        .contains("alias-bomb.yaml:6:10: invalid YAML: aliases in this file expand"));
}

#[test]
fn ten_thousand_deep_yaml_flow_nesting() {
    let tmp = tempfile::tempdir().unwrap();
    let text = format!("key: {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
    let r = load(&temp_file(tmp.path(), "deep.yaml", text));
    let e = sole_error(&r);
    // "key: " then the 256th bracket.
    assert_eq!((e.line, e.column), (1, 261));
    assert!(e.message.contains("too deep"), "{}", e.message);
}

#[test]
fn ten_thousand_deep_json_nesting() {
    let tmp = tempfile::tempdir().unwrap();
    let arrays = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let r = load(&temp_file(tmp.path(), "deep.json", arrays));
    let e = sole_error(&r);
    assert_eq!((e.line, e.column), (1, 256));
    assert!(
        e.message.starts_with("invalid JSON: nesting"),
        "{}",
        e.message
    );

    let objects = format!("{}1{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    let r = load(&temp_file(tmp.path(), "deep-objects.json", objects));
    let e = sole_error(&r);
    assert_eq!((e.line, e.column), (1, 1276));
}

#[test]
fn deep_block_nesting_is_bounded_by_max_depth() {
    let tmp = tempfile::tempdir().unwrap();
    let text: String = (0..1_000)
        .map(|i| format!("{}k:\n", " ".repeat(i)))
        .collect();
    let path = temp_file(tmp.path(), "deep-block.yaml", text);
    let r = load(&path);
    let e = sole_error(&r);
    // The 257th mapping starts on line 257, indented by 256 spaces.
    assert_eq!((e.line, e.column), (257, 257));
    assert_eq!(
        e.message,
        "invalid YAML: nesting is deeper than 256 levels; refusing to load it"
    );
    // A lower limit applies too.
    let opts = LoadOptions {
        max_depth: 3,
        ..LoadOptions::default()
    };
    let r = load_file(&path, &opts, true);
    assert_eq!((r.errors[0].line, r.errors[0].column), (4, 4));
}

#[test]
fn invalid_utf8_points_at_the_first_bad_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let r = load(&temp_file(
        tmp.path(),
        "latin1.yaml",
        b"a: 1\nname: caf\xe9\n",
    ));
    let e = sole_error(&r);
    assert_eq!((e.line, e.column), (2, 10));
    assert!(e.message.starts_with("invalid UTF-8"), "{}", e.message);
}

#[test]
fn empty_and_comment_only_files() {
    let tmp = tempfile::tempdir().unwrap();
    let r = load(&temp_file(tmp.path(), "empty.yaml", ""));
    let e = sole_error(&r);
    assert_eq!((e.line, e.column), (1, 1));
    assert_eq!(e.message, "empty file: nothing to check");

    let r = load(&temp_file(tmp.path(), "blank.json", "  \n\n"));
    assert_eq!(sole_error(&r).message, "empty file: nothing to check");

    let r = load(&fixture("yaml/comments-only.yaml"));
    let e = sole_error(&r);
    assert_eq!((e.line, e.column), (1, 1));
    assert!(e.message.starts_with("no documents"), "{}", e.message);
}

#[test]
fn binary_file_is_an_error_at_its_first_nul() {
    let tmp = tempfile::tempdir().unwrap();
    let r = load(&temp_file(tmp.path(), "image.yaml", b"ab\ncd\x00\x01\x02"));
    let e = sole_error(&r);
    assert_eq!((e.line, e.column), (2, 3));
    assert!(e.message.starts_with("binary file"), "{}", e.message);
}

#[test]
fn syntax_error_in_second_of_three_documents() {
    let path = fixture("yaml/syntax-error-doc2.yaml");
    let r = load(&path);
    assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
    let e = &r.errors[0];
    assert_eq!(
        e.to_string(),
        format!(
            "{}:10:9: invalid YAML: illegal placement of ':' indicator",
            path.display()
        )
    );
    let names: Vec<_> = r
        .documents
        .iter()
        .map(|d| d.value["metadata"]["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(names, ["first", "third"]);
    // The third document keeps its real positions.
    let third = &r.documents[1];
    assert_eq!(third.kind, DocumentKind::Kubernetes);
    assert_eq!(third.span.start.line, 12);
    assert_eq!(
        third.source_map.get("/metadata/name").map(|s| s.start),
        Some(policy_engine::source::Position::new(15, 9))
    );
}

#[test]
fn invalid_json_has_a_position() {
    let tmp = tempfile::tempdir().unwrap();
    let r = load(&temp_file(
        tmp.path(),
        "broken.json",
        "{\n  \"a\": [1, 2\n}\n",
    ));
    let e = sole_error(&r);
    assert_eq!(e.line, 3);
    assert!(e.message.starts_with("invalid JSON:"), "{}", e.message);
}

#[test]
fn forced_image_kind_on_other_json_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let path = temp_file(tmp.path(), "x.json", "\n{\"hello\": 1}\n");
    let opts = LoadOptions {
        kind: Some(DocumentKind::Image),
        ..LoadOptions::default()
    };
    let r = load_file(&path, &opts, true);
    let e = sole_error(&r);
    assert_eq!((e.line, e.column), (2, 1));
    assert!(e.message.starts_with("not recognised as image metadata"));
}

#[cfg(unix)]
#[test]
fn symlink_loop_in_a_directory_is_reported_and_the_walk_continues() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("repo");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(root.join("a.yaml"), "a: 1\n").unwrap();
    std::fs::write(root.join("sub/z.yaml"), "z: 1\n").unwrap();
    std::os::unix::fs::symlink("..", root.join("sub/loop")).unwrap();
    std::os::unix::fs::symlink("self.yaml", root.join("self.yaml")).unwrap();
    let reports = collect_with_stdin(
        std::slice::from_ref(&root),
        &DiscoverOptions::default(),
        &mut std::io::empty(),
    );
    let loop_path = root.join("sub/loop").display().to_string();
    let self_path = root.join("self.yaml").display().to_string();
    let find = |p: &str| {
        reports
            .iter()
            .find(|r| &*r.path == p)
            .unwrap_or_else(|| panic!("no report for {p}: {:?}", paths(&reports)))
    };
    let e = sole_error(find(&loop_path));
    assert!(e.message.starts_with("symbolic link loop"), "{}", e.message);
    assert_eq!(e.path, loop_path);
    let e = sole_error(find(&self_path));
    assert_eq!(e.path, self_path);
    assert!(e.message.contains("symbolic links"), "{}", e.message);
    // Everything else still loads.
    for ok in ["a.yaml", "sub/z.yaml"] {
        let r = find(&root.join(ok).display().to_string());
        assert_eq!(r.documents.len(), 1);
    }
}

fn paths(reports: &[FileReport]) -> Vec<String> {
    reports.iter().map(|r| r.path.to_string()).collect()
}

#[test]
fn missing_and_oversized_inputs_are_listed() {
    let tmp = tempfile::tempdir().unwrap();
    let big = temp_file(tmp.path(), "big.yaml", "a: 1\n".repeat(100));
    let missing = tmp.path().join("missing.yaml");
    let opts = DiscoverOptions {
        load: LoadOptions {
            max_file_size: 100,
            ..LoadOptions::default()
        },
        ..DiscoverOptions::default()
    };
    let reports = collect_with_stdin(&[missing.clone(), big], &opts, &mut std::io::empty());
    assert_eq!(reports.len(), 2);
    assert!(reports[0].errors[0].message.starts_with("cannot read file"));
    assert_eq!(
        reports[1].skipped.as_deref(),
        Some("file is 500 bytes, larger than the 100-byte limit")
    );
    // stdin obeys the limit too.
    let mut stdin: &[u8] = &[b'a'; 101];
    let reports = collect_with_stdin(&[PathBuf::from("-")], &opts, &mut stdin);
    assert!(reports[0]
        .skipped
        .as_deref()
        .unwrap_or("")
        .contains("100-byte limit"));
}

#[test]
fn unterminated_quote_loses_only_its_document() {
    let tmp = tempfile::tempdir().unwrap();
    let text = "a: 1\n---\nb: \"unterminated\n---\nc: 3\n";
    let r = load(&temp_file(tmp.path(), "quote.yaml", text));
    let values: Vec<_> = r.documents.iter().map(|d| d.value.clone()).collect();
    assert_eq!(
        values,
        [serde_json::json!({"a": 1}), serde_json::json!({"c": 3})]
    );
    assert_eq!(r.documents[1].span.start.line, 5);
    assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
    let e = &r.errors[0];
    // Where the unterminated quote starts.
    assert_eq!((e.line, e.column), (3, 4));
    assert!(e.message.contains("quoted scalar"), "{}", e.message);
}

#[test]
fn error_in_first_document_keeps_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let text = "%YAML 1.2\n---\nkey: [unclosed\n%YAML 1.2\n---\nkind: ok\n";
    let r = load(&temp_file(tmp.path(), "first.yaml", text));
    assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
    let e = &r.errors[0];
    // The end of the broken document: the unclosed `[` runs into the next part.
    assert_eq!((e.line, e.column), (4, 1));
    assert!(e.message.contains("flow sequence"), "{}", e.message);
    assert_eq!(r.documents.len(), 1);
    assert_eq!(r.documents[0].value, serde_json::json!({"kind": "ok"}));
}
