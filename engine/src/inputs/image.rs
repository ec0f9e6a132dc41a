//! Image metadata: one normalised `image` shape for every format we accept.
//!
//! Image policies should not care whether the user fed `docker inspect` output, a skopeo
//! report, an OCI config blob or a whole OCI image-layout directory. This module recognises
//! each format ([`detect`]) and maps it onto a single documented shape ([`normalise`]; the
//! field list is in `docs/inputs.md`), keeping the original under `raw`. Every normalised
//! field is mapped in the source map to the span of the raw field it came from (`/user` →
//! the span of `Config.User`), and `/raw/...` pointers map to the original positions, so
//! findings on image metadata still point at a line and column.
//!
//! The layout loader follows `index.json` → manifests → config blobs, checking each blob's
//! sha256 digest, and reports every missing or bad blob with the position of the descriptor
//! that names it. It never follows paths outside `blobs/`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::kinds::{Comments, KindSpec};
use super::yaml::{parse_stream, RawDoc, Spans};
use super::{Document, DocumentKind, FileReport, Format, InputError, LoadOptions};
use crate::source::{Position, Span};

/// The recognised image metadata formats (the `format` field of the normalised shape).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    /// `docker inspect IMAGE` / `docker image inspect` (one element of its array).
    DockerInspect,
    /// An OCI image config (`application/vnd.oci.image.config.v1+json`).
    OciConfig,
    /// A Docker image config (`application/vnd.docker.container.image.v1+json`).
    DockerConfig,
    /// An OCI image manifest.
    OciManifest,
    /// An OCI image index.
    OciIndex,
    /// A Docker v2 schema 2 manifest.
    DockerManifest,
    /// A Docker v2 schema 1 manifest (legacy, signed or not).
    DockerManifestSchema1,
    /// A Docker manifest list.
    DockerManifestList,
    /// `skopeo inspect` output (without `--config`; with it, the output is an OCI config).
    SkopeoInspect,
    /// An OCI image-layout directory, combining index, manifest and config.
    OciLayout,
    /// An image read from a registry (manifest and config; see `crate::supply`).
    Registry,
}

impl ImageFormat {
    /// The `format` string of the normalised shape.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageFormat::DockerInspect => "docker-inspect",
            ImageFormat::OciConfig => "oci-config",
            ImageFormat::DockerConfig => "docker-config",
            ImageFormat::OciManifest => "oci-manifest",
            ImageFormat::OciIndex => "oci-index",
            ImageFormat::DockerManifest => "docker-manifest",
            ImageFormat::DockerManifestSchema1 => "docker-manifest-schema1",
            ImageFormat::DockerManifestList => "docker-manifest-list",
            ImageFormat::SkopeoInspect => "skopeo-inspect",
            ImageFormat::OciLayout => "oci-layout",
            ImageFormat::Registry => "registry",
        }
    }
}

const MT_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const MT_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const MT_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const MT_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// The `image` kind: image metadata in JSON, or an OCI layout directory. Recognised and
/// normalised by `yaml::classify_json` with [`detect`] and [`normalise`].
pub const KIND: KindSpec = KindSpec {
    kind: DocumentKind::Image,
    name: "image",
    aliases: &["oci"],
    syntax: Format::Json,
    comments: Comments::None,
    language_ids: &[],
    case_file: "image.json",
    detect: None,
};

/// Recognises image metadata in a JSON object. Anything else (JSON schemas, descriptors,
/// container inspect output) is `None` and loads as plain JSON.
pub fn detect(value: &Value) -> Option<ImageFormat> {
    let o = value.as_object()?;
    let has = |k: &str| o.contains_key(k);
    let s = |k: &str| o.get(k).and_then(Value::as_str);
    // A registry image document saved with `policy parse --image` re-checks offline.
    if s("format") == Some("registry") && has("source") && has("raw") {
        return Some(ImageFormat::Registry);
    }
    if has("Id") && (has("RepoTags") || has("RepoDigests")) && !has("State") {
        return Some(ImageFormat::DockerInspect);
    }
    if has("Name") && has("Digest") && (has("Layers") || has("LayersData") || has("RepoTags")) {
        return Some(ImageFormat::SkopeoInspect);
    }
    if has("Ref") && has("Descriptor") {
        if has("SchemaV2Manifest") {
            return Some(ImageFormat::DockerManifest);
        }
        if has("OCIManifest") {
            return Some(ImageFormat::OciManifest);
        }
    }
    let schema = o.get("schemaVersion").and_then(Value::as_u64);
    if schema == Some(1) && has("fsLayers") {
        return Some(ImageFormat::DockerManifestSchema1);
    }
    match s("mediaType") {
        Some(MT_DOCKER_LIST) => return Some(ImageFormat::DockerManifestList),
        Some(MT_DOCKER_MANIFEST) => return Some(ImageFormat::DockerManifest),
        Some(MT_OCI_INDEX) if has("manifests") => return Some(ImageFormat::OciIndex),
        Some(MT_OCI_MANIFEST) if has("layers") || has("config") => {
            return Some(ImageFormat::OciManifest)
        }
        _ => {}
    }
    if schema == Some(2) {
        if matches!(o.get("manifests"), Some(Value::Array(_))) {
            return Some(ImageFormat::OciIndex);
        }
        if matches!(o.get("layers"), Some(Value::Array(_))) || o.get("config").is_some() {
            return Some(ImageFormat::OciManifest);
        }
    }
    if s("architecture").is_some()
        && s("os").is_some()
        && (has("rootfs") || has("config") || has("history"))
    {
        if has("container_config") || has("docker_version") || has("container") {
            return Some(ImageFormat::DockerConfig);
        }
        return Some(ImageFormat::OciConfig);
    }
    None
}

/// Builds the normalised shape and its spans from a raw value and the raw value's spans
/// (pointers relative to the raw value). `doc_span` is the fallback for fields that have
/// no source.
pub(crate) fn normalise(
    format: ImageFormat,
    raw: &Value,
    raw_spans: &Spans,
    doc_span: Span,
) -> (Value, Spans) {
    if format == ImageFormat::Registry {
        // Already normalised: kept as it is, with its own positions.
        let mut spans = raw_spans.rebase("", "");
        spans.values.insert(String::new(), doc_span);
        return (raw.clone(), spans);
    }
    let mut n = Norm::new(raw_spans, doc_span);
    match format {
        ImageFormat::DockerInspect => n.docker_inspect(raw),
        ImageFormat::OciConfig
        | ImageFormat::DockerConfig
        | ImageFormat::OciLayout
        | ImageFormat::Registry => n.config_blob(raw, ""),
        ImageFormat::OciManifest | ImageFormat::DockerManifest => {
            if let Some((key, inner)) = ["SchemaV2Manifest", "OCIManifest"]
                .iter()
                .find_map(|k| raw.get(*k).map(|v| (*k, v)))
            {
                n.manifest(inner, &format!("/{key}"));
                n.set_str("name", raw, "/Ref");
                n.set_str("digest", raw, "/Descriptor/digest");
                n.set_str("os", raw, "/Descriptor/platform/os");
                n.set_str("architecture", raw, "/Descriptor/platform/architecture");
                n.set_str("variant", raw, "/Descriptor/platform/variant");
            } else {
                n.manifest(raw, "");
            }
        }
        ImageFormat::OciIndex | ImageFormat::DockerManifestList => n.index(raw, ""),
        ImageFormat::SkopeoInspect => n.skopeo(raw),
        ImageFormat::DockerManifestSchema1 => n.schema1(raw),
    }
    n.finish(format, raw)
}

/// Field names of the normalised shape, in output order, with their empty value.
fn empty_shape() -> Map<String, Value> {
    let mut m = Map::new();
    for (k, v) in [
        ("format", Value::Null),
        ("digest", Value::Null),
        ("repo_tags", json!([])),
        ("repo_digests", json!([])),
        ("name", Value::Null),
        ("user", Value::Null),
        ("exposed_ports", json!([])),
        ("env", json!({})),
        ("labels", json!({})),
        ("entrypoint", Value::Null),
        ("cmd", Value::Null),
        ("working_dir", Value::Null),
        ("volumes", json!([])),
        ("stop_signal", Value::Null),
        ("healthcheck", Value::Null),
        ("os", Value::Null),
        ("architecture", Value::Null),
        ("variant", Value::Null),
        ("created", Value::Null),
        ("author", Value::Null),
        ("history", json!([])),
        ("layers", json!([])),
        ("size", Value::Null),
        ("media_type", Value::Null),
        ("manifests", json!([])),
        ("annotations", json!({})),
    ] {
        m.insert(k.to_string(), v);
    }
    m
}

/// The normaliser: output object plus output spans.
struct Norm<'a> {
    raw_spans: &'a Spans,
    doc_span: Span,
    out: Map<String, Value>,
    spans: Spans,
}

/// `value` at JSON Pointer `ptr` (`""` is the value itself).
fn at<'v>(value: &'v Value, ptr: &str) -> Option<&'v Value> {
    value.pointer(ptr).filter(|v| !v.is_null())
}

impl<'a> Norm<'a> {
    fn new(raw_spans: &'a Spans, doc_span: Span) -> Self {
        Norm {
            raw_spans,
            doc_span,
            out: empty_shape(),
            spans: Spans::default(),
        }
    }

    /// The span of raw `ptr`, or of its nearest recorded ancestor, or the document.
    fn span_of(&self, ptr: &str) -> Span {
        let mut p = ptr;
        loop {
            if let Some(s) = self.raw_spans.values.get(p) {
                return *s;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return self.doc_span,
            }
        }
    }

    /// Sets output `field` and maps it to raw `ptr`.
    fn put(&mut self, field: &str, value: Value, ptr: &str) {
        let span = self.span_of(ptr);
        self.spans.values.insert(format!("/{field}"), span);
        if let Some(k) = self.raw_spans.keys.get(ptr) {
            self.spans.keys.insert(format!("/{field}"), *k);
        }
        self.out.insert(field.to_string(), value);
    }

    /// Copies the raw value at `ptr` into `field` (when present), with all spans below it.
    fn copy(&mut self, field: &str, raw: &Value, ptr: &str) {
        if let Some(v) = at(raw, ptr) {
            self.put(field, v.clone(), ptr);
            self.mirror(&format!("/{field}"), ptr);
        }
    }

    /// Like [`Norm::copy`] for a field that must be a string.
    fn set_str(&mut self, field: &str, raw: &Value, ptr: &str) {
        if let Some(v @ Value::String(_)) = at(raw, ptr) {
            self.put(field, v.clone(), ptr);
        }
    }

    /// Maps every raw span under `raw_ptr` to the same path under `out_ptr`.
    fn mirror(&mut self, out_ptr: &str, raw_ptr: &str) {
        let moved = self.raw_spans.rebase(raw_ptr, out_ptr);
        self.spans.values.extend(moved.values);
        self.spans.keys.extend(moved.keys);
    }

    /// The keys of an object (`ExposedPorts`, `Volumes`) as a list, each mapped to its key.
    fn key_list(&mut self, field: &str, raw: &Value, ptr: &str) {
        let Some(Value::Object(map)) = at(raw, ptr) else {
            return;
        };
        let mut items = Vec::new();
        for (i, k) in map.keys().enumerate() {
            let key_ptr = format!("{ptr}/{}", escape(k));
            let span = self
                .raw_spans
                .keys
                .get(&key_ptr)
                .copied()
                .unwrap_or_else(|| self.span_of(&key_ptr));
            self.spans.values.insert(format!("/{field}/{i}"), span);
            items.push(Value::String(k.clone()));
        }
        self.put(field, Value::Array(items), ptr);
    }

    /// `["K=V", ...]` → `{"K": "V"}`; an entry without `=` maps to null.
    fn env(&mut self, raw: &Value, ptr: &str) {
        let Some(Value::Array(items)) = at(raw, ptr) else {
            return;
        };
        let mut env = Map::new();
        for (i, item) in items.iter().enumerate() {
            let Some(s) = item.as_str() else { continue };
            let (k, v) = match s.split_once('=') {
                Some((k, v)) => (k, Value::String(v.to_string())),
                None => (s, Value::Null),
            };
            let span = self.span_of(&format!("{ptr}/{i}"));
            self.spans
                .values
                .insert(format!("/env/{}", escape(k)), span);
            env.insert(k.to_string(), v);
        }
        self.put("env", Value::Object(env), ptr);
    }

    /// The container configuration block (`Config` / `config`).
    fn run_config(&mut self, raw: &Value, ptr: &str) {
        if at(raw, ptr).is_none() {
            return;
        }
        self.set_str("user", raw, &format!("{ptr}/User"));
        self.key_list("exposed_ports", raw, &format!("{ptr}/ExposedPorts"));
        self.env(raw, &format!("{ptr}/Env"));
        self.copy("labels", raw, &format!("{ptr}/Labels"));
        for (field, key) in [("entrypoint", "Entrypoint"), ("cmd", "Cmd")] {
            let p = format!("{ptr}/{key}");
            match at(raw, &p) {
                Some(Value::String(s)) => {
                    let v = json!([s]);
                    self.put(field, v, &p);
                }
                Some(Value::Array(_)) => self.copy(field, raw, &p),
                _ => {}
            }
        }
        self.set_str("working_dir", raw, &format!("{ptr}/WorkingDir"));
        self.key_list("volumes", raw, &format!("{ptr}/Volumes"));
        self.set_str("stop_signal", raw, &format!("{ptr}/StopSignal"));
        self.copy("healthcheck", raw, &format!("{ptr}/Healthcheck"));
    }

    /// Layers from a list of digests (`rootfs.diff_ids`, `RootFS.Layers`, skopeo `Layers`).
    fn digest_layers(&mut self, raw: &Value, ptr: &str) {
        let Some(Value::Array(items)) = at(raw, ptr) else {
            return;
        };
        let mut layers = Vec::new();
        for (i, d) in items.iter().enumerate() {
            let span = self.span_of(&format!("{ptr}/{i}"));
            self.spans.values.insert(format!("/layers/{i}"), span);
            self.spans
                .values
                .insert(format!("/layers/{i}/digest"), span);
            layers.push(json!({"digest": d, "size": null, "media_type": null}));
        }
        self.put("layers", Value::Array(layers), ptr);
    }

    /// Layers from descriptors; `digest`, `size` and `mediaType` keys are given.
    fn descriptor_layers(&mut self, raw: &Value, ptr: &str, keys: [&str; 3]) {
        let Some(Value::Array(items)) = at(raw, ptr) else {
            return;
        };
        let mut layers = Vec::new();
        let mut total: Option<u64> = Some(0);
        for (i, d) in items.iter().enumerate() {
            let base = format!("{ptr}/{i}");
            let span = self.span_of(&base);
            self.spans.values.insert(format!("/layers/{i}"), span);
            let mut layer = Map::new();
            for (out, key) in ["digest", "size", "media_type"].iter().zip(keys) {
                let v = d.get(key).cloned().unwrap_or(Value::Null);
                let s = self.span_of(&format!("{base}/{key}"));
                self.spans.values.insert(format!("/layers/{i}/{out}"), s);
                layer.insert(out.to_string(), v);
            }
            total = match (total, d.get(keys[1]).and_then(Value::as_u64)) {
                (Some(t), Some(s)) => t.checked_add(s),
                _ => None,
            };
            layers.push(Value::Object(layer));
        }
        if !layers.is_empty() {
            if let Some(t) = total {
                self.put("size", json!(t), ptr);
            }
        }
        self.put("layers", Value::Array(layers), ptr);
    }

    fn docker_inspect(&mut self, raw: &Value) {
        self.set_str("digest", raw, "/Id");
        self.copy("repo_tags", raw, "/RepoTags");
        self.copy("repo_digests", raw, "/RepoDigests");
        self.set_str("name", raw, "/RepoTags/0");
        self.run_config(raw, "/Config");
        self.set_str("os", raw, "/Os");
        self.set_str("architecture", raw, "/Architecture");
        self.set_str("variant", raw, "/Variant");
        self.set_str("created", raw, "/Created");
        self.set_str("author", raw, "/Author");
        self.digest_layers(raw, "/RootFS/Layers");
        if let Some(v @ Value::Number(_)) = at(raw, "/Size") {
            self.put("size", v.clone(), "/Size");
        }
        if let Some(v @ Value::String(_)) = at(raw, "/Descriptor/mediaType") {
            self.put("media_type", v.clone(), "/Descriptor/mediaType");
        }
        self.copy("annotations", raw, "/Descriptor/annotations");
    }

    /// An OCI / Docker image config at `base`.
    fn config_blob(&mut self, raw: &Value, base: &str) {
        let config = if at(raw, &format!("{base}/config")).is_some() {
            format!("{base}/config")
        } else {
            format!("{base}/container_config")
        };
        self.run_config(raw, &config);
        for f in ["os", "architecture", "variant", "created", "author"] {
            self.set_str(f, raw, &format!("{base}/{f}"));
        }
        self.digest_layers(raw, &format!("{base}/rootfs/diff_ids"));
        let hist_ptr = format!("{base}/history");
        if let Some(Value::Array(items)) = at(raw, &hist_ptr) {
            let mut history = Vec::new();
            for (i, h) in items.iter().enumerate() {
                let hp = format!("{hist_ptr}/{i}");
                let span = self.span_of(&hp);
                self.spans.values.insert(format!("/history/{i}"), span);
                let mut entry = Map::new();
                for key in ["created", "created_by", "empty_layer", "comment"] {
                    let v = match h.get(key) {
                        Some(v) => v.clone(),
                        None if key == "empty_layer" => Value::Bool(false),
                        None => Value::Null,
                    };
                    let s = self.span_of(&format!("{hp}/{key}"));
                    self.spans.values.insert(format!("/history/{i}/{key}"), s);
                    entry.insert(key.to_string(), v);
                }
                history.push(Value::Object(entry));
            }
            self.put("history", Value::Array(history), &hist_ptr);
        }
    }

    /// An OCI image manifest or Docker schema 2 manifest at `base`.
    fn manifest(&mut self, raw: &Value, base: &str) {
        if at(raw, base).is_none() {
            return;
        }
        self.set_str("media_type", raw, &format!("{base}/mediaType"));
        self.descriptor_layers(
            raw,
            &format!("{base}/layers"),
            ["digest", "size", "mediaType"],
        );
        self.copy("annotations", raw, &format!("{base}/annotations"));
    }

    /// An OCI image index or Docker manifest list at `base`.
    fn index(&mut self, raw: &Value, base: &str) {
        self.set_str("media_type", raw, &format!("{base}/mediaType"));
        self.copy("annotations", raw, &format!("{base}/annotations"));
        let mp = format!("{base}/manifests");
        let Some(Value::Array(items)) = at(raw, &mp) else {
            return;
        };
        let mut manifests = Vec::new();
        for (i, d) in items.iter().enumerate() {
            let dp = format!("{mp}/{i}");
            let span = self.span_of(&dp);
            self.spans.values.insert(format!("/manifests/{i}"), span);
            let mut entry = Map::new();
            for (out, key) in [
                ("digest", "digest"),
                ("media_type", "mediaType"),
                ("size", "size"),
            ] {
                let s = self.span_of(&format!("{dp}/{key}"));
                self.spans.values.insert(format!("/manifests/{i}/{out}"), s);
                entry.insert(out.to_string(), d.get(key).cloned().unwrap_or(Value::Null));
            }
            let platform = match d.get("platform") {
                Some(Value::Object(p)) => {
                    let mut pm = Map::new();
                    for key in ["os", "architecture", "variant"] {
                        let s = self.span_of(&format!("{dp}/platform/{key}"));
                        self.spans
                            .values
                            .insert(format!("/manifests/{i}/platform/{key}"), s);
                        pm.insert(key.to_string(), p.get(key).cloned().unwrap_or(Value::Null));
                    }
                    let s = self.span_of(&format!("{dp}/platform"));
                    self.spans
                        .values
                        .insert(format!("/manifests/{i}/platform"), s);
                    Value::Object(pm)
                }
                _ => Value::Null,
            };
            entry.insert("platform".to_string(), platform);
            manifests.push(Value::Object(entry));
        }
        self.put("manifests", Value::Array(manifests), &mp);
    }

    fn skopeo(&mut self, raw: &Value) {
        self.set_str("name", raw, "/Name");
        self.set_str("digest", raw, "/Digest");
        self.copy("repo_tags", raw, "/RepoTags");
        for (f, k) in [
            ("created", "Created"),
            ("author", "Author"),
            ("os", "Os"),
            ("architecture", "Architecture"),
            ("variant", "Variant"),
        ] {
            self.set_str(f, raw, &format!("/{k}"));
        }
        self.copy("labels", raw, "/Labels");
        self.env(raw, "/Env");
        if at(raw, "/LayersData").is_some() {
            self.descriptor_layers(raw, "/LayersData", ["Digest", "Size", "MIMEType"]);
        } else {
            self.digest_layers(raw, "/Layers");
        }
    }

    /// Docker schema 1: names and layers from the manifest, the image config from the
    /// newest `history[].v1Compatibility` (a JSON string; its fields map to that string).
    fn schema1(&mut self, raw: &Value) {
        self.set_str("name", raw, "/name");
        if let (Some(Value::String(name)), Some(Value::String(tag))) =
            (at(raw, "/name"), at(raw, "/tag"))
        {
            self.put("repo_tags", json!([format!("{name}:{tag}")]), "/tag");
        }
        self.set_str("architecture", raw, "/architecture");
        if let Some(Value::Array(items)) = at(raw, "/fsLayers") {
            let mut layers = Vec::new();
            for (i, l) in items.iter().enumerate() {
                let span = self.span_of(&format!("/fsLayers/{i}/blobSum"));
                self.spans.values.insert(format!("/layers/{i}"), span);
                self.spans
                    .values
                    .insert(format!("/layers/{i}/digest"), span);
                layers.push(json!({
                    "digest": l.get("blobSum").cloned().unwrap_or(Value::Null),
                    "size": null, "media_type": null
                }));
            }
            self.put("layers", Value::Array(layers), "/fsLayers");
        }
        let newest = at(raw, "/history/0/v1Compatibility")
            .and_then(Value::as_str)
            .and_then(|s| serde_json::from_str::<Value>(s).ok());
        if let Some(v1) = newest {
            // The parsed config has no spans of its own: every field resolves to the
            // enclosing v1Compatibility string.
            let wrapped = json!({ "history": [ { "v1Compatibility": v1 } ] });
            self.config_blob(&wrapped, "/history/0/v1Compatibility");
        }
    }

    fn finish(mut self, format: ImageFormat, raw: &Value) -> (Value, Spans) {
        self.out
            .insert("format".into(), Value::String(format.as_str().into()));
        self.out.insert("raw".into(), raw.clone());
        self.mirror("/raw", "");
        self.spans.values.insert(String::new(), self.doc_span);
        (Value::Object(self.out), self.spans)
    }
}

/// Escapes a key for a JSON Pointer (RFC 6901).
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Whether `dir` is an OCI image layout (it has an `oci-layout` file).
pub fn is_oci_layout(dir: &Path) -> bool {
    dir.join("oci-layout").is_file()
}

/// A JSON file of the layout, read and parsed with positions.
struct LayoutFile {
    path: String,
    text: Arc<str>,
    doc: RawDoc,
}

/// Loads an OCI image-layout directory: one `image` document (format `oci-layout`) per
/// image manifest reachable from `index.json` (nested indexes are followed).
///
/// Each document's path and source are its config blob (or its manifest when the image has
/// no config), so `/user` points into the config JSON; `raw` holds
/// `{"index", "manifest", "config"}`. Missing, oversized, unparsable or digest-mismatched
/// blobs each give an error at the descriptor that names them; the other images still load.
pub fn load_layout(dir: &Path, opts: &LoadOptions) -> FileReport {
    let display = dir.display().to_string();
    let mut report = FileReport {
        path: Arc::from(display.as_str()),
        documents: Vec::new(),
        errors: Vec::new(),
        skipped: None,
        source: None,
    };
    let layout_path = dir.join("oci-layout");
    match read_json(&layout_path, opts) {
        Ok(f) => {
            if f.doc.value.get("imageLayoutVersion").is_none() {
                report.errors.push(InputError::new(
                    &f.path,
                    f.doc.span.start,
                    "oci-layout has no `imageLayoutVersion`",
                ));
            }
        }
        Err(e) => report.errors.push(e),
    }
    let index = match read_json(&dir.join("index.json"), opts) {
        Ok(f) => f,
        Err(e) => {
            report.errors.push(e);
            return report;
        }
    };
    // Work list of (index file, pointer of its manifests array); nested indexes are
    // followed up to a fixed depth.
    let mut queue: Vec<(Arc<LayoutFile>, usize)> = vec![(Arc::new(index), 0)];
    let top_index = queue[0].0.doc.value.clone();
    while let Some((idx, depth)) = queue.pop() {
        let Some(Value::Array(descs)) = idx.doc.value.get("manifests") else {
            report.errors.push(InputError::new(
                &idx.path,
                idx.doc.span.start,
                "image index has no `manifests` array",
            ));
            continue;
        };
        let mut nested = Vec::new();
        for (i, desc) in descs.iter().enumerate() {
            let desc_ptr = format!("/manifests/{i}");
            let blob = match read_blob(dir, &idx, &desc_ptr, desc, opts) {
                Ok(b) => b,
                Err(e) => {
                    report.errors.push(e);
                    continue;
                }
            };
            let is_index = blob.doc.value.get("manifests").is_some()
                || desc.get("mediaType").and_then(Value::as_str) == Some(MT_OCI_INDEX);
            if is_index {
                if depth >= 4 {
                    report.errors.push(desc_error(
                        &idx,
                        &desc_ptr,
                        "image indexes are nested more than 4 levels deep",
                    ));
                } else {
                    nested.push((Arc::new(blob), depth + 1));
                }
                continue;
            }
            let config = match blob.doc.value.get("config") {
                Some(c) if is_image_config_type(c) => {
                    match read_blob(dir, &blob, "/config", c, opts) {
                        Ok(cfg) => Some(cfg),
                        Err(e) => {
                            report.errors.push(e);
                            continue;
                        }
                    }
                }
                _ => None,
            };
            report
                .documents
                .push(layout_document(&top_index, desc, &blob, config));
        }
        // Depth-first, in index order.
        queue.extend(nested.into_iter().rev());
    }
    for (i, d) in report.documents.iter_mut().enumerate() {
        d.index = i;
    }
    if report.documents.is_empty() && report.errors.is_empty() {
        report.errors.push(InputError::new(
            format!("{display}/index.json"),
            Position::START,
            "the image layout holds no image manifests",
        ));
    }
    report
}

/// The normalised shape of an image read from a registry: `raw` is
/// `{"index", "manifest", "config"}` as for a layout, and every field maps to `span` (the
/// reference on the command line or in the configuration file).
pub(crate) fn normalise_registry(
    index: Option<&Value>,
    manifest: &Value,
    config: Option<&Value>,
    span: Span,
) -> (Value, crate::source::SourceMap) {
    let raw = json!({ "index": index, "manifest": manifest, "config": config });
    let spans = Spans::default();
    let mut n = Norm::new(&spans, span);
    n.config_blob(&raw, "/config");
    n.manifest(&raw, "/manifest");
    let (value, spans) = n.finish(ImageFormat::Registry, &raw);
    (value, spans.into_source_map())
}

/// Whether a config descriptor names an image config (artifacts have other config types).
fn is_image_config_type(desc: &Value) -> bool {
    match desc.get("mediaType").and_then(Value::as_str) {
        Some(mt) => {
            mt == "application/vnd.oci.image.config.v1+json"
                || mt == "application/vnd.docker.container.image.v1+json"
        }
        None => true,
    }
}

/// Combines index entry, manifest and config into one normalised document.
fn layout_document(
    top_index: &Value,
    desc: &Value,
    manifest: &LayoutFile,
    config: Option<LayoutFile>,
) -> Document {
    let raw = json!({
        "index": top_index,
        "manifest": manifest.doc.value,
        "config": config.as_ref().map(|c| c.doc.value.clone()),
    });
    let source = config.as_ref().unwrap_or(manifest);
    let raw_spans = match &config {
        Some(c) => c.doc.spans.rebase("", "/config"),
        None => manifest.doc.spans.rebase("", "/manifest"),
    };
    let mut n = Norm::new(&raw_spans, source.doc.span);
    n.config_blob(&raw, "/config");
    n.manifest(&raw, "/manifest");
    if let Some(v @ Value::String(_)) = desc.get("digest") {
        n.out.insert("digest".into(), v.clone());
    }
    let name = desc
        .pointer("/annotations/org.opencontainers.image.ref.name")
        .or_else(|| desc.pointer("/annotations/io.containerd.image.name"));
    if let Some(v @ Value::String(_)) = name {
        n.out.insert("name".into(), v.clone());
    }
    if let Some(Value::Object(p)) = desc.get("platform") {
        for key in ["os", "architecture", "variant"] {
            if n.out.get(key).is_none_or(Value::is_null) {
                if let Some(v @ Value::String(_)) = p.get(key) {
                    n.out.insert(key.into(), v.clone());
                }
            }
        }
    }
    let (value, spans) = n.finish(ImageFormat::OciLayout, &raw);
    Document {
        kind: DocumentKind::Image,
        path: Arc::from(source.path.as_str()),
        index: 0,
        value,
        source_map: spans.into_source_map(),
        source: source.text.clone(),
        first_line: 1,
        span: source.doc.span,
    }
}

/// An error located at the descriptor `desc_ptr` of `file`.
fn desc_error(file: &LayoutFile, desc_ptr: &str, message: impl Into<String>) -> InputError {
    let pos = file
        .doc
        .spans
        .values
        .get(&format!("{desc_ptr}/digest"))
        .or_else(|| file.doc.spans.values.get(desc_ptr))
        .map(|s| s.start)
        .unwrap_or(file.doc.span.start);
    InputError::new(&file.path, pos, message)
}

/// Reads the blob named by descriptor `desc` (at `desc_ptr` in `file`), checking its digest.
fn read_blob(
    dir: &Path,
    file: &LayoutFile,
    desc_ptr: &str,
    desc: &Value,
    opts: &LoadOptions,
) -> Result<LayoutFile, InputError> {
    let Some(digest) = desc.get("digest").and_then(Value::as_str) else {
        return Err(desc_error(file, desc_ptr, "descriptor has no `digest`"));
    };
    let Some((alg, hex)) = digest.split_once(':') else {
        return Err(desc_error(
            file,
            desc_ptr,
            format!("malformed digest `{digest}` (expected `algorithm:hex`)"),
        ));
    };
    let safe = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'+' | b'.'))
            && s != "."
            && s != ".."
    };
    if !safe(alg) || !safe(hex) {
        return Err(desc_error(
            file,
            desc_ptr,
            format!("malformed digest `{digest}`"),
        ));
    }
    let path: PathBuf = dir.join("blobs").join(alg).join(hex);
    let bytes = match std::fs::metadata(&path) {
        Ok(m) if m.len() > opts.max_file_size => {
            return Err(desc_error(
                file,
                desc_ptr,
                format!(
                    "blob {digest} is {} bytes, larger than the {}-byte limit",
                    m.len(),
                    opts.max_file_size
                ),
            ))
        }
        Ok(_) => std::fs::read(&path),
        Err(e) => Err(e),
    };
    let bytes = match bytes {
        Ok(b) => b,
        Err(e) => {
            return Err(desc_error(
                file,
                desc_ptr,
                format!("cannot read blob {digest} at {}: {e}", path.display()),
            ))
        }
    };
    if alg == "sha256" {
        let actual = format!("{:x}", Sha256::digest(&bytes));
        if !actual.eq_ignore_ascii_case(hex) {
            return Err(desc_error(
                file,
                desc_ptr,
                format!("blob {digest} is corrupt: its content has digest sha256:{actual}"),
            ));
        }
    }
    parse_json_bytes(&path, &bytes, opts)
}

/// Reads and parses a JSON file of the layout.
fn read_json(path: &Path, opts: &LoadOptions) -> Result<LayoutFile, InputError> {
    let display = path.display().to_string();
    let bytes = match std::fs::metadata(path) {
        Ok(m) if m.len() > opts.max_file_size => {
            return Err(InputError::new(
                &display,
                Position::START,
                format!(
                    "file is {} bytes, larger than the {}-byte limit",
                    m.len(),
                    opts.max_file_size
                ),
            ))
        }
        Ok(_) => std::fs::read(path),
        Err(e) => Err(e),
    };
    match bytes {
        Ok(b) => parse_json_bytes(path, &b, opts),
        Err(e) => Err(InputError::new(
            &display,
            Position::START,
            format!("cannot read file: {e}"),
        )),
    }
}

/// Parses one JSON document from bytes, with positions.
fn parse_json_bytes(
    path: &Path,
    bytes: &[u8],
    opts: &LoadOptions,
) -> Result<LayoutFile, InputError> {
    let display = path.display().to_string();
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let valid = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default();
        let pos = crate::source::LineIndex::new(valid).position(valid, valid.len());
        InputError::new(&display, pos, "invalid UTF-8: the file must be UTF-8 JSON")
    })?;
    let (mut docs, mut errors) = parse_stream(&display, text, opts, "JSON");
    if !errors.is_empty() {
        return Err(errors.remove(0));
    }
    if docs.len() != 1 {
        return Err(InputError::new(
            &display,
            Position::START,
            "expected exactly one JSON value",
        ));
    }
    let doc = docs.remove(0);
    if !doc.value.is_object() {
        return Err(InputError::new(
            &display,
            doc.span.start,
            "expected a JSON object",
        ));
    }
    Ok(LayoutFile {
        path: display,
        text: Arc::from(text),
        doc,
    })
}
