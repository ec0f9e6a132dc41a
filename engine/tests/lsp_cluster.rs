//! End-to-end tests of cross-document rules in `policy lsp` (issue 9): a buffer is
//! checked within the workspace's files plus the unsaved buffers, and an edit of one
//! buffer re-publishes the others whose findings depend on it.
//!
//! The client is the one of `lsp.rs`: the binary spoken to over stdio.

use std::path::Path;

use serde_json::{json, Value};

use super::lsp::{file_uri, Client};

const NAMESPACE: &str = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels:\n    pod-security.kubernetes.io/enforce: restricted\n";

/// A Deployment whose pods restricted forbids (root, privilege escalation) and baseline
/// allows.
const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n        - name: web\n          image: nginx:1.27\n";

const SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  selector:\n    app: wbe\n  ports: [{port: 80}]\n";

/// The rule IDs of diagnostics: each one's code, then the rules merged into it
/// (`data.relatedRules`: a PSS check at the same node as a K8S rule).
fn codes(diags: &[Value]) -> Vec<String> {
    diags
        .iter()
        .flat_map(|d| {
            std::iter::once(&d["code"])
                .chain(d["data"]["relatedRules"].as_array().into_iter().flatten())
        })
        .filter_map(|c| c.as_str().map(str::to_string))
        .collect()
}

/// The diagnostics published next for `uri`, taking them in order, until `done` holds
/// (earlier publications are consumed, so a later wait never sees a stale one).
fn until(c: &mut Client, uri: &str, what: &str, done: impl Fn(&[String]) -> bool) -> Vec<Value> {
    loop {
        let diags = c.diagnostics(uri, None);
        if done(&codes(&diags)) {
            return diags;
        }
        eprintln!("{uri}: not yet {what}: {:?}", codes(&diags));
    }
}

fn has(codes: &[String], id: &str) -> bool {
    codes.iter().any(|c| c == id)
}

fn pss(codes: &[String]) -> bool {
    codes.iter().any(|c| c.starts_with("PSS-"))
}

/// Replaces a buffer's whole text (line count of the old text given).
fn replace(c: &mut Client, uri: &str, version: i64, old: &str, new: &str) {
    let lines = old.lines().count();
    c.notify(
        "textDocument/didChange",
        json!({
            "textDocument": {"uri": uri, "version": version},
            "contentChanges": [{
                "range": {"start": {"line": 0, "character": 0}, "end": {"line": lines, "character": 0}},
                "text": new,
            }],
        }),
    );
}

fn start(dir: &Path) -> Client {
    let mut c = Client::spawn_with(dir, &[], &[]);
    c.initialize(dir, json!({"failOn": "low"}));
    c
}

/// The Namespace decides the Deployment's Pod Security findings: renaming it in an
/// unsaved buffer makes the Deployment's namespace undeclared (K8S010) and lifts the
/// restricted checks; closing the buffer unsaved brings the file on disk back; a change on
/// disk reported by the client's watcher is picked up.
#[test]
fn an_unsaved_namespace_edit_changes_the_deployments_diagnostics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ns_path = dir.path().join("namespace.yaml");
    std::fs::write(&ns_path, NAMESPACE).expect("write");
    std::fs::write(dir.path().join("web.yaml"), DEPLOYMENT).expect("write");
    let ns = file_uri(&ns_path);
    let web = file_uri(&dir.path().join("web.yaml"));
    let mut c = start(dir.path());

    // Only the Deployment is open: the Namespace comes from disk.
    c.open(&web, "yaml", DEPLOYMENT);
    let diags = c.diagnostics(&web, Some(1));
    let ids = codes(&diags);
    assert!(has(&ids, "PSS-RUN-AS-NON-ROOT"), "{ids:?}");
    assert!(!has(&ids, "K8S010"), "{ids:?}");

    // The Namespace renamed in its buffer, not saved.
    c.open(&ns, "yaml", NAMESPACE);
    let _ = c.diagnostics(&ns, Some(1));
    let renamed = NAMESPACE.replace("name: shop", "name: shop-old");
    replace(&mut c, &ns, 2, NAMESPACE, &renamed);
    let diags = until(&mut c, &web, "K8S010 without PSS", |ids| {
        has(ids, "K8S010") && !pss(ids)
    });
    let k8s010 = diags
        .iter()
        .find(|d| d["code"] == "K8S010")
        .expect("K8S010");
    // At the Deployment's `metadata.namespace` (line 5, `namespace: shop`).
    assert_eq!(k8s010["range"]["start"]["line"], 4, "{k8s010:#}");
    assert!(
        k8s010["message"]
            .as_str()
            .is_some_and(|m| m.contains("namespace \"shop\", which is not declared")),
        "{k8s010:#}"
    );

    // Closed without saving: the file on disk is the Namespace again.
    c.notify(
        "textDocument/didClose",
        json!({"textDocument": {"uri": ns}}),
    );
    until(&mut c, &web, "PSS back, K8S010 gone", |ids| {
        pss(ids) && !has(ids, "K8S010")
    });

    // Another tool relabels the Namespace baseline on disk; the client's watcher says so.
    std::fs::write(
        &ns_path,
        NAMESPACE.replace("enforce: restricted", "enforce: baseline"),
    )
    .expect("write");
    c.notify(
        "workspace/didChangeWatchedFiles",
        json!({"changes": [{"uri": ns, "type": 2}]}),
    );
    until(&mut c, &web, "no restricted checks", |ids| {
        !pss(ids) && !has(ids, "K8S010")
    });
    assert_eq!(c.shutdown_and_exit(), 0);
}

/// A Service whose selector matches no workload gets K8S103 until an unsaved buffer with
/// a matching Deployment is opened, and again when that buffer's labels stop matching.
#[test]
fn a_service_selector_finding_follows_the_open_deployment_buffers() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("web.yaml"), DEPLOYMENT).expect("write");
    std::fs::write(dir.path().join("service.yaml"), SERVICE).expect("write");
    let svc = file_uri(&dir.path().join("service.yaml"));
    let mut c = start(dir.path());

    c.open(&svc, "yaml", SERVICE);
    let diags = c.diagnostics(&svc, Some(1));
    let k8s103 = diags
        .iter()
        .find(|d| d["code"] == "K8S103")
        .unwrap_or_else(|| panic!("no K8S103 in {diags:#?}"));
    // At the Service's `spec.selector` (line 7, `  selector:`).
    assert_eq!(k8s103["range"]["start"]["line"], 6, "{k8s103:#}");

    // A new file, never saved, whose Deployment the selector matches.
    let canary_text = DEPLOYMENT
        .replace("name: web", "name: canary")
        .replace("app: web", "app: wbe");
    let canary = file_uri(&dir.path().join("canary.yaml"));
    c.open(&canary, "yaml", &canary_text);
    until(&mut c, &svc, "K8S103 gone", |ids| !has(ids, "K8S103"));

    // Its labels changed back: the selector matches nothing again.
    replace(
        &mut c,
        &canary,
        2,
        &canary_text,
        &canary_text.replace("app: wbe", "app: other"),
    );
    until(&mut c, &svc, "K8S103 back", |ids| has(ids, "K8S103"));
    assert_eq!(c.shutdown_and_exit(), 0);
}

/// Diagnostics published after edits (the server reuses what it computed for the
/// documents whose value did not change, and locates it again in the new text) are
/// exactly those of the same text opened afresh: after lines inserted above documents,
/// a value typed into, a document added, and Pod Security labels added to a Namespace.
#[test]
fn edits_publish_what_a_fresh_open_of_the_same_text_publishes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("all.yaml");
    let uri = file_uri(&path);
    let plain_ns = NAMESPACE.replace(
        "  labels:\n    pod-security.kubernetes.io/enforce: restricted\n",
        "",
    );
    let privileged = DEPLOYMENT.replace(
        "          image: nginx:1.27\n",
        "          image: nginx:1.27\n          securityContext: {privileged: true}\n",
    );
    let first = format!("# notes\n---\n{plain_ns}---\n{DEPLOYMENT}---\n{SERVICE}---\n{privileged}");
    let texts = [
        // Lines inserted above every document: each one moves, no value changes.
        first.replace("# notes\n", "# notes\n\n\n# more notes\n"),
        // A value typed into (the Service's selector now matches).
        first.replace("app: wbe", "app: web"),
        // A document added in the middle.
        first.replace(
            &format!("---\n{SERVICE}"),
            &format!(
                "---\n{}---\n{SERVICE}",
                DEPLOYMENT.replace("name: web", "name: api")
            ),
        ),
        // The Namespace enforces restricted: the Pod Security rules load.
        first.replace(&plain_ns, NAMESPACE),
    ];
    let mut c = start(dir.path());
    c.open(&uri, "yaml", &first);
    let _ = c.diagnostics(&uri, Some(1));
    let mut old = first.clone();
    for (i, text) in texts.iter().enumerate() {
        // Edited: version 2 of the buffer opened at version 1.
        replace(&mut c, &uri, 2, &old, text);
        let edited = c.diagnostics(&uri, Some(2));
        // The same text opened afresh (nothing kept from earlier versions).
        c.notify(
            "textDocument/didClose",
            json!({"textDocument": {"uri": uri}}),
        );
        c.open(&uri, "yaml", text);
        let fresh = c.diagnostics(&uri, Some(1));
        assert_eq!(edited, fresh, "edit {i}:\n{text}");
        assert!(!fresh.is_empty(), "edit {i}: no diagnostics at all");
        old = text.clone();
    }
    assert_eq!(c.shutdown_and_exit(), 0);
}
