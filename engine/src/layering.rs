//! Keeps the dependency direction documented in `lib.rs` true.
//!
//! The crate documentation states the order of the engine's top-level modules
//! (`source, hint → inputs → … → cli`): each module uses only modules to its left, and
//! modules in one group (`lsp, serve`) use neither each other. Nothing in the compiler
//! enforces that inside one crate, so this test reads every source file, collects the
//! top-level modules its code names through `crate::` paths (`use crate::eval::…`,
//! `crate::{eval, report}`, `crate::report::Format::Json` in an expression), and fails on
//! every edge that points against the documented order, naming the file and line.
//!
//! Comments are not dependencies (rustdoc links may point anywhere to explain who calls
//! what), and neither is unit-test code: a `tests.rs` / `*_tests.rs` file or the
//! `#[cfg(test)] mod tests { … }` block that ends a file. Tests are leaves nothing else
//! uses, so they can use a higher layer's helper without creating a cycle.
//!
//! There is no allow-list: an edge against the order is either a layering bug to fix or a
//! sign that the documented order is wrong, and the fix belongs in the code or in `lib.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The documented order, read from `lib.rs`'s doc: a list of groups of module names.
fn documented_order(lib: &str) -> Vec<Vec<String>> {
    let doc: String = lib
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("//!"))
        .collect::<Vec<_>>()
        .join(" ");
    let start = doc
        .find("Dependencies point one way")
        .expect("lib.rs documents the dependency direction (\"Dependencies point one way\")");
    let rest = &doc[start..];
    let open = rest.find('`').expect("the order is written in backquotes") + 1;
    let close = open + rest[open..].find('`').expect("closing backquote");
    rest[open..close]
        .split('→')
        .map(|group| {
            group
                .split(',')
                .map(|m| m.trim().to_string())
                .filter(|m| !m.is_empty())
                .collect()
        })
        .collect()
}

/// The top-level modules `lib.rs` declares.
fn declared_modules(lib: &str) -> Vec<String> {
    lib.lines()
        .filter_map(|l| {
            let l = l.trim();
            let l = l.strip_prefix("pub ").unwrap_or(l);
            let name = l.strip_prefix("mod ")?.strip_suffix(';')?;
            Some(name.trim().to_string())
        })
        .filter(|m| m != "layering")
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code lines of a file: comments removed, and the closing unit-test module dropped.
fn code_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((i, line)) = lines.next() {
        let trimmed = line.trim();
        if trimmed == "#[cfg(test)]" {
            if let Some((_, next)) = lines.peek() {
                let next = next.trim();
                if next.starts_with("mod ") && next.ends_with('{') {
                    break;
                }
            }
        }
        let code = match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        };
        out.push((i + 1, code.to_string()));
    }
    out
}

/// The top-level modules named by `crate::` paths in `code`, each with its line.
fn crate_paths(lines: &[(usize, String)]) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    // Joined so that a `use crate::{…}` spanning lines is read whole; offsets map back.
    let mut text = String::new();
    let mut starts = Vec::new();
    for (n, l) in lines {
        starts.push((text.len(), *n));
        text.push_str(l);
        text.push('\n');
    }
    let line_at = |offset: usize| {
        let i = starts.partition_point(|(s, _)| *s <= offset);
        starts[i.saturating_sub(1)].1
    };
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut from = 0;
    while let Some(at) = text[from..].find("crate::") {
        let at = from + at;
        from = at + "crate::".len();
        // `policy_crate::x` or `my_crate::x` are not this crate.
        if text[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
        {
            continue;
        }
        let rest = text[from..].trim_start();
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a, b::c, d::{e, f}}`: the first name of each depth-0 item.
            let mut depth = 0;
            let mut item_start = 0;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        found.push((line_at(at), ident(&group[item_start..i])));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.push((line_at(at), ident(&group[item_start..i])));
                        item_start = i + 1;
                    }
                    _ => {}
                }
            }
        } else {
            found.push((line_at(at), ident(rest)));
        }
    }
    found.retain(|(_, m)| !m.is_empty());
    found
}

#[test]
fn module_dependencies_follow_the_order_documented_in_lib_rs() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("read lib.rs");
    let order = documented_order(&lib);
    let mut layer = BTreeMap::new();
    for (i, group) in order.iter().enumerate() {
        for m in group {
            assert!(
                layer.insert(m.clone(), i).is_none(),
                "lib.rs names {m} twice in the dependency order"
            );
        }
    }
    let declared = declared_modules(&lib);
    let mut sorted = declared.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        layer.keys().cloned().collect::<Vec<_>>(),
        "the dependency order in lib.rs must name every top-level module exactly once"
    );

    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut wrong = Vec::new();
    let mut edges = 0;
    for file in &files {
        let rel = file.strip_prefix(&src).expect("under src");
        let name = rel.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if name == "tests" || name.ends_with("_tests") {
            continue;
        }
        let top = match rel.components().next() {
            Some(c) if rel.components().count() > 1 => c.as_os_str().to_string_lossy().into(),
            _ => name.to_string(),
        };
        let Some(&from) = layer.get(&top) else {
            continue; // lib.rs, main.rs and this file
        };
        let text = std::fs::read_to_string(file).expect("read source");
        for (line, target) in crate_paths(&code_lines(&text)) {
            if target == top {
                continue;
            }
            let Some(&to) = layer.get(&target) else {
                continue; // a re-export at the crate root, such as `crate::Severity`
            };
            edges += 1;
            if to >= from {
                wrong.push(format!(
                    "src/{}:{line}: {top} uses {target}, which the order in lib.rs puts {}",
                    rel.display(),
                    if to == from {
                        "in its own group"
                    } else {
                        "after it"
                    }
                ));
            }
        }
    }
    assert!(
        edges > 100,
        "the scan found only {edges} cross-module paths"
    );
    assert!(
        wrong.is_empty(),
        "dependencies against the order documented in lib.rs:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_scanner_reads_grouped_multi_line_and_expression_paths() {
    let code = "use crate::{\n    eval::{self, Worker},\n    report,\n};\n\
                // use crate::cli::x;\n\
                let f = crate::inputs::format_from_name(p); // crate::lsp\n\
                let s = policy_crate::serve::x;\n\
                #[cfg(test)]\nmod tests {\n    use crate::session::Session;\n}\n";
    let found = crate_paths(&code_lines(code));
    assert_eq!(
        found,
        [
            (1, "eval".to_string()),
            (1, "report".to_string()),
            (6, "inputs".to_string())
        ]
    );
    let lib = "//! Dependencies point one way: `a, b → c →\n//! d`.\npub mod a;\n";
    assert_eq!(
        documented_order(lib),
        [
            vec!["a".to_string(), "b".to_string()],
            vec!["c".into()],
            vec!["d".into()]
        ]
    );
}
