//! Inputs from the user's point of view: files in, documents out, with exact positions.
//!
//! YAML positions (multi-document, `kind: List`, flow style, block scalars, anchors), one
//! fixture per image metadata format with its normalised fields, OCI layouts, and file
//! discovery (walking, `.gitignore`, stdin).

use std::path::{Path, PathBuf};

use policy_engine::inputs::discover::{collect_with_stdin, DiscoverOptions};
use policy_engine::inputs::{load_file, Document, DocumentKind, FileReport, LoadOptions};
use policy_engine::source::{Position, Span};
use policy_engine::PathSegment;
use serde_json::json;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

fn load(rel: &str) -> FileReport {
    let report = load_file(&fixture(rel), &LoadOptions::default(), true);
    assert!(report.errors.is_empty(), "{rel}: {:?}", report.errors);
    assert!(report.skipped.is_none(), "{rel}: {:?}", report.skipped);
    report
}

fn span(l1: u32, c1: u32, l2: u32, c2: u32) -> Span {
    Span::new(Position::new(l1, c1), Position::new(l2, c2))
}

/// The span of a pointer, which must be recorded exactly.
fn at(doc: &Document, pointer: &str) -> Span {
    doc.source_map
        .get(pointer)
        .unwrap_or_else(|| panic!("no span for {pointer}"))
}

fn path(segments: &[&str]) -> Vec<PathSegment> {
    segments
        .iter()
        .map(|s| match s.parse::<usize>() {
            Ok(i) => PathSegment::Index(i),
            Err(_) => PathSegment::Key((*s).to_string()),
        })
        .collect()
}

#[test]
fn yaml_nested_path_in_third_document() {
    let r = load("yaml/multi.yaml");
    assert_eq!(r.documents.len(), 3);
    let d = &r.documents[2];
    assert_eq!(d.index, 2);
    assert_eq!(d.kind, DocumentKind::Kubernetes);
    assert_eq!(
        d.value["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.27"
    );
    let image = "/spec/template/spec/containers/0/image";
    assert_eq!(at(d, image), span(29, 18, 29, 28));
    assert_eq!(d.source_map.get_key(image), Some(span(29, 11, 29, 16)));
    // What a finding on that path underlines: from the key to the end of the value.
    let p = path(&["spec", "template", "spec", "containers", "0", "image"]);
    assert_eq!(d.locate(&p), span(29, 11, 29, 28));
    assert_eq!(at(d, "/spec/template/spec/containers"), span(28, 9, 33, 26));
    assert_eq!(
        at(d, "/spec/template/spec/containers/0"),
        span(28, 11, 33, 26)
    );
    assert_eq!(
        at(
            d,
            "/spec/template/spec/containers/0/securityContext/capabilities/drop/0"
        ),
        span(33, 22, 33, 25)
    );
    // A path that does not exist resolves to its nearest ancestor: its key when it has
    // one, else the first line of it (not the whole block beneath it).
    let missing = path(&[
        "spec",
        "template",
        "spec",
        "containers",
        "0",
        "resources",
        "limits",
    ]);
    assert_eq!(d.locate(&missing), span(28, 11, 28, 20));
    assert_eq!(d.span, span(18, 1, 33, 26));
    // The first document starts after the leading comment.
    assert_eq!(r.documents[0].span.start, Position::new(2, 1));
}

#[test]
fn yaml_flow_style_and_block_scalars() {
    let r = load("yaml/multi.yaml");
    let cm = &r.documents[1];
    assert_eq!(cm.value["data"]["greeting"], "hello: world");
    assert_eq!(at(cm, "/data/greeting"), span(13, 13, 13, 27));
    assert_eq!(cm.value["data"]["script"], "#!/bin/sh\necho ready\n");
    assert_eq!(at(cm, "/data/script"), span(15, 5, 16, 15));
    assert_eq!(
        cm.source_map.get_key("/data/script"),
        Some(span(14, 3, 14, 9))
    );
    let deploy = &r.documents[2];
    assert_eq!(
        deploy.value["metadata"]["labels"],
        json!({"app": "web", "tier": "front"})
    );
    assert_eq!(at(deploy, "/metadata/labels"), span(22, 11, 22, 36));
    assert_eq!(at(deploy, "/metadata/labels/tier"), span(22, 28, 22, 35));
    assert_eq!(
        deploy.source_map.get_key("/metadata/labels/tier"),
        Some(span(22, 22, 22, 26))
    );
}

#[test]
fn kind_list_expands_into_documents_with_relative_pointers() {
    let r = load("yaml/list.yaml");
    assert_eq!(r.documents.len(), 2);
    let (svc, pod) = (&r.documents[0], &r.documents[1]);
    assert_eq!(svc.kind, DocumentKind::Kubernetes);
    assert_eq!(svc.value["kind"], "Service");
    assert_eq!(pod.value["kind"], "Pod");
    assert_eq!((svc.index, pod.index), (0, 1));
    // Pointers are relative to the item; spans stay absolute file positions.
    assert_eq!(at(pod, "/spec/hostNetwork"), span(16, 20, 16, 24));
    assert_eq!(at(svc, "/spec/ports/0/port"), span(10, 17, 10, 19));
    assert_eq!(pod.span.start, Position::new(11, 5));
    assert!(pod.source_map.get("/items").is_none());
}

#[test]
fn anchors_aliases_and_merge_keys() {
    let r = load("yaml/anchors.yaml");
    let d = &r.documents[0];
    assert_eq!(d.kind, DocumentKind::Yaml);
    assert_eq!(
        d.value["services"],
        json!({
            "api": {"image": "api:2.0", "pullPolicy": "IfNotPresent"},
            "worker": {"image": "alpine:3.20", "pullPolicy": "IfNotPresent"}
        })
    );
    // YAML 1.2: `on` and `yes` stay strings, `0644` is decimal.
    assert_eq!(d.value["flags"], json!(["on", "yes", "on"]));
    assert_eq!(d.value["mode"], json!(644));
    assert_eq!(at(d, "/services/api/image"), span(7, 12, 7, 19));
    // Merged and aliased values point at the alias that brought them in.
    assert_eq!(at(d, "/services/worker/pullPolicy"), span(9, 9, 9, 18));
    assert_eq!(at(d, "/flags/2"), span(13, 5, 13, 13));
}

#[test]
fn workflow_is_detected() {
    let r = load("yaml/workflow.yml");
    let d = &r.documents[0];
    assert_eq!(d.kind, DocumentKind::Workflow);
    assert_eq!(d.value["on"]["push"]["branches"], json!(["main"]));
    assert_eq!(at(d, "/jobs/build/steps/0/uses"), span(9, 15, 9, 34));
}

fn image(rel: &str) -> Document {
    let r = load(rel);
    assert_eq!(r.documents.len(), 1, "{rel}");
    let d = r.documents.into_iter().next().unwrap();
    assert_eq!(d.kind, DocumentKind::Image, "{rel}");
    d
}

#[test]
fn image_docker_inspect() {
    let d = image("image/docker-inspect.json");
    let v = &d.value;
    assert_eq!(v["format"], "docker-inspect");
    assert_eq!(v["user"], "root");
    assert_eq!(v["name"], "registry.example.com/shop/web:1.4.2");
    assert_eq!(v["exposed_ports"], json!(["8080/tcp", "9090/tcp"]));
    assert_eq!(v["env"]["APP_ENV"], "production");
    assert_eq!(v["env"]["DEBUG"], json!(null));
    assert_eq!(v["entrypoint"], json!(["/usr/local/bin/web"]));
    assert_eq!(v["cmd"], json!(["--port", "8080"]));
    assert_eq!(v["working_dir"], "/srv/app");
    assert_eq!(v["volumes"], json!(["/var/cache/app"]));
    assert_eq!(v["stop_signal"], "SIGTERM");
    assert_eq!(v["healthcheck"]["Test"][0], "CMD");
    assert_eq!(v["architecture"], "arm64");
    assert_eq!(v["variant"], "v8");
    assert_eq!(v["size"], 48213770);
    assert_eq!(v["layers"].as_array().map(Vec::len), Some(2));
    assert_eq!(v["raw"]["Config"]["User"], "root");
    // Normalised fields point at the raw field they came from.
    assert_eq!(at(&d, "/user"), span(18, 15, 18, 21));
    assert_eq!(at(&d, "/raw/Config/User"), span(18, 15, 18, 21));
    assert_eq!(at(&d, "/env/APP_ENV"), span(31, 9, 31, 29));
    assert_eq!(at(&d, "/exposed_ports/0"), span(23, 9, 23, 19));
}

#[test]
fn image_oci_config() {
    let d = image("image/oci-config.json");
    let v = &d.value;
    assert_eq!(v["format"], "oci-config");
    assert_eq!(v["user"], "10001:10001");
    assert_eq!(v["cmd"], json!(null));
    assert_eq!(v["entrypoint"], json!(["/app/server"]));
    assert_eq!(v["labels"]["org.opencontainers.image.version"], "2.3.0");
    assert_eq!(v["author"], "Shop Team <team@example.com>");
    assert_eq!(v["history"][1]["created_by"], "USER 10001:10001");
    assert_eq!(v["history"][1]["empty_layer"], true);
    assert_eq!(v["history"][0]["empty_layer"], false);
    assert_eq!(v["layers"][0]["size"], json!(null));
    assert_eq!(at(&d, "/user"), span(7, 13, 7, 26));
    assert_eq!(at(&d, "/history/1/created_by").start.line, 39);
}

#[test]
fn image_docker_config() {
    let d = image("image/docker-config.json");
    assert_eq!(d.value["format"], "docker-config");
    assert_eq!(d.value["user"], "");
    assert_eq!(d.value["healthcheck"], json!({"Test": ["NONE"]}));
}

#[test]
fn image_oci_manifest() {
    let d = image("image/oci-manifest.json");
    let v = &d.value;
    assert_eq!(v["format"], "oci-manifest");
    assert_eq!(
        v["media_type"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(v["layers"][1]["size"], 1500);
    assert_eq!(
        v["layers"][0]["media_type"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    assert_eq!(v["size"], 3001500);
    assert_eq!(
        v["annotations"]["org.opencontainers.image.created"],
        "2025-02-01T12:00:00Z"
    );
    assert_eq!(v["user"], json!(null));
}

#[test]
fn image_oci_index() {
    let d = image("image/oci-index.json");
    let v = &d.value;
    assert_eq!(v["format"], "oci-index");
    assert_eq!(v["manifests"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        v["manifests"][1]["platform"],
        json!({"os": "linux", "architecture": "arm64", "variant": "v8"})
    );
    assert_eq!(v["manifests"][0]["platform"]["variant"], json!(null));
    assert_eq!(at(&d, "/manifests/1/digest").start, Position::new(16, 17));
    assert_eq!(
        at(&d, "/manifests/1/platform/architecture").start,
        Position::new(19, 25)
    );
}

#[test]
fn image_docker_manifest_and_list() {
    let d = image("image/docker-manifest.json");
    assert_eq!(d.value["format"], "docker-manifest");
    assert_eq!(d.value["size"], 32654 + 16724);
    let d = image("image/docker-manifest-list.json");
    assert_eq!(d.value["format"], "docker-manifest-list");
    assert_eq!(d.value["manifests"][1]["platform"]["variant"], "v7");
    assert_eq!(d.value["manifests"][0]["size"], 7143);
}

#[test]
fn image_docker_manifest_schema1() {
    let d = image("image/docker-manifest-schema1.json");
    let v = &d.value;
    assert_eq!(v["format"], "docker-manifest-schema1");
    assert_eq!(v["name"], "library/busybox");
    assert_eq!(v["repo_tags"], json!(["library/busybox:1.36"]));
    assert_eq!(v["user"], "nobody");
    assert_eq!(v["author"], "ops@example.com");
    assert_eq!(v["layers"].as_array().map(Vec::len), Some(2));
    // Fields parsed out of the v1Compatibility string point at that string.
    assert_eq!(at(&d, "/user"), at(&d, "/raw/history/0/v1Compatibility"));
}

#[test]
fn image_skopeo_inspect() {
    let d = image("image/skopeo-inspect.json");
    let v = &d.value;
    assert_eq!(v["format"], "skopeo-inspect");
    assert_eq!(v["name"], "quay.io/example/api");
    assert_eq!(v["repo_tags"], json!(["1.0", "1.1", "latest"]));
    assert_eq!(v["env"], json!({"PATH": "/usr/bin", "LANG": "C.UTF-8"}));
    assert_eq!(v["layers"][1]["size"], 250);
    assert_eq!(v["size"], 350);
    assert_eq!(at(&d, "/digest").start, Position::new(3, 13));
    assert_eq!(at(&d, "/layers/1/size"), span(30, 15, 30, 18));
}

#[test]
fn image_oci_layout_directory() {
    let r = load_file(&fixture("image/layout"), &LoadOptions::default(), true);
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(r.documents.len(), 1);
    let d = &r.documents[0];
    let v = &d.value;
    assert_eq!(d.kind, DocumentKind::Image);
    assert_eq!(v["format"], "oci-layout");
    assert_eq!(v["name"], "shop/api:2.3.0");
    assert_eq!(v["user"], "10001:10001");
    assert_eq!(v["architecture"], "amd64");
    assert_eq!(v["layers"][0]["size"], 3000000);
    assert_eq!(
        v["digest"],
        "sha256:1858acd8dec945fe7951c7890e86401d33540725d83ff8e31da0b65704b03a6d"
    );
    assert!(v["raw"]["index"]["manifests"].is_array());
    // The document's source is the config blob, so `/user` points into it.
    assert!(d
        .path
        .ends_with("ecfcc16f0d12b90182309febca9fd95a2a2f105f553a46b7a9bc25843b295594"));
    assert_eq!(at(d, "/user"), span(7, 13, 7, 26));
}

#[test]
fn oci_layout_missing_and_corrupt_blobs_are_reported_at_their_descriptor() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("layout");
    copy_dir(&fixture("image/layout"), &dir);
    let config =
        dir.join("blobs/sha256/ecfcc16f0d12b90182309febca9fd95a2a2f105f553a46b7a9bc25843b295594");
    std::fs::write(&config, "{}\n").unwrap();
    let r = load_file(&dir, &LoadOptions::default(), true);
    assert!(r.documents.is_empty());
    assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
    let e = &r.errors[0];
    assert!(e.message.contains("is corrupt"), "{}", e.message);
    assert!(e
        .path
        .ends_with("1858acd8dec945fe7951c7890e86401d33540725d83ff8e31da0b65704b03a6d"));

    std::fs::remove_file(&config).unwrap();
    let r = load_file(&dir, &LoadOptions::default(), true);
    assert_eq!(r.errors.len(), 1);
    assert!(r.errors[0]
        .message
        .starts_with("cannot read blob sha256:ecfcc16f"));

    let manifest =
        dir.join("blobs/sha256/1858acd8dec945fe7951c7890e86401d33540725d83ff8e31da0b65704b03a6d");
    std::fs::remove_file(&manifest).unwrap();
    let r = load_file(&dir, &LoadOptions::default(), true);
    assert_eq!(r.errors.len(), 1);
    let e = &r.errors[0];
    assert!(e.path.ends_with("index.json"));
    // The position of the manifest's `digest` in index.json.
    assert_eq!((e.line, e.column), (7, 17));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

#[test]
fn discovery_walks_honours_gitignore_and_keeps_order() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(root, ".gitignore", "build/\n");
    write(root, "build/generated.yaml", "a: 1\n");
    write(root, "README.md", "# docs\n");
    write(root, "k8s/b.yaml", "apiVersion: v1\nkind: Service\n");
    write(root, "k8s/a.yml", "apiVersion: v1\nkind: Pod\n");
    write(root, ".github/workflows/ci.yml", "on: push\njobs: {}\n");
    write(root, ".git/config.json", "{}\n");
    write(root, "Dockerfile", "FROM alpine:3.20\n");
    write(root, "empty.json", "");
    copy_dir(&fixture("image/layout"), &root.join("images/app"));
    let reports = collect_with_stdin(
        &[root.to_path_buf()],
        &DiscoverOptions::default(),
        &mut std::io::empty(),
    );
    let rel: Vec<String> = reports
        .iter()
        .map(|r| {
            Path::new(&*r.path)
                .strip_prefix(root)
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    assert_eq!(
        rel,
        [
            ".github/workflows/ci.yml",
            "Dockerfile",
            "empty.json",
            "images/app",
            "k8s/a.yml",
            "k8s/b.yaml"
        ]
    );
    let kinds = |r: &FileReport| r.documents.iter().map(|d| d.kind).collect::<Vec<_>>();
    assert_eq!(kinds(&reports[0]), [DocumentKind::Workflow]);
    assert_eq!(reports[2].errors[0].message, "empty file: nothing to check");
    assert_eq!(kinds(&reports[3]), [DocumentKind::Image]);
    assert_eq!(kinds(&reports[5]), [DocumentKind::Kubernetes]);
}

#[test]
fn discovery_reads_stdin_with_a_filename_and_sniffs_explicit_files() {
    let tmp = tempfile::tempdir().unwrap();
    let noext = tmp.path().join("manifest");
    std::fs::write(&noext, "apiVersion: v1\nkind: Secret\n").unwrap();
    let opts = DiscoverOptions {
        stdin_filename: Some("pod.yaml".into()),
        ..DiscoverOptions::default()
    };
    let mut stdin: &[u8] = b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n";
    let reports = collect_with_stdin(&[PathBuf::from("-"), noext.clone()], &opts, &mut stdin);
    assert_eq!(reports.len(), 2);
    assert_eq!(&*reports[0].path, "pod.yaml");
    let pod = &reports[0].documents[0];
    assert_eq!(pod.kind, DocumentKind::Kubernetes);
    assert_eq!(&*pod.path, "pod.yaml");
    assert_eq!(at(pod, "/metadata/name"), span(4, 9, 4, 10));
    assert_eq!(reports[1].documents[0].value["kind"], "Secret");

    // --kind applies to stdin.
    let opts = DiscoverOptions {
        stdin_filename: None,
        load: LoadOptions {
            kind: Some(DocumentKind::Image),
            ..LoadOptions::default()
        },
        ..DiscoverOptions::default()
    };
    let mut stdin: &[u8] =
        br#"{"architecture": "amd64", "os": "linux", "config": {"User": "app"}}"#;
    let reports = collect_with_stdin(&[PathBuf::from("-")], &opts, &mut stdin);
    assert_eq!(&*reports[0].path, "<stdin>");
    let d = &reports[0].documents[0];
    assert_eq!(d.kind, DocumentKind::Image);
    assert_eq!(d.value["user"], "app");
}
