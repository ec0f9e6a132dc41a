//! The built-in cross-document rules K8S101–K8S104 computed in Rust, with their Rego as
//! the specification.
//!
//! A streamed run ([`super::stream`]) keeps, of every document, what these four combined
//! packages read ([`super::slim`]), and evaluates them once at the end. Through regorus
//! that step holds every projected object as a tree of maps, some 3.9 KiB per Deployment
//! (BENCHMARKS.md, "packed values"), and it is a fifth of a large run's CPU. Here the
//! same results come from a few hundred bytes per workload (names, namespace, pod
//! labels, host ports, whether an image is a runtime detector), in linear time.
//!
//! The Rego files (`policies/lib/cluster.rego`, `policies/kubernetes/default_deny.rego`,
//! `service_selector.rego`, `host_port_conflict.rego`, `runtime_detection.rego`) stay
//! the rules: their documentation, their test cases, the editor and every run that is
//! not streamed use them, and so does a streamed run whenever this module declines.
//! It declines ([`evaluate`] gives `None`) when:
//!
//! * a combined package of the set is not one of the four, has another entry rule than
//!   `deny`, or has `exception` rules (a user's files can change neither:
//!   [`super::slim::covers`] is required);
//! * a document has a value of another type than the one the rules expect at a place
//!   they read, where the Rego's outcome depends on builtin details (a `metadata` that is
//!   not an object, a label that is not a string, a `hostPort` of `8080.5`, a `protocol`
//!   of `null`, a `matchLabels` of `null`, ...). Such a run is evaluated by regorus, as
//!   before, with no loss but speed.
//!
//! Results are built as the Rego builds them: the same messages through the same
//! `sprintf`, the same paths, collected into a set and read by the same code as an entry
//! rule's value. The differential tests below compare both on my fixtures, the rules'
//! own cases and generated runs.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::LazyLock;

use regorus::Value as Rv;
use serde_json::{Map, Value};

use crate::inputs::Document;
use crate::runtimes::rego::{entry_results, sprintf, RegoPackage};
use crate::runtimes::RawResult;

use super::{combine, slim, PolicySet};

/// `lib.cluster.system_namespaces`.
const SYSTEM_NAMESPACES: [&str; 3] = ["kube-system", "kube-public", "kube-node-lease"];

/// `service_selector.controller_labels`.
const CONTROLLER_LABELS: [&str; 8] = [
    "statefulset.kubernetes.io/pod-name",
    "apps.kubernetes.io/pod-index",
    "controller-revision-hash",
    "pod-template-hash",
    "batch.kubernetes.io/job-name",
    "batch.kubernetes.io/controller-uid",
    "job-name",
    "controller-uid",
];

/// `runtime_detection.detector_pattern`.
const DETECTOR_PATTERN: &str = r"(^|/)(falco(-no-driver)?|tetragon|tracee|kubearmor|sysdig/agent(-slim)?|neuvector/enforcer|stackrox/collector)(:|@|$)";

static DETECTOR: LazyLock<Option<regex::Regex>> =
    LazyLock::new(|| regex::Regex::new(DETECTOR_PATTERN).ok());

/// The container lists of a pod spec, in `lib.cluster.containers`' order.
const CONTAINER_FIELDS: [&str; 3] = ["initContainers", "containers", "ephemeralContainers"];

/// A value whose outcome in the Rego this module does not reproduce: the run goes to
/// regorus.
#[derive(Debug)]
struct Exotic;

type Plain<T> = Result<T, Exotic>;

/// What every rule reads of an object it looks at.
#[derive(Debug)]
struct Object {
    /// Its index in the combined input.
    i: usize,
    kind: &'static str,
    /// `metadata.name`, when a string.
    name: Option<Box<str>>,
    /// `metadata.namespace`, when a string (possibly empty).
    namespace: Option<Box<str>>,
    /// Whether `metadata` is an object.
    has_metadata: bool,
}

impl Object {
    fn read(i: usize, kind: &'static str, map: &Map<String, Value>) -> Plain<Object> {
        let (has_metadata, name, namespace) = match map.get("metadata") {
            None => (false, None, None),
            Some(Value::Object(m)) => (
                true,
                string_or_absent(m.get("name"))?,
                string_or_absent(m.get("namespace"))?,
            ),
            Some(_) => return Err(Exotic),
        };
        Ok(Object {
            i,
            kind,
            name,
            namespace,
            has_metadata,
        })
    }

    /// `lib.cluster.namespace`.
    fn namespace(&self) -> &str {
        match &self.namespace {
            Some(ns) if !ns.is_empty() => ns,
            _ => "default",
        }
    }

    /// `lib.cluster.display`.
    fn display(&self) -> String {
        match &self.name {
            Some(n) => sprintf("%s %q", &[Rv::from(self.kind), Rv::from(&**n)]),
            None => sprintf("%s <unnamed>", &[Rv::from(self.kind)]),
        }
    }

    /// `[i, "contents", ...]`.
    fn path(&self, inner: &[&str]) -> Vec<Rv> {
        let mut out = vec![Rv::from(self.i), Rv::from("contents")];
        out.extend(inner.iter().map(|k| Rv::from(*k)));
        out
    }

    /// `lib.cluster.namespace_path`.
    fn namespace_path(&self) -> Vec<Rv> {
        if self.namespace.is_some() {
            self.path(&["metadata", "namespace"])
        } else if self.has_metadata {
            self.path(&["metadata"])
        } else {
            self.path(&["kind"])
        }
    }
}

fn string_or_absent(v: Option<&Value>) -> Plain<Option<Box<str>>> {
    match v {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str().into())),
        Some(_) => Err(Exotic),
    }
}

/// A host port a container claims (`host_port_conflict.claims`).
#[derive(Debug)]
struct Claim {
    port: i64,
    protocol: Box<str>,
    ip: Box<str>,
    path: Vec<Rv>,
}

/// A pod-bearing object (`lib.cluster.workloads`).
#[derive(Debug)]
struct Workload {
    obj: Object,
    /// `lib.cluster.pod_labels`: string values only (else [`Exotic`]). A slice, not a
    /// map: a run holds one per workload, and a map's first node is some 600 bytes.
    labels: Box<[(Box<str>, Box<str>)]>,
    /// Whether one of its containers runs a runtime detector's image.
    detector: bool,
    claims: Vec<Claim>,
}

/// A Service with a non-empty selector (`service_selector.services`).
#[derive(Debug)]
struct Service {
    obj: Object,
    selector: Map<String, Value>,
}

/// What the four rules need of a whole run.
#[derive(Debug, Default)]
struct Run {
    /// `lib.cluster.namespace_index`: each Namespace's first index.
    namespaces: HashMap<String, usize>,
    /// In input order.
    workloads: Vec<Workload>,
    services: Vec<Service>,
    /// `default_deny.default_deny`: namespaces with a default-deny NetworkPolicy.
    default_deny: HashSet<String>,
}

/// The workload kinds (`lib.cluster.pod_spec_path`).
const WORKLOAD_KINDS: [&str; 8] = [
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
    "Job",
    "CronJob",
];

/// `lib.cluster.pod_meta_path` and `pod_spec_path` of a workload kind.
fn pod_paths(kind: &str) -> (&'static [&'static str], &'static [&'static str]) {
    match kind {
        "Pod" => (&["metadata"], &["spec"]),
        "CronJob" => (
            &["spec", "jobTemplate", "spec", "template", "metadata"],
            &["spec", "jobTemplate", "spec", "template", "spec"],
        ),
        _ => (
            &["spec", "template", "metadata"],
            &["spec", "template", "spec"],
        ),
    }
}

/// `object.get(map, path, absent)` along objects: `None` when a key is missing.
fn get_path<'a>(map: &'a Map<String, Value>, path: &[&str]) -> Plain<Option<&'a Value>> {
    let Some((last, init)) = path.split_last() else {
        return Err(Exotic);
    };
    let mut at = map;
    for key in init {
        match at.get(*key) {
            None => return Ok(None),
            Some(Value::Object(m)) => at = m,
            Some(_) => return Err(Exotic),
        }
    }
    Ok(at.get(*last))
}

impl Run {
    fn read(packed: &[&[u8]]) -> Plain<Run> {
        let mut run = Run::default();
        for (i, json) in packed.iter().enumerate() {
            let value: Value = serde_json::from_slice(json).map_err(|_| Exotic)?;
            run.add(i, &value)?;
        }
        Ok(run)
    }

    /// One document of the combined input (`lib.cluster.kube`).
    fn add(&mut self, i: usize, value: &Value) -> Plain<()> {
        let Value::Object(map) = value else {
            return Ok(());
        };
        let (Some(Value::String(api)), Some(Value::String(kind))) =
            (map.get("apiVersion"), map.get("kind"))
        else {
            return Ok(());
        };
        if let Some(kind) = WORKLOAD_KINDS.iter().find(|k| **k == kind) {
            let obj = Object::read(i, kind, map)?;
            let (meta_path, spec_path) = pod_paths(kind);
            let workload = workload(obj, map, meta_path, spec_path)?;
            self.workloads.push(workload);
            return Ok(());
        }
        match kind.as_str() {
            "Namespace" => {
                let obj = Object::read(i, "Namespace", map)?;
                if let Some(name) = obj.name {
                    self.namespaces.entry(name.into()).or_insert(i);
                }
            }
            "Service" if api == "v1" => {
                let obj = Object::read(i, "Service", map)?;
                let selector = match map.get("spec") {
                    None | Some(Value::Null) => None,
                    Some(Value::Object(spec)) => match spec.get("selector") {
                        Some(Value::Object(sel)) if !sel.is_empty() => {
                            if !sel.values().all(Value::is_string) {
                                return Err(Exotic);
                            }
                            Some(sel.clone())
                        }
                        _ => None,
                    },
                    Some(_) => return Err(Exotic),
                };
                if let Some(selector) = selector {
                    self.services.push(Service { obj, selector });
                }
            }
            "NetworkPolicy" => {
                let obj = Object::read(i, "NetworkPolicy", map)?;
                if denies_all_ingress(map.get("spec"))? {
                    self.default_deny.insert(obj.namespace().to_string());
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// `default_deny`'s `empty_selector(np.spec.podSelector)` and `denies_ingress(np.spec)`.
fn denies_all_ingress(spec: Option<&Value>) -> Plain<bool> {
    let spec = match spec {
        None | Some(Value::Null) => return Ok(false),
        Some(Value::Object(spec)) => spec,
        Some(_) => return Err(Exotic),
    };
    let selector = match spec.get("podSelector") {
        None | Some(Value::Null) => return Ok(false),
        Some(Value::Object(sel)) => sel,
        Some(_) => return Err(Exotic),
    };
    let empty = match selector.get("matchLabels") {
        None => true,
        Some(Value::Object(m)) => m.is_empty(),
        Some(_) => return Err(Exotic),
    } && match selector.get("matchExpressions") {
        None => true,
        Some(Value::Array(a)) => a.is_empty(),
        Some(_) => return Err(Exotic),
    };
    if !empty {
        return Ok(false);
    }
    let ingress_type = match spec.get("policyTypes") {
        None => true,
        Some(Value::Array(types)) => types.iter().any(|t| t == "Ingress"),
        Some(_) => return Err(Exotic),
    };
    let no_rules = match spec.get("ingress") {
        None => true,
        Some(Value::Array(rules)) => rules.is_empty(),
        Some(_) => return Err(Exotic),
    };
    Ok(ingress_type && no_rules)
}

/// A workload's labels, detector image and host-port claims.
fn workload(
    obj: Object,
    map: &Map<String, Value>,
    meta_path: &[&str],
    spec_path: &[&str],
) -> Plain<Workload> {
    let labels_path: Vec<&str> = meta_path.iter().copied().chain(["labels"]).collect();
    let labels = match get_path(map, &labels_path)? {
        None | Some(Value::Null) => Box::default(),
        Some(Value::Object(l)) => (l.iter())
            .map(|(k, v)| match v {
                Value::String(v) => Ok((k.as_str().into(), v.as_str().into())),
                _ => Err(Exotic),
            })
            .collect::<Plain<_>>()?,
        Some(_) => return Err(Exotic),
    };
    let mut out = Workload {
        obj,
        labels,
        detector: false,
        claims: Vec::new(),
    };
    let spec = match get_path(map, spec_path)? {
        None | Some(Value::Null) => return Ok(out),
        Some(Value::Object(spec)) => spec,
        Some(_) => return Err(Exotic),
    };
    for field in CONTAINER_FIELDS {
        let Some(Value::Array(list)) = spec.get(field) else {
            // Absent, or not an array: `is_array(list)` fails.
            continue;
        };
        for (j, c) in list.iter().enumerate() {
            let Value::Object(c) = c else { continue };
            if let Some(Value::String(image)) = c.get("image") {
                out.detector |= DETECTOR.as_ref().is_some_and(|re| re.is_match(image));
            }
            let Some(Value::Array(ports)) = c.get("ports") else {
                continue;
            };
            for (k, port) in ports.iter().enumerate() {
                let Value::Object(port) = port else { continue };
                let host = match port.get("hostPort") {
                    Some(Value::Number(n)) => n.as_i64().ok_or(Exotic)?,
                    _ => continue,
                };
                if host == 0 {
                    continue;
                }
                let protocol = match port.get("protocol") {
                    None => "TCP".into(),
                    Some(Value::String(s)) => s.as_str().into(),
                    Some(_) => return Err(Exotic),
                };
                let ip = string_or_absent(port.get("hostIP"))?.unwrap_or_default();
                let mut path: Vec<&str> = spec_path.to_vec();
                path.push(field);
                let mut path = out.obj.path(&path);
                path.extend([
                    Rv::from(j),
                    Rv::from("ports"),
                    Rv::from(k),
                    Rv::from("hostPort"),
                ]);
                out.claims.push(Claim {
                    port: host,
                    protocol,
                    ip,
                    path,
                });
            }
        }
    }
    Ok(out)
}

/// A result as the rules write it: `{"msg": msg, "path": path}`.
fn result(msg: String, path: Vec<Rv>) -> Rv {
    let mut map = std::collections::BTreeMap::new();
    map.insert(Rv::from("msg"), Rv::from(msg));
    map.insert(Rv::from("path"), Rv::from(path));
    Rv::from(map)
}

impl Run {
    /// K8S101, `builtin.kubernetes.runtime_detection`.
    fn runtime_detection(&self) -> BTreeSet<Rv> {
        let environment = !self.namespaces.is_empty()
            && (self.workloads.iter()).any(|w| !SYSTEM_NAMESPACES.contains(&w.obj.namespace()));
        let detector = self.workloads.iter().any(|w| w.detector);
        let mut out = BTreeSet::new();
        if let (true, false, Some(first)) = (environment, detector, self.workloads.first()) {
            out.insert(result(
                "this set deploys workloads but no runtime threat-detection agent (Falco, Tetragon, Tracee, KubeArmor or the like): deploy one as a DaemonSet so that attacks on running containers are seen".into(),
                first.obj.path(&["kind"]),
            ));
        }
        out
    }

    /// K8S102, `builtin.kubernetes.default_deny`.
    fn default_deny(&self) -> BTreeSet<Rv> {
        let mut out = BTreeSet::new();
        if self.namespaces.is_empty() {
            return out;
        }
        let mut first: HashMap<&str, &Workload> = HashMap::new();
        for w in &self.workloads {
            first.entry(w.obj.namespace()).or_insert(w);
        }
        for (ns, w) in first {
            if SYSTEM_NAMESPACES.contains(&ns) || self.default_deny.contains(ns) {
                continue;
            }
            let path = match self.namespaces.get(ns) {
                Some(&i) => vec![
                    Rv::from(i),
                    Rv::from("contents"),
                    Rv::from("metadata"),
                    Rv::from("name"),
                ],
                None => w.obj.namespace_path(),
            };
            out.insert(result(
                sprintf("namespace %q runs workloads but no NetworkPolicy of this set denies ingress to all its pods by default: add one with podSelector {} and policyTypes [Ingress], then allow what each workload needs", &[Rv::from(ns)]),
                path,
            ));
        }
        out
    }

    /// K8S103, `builtin.kubernetes.service_selector`.
    fn service_selector(&self) -> BTreeSet<Rv> {
        let names: HashSet<&str> = (self.workloads.iter())
            .filter_map(|w| w.obj.name.as_deref())
            .collect();
        let mut by_namespace: HashMap<&str, Vec<&Workload>> = HashMap::new();
        for w in &self.workloads {
            by_namespace.entry(w.obj.namespace()).or_default().push(w);
        }
        let mut out = BTreeSet::new();
        for svc in &self.services {
            let Some(name) = &svc.obj.name else {
                // `{svc.metadata.name}` is undefined: `intended` fails.
                continue;
            };
            let intended = names.contains(&**name)
                || (svc.selector.values()).any(|v| v.as_str().is_some_and(|v| names.contains(v)));
            let ns = svc.obj.namespace();
            let selected = by_namespace.get(ns).is_some_and(|ws| {
                ws.iter().any(|w| {
                    (svc.selector.iter()).all(|(k, v)| {
                        (w.labels.iter()).any(|(lk, lv)| **lk == **k && v.as_str() == Some(lv))
                            || CONTROLLER_LABELS.contains(&k.as_str())
                    })
                })
            });
            if intended && !selected {
                out.insert(result(
                    sprintf("%s in namespace %q selects %v, which no workload of this set labels its pods with, so it has no endpoints: fix the selector or the pod template labels", &[
                        Rv::from(svc.obj.display()),
                        Rv::from(ns),
                        Rv::from(Value::Object(svc.selector.clone())),
                    ]),
                    svc.obj.path(&["spec", "selector"]),
                ));
            }
        }
        out
    }

    /// K8S104, `builtin.kubernetes.host_port_conflict`.
    fn host_port_conflict(&self) -> BTreeSet<Rv> {
        let mut groups: HashMap<(i64, &str), Vec<(String, &Claim)>> = HashMap::new();
        for w in &self.workloads {
            if w.claims.is_empty() {
                continue;
            }
            let owner = w.obj.display();
            for c in &w.claims {
                (groups.entry((c.port, &*c.protocol)).or_default()).push((owner.clone(), c));
            }
        }
        let any = |ip: &str| ["", "0.0.0.0", "::"].contains(&ip);
        let mut out = BTreeSet::new();
        for claims in groups.values().filter(|g| g.len() > 1) {
            for (a_owner, a) in claims {
                for (b_owner, b) in claims {
                    if a.path == b.path || !(any(&a.ip) || any(&b.ip) || a.ip == b.ip) {
                        continue;
                    }
                    out.insert(result(
                        sprintf("%s claims host port %v/%s, which %s claims too, so their pods can never run on the same node: give one of them another hostPort or use a Service", &[
                            Rv::from(a_owner.as_str()),
                            Rv::from(a.port),
                            Rv::from(&*a.protocol),
                            Rv::from(b_owner.as_str()),
                        ]),
                        a.path.clone(),
                    ));
                }
            }
        }
        out
    }
}

/// The results of each combined package of `set` over `docs`, each document's value
/// being the compact JSON of its projection (`packed[i]`, [`slim::document`]), or `None`
/// when this module does not reproduce the Rego for this set or run (see the module
/// documentation): the caller then evaluates the Rego.
pub(super) fn evaluate(
    set: &PolicySet,
    docs: &[&Document],
    packed: &[&[u8]],
) -> Option<Vec<(String, usize, Vec<RawResult>)>> {
    let packages = combine::selected(set, docs, |_| true);
    let ours = |p: &RegoPackage| {
        slim::COVERED.contains(&p.name.as_str())
            && !p.has_exceptions
            && p.entries.iter().all(|e| e.name == "deny")
    };
    if !slim::covers(set) || !packages.iter().all(|(p, _)| ours(p)) || DETECTOR.is_none() {
        return None;
    }
    if packages.is_empty() || docs.is_empty() {
        return Some(Vec::new());
    }
    let run = Run::read(packed).ok()?;
    let mut out = Vec::with_capacity(packages.len());
    for (pkg, kind) in packages {
        let set = match pkg.name.as_str() {
            "builtin.kubernetes.runtime_detection" => run.runtime_detection(),
            "builtin.kubernetes.default_deny" => run.default_deny(),
            "builtin.kubernetes.service_selector" => run.service_selector(),
            "builtin.kubernetes.host_port_conflict" => run.host_port_conflict(),
            _ => return None,
        };
        let value = Rv::from(set);
        let mut results = Vec::new();
        for entry in pkg.entries.iter().filter(|e| e.meta.applies_to(kind)) {
            entry_results(&value, entry, pkg, &mut results);
        }
        out.push((pkg.name.clone(), pkg.definitions(kind), results));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::slim::tests::{builtin_set, runs};
    use crate::inputs::{load_text, Format, LoadOptions};

    /// Runs `text` through the combined step twice, through regorus and as a streamed
    /// run does it: the two unlocated outcomes, and whether this module computed it.
    fn both(set: &PolicySet, name: &str, text: &str) -> (String, String, bool) {
        let f = load_text(name, text, Format::Yaml, &LoadOptions::default());
        assert!(f.errors.is_empty(), "{name}: {:?}\n{text}", f.errors);
        let docs: Vec<&Document> = f.documents.iter().collect();
        let packed: Vec<Vec<u8>> = (docs.iter())
            .map(|d| serde_json::to_vec(&slim::document(d.value.clone())).expect("json"))
            .collect();
        let packed: Vec<&[u8]> = packed.iter().map(|p| &p[..]).collect();
        let rego = combine::evaluate_packed(set, &docs, &packed, false);
        let streamed = combine::evaluate_packed(set, &docs, &packed, true);
        let native = evaluate(set, &docs, &packed).is_some();
        (format!("{rego:#?}"), format!("{streamed:#?}"), native)
    }

    #[test]
    fn the_same_results_as_the_rego_on_the_fixtures_and_the_rules_cases() {
        let set = builtin_set(|_| {});
        let mut native = 0;
        for (name, text) in runs() {
            let (rego, streamed, computed) = both(&set, &name, &text);
            assert_eq!(rego, streamed, "{name}\n{text}");
            native += usize::from(computed);
        }
        // The fixtures hold values of odd types on purpose: those runs go to regorus.
        assert!(native >= 10, "{native} runs computed natively");
    }

    /// A small deterministic generator (xorshift), enough to vary runs.
    struct Gen(u64);

    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }
        fn chance(&mut self, percent: usize) -> bool {
            self.below(100) < percent
        }
    }

    const NAMES: &[&str] = &["web", "db", "api", "falco"];
    const NAMESPACES: &[&str] = &["shop", "data", "kube-system", "default", ""];
    const IMAGES: &[&str] = &["nginx", "notfalco", "falco-exporter", "redis:7"];
    const DETECTORS: &[&str] = &[
        "falcosecurity/falco:0.38",
        "docker.io/sysdig/agent-slim",
        "quay.io/cilium/tetragon@sha256:00",
        "falco-no-driver",
    ];

    fn metadata(g: &mut Gen) -> Option<Value> {
        if g.chance(5) {
            return None;
        }
        let mut m = Map::new();
        if g.chance(90) {
            m.insert("name".into(), g.pick(NAMES).into());
        }
        if g.chance(80) {
            m.insert("namespace".into(), g.pick(NAMESPACES).into());
        }
        Some(Value::Object(m))
    }

    fn labels(g: &mut Gen) -> Value {
        match g.below(8) {
            0 => Value::Null,
            1 => serde_json::json!({}),
            2 => serde_json::json!({"app": g.pick(NAMES), "tier": g.pick(&["front", "back"])}),
            _ => serde_json::json!({"app": g.pick(NAMES)}),
        }
    }

    fn container(g: &mut Gen) -> Value {
        let mut c = Map::new();
        c.insert("name".into(), "c".into());
        if g.chance(90) {
            let image = if g.chance(8) {
                g.pick(DETECTORS)
            } else {
                g.pick(IMAGES)
            };
            c.insert("image".into(), image.into());
        }
        if g.chance(10) {
            c.insert("ports".into(), Value::Null);
        } else if g.chance(60) {
            let ports: Vec<Value> = (0..g.below(3))
                .map(|_| {
                    let mut p = Map::new();
                    p.insert("containerPort".into(), 80.into());
                    match g.below(5) {
                        0 => {}
                        1 => {
                            p.insert("hostPort".into(), 0.into());
                        }
                        2 => {
                            p.insert("hostPort".into(), 8080.into());
                        }
                        _ => {
                            p.insert("hostPort".into(), 80.into());
                        }
                    }
                    if g.chance(40) {
                        p.insert("protocol".into(), g.pick(&["TCP", "UDP"]).into());
                    }
                    if g.chance(40) {
                        p.insert(
                            "hostIP".into(),
                            g.pick(&["", "0.0.0.0", "10.0.0.1", "::"]).into(),
                        );
                    }
                    Value::Object(p)
                })
                .collect();
            c.insert("ports".into(), ports.into());
        }
        Value::Object(c)
    }

    fn pod_spec(g: &mut Gen) -> Value {
        let mut spec = Map::new();
        for field in CONTAINER_FIELDS {
            if field == "containers" || g.chance(15) {
                let list: Vec<Value> = (0..=g.below(2)).map(|_| container(g)).collect();
                spec.insert(field.into(), list.into());
            }
        }
        if g.chance(5) {
            spec.insert("containers".into(), Value::Null);
        }
        Value::Object(spec)
    }

    fn document(g: &mut Gen) -> Value {
        let mut doc = Map::new();
        let others = [
            "Service",
            "Service",
            "NetworkPolicy",
            "Namespace",
            "Namespace",
            "ConfigMap",
        ];
        let kinds: Vec<&str> = WORKLOAD_KINDS.iter().chain(&others).copied().collect();
        let kind = g.pick(&kinds);
        if g.chance(97) {
            let api = match kind {
                "Service" if g.chance(15) => "v2",
                "Service" | "Namespace" | "Pod" | "ConfigMap" => "v1",
                "NetworkPolicy" => "networking.k8s.io/v1",
                _ => "apps/v1",
            };
            doc.insert("apiVersion".into(), api.into());
        }
        doc.insert("kind".into(), kind.into());
        if kind == "Namespace" {
            if g.chance(90) {
                let name = g.pick(&["shop", "data", "kube-system", "other"]);
                doc.insert("metadata".into(), serde_json::json!({"name": name}));
            }
            return Value::Object(doc);
        }
        if let Some(m) = metadata(g) {
            doc.insert("metadata".into(), m);
        }
        let template = |g: &mut Gen| {
            let mut t = Map::new();
            if g.chance(90) {
                t.insert("metadata".into(), serde_json::json!({"labels": labels(g)}));
            }
            t.insert("spec".into(), pod_spec(g));
            Value::Object(t)
        };
        let spec = match kind {
            "Pod" => {
                if let Some(Value::Object(m)) = doc.get_mut("metadata") {
                    m.insert("labels".into(), labels(g));
                }
                pod_spec(g)
            }
            "CronJob" => serde_json::json!({"jobTemplate": {"spec": {"template": template(g)}}}),
            "Service" => match g.below(6) {
                0 => serde_json::json!({"ports": [{"port": 80}]}),
                1 => serde_json::json!({"selector": {}}),
                2 => {
                    serde_json::json!({"selector": {"app": g.pick(NAMES), "pod-template-hash": "x"}})
                }
                3 => serde_json::json!({"selector": {"job-name": g.pick(NAMES)}}),
                4 => serde_json::json!({"selector": {"app": g.pick(NAMES), "tier": "front"}}),
                _ => serde_json::json!({"selector": {"app": g.pick(NAMES)}}),
            },
            "NetworkPolicy" => {
                let mut spec = Map::new();
                match g.below(5) {
                    0 => {}
                    1 => {
                        spec.insert("podSelector".into(), serde_json::json!({"matchLabels": {}}));
                    }
                    2 => {
                        spec.insert(
                            "podSelector".into(),
                            serde_json::json!({"matchLabels": {"app": "web"}}),
                        );
                    }
                    3 => {
                        spec.insert(
                            "podSelector".into(),
                            serde_json::json!({"matchExpressions": []}),
                        );
                    }
                    _ => {
                        spec.insert("podSelector".into(), serde_json::json!({}));
                    }
                }
                match g.below(4) {
                    0 => {}
                    1 => {
                        spec.insert("policyTypes".into(), serde_json::json!(["Egress"]));
                    }
                    2 => {
                        spec.insert(
                            "policyTypes".into(),
                            serde_json::json!(["Ingress", "Egress"]),
                        );
                    }
                    _ => {
                        spec.insert("policyTypes".into(), serde_json::json!(["Ingress"]));
                    }
                }
                match g.below(4) {
                    0 => {
                        spec.insert("ingress".into(), serde_json::json!([{}]));
                    }
                    1 => {
                        spec.insert("ingress".into(), serde_json::json!([]));
                    }
                    _ => {}
                }
                Value::Object(spec)
            }
            "ConfigMap" => return Value::Object(doc),
            _ => serde_json::json!({"template": template(g)}),
        };
        doc.insert("spec".into(), spec);
        Value::Object(doc)
    }

    /// Generated runs of every kind the rules read, each shape of value they accept: the
    /// same results, and computed here, not by regorus.
    #[test]
    fn the_same_results_as_the_rego_on_generated_runs() {
        let set = builtin_set(|_| {});
        // `POLICY_NATIVE_RUNS=N[:SEED]` for a longer search than CI's.
        let (runs, seed) = match std::env::var("POLICY_NATIVE_RUNS") {
            Ok(v) => {
                let (n, seed) = v.split_once(':').unwrap_or((&v, "0"));
                (n.parse().unwrap_or(300), seed.parse().unwrap_or(0))
            }
            Err(_) => (300, 0),
        };
        let mut g = Gen(0x9e37_79b9_7f4a_7c15 ^ seed);
        let mut fired = HashMap::<String, (usize, usize)>::new();
        for run in 0..runs {
            let docs: Vec<String> = (0..1 + g.below(14))
                .map(|_| document(&mut g).to_string())
                .collect();
            let text = docs.join("\n---\n");
            let name = format!("gen-{run}.yaml");
            let (rego, streamed, computed) = both(&set, &name, &text);
            assert!(computed, "{name} computed natively\n{text}");
            assert_eq!(rego, streamed, "{name}\n{text}");
            for id in ["K8S101", "K8S102", "K8S103", "K8S104"] {
                let hit = rego.contains(&format!("id: \"{id}\""));
                let e = fired.entry(id.to_string()).or_default();
                if hit {
                    e.0 += 1;
                } else {
                    e.1 += 1;
                }
            }
        }
        for (id, (hits, quiet)) in fired {
            assert!(
                hits >= 10 && quiet >= 10,
                "{id}: fires {hits}, quiet {quiet}"
            );
        }
    }

    /// Every manifest of `../shared/corpora/k8s` as one run, and each of its projects
    /// as one (skipped when the corpora are absent).
    #[test]
    fn the_same_results_as_the_rego_on_the_k8s_corpus() {
        let Some(root) = crate::eval::shared_corpus("k8s") else {
            return;
        };
        fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            let mut entries: Vec<_> = std::fs::read_dir(dir)
                .expect("read_dir")
                .flatten()
                .map(|e| e.path())
                .collect();
            entries.sort();
            for p in entries {
                if p.is_dir() {
                    files(&p, out);
                } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                    out.push(p);
                }
            }
        }
        let set = builtin_set(|_| {});
        let mut projects: Vec<std::path::PathBuf> = std::fs::read_dir(&root)
            .expect("read_dir")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        projects.sort();
        projects.push(root.clone());
        let mut native = 0;
        for project in &projects {
            let mut paths = Vec::new();
            files(project, &mut paths);
            let loaded: Vec<_> = (paths.iter())
                .map(|p| crate::inputs::load_file(p, &LoadOptions::default(), true))
                .collect();
            let docs: Vec<&Document> = loaded.iter().flat_map(|f| &f.documents).collect();
            let packed: Vec<Vec<u8>> = (docs.iter())
                .map(|d| serde_json::to_vec(&slim::document(d.value.clone())).expect("json"))
                .collect();
            let packed: Vec<&[u8]> = packed.iter().map(|p| &p[..]).collect();
            let rego = combine::evaluate_packed(&set, &docs, &packed, false);
            let streamed = combine::evaluate_packed(&set, &docs, &packed, true);
            assert_eq!(
                format!("{rego:#?}"),
                format!("{streamed:#?}"),
                "{}",
                project.display()
            );
            native += usize::from(evaluate(&set, &docs, &packed).is_some());
        }
        println!("{native} of {} runs computed natively", projects.len());
        assert!(
            native * 2 > projects.len(),
            "{native} of {}",
            projects.len()
        );
    }

    /// Values whose outcome in the Rego depends on builtin details: this module declines
    /// and regorus evaluates the run, with the same results as without it.
    #[test]
    fn odd_values_go_to_regorus() {
        let set = builtin_set(|_| {});
        let workload = |meta: &str, labels: &str, port: &str| {
            format!(
                "apiVersion: v1\nkind: Namespace\nmetadata: {{name: shop}}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {meta}\nspec:\n  template:\n    metadata: {{labels: {labels}}}\n    spec:\n      containers: [{{name: c, image: nginx, ports: [{port}]}}]\n"
            )
        };
        let odd = [
            workload("x", "{app: web}", "{hostPort: 80}"),
            workload("{name: 3}", "{app: web}", "{hostPort: 80}"),
            workload("{name: web, namespace: [a]}", "{app: web}", "{hostPort: 80}"),
            workload("{name: web}", "{app: 1}", "{hostPort: 80}"),
            workload("{name: web}", "[app]", "{hostPort: 80}"),
            workload("{name: web}", "{app: web}", "{hostPort: 80.5}"),
            workload("{name: web}", "{app: web}", "{hostPort: 80, protocol: null}"),
            workload("{name: web}", "{app: web}", "{hostPort: 80, hostIP: 1}"),
            "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {selector: {app: 1}}\n".into(),
            "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: [x]\n".into(),
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: d}\nspec: {podSelector: {matchLabels: null}}\n".into(),
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: d}\nspec: {podSelector: {}, ingress: null}\n".into(),
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: d}\nspec: {podSelector: {}, policyTypes: Ingress}\n".into(),
        ];
        for (n, text) in odd.iter().enumerate() {
            let (rego, streamed, computed) = both(&set, &format!("odd-{n}.yaml"), text);
            assert!(!computed, "odd-{n} declined\n{text}");
            assert_eq!(rego, streamed, "odd-{n}\n{text}");
        }
        // The same run with plain values is computed here.
        let plain = workload("{name: web}", "{app: web}", "{hostPort: 80}");
        assert!(both(&set, "plain.yaml", &plain).2);
    }

    /// A set whose combined packages are not only the four, or that a user's file
    /// touches, is never computed here.
    #[test]
    fn declines_sets_it_does_not_cover() {
        let dir = tempfile::tempdir().expect("tempdir");
        let helpers = dir.path().join("cluster.rego");
        std::fs::write(
            &helpers,
            "package lib.cluster\nimport rego.v1\nextra := 1\n",
        )
        .expect("write");
        let set = builtin_set(|o| o.paths = vec![helpers.clone()]);
        let text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\nspec: {containers: [{name: c, image: nginx}]}\n";
        let (rego, streamed, computed) = both(&set, "a.yaml", text);
        assert!(!computed);
        assert_eq!(rego, streamed);
        // Turning rules off: the others still are, and only they report.
        let set = builtin_set(|o| o.disabled_rules = vec!["K8S101".into(), "K8S102".into()]);
        let (rego, streamed, computed) = both(&set, "a.yaml", text);
        assert!(computed);
        assert_eq!(rego, streamed);
        assert!(!streamed.contains("K8S101") && !streamed.contains("K8S102"));
    }

    /// The constants here are the Rego's own.
    #[test]
    fn constants_are_the_rules_own() {
        let cluster = include_str!("../../../policies/lib/cluster.rego");
        let detection = include_str!("../../../policies/kubernetes/runtime_detection.rego");
        let selector = include_str!("../../../policies/kubernetes/service_selector.rego");
        assert!(detection.contains(&format!("detector_pattern := `{DETECTOR_PATTERN}`")));
        assert!(cluster.contains(
            "system_namespaces := {\"kube-system\", \"kube-public\", \"kube-node-lease\"}"
        ));
        for label in CONTROLLER_LABELS {
            assert!(selector.contains(&format!("\t\"{label}\",")), "{label}");
        }
        assert_eq!(
            selector.matches("\t\"").count(),
            CONTROLLER_LABELS.len(),
            "no other controller label"
        );
        assert!(cluster.contains(
            "some field in [\"initContainers\", \"containers\", \"ephemeralContainers\"]"
        ));
    }
}
