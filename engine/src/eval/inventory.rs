//! `data.inventory`: the Kubernetes objects of the whole run, in Gatekeeper's shape.
//!
//! Most rules judge one document at a time. Some questions are about how documents
//! relate (does a Service select any workload, which Pod Security level does a
//! workload's Namespace enforce), and Gatekeeper's referential policies already answer
//! them through `data.inventory`:
//!
//! ```text
//! data.inventory.namespace[NAMESPACE][apiVersion][kind][name]   namespaced objects
//! data.inventory.cluster[apiVersion][kind][name]                 cluster-scoped objects
//! ```
//!
//! This module builds that value from every Kubernetes document of a run. It is only
//! built when some loaded Rego file mentions `data.inventory` ([`references_inventory`]),
//! so runs whose rules all look at one document at a time pay nothing. Rules that read it
//! are still evaluated once per document (their `input` is that document), so their
//! findings point into the document they were evaluated on.
//!
//! Conventions (documented in docs/inputs.md):
//! * an object without `metadata.namespace` is in `default` unless its kind is
//!   cluster-scoped ([`CLUSTER_SCOPED`]);
//! * an object without a string `metadata.name` is left out (it cannot be keyed);
//! * when two documents declare the same object, the first one (in input order) wins.

use serde_json::{Map, Value};

use crate::inputs::{Document, DocumentKind};

/// Built-in Kubernetes (and common add-on) kinds that are not namespaced.
pub const CLUSTER_SCOPED: &[&str] = &[
    "APIService",
    "CSIDriver",
    "CSINode",
    "CertificateSigningRequest",
    "ClusterIssuer",
    "ClusterRole",
    "ClusterRoleBinding",
    "ComponentStatus",
    "CustomResourceDefinition",
    "FlowSchema",
    "IngressClass",
    "MutatingWebhookConfiguration",
    "Namespace",
    "Node",
    "PersistentVolume",
    "PodSecurityPolicy",
    "PriorityClass",
    "PriorityLevelConfiguration",
    "RuntimeClass",
    "StorageClass",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ValidatingWebhookConfiguration",
    "VolumeAttachment",
];

/// Whether a Rego source reads `data.inventory`: a static `data` path under it
/// (`data.inventory...`, `import data.inventory`, `object.get(data, ["inventory", ...])`;
/// [`crate::runtimes::rego::data_reads`]), or, in a file that reads `data` by a computed
/// key, the words `data.inventory` or `data["inventory"]` outside comments.
pub fn references_inventory(text: &str) -> bool {
    match crate::runtimes::rego::data_reads(text) {
        Some(paths) => paths
            .iter()
            .any(|p| p.first().is_some_and(|s| s == "inventory")),
        None => text.lines().any(|line| {
            let code = line.split('#').next().unwrap_or("");
            code.contains("data.inventory") || code.contains("data[\"inventory\"]")
        }),
    }
}

/// Where one object goes: `(namespace or None for cluster-scoped, apiVersion, kind, name)`.
pub fn key_of(value: &Value) -> Option<(Option<String>, String, String, String)> {
    let api = value.get("apiVersion")?.as_str()?;
    let kind = value.get("kind")?.as_str()?;
    let meta = value.get("metadata")?;
    let name = meta.get("name")?.as_str()?;
    let namespace = if CLUSTER_SCOPED.contains(&kind) {
        None
    } else {
        Some(
            meta.get("namespace")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .unwrap_or("default")
                .to_string(),
        )
    };
    Some((
        namespace,
        api.to_string(),
        kind.to_string(),
        name.to_string(),
    ))
}

fn slot<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let entry = map
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    match entry {
        Value::Object(m) => m,
        _ => unreachable!("just made an object"),
    }
}

/// Whether a Rego source reads nothing of `data.inventory` but its Namespaces
/// (`data.inventory.cluster.v1.Namespace`, as the built-in rules do), so that an
/// inventory of the run's Namespace objects alone gives it the same results as the whole
/// one. `false` when it reads another part, or `data` as a whole or by a computed key.
pub fn reads_only_namespaces(text: &str) -> bool {
    const NAMESPACES: [&str; 4] = ["inventory", "cluster", "v1", "Namespace"];
    crate::runtimes::rego::data_reads(text).is_some_and(|paths| {
        paths.iter().all(|p| {
            p.first().is_none_or(|s| s != "inventory")
                || (p.len() >= NAMESPACES.len() && p.iter().zip(NAMESPACES).all(|(a, b)| a == b))
        })
    })
}

/// Whether a Kubernetes object is a Namespace: what [`reads_only_namespaces`] rules see
/// of the inventory.
pub fn is_namespace(value: &Value) -> bool {
    value.get("kind").and_then(Value::as_str) == Some("Namespace")
}

/// The inventory of `docs`: `{"namespace": {...}, "cluster": {...}}` (both always
/// present, possibly empty). Only Kubernetes documents are read.
pub fn build<'a>(docs: impl IntoIterator<Item = &'a Document>) -> Value {
    build_values(
        docs.into_iter()
            .filter(|d| d.kind == DocumentKind::Kubernetes)
            .map(|d| &d.value),
    )
}

/// [`build`] from the values of Kubernetes documents, in input order.
pub fn build_values<'a>(values: impl IntoIterator<Item = &'a Value>) -> Value {
    let mut namespaced = Map::new();
    let mut cluster = Map::new();
    for value in values {
        let Some((ns, api, kind, name)) = key_of(value) else {
            continue;
        };
        let root = match &ns {
            Some(ns) => slot(&mut namespaced, ns),
            None => &mut cluster,
        };
        let kinds = slot(slot(root, &api), &kind);
        kinds.entry(name).or_insert_with(|| value.clone());
    }
    serde_json::json!({"namespace": namespaced, "cluster": cluster})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inputs::{load_text, Format, LoadOptions};

    #[test]
    fn gatekeeper_shape_with_default_namespace_and_cluster_scope() {
        let text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: prod}\n---\n\
                    apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: prod}\n---\n\
                    apiVersion: v1\nkind: Service\nmetadata: {name: web}\n---\n\
                    apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {second: true}\n---\n\
                    apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n";
        let report = load_text("all.yaml", text, Format::Yaml, &LoadOptions::default());
        let inv = build(&report.documents);
        assert_eq!(
            inv["cluster"]["v1"]["Namespace"]["prod"]["kind"],
            "Namespace"
        );
        assert_eq!(
            inv["namespace"]["prod"]["apps/v1"]["Deployment"]["web"]["metadata"]["name"],
            "web"
        );
        // No namespace: `default`; the first of two duplicates wins.
        let svc = &inv["namespace"]["default"]["v1"]["Service"]["web"];
        assert!(svc.get("spec").is_none(), "{svc}");
        // Unnamed objects are left out.
        assert!(inv["namespace"]["default"]["v1"].get("ConfigMap").is_none());
    }

    #[test]
    fn the_built_in_rules_read_only_namespaces_of_the_inventory() {
        assert!(reads_only_namespaces(
            "package x\nl := data.inventory.cluster.v1.Namespace[ns].metadata.labels\n"
        ));
        assert!(reads_only_namespaces(
            "package x\nn := object.get(data, [\"inventory\", \"cluster\", \"v1\", \"Namespace\"], {})\n"
        ));
        assert!(reads_only_namespaces("package x\ny := data.settings.x\n"));
        assert!(!reads_only_namespaces(
            "package x\nd := data.inventory.namespace[ns]\n"
        ));
        assert!(!reads_only_namespaces(
            "package x\nc := data.inventory.cluster\n"
        ));
        assert!(!reads_only_namespaces("package x\nc := data[k]\n"));
        for (path, bytes) in crate::eval::policies::BUILTIN_POLICIES {
            if path.ends_with(".rego") {
                let text = String::from_utf8_lossy(bytes);
                assert!(reads_only_namespaces(&text), "{path}");
            }
        }
    }

    #[test]
    fn references_skip_comments() {
        assert!(references_inventory(
            "package x\nns := data.inventory.cluster[\"v1\"]\n"
        ));
        assert!(!references_inventory(
            "package x\n# data.inventory is not used\n"
        ));
        assert!(references_inventory(
            "package x\nns := object.get(data, [\"inventory\", \"cluster\"], {})\n"
        ));
        assert!(!references_inventory(
            "package x\nns := object.get(data, [\"settings\"], {})\n"
        ));
        assert!(references_inventory(
            "package x\nv := data[k]\nns := data[\"inventory\"]\n"
        ));
        // K8S010 reads the Namespaces of the inventory through object.get.
        let (_, psa) = crate::eval::policies::BUILTIN_POLICIES
            .iter()
            .find(|(p, _)| p.ends_with("kubernetes/namespace_psa.rego"))
            .expect("namespace_psa.rego is built in");
        assert!(references_inventory(&String::from_utf8_lossy(psa)));
    }
}
