//! What the built-in cross-document rules read of each document, so that a streamed run
//! keeps only that for them.
//!
//! The built-in combined packages (K8S101–K8S104: `builtin.kubernetes.default_deny`,
//! `service_selector`, `host_port_conflict`, `runtime_detection`, with their helpers in
//! `lib.cluster`) are evaluated once over the whole run ([`super::combine`]), so a
//! streamed run ([`super::stream`]) keeps a value of every document for them until the
//! last input is evaluated. Whole, those values grow with the run (some 47 KiB per
//! Deployment); of a Deployment these rules read a few dozen bytes. [`document`] keeps
//! exactly what they read, derived from their Rego:
//!
//! * a document is looked at only when it is a Kubernetes object (`lib.cluster.kube`: an
//!   object with a string `apiVersion` and a string `kind`); any other becomes `null`,
//!   which `kube` skips alike;
//! * of every object: `apiVersion` and `kind`; of a Namespace, NetworkPolicy, Service or
//!   workload also `metadata.name` and `metadata.namespace`;
//! * of a workload (the kinds of `lib.cluster.pod_spec_path`): its pod labels (at
//!   `pod_meta_path`) and, of each container of `initContainers`, `containers` and
//!   `ephemeralContainers` (at `pod_spec_path`), `image` and, of each of its `ports`,
//!   `hostPort`, `protocol` and `hostIP`;
//! * of a Service: `spec.selector`; of a NetworkPolicy: `spec.podSelector`,
//!   `spec.policyTypes` and `spec.ingress`.
//!
//! The projection only removes keys of objects: every array keeps its length, so the
//! indices in a result's path (`[i, "contents", "spec", "template", "spec",
//! "containers", 0, "ports", 1, "hostPort"]`) name the same node, which exists in the
//! original document, where the result is located. A value of another type than the one
//! the rules expect at a place (a `containers` that is not an array) is kept whole, so
//! that they see exactly what they would see in the whole document.
//!
//! It applies only while those four are the set's only combined packages and nothing of
//! the user's can change them or their helpers ([`covers`]): a user's combined package
//! (`custom.input: combined`, or any user package under `--combine`) may read anything,
//! and then every whole value is kept as before. A change to what these rules read must
//! change the shapes here (the test below compares both inputs on fixtures that make
//! each rule fire and not fire).

use serde_json::Value;

use super::PolicySet;

/// The combined packages whose reads [`document`] keeps.
pub const COVERED: &[&str] = &[
    "builtin.kubernetes.default_deny",
    "builtin.kubernetes.host_port_conflict",
    "builtin.kubernetes.runtime_detection",
    "builtin.kubernetes.service_selector",
];

/// The package of their helpers.
const HELPERS: &str = "lib.cluster";

/// What to keep of a value.
#[derive(Debug)]
enum Shape {
    /// All of it.
    All,
    /// Of an object, these keys, each with its shape (any other value: all of it).
    Keys(&'static [(&'static str, Shape)]),
    /// Of an array, every element with this shape (any other value: all of it).
    Each(&'static Shape),
}

use Shape::{All, Each, Keys};

const PORT: Shape = Keys(&[("hostPort", All), ("protocol", All), ("hostIP", All)]);
const CONTAINER: Shape = Keys(&[("image", All), ("ports", Each(&PORT))]);
/// `lib.cluster.containers`.
const POD_SPEC: Shape = Keys(&[
    ("initContainers", Each(&CONTAINER)),
    ("containers", Each(&CONTAINER)),
    ("ephemeralContainers", Each(&CONTAINER)),
]);
/// `lib.cluster.namespace`, `display`, `namespace_path`, `namespace_index`.
const METADATA: Shape = Keys(&[("name", All), ("namespace", All)]);
/// A pod template: `pod_meta_path` (labels) and `pod_spec_path`.
const TEMPLATE: Shape = Keys(&[("metadata", Keys(&[("labels", All)])), ("spec", POD_SPEC)]);

/// Any Kubernetes object that is none of the kinds below: `kube` membership only.
const OBJECT: Shape = Keys(&[("apiVersion", All), ("kind", All)]);
const NAMESPACE: Shape = Keys(&[("apiVersion", All), ("kind", All), ("metadata", METADATA)]);
const POD: Shape = Keys(&[
    ("apiVersion", All),
    ("kind", All),
    (
        "metadata",
        Keys(&[("name", All), ("namespace", All), ("labels", All)]),
    ),
    ("spec", POD_SPEC),
]);
const TEMPLATED: Shape = Keys(&[
    ("apiVersion", All),
    ("kind", All),
    ("metadata", METADATA),
    ("spec", Keys(&[("template", TEMPLATE)])),
]);
const CRON_JOB: Shape = Keys(&[
    ("apiVersion", All),
    ("kind", All),
    ("metadata", METADATA),
    (
        "spec",
        Keys(&[(
            "jobTemplate",
            Keys(&[("spec", Keys(&[("template", TEMPLATE)]))]),
        )]),
    ),
]);
const SERVICE: Shape = Keys(&[
    ("apiVersion", All),
    ("kind", All),
    ("metadata", METADATA),
    ("spec", Keys(&[("selector", All)])),
]);
const NETWORK_POLICY: Shape = Keys(&[
    ("apiVersion", All),
    ("kind", All),
    ("metadata", METADATA),
    (
        "spec",
        Keys(&[("podSelector", All), ("policyTypes", All), ("ingress", All)]),
    ),
]);

/// The shape of a Kubernetes object of `kind`.
fn shape(kind: &str) -> &'static Shape {
    match kind {
        "Pod" => &POD,
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "ReplicationController"
        | "Job" => &TEMPLATED,
        "CronJob" => &CRON_JOB,
        "Service" => &SERVICE,
        "NetworkPolicy" => &NETWORK_POLICY,
        "Namespace" => &NAMESPACE,
        _ => &OBJECT,
    }
}

fn project(value: Value, shape: &Shape) -> Value {
    match (shape, value) {
        (Keys(keys), Value::Object(map)) => Value::Object(
            map.into_iter()
                .filter_map(|(k, v)| {
                    let (_, s) = keys.iter().find(|(name, _)| *name == k)?;
                    Some((k, project(v, s)))
                })
                .collect(),
        ),
        (Each(s), Value::Array(items)) => {
            Value::Array(items.into_iter().map(|v| project(v, s)).collect())
        }
        (_, value) => value,
    }
}

/// What the [`COVERED`] packages read of a document's value (see the module
/// documentation): the same results, at the same paths, as from the whole value.
pub fn document(value: Value) -> Value {
    let kind = match &value {
        Value::Object(map) if map.get("apiVersion").is_some_and(Value::is_string) => {
            map.get("kind").and_then(Value::as_str).map(shape)
        }
        _ => None,
    };
    match kind {
        Some(shape) => project(value, shape),
        None => Value::Null,
    }
}

/// Whether the combined packages of `set` read no more than [`document`] keeps: every
/// one is one of [`COVERED`], and no user's Rego file or data defines anything in those
/// packages or in `lib.cluster` (or in a package above them: a user's `package lib` could
/// define `cluster`). Without a combined package at all, trivially.
pub fn covers(set: &PolicySet) -> bool {
    let only_covered = (set.rego.packages.iter())
        .filter(|p| p.combined)
        .all(|p| COVERED.contains(&p.name.as_str()));
    let untouched = COVERED.iter().chain([&HELPERS]).all(|covered| {
        !set.user_packages.iter().any(|p| nested(p, covered)) && !in_data(&set.data, covered)
    });
    only_covered && untouched
}

/// Whether one of two package paths is the other or inside it.
fn nested(a: &str, b: &str) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    long.strip_prefix(short)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// Whether `data` defines something at `package` or above it (a value that is not an
/// object on the way).
fn in_data(data: &Value, package: &str) -> bool {
    let mut at = data;
    for key in package.split('.') {
        match at {
            Value::Object(map) => match map.get(key) {
                Some(v) => at = v,
                None => return false,
            },
            _ => return true,
        }
    }
    true
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::eval::combine;
    use crate::eval::PolicyOptions;
    use crate::inputs::{load_text, Document, Format, LoadOptions};
    use crate::runtimes::rego::RegoOptions;

    /// Runs of documents of my own: every kind the rules look at, each rule firing and
    /// not, values of unexpected types where the rules read, and documents they skip.
    const RUNS: &[&str] = &[
        // An environment without detector; a Service per workload, one with a typo; a
        // default-deny policy in one namespace only; host ports on every workload kind,
        // clashing by pairs.
        "apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: a}}
---
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: shop, labels: {app: p}, annotations: {x: y}}
spec:
  initContainers: [{name: i, image: busybox, ports: [{containerPort: 1, hostPort: 7001}]}]
  containers:
    - name: c
      image: nginx
      env: [{name: A, value: b}]
      ports: [{containerPort: 80, hostPort: 8080}, {containerPort: 81, hostPort: 0}, 5, {hostPort: '9'}]
    - not-an-object
  ephemeralContainers: [{name: e, image: dbg, ports: [{hostPort: 7002, protocol: UDP}]}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, tier: front}, annotations: {a: b}}
    spec:
      volumes: [{name: v, emptyDir: {}}]
      containers: [{name: web, image: nginx, ports: [{containerPort: 80, hostPort: 8080}], args: [a]}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: data}
spec:
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: pg, ports: [{hostPort: 7001}]}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: kube-system}
spec:
  template:
    spec: {containers: [{name: a, image: a, ports: [{hostPort: 7002, protocol: UDP, hostIP: 0.0.0.0}]}]}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rs}
spec:
  template:
    spec: {containers: [{name: a, image: a, ports: [{hostPort: 9000, hostIP: 10.0.0.1}]}]}
---
apiVersion: v1
kind: ReplicationController
metadata: {name: rc}
spec:
  template:
    spec: {containers: [{name: a, image: a, ports: [{hostPort: 9000, hostIP: 10.0.0.1}]}]}
---
apiVersion: batch/v1
kind: Job
metadata: {name: job, namespace: ''}
spec:
  template:
    spec: {containers: [{name: a, image: a, ports: [{hostPort: 9100}]}]}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: cron, namespace: tools}
spec:
  schedule: '* * * * *'
  jobTemplate:
    spec:
      template:
        metadata: {labels: {app: cron}}
        spec: {containers: [{name: a, image: a, ports: [{hostPort: 9100, hostIP: '::'}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {selector: {app: web, tier: front}, ports: [{port: 80}], type: ClusterIP}
---
apiVersion: v1
kind: Service
metadata: {name: p, namespace: shop}
spec: {selector: {app: pp}}
---
apiVersion: v1
kind: Service
metadata: {name: cron, namespace: tools}
spec: {selector: {app: cron, pod-template-hash: abc}}
---
apiVersion: v2
kind: Service
metadata: {name: web, namespace: shop}
spec: {selector: {app: nope}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: data}
spec: {podSelector: {}, policyTypes: [Ingress, Egress], egress: [{}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: narrow, namespace: shop}
spec: {podSelector: {matchLabels: {app: web}}, ingress: [{}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress-only, namespace: tools}
spec: {podSelector: {}, policyTypes: [Egress]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all}
spec: {podSelector: {}, ingress: [{from: []}]}
---
apiVersion: v1
kind: Service
metadata: {name: p-ok, namespace: shop}
spec: {selector: {app: p}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: shop}
data: {big: value}
---
kind: Deployment
metadata: {name: no-api-version}
---
apiVersion: 1
kind: Pod
---
- a list
---
plain string
",
        // Falco deployed: no K8S101; values of unexpected types where the rules read.
        "apiVersion: v1
kind: Namespace
metadata: {name: mon}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: falco, namespace: mon}
spec:
  template:
    metadata: {labels: [not, an, object]}
    spec:
      containers:
        - {name: falco, image: docker.io/falcosecurity/falco-no-driver:0.39.1, ports: 'none'}
      initContainers: {not: an-array}
---
apiVersion: apps/v1
kind: Deployment
metadata: [odd]
spec:
  template: [odd]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: [odd]}
spec:
  template:
    metadata: {labels: {app: web}}
    spec: 'odd'
---
apiVersion: v1
kind: Pod
metadata: {name: solo, namespace: mon}
spec: [odd]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: mon}
spec: {selector: 'odd'}
---
apiVersion: v1
kind: Service
metadata: {name: falco, namespace: mon}
spec: {selector: {app: falco, x: 1}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: mon}
spec: {podSelector: {matchLabels: {}}, ingress: []}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: odd, namespace: mon}
spec: {podSelector: {matchLabels: ''}, policyTypes: Ingress}
---
apiVersion: v1
kind: Namespace
metadata: {name: 7}
",
    ];

    /// The rule test cases of the four packages (policy tests), as runs too.
    const CASES: &[(&str, &str)] = &[
        (
            "K8S101",
            include_str!("../../../policies/kubernetes/runtime_detection.yaml"),
        ),
        (
            "K8S102",
            include_str!("../../../policies/kubernetes/default_deny.yaml"),
        ),
        (
            "K8S103",
            include_str!("../../../policies/kubernetes/service_selector.yaml"),
        ),
        (
            "K8S104",
            include_str!("../../../policies/kubernetes/host_port_conflict.yaml"),
        ),
    ];

    pub(crate) fn builtin_set(extra: impl FnOnce(&mut PolicyOptions)) -> PolicySet {
        let mut opts = PolicyOptions {
            builtin: true,
            rego: RegoOptions::default(),
            ..PolicyOptions::default()
        };
        extra(&mut opts);
        PolicySet::load(&opts)
    }

    pub(crate) fn runs() -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = RUNS
            .iter()
            .enumerate()
            .map(|(i, r)| (format!("run-{i}.yaml"), r.to_string()))
            .collect();
        for (_, text) in CASES {
            let cases: serde_json::Value = yaml_serde::from_str(text).expect("cases");
            for case in cases["cases"].as_array().expect("a list") {
                out.push((
                    case["filename"].as_str().expect("filename").to_string(),
                    case["input"].as_str().expect("input").to_string(),
                ));
            }
        }
        out
    }

    /// The combined packages give the same results, messages, paths and failures on the
    /// projected values as on the whole ones, and each of K8S101–K8S104 fires and does
    /// not fire on some run.
    #[test]
    fn projected_documents_give_the_same_results() {
        let set = builtin_set(|_| {});
        assert!(covers(&set));
        let mut fired: Vec<(String, bool)> = Vec::new();
        let mut kept = (0, 0);
        for (name, text) in runs() {
            let f = load_text(&name, &text, Format::Yaml, &LoadOptions::default());
            assert!(f.errors.is_empty(), "{name}: {:?}", f.errors);
            let projected: Vec<Document> = f
                .documents
                .iter()
                .map(|d| Document {
                    value: document(d.value.clone()),
                    ..d.clone()
                })
                .collect();
            kept.0 +=
                serde_json::to_string(&combine::input(&f.documents.iter().collect::<Vec<_>>()))
                    .expect("json")
                    .len();
            kept.1 += serde_json::to_string(&combine::input(&projected.iter().collect::<Vec<_>>()))
                .expect("json")
                .len();
            let whole = combine::evaluate_selected_raw(
                &set,
                &f.documents.iter().collect::<Vec<_>>(),
                |_| true,
            );
            let slim =
                combine::evaluate_selected_raw(&set, &projected.iter().collect::<Vec<_>>(), |_| {
                    true
                });
            assert_eq!(format!("{whole:?}"), format!("{slim:?}"), "{name}\n{text}");
            assert!(!whole.timed_out());
            let docs: Vec<&Document> = f.documents.iter().collect();
            let located = whole.resolve(&docs);
            assert!(located.errors.is_empty(), "{name}: {:?}", located.errors);
            for id in ["K8S101", "K8S102", "K8S103", "K8S104"] {
                let hit = located.findings.iter().any(|f| &*f.rule.id == id);
                fired.push((id.to_string(), hit));
            }
        }
        for id in ["K8S101", "K8S102", "K8S103", "K8S104"] {
            assert!(
                fired.contains(&(id.to_string(), true)),
                "{id} fires somewhere"
            );
            assert!(
                fired.contains(&(id.to_string(), false)),
                "{id} is quiet somewhere"
            );
        }
        // The fixtures are small already; a Deployment of the scale bench keeps a tenth.
        assert!(kept.1 < kept.0, "projected {} of {} bytes", kept.1, kept.0);
    }

    #[test]
    fn documents_keep_only_what_the_rules_read() {
        let deployment = serde_json::json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop", "labels": {"a": "b"}},
            "spec": {"replicas": 2, "template": {
                "metadata": {"labels": {"app": "web"}, "annotations": {"x": "y"}},
                "spec": {"volumes": [], "containers": [
                    {"name": "c", "image": "nginx", "env": [], "ports": [{"containerPort": 80}, 3]},
                    "odd",
                ]},
            }},
        });
        assert_eq!(
            document(deployment),
            serde_json::json!({
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "web", "namespace": "shop"},
                "spec": {"template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"image": "nginx", "ports": [{}, 3]}, "odd"]},
                }},
            })
        );
        let secret = serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "v"}});
        assert_eq!(
            document(secret),
            serde_json::json!({"apiVersion": "v1", "kind": "Secret"})
        );
        assert_eq!(document(serde_json::json!({"kind": "Pod"})), Value::Null);
        assert_eq!(document(serde_json::json!(["FROM", "x"])), Value::Null);
    }

    /// The projection is used only while every combined package is a covered built-in
    /// and nothing of the user's defines something in them or in their helpers.
    #[test]
    fn covers_only_the_builtin_combined_packages_untouched() {
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, text).expect("write");
            path
        };
        let plain = write(
            "plain/main.rego",
            "package main\nimport rego.v1\ndeny contains \"x\" if input.kind == \"X\"\n",
        );
        let combined = write(
            "combined/all.rego",
            "# METADATA\n# custom:\n#   input: combined\npackage all\nimport rego.v1\ndeny contains \"x\" if count(input) > 100\n",
        );
        let helpers = write(
            "helpers/cluster.rego",
            "package lib.cluster\nimport rego.v1\nextra := 1\n",
        );
        let parent = write("parent/lib.rego", "package lib\nimport rego.v1\nx := 1\n");
        let sibling = write(
            "sibling/lib.rego",
            "package lib.clusters\nimport rego.v1\nx := 1\n",
        );
        let data = write("data/lib.json", "{\"lib\": {\"cluster\": {\"x\": 1}}}");
        let other_data = write("data2/lib.json", "{\"lib\": {\"other\": 1}}");

        assert!(covers(&builtin_set(|_| {})));
        assert!(covers(&builtin_set(|o| o.paths = vec![plain.clone()])));
        assert!(covers(&builtin_set(|o| o.paths = vec![sibling.clone()])));
        assert!(covers(&builtin_set(|o| o.data = vec![other_data.clone()])));
        assert!(covers(&builtin_set(|o| {
            o.extra_data = vec![serde_json::json!({"pss": {"level": "restricted"}})]
        })));
        // Turning a covered rule off keeps the others covered.
        assert!(covers(&builtin_set(|o| {
            o.disabled_rules = vec!["K8S101".into()]
        })));
        assert!(!covers(&builtin_set(|o| o.paths = vec![combined.clone()])));
        assert!(!covers(&builtin_set(|o| {
            o.paths = vec![plain.clone()];
            o.combine = true;
        })));
        assert!(!covers(&builtin_set(|o| o.paths = vec![helpers.clone()])));
        assert!(!covers(&builtin_set(|o| o.paths = vec![parent.clone()])));
        assert!(!covers(&builtin_set(|o| o.data = vec![data.clone()])));
        // Without the built-in set, a user's combined package is never covered.
        let users = PolicySet::load(&PolicyOptions {
            paths: vec![combined],
            ..PolicyOptions::default()
        });
        assert!(!covers(&users));
    }

    #[test]
    fn nested_packages_and_data() {
        assert!(nested("lib", "lib.cluster"));
        assert!(nested("lib.cluster", "lib.cluster"));
        assert!(nested("lib.cluster.x", "lib.cluster"));
        assert!(!nested("lib.clusters", "lib.cluster"));
        assert!(!nested("li", "lib.cluster"));
        assert!(in_data(&serde_json::json!({"lib": 1}), "lib.cluster"));
        assert!(in_data(
            &serde_json::json!({"lib": {"cluster": {}}}),
            "lib.cluster"
        ));
        assert!(!in_data(
            &serde_json::json!({"lib": {"x": {}}}),
            "lib.cluster"
        ));
        assert!(!in_data(&serde_json::json!({}), "lib.cluster"));
    }
}
