//! Typed, tolerant view of a Kubernetes object, with pod-spec helpers that find the
//! containers of every pod-bearing kind and the JSON path of each.
//!
//! Pod-bearing kinds and where their pod spec lives:
//!
//! | kind | pod spec |
//! |---|---|
//! | Pod | `spec` |
//! | Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job | `spec.template.spec` |
//! | CronJob | `spec.jobTemplate.spec.template.spec` |
//! | PodTemplate | `template.spec` |

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::input::null_default;
use crate::JsonPath;

/// Any Kubernetes object.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct KubeObject {
    /// `apiVersion`.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `metadata`.
    #[serde(deserialize_with = "null_default")]
    pub metadata: ObjectMeta,
    /// The whole object, for fields this view does not model.
    #[serde(skip)]
    pub raw: Value,
}

/// `metadata` of an object.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct ObjectMeta {
    /// `metadata.name`.
    pub name: Option<String>,
    /// `metadata.namespace`.
    pub namespace: Option<String>,
    /// `metadata.labels`.
    #[serde(deserialize_with = "null_default")]
    pub labels: BTreeMap<String, Value>,
    /// `metadata.annotations`.
    #[serde(deserialize_with = "null_default")]
    pub annotations: BTreeMap<String, Value>,
}

/// Which list of a pod spec a container comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContainerKind {
    /// `containers`.
    Container,
    /// `initContainers`.
    Init,
    /// `ephemeralContainers`.
    Ephemeral,
}

impl ContainerKind {
    /// The pod-spec field holding this kind of container.
    pub fn field(self) -> &'static str {
        match self {
            ContainerKind::Container => "containers",
            ContainerKind::Init => "initContainers",
            ContainerKind::Ephemeral => "ephemeralContainers",
        }
    }
}

/// A container of a pod spec.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct Container {
    /// `name`.
    pub name: String,
    /// `image`.
    pub image: Option<String>,
    /// `securityContext`.
    #[serde(rename = "securityContext", deserialize_with = "null_default")]
    pub security_context: SecurityContext,
    /// `resources`.
    #[serde(deserialize_with = "null_default")]
    pub resources: Resources,
    /// `imagePullPolicy`.
    #[serde(rename = "imagePullPolicy")]
    pub image_pull_policy: Option<String>,
}

/// `securityContext` of a container or pod (fields common to both).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct SecurityContext {
    /// `runAsNonRoot`.
    #[serde(rename = "runAsNonRoot")]
    pub run_as_non_root: Option<bool>,
    /// `runAsUser`.
    #[serde(rename = "runAsUser")]
    pub run_as_user: Option<i64>,
    /// `privileged`.
    pub privileged: Option<bool>,
    /// `allowPrivilegeEscalation`.
    #[serde(rename = "allowPrivilegeEscalation")]
    pub allow_privilege_escalation: Option<bool>,
    /// `readOnlyRootFilesystem`.
    #[serde(rename = "readOnlyRootFilesystem")]
    pub read_only_root_filesystem: Option<bool>,
    /// `capabilities`.
    #[serde(deserialize_with = "null_default")]
    pub capabilities: Capabilities,
}

/// `securityContext.capabilities`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct Capabilities {
    /// `add`.
    #[serde(deserialize_with = "null_default")]
    pub add: Vec<String>,
    /// `drop`.
    #[serde(deserialize_with = "null_default")]
    pub drop: Vec<String>,
}

/// `resources` of a container.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct Resources {
    /// `limits`.
    #[serde(deserialize_with = "null_default")]
    pub limits: BTreeMap<String, Value>,
    /// `requests`.
    #[serde(deserialize_with = "null_default")]
    pub requests: BTreeMap<String, Value>,
}

/// A pod spec found inside an object, with its path.
#[derive(Debug, Clone, PartialEq)]
pub struct PodSpecRef<'a> {
    /// Path of the pod spec (`/spec/template/spec` for a Deployment).
    pub path: JsonPath,
    /// The pod spec.
    pub spec: &'a Value,
}

/// A container found inside an object, with its path.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerRef<'a> {
    /// Path of the container (`/spec/template/spec/containers/0`).
    pub path: JsonPath,
    /// Which list it is in.
    pub kind: ContainerKind,
    /// The container as JSON.
    pub raw: &'a Value,
    /// The typed view (defaults where the JSON is not shaped as expected).
    pub container: Container,
}

/// Where the pod spec of `kind` lives, as keys from the object root.
pub fn pod_spec_keys(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "Pod" => &["spec"],
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "ReplicationController"
        | "Job" => &["spec", "template", "spec"],
        "CronJob" => &["spec", "jobTemplate", "spec", "template", "spec"],
        "PodTemplate" => &["template", "spec"],
        _ => return None,
    })
}

/// The pod spec of `object` (any pod-bearing kind), with its path.
///
/// ```
/// use policy_sdk::kubernetes::pod_spec;
/// let cron = serde_json::json!({"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template":
///     {"spec": {"containers": [{"name": "c"}]}}}}}});
/// assert_eq!(pod_spec(&cron).unwrap().path.pointer(), "/spec/jobTemplate/spec/template/spec");
/// ```
pub fn pod_spec(object: &Value) -> Option<PodSpecRef<'_>> {
    let kind = object.get("kind")?.as_str()?;
    let keys = pod_spec_keys(kind)?;
    let mut value = object;
    let mut path = JsonPath::root();
    for key in keys {
        value = value.get(*key)?;
        path = path.key(*key);
    }
    value
        .is_object()
        .then_some(PodSpecRef { path, spec: value })
}

/// Every container (regular, init and ephemeral) of `object`, each with its path.
/// Non-pod-bearing objects have none.
pub fn containers(object: &Value) -> Vec<ContainerRef<'_>> {
    let mut out = Vec::new();
    let Some(pod) = pod_spec(object) else {
        return out;
    };
    for kind in [
        ContainerKind::Init,
        ContainerKind::Container,
        ContainerKind::Ephemeral,
    ] {
        let Some(list) = pod.spec.get(kind.field()).and_then(Value::as_array) else {
            continue;
        };
        for (i, raw) in list.iter().enumerate() {
            out.push(ContainerRef {
                path: pod.path.key(kind.field()).index(i),
                kind,
                raw,
                container: Container::deserialize(raw).unwrap_or_default(),
            });
        }
    }
    out
}

impl KubeObject {
    /// Builds the view from a document value (keeping the raw value).
    pub fn from_value(value: &Value) -> KubeObject {
        let mut obj = KubeObject::deserialize(value).unwrap_or_default();
        obj.raw = value.clone();
        obj
    }

    /// The pod spec, if this kind carries one.
    pub fn pod_spec(&self) -> Option<PodSpecRef<'_>> {
        pod_spec(&self.raw)
    }

    /// Every container with its path.
    pub fn containers(&self) -> Vec<ContainerRef<'_>> {
        containers(&self.raw)
    }

    /// The pod-level `securityContext`.
    pub fn pod_security_context(&self) -> SecurityContext {
        self.pod_spec()
            .and_then(|p| p.spec.get("securityContext"))
            .and_then(|v| SecurityContext::deserialize(v).ok())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_pod_bearing_kind() {
        let tpl = json!({"spec": {"containers": [{"name": "a", "image": "x"}],
                                  "initContainers": [{"name": "i"}]}});
        let cases = [
            (
                "Pod",
                json!({"kind": "Pod", "spec": tpl["spec"].clone()}),
                "/spec",
            ),
            (
                "Deployment",
                json!({"kind": "Deployment", "spec": {"template": tpl.clone()}}),
                "/spec/template/spec",
            ),
            (
                "StatefulSet",
                json!({"kind": "StatefulSet", "spec": {"template": tpl.clone()}}),
                "/spec/template/spec",
            ),
            (
                "DaemonSet",
                json!({"kind": "DaemonSet", "spec": {"template": tpl.clone()}}),
                "/spec/template/spec",
            ),
            (
                "ReplicaSet",
                json!({"kind": "ReplicaSet", "spec": {"template": tpl.clone()}}),
                "/spec/template/spec",
            ),
            (
                "ReplicationController",
                json!({"kind": "ReplicationController", "spec": {"template": tpl.clone()}}),
                "/spec/template/spec",
            ),
            (
                "Job",
                json!({"kind": "Job", "spec": {"template": tpl.clone()}}),
                "/spec/template/spec",
            ),
            (
                "CronJob",
                json!({"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": tpl.clone()}}}}),
                "/spec/jobTemplate/spec/template/spec",
            ),
            (
                "PodTemplate",
                json!({"kind": "PodTemplate", "template": tpl.clone()}),
                "/template/spec",
            ),
        ];
        for (kind, obj, base) in cases {
            let found = containers(&obj);
            let paths: Vec<String> = found.iter().map(|c| c.path.pointer()).collect();
            assert_eq!(
                paths,
                vec![
                    format!("{base}/initContainers/0"),
                    format!("{base}/containers/0")
                ],
                "{kind}"
            );
            assert_eq!(found[1].container.image.as_deref(), Some("x"));
        }
        assert!(containers(&json!({"kind": "Service", "spec": {}})).is_empty());
    }

    #[test]
    fn tolerant_container_view() {
        let obj = KubeObject::from_value(&json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": null,
            "spec": {"securityContext": {"runAsNonRoot": true},
                     "containers": [{"name": "c", "securityContext": {"privileged": "yes"}}]}
        }));
        assert!(obj.pod_security_context().run_as_non_root == Some(true));
        // A malformed container still yields a (defaulted) view with its path.
        let cs = obj.containers();
        assert_eq!(cs.len(), 1);
        assert_eq!(cs[0].path.pointer(), "/spec/containers/0");
    }
}
