//! The Kubernetes side of `policy serve`: `AdmissionReview` (`admission.k8s.io/v1`) in,
//! an admission decision out.
//!
//! This module exists so that the webhook's contract with the API server lives in one
//! place and can be tested without a socket: which requests are accepted (and the `400`
//! errors for the rest), what policies see (the object is the document, the rest of the
//! request is `input.review`), and how a [`Report`] becomes `allowed`, `status.message`,
//! `warnings` and `auditAnnotations`. It knows nothing about HTTP, TLS or threads.

use serde_json::{json, Map, Value};

use crate::diagnostics::{Finding, Report};
use crate::report::ReportOptions;
use crate::source::display_path;

/// The only AdmissionReview version this server speaks (the API server has sent v1 since
/// Kubernetes 1.16 when the webhook lists it in `admissionReviewVersions`).
pub const API_VERSION: &str = "admission.k8s.io/v1";

/// Kubernetes truncates longer warnings; we cut them ourselves, on a character boundary.
const MAX_WARNING_CHARS: usize = 256;

/// A request the server refuses with `400`: the message says what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadReview(pub String);

/// What the API server asks to do with the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// A new object.
    Create,
    /// A change; the previous object is `oldObject`.
    Update,
    /// A deletion; the object is `oldObject`, `object` is null.
    Delete,
    /// A connection to a subresource (`exec`, `attach`, `portforward`, ...).
    Connect,
}

impl Operation {
    fn parse(s: &str) -> Option<Operation> {
        Some(match s {
            "CREATE" => Operation::Create,
            "UPDATE" => Operation::Update,
            "DELETE" => Operation::Delete,
            "CONNECT" => Operation::Connect,
            _ => return None,
        })
    }

    /// The operation as Kubernetes spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Connect => "CONNECT",
        }
    }
}

/// One admission request, checked and taken apart.
#[derive(Debug, Clone)]
pub struct AdmissionRequest {
    /// Echoed in the response; the API server matches on it.
    pub uid: String,
    /// What is being done.
    pub operation: Operation,
    /// The object to check (`request.object`); `None` for DELETE and a CONNECT without one.
    pub object: Option<Value>,
    /// `request` without `object`: what policies see as `input.review` (`operation`,
    /// `userInfo`, `namespace`, `oldObject`, `dryRun`, ...).
    pub review: Value,
    /// `request.dryRun`: nothing will be persisted.
    pub dry_run: bool,
    /// `Kind namespace/name`, for messages.
    pub subject: String,
}

/// Parses and checks an `AdmissionReview` body.
pub fn parse_review(body: &[u8]) -> Result<AdmissionRequest, BadReview> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        BadReview(format!(
            "the body is not JSON: {} at line {} column {}",
            strip_position(&e.to_string()),
            e.line(),
            e.column()
        ))
    })?;
    let Value::Object(mut review) = value else {
        return Err(BadReview(
            "the body is not an AdmissionReview: expected a JSON object".into(),
        ));
    };
    match review.get("apiVersion").and_then(Value::as_str) {
        Some(API_VERSION) => {}
        Some(other) => {
            return Err(BadReview(format!(
                "unknown AdmissionReview version {other:?}: this server speaks {API_VERSION} \
                 (set admissionReviewVersions: [\"v1\"] in the webhook configuration)"
            )))
        }
        None => {
            return Err(BadReview(
                "the body is not an AdmissionReview: apiVersion is missing".into(),
            ))
        }
    }
    if review.get("kind").and_then(Value::as_str) != Some("AdmissionReview") {
        return Err(BadReview(
            "the body is not an AdmissionReview: kind must be \"AdmissionReview\"".into(),
        ));
    }
    let Some(Value::Object(mut request)) = review.remove("request") else {
        return Err(BadReview(
            "the AdmissionReview has no request object".into(),
        ));
    };
    let uid = match request.get("uid").and_then(Value::as_str) {
        Some(uid) if !uid.is_empty() => uid.to_owned(),
        _ => return Err(BadReview("request.uid is missing or empty".into())),
    };
    let operation = match request.get("operation").and_then(Value::as_str) {
        Some(op) => Operation::parse(op).ok_or_else(|| {
            BadReview(format!(
                "request.operation {op:?} is unknown: expected CREATE, UPDATE, DELETE or CONNECT"
            ))
        })?,
        None => return Err(BadReview("request.operation is missing".into())),
    };
    let dry_run = match request.get("dryRun") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(BadReview("request.dryRun must be a boolean".into())),
    };
    let object = match request.remove("object") {
        None | Some(Value::Null) => None,
        Some(obj) => Some(obj),
    };
    let needs_object = matches!(operation, Operation::Create | Operation::Update);
    match &object {
        Some(obj) => check_kubernetes_object(obj, "request.object")?,
        None if needs_object => {
            return Err(BadReview(format!(
                "request.object is missing: a {} request carries the object",
                operation.as_str()
            )))
        }
        None => {}
    }
    if operation == Operation::Update {
        match request.get("oldObject") {
            None | Some(Value::Null) => {}
            Some(old) => check_kubernetes_object(old, "request.oldObject")?,
        }
    }
    let subject = subject(object.as_ref().or(request.get("oldObject")), &request);
    Ok(AdmissionRequest {
        uid,
        operation,
        object,
        review: Value::Object(request),
        dry_run,
        subject,
    })
}

/// serde_json appends " at line L column C" to its messages; we say it our way.
fn strip_position(msg: &str) -> &str {
    msg.find(" at line ").map_or(msg, |i| &msg[..i])
}

/// Whether `v` looks like Kubernetes JSON: an object with string `apiVersion` and `kind`.
fn check_kubernetes_object(v: &Value, what: &str) -> Result<(), BadReview> {
    let Value::Object(map) = v else {
        return Err(BadReview(format!(
            "{what} is not a Kubernetes object: expected a JSON object"
        )));
    };
    for field in ["apiVersion", "kind"] {
        match map.get(field) {
            Some(Value::String(s)) if !s.is_empty() => {}
            _ => {
                return Err(BadReview(format!(
                    "{what} is not a Kubernetes object: {field} must be a non-empty string"
                )))
            }
        }
    }
    Ok(())
}

/// `Deployment team-a/web`, from the object or the request's `kind`/`namespace`/`name`.
fn subject(object: Option<&Value>, request: &Map<String, Value>) -> String {
    let str_at = |v: Option<&Value>, ptr: &str| {
        v.and_then(|v| v.pointer(ptr))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let kind = str_at(object, "/kind")
        .or_else(|| str_at(request.get("kind"), "/kind"))
        .unwrap_or_else(|| "object".into());
    let name = str_at(object, "/metadata/name")
        .or_else(|| str_at(object, "/metadata/generateName").map(|g| format!("{g}*")))
        .or_else(|| {
            request
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_default();
    let ns = str_at(object, "/metadata/namespace").or_else(|| {
        request
            .get("namespace")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    match (ns.filter(|n| !n.is_empty()), name.is_empty()) {
        (Some(ns), false) => format!("{kind} {ns}/{name}"),
        (None, false) => format!("{kind} {name}"),
        (_, true) => kind,
    }
}

/// How findings turn into a decision.
#[derive(Debug, Clone)]
pub struct DecisionOptions {
    /// `--fail-on` / `--fail-on-warn`: findings that deny.
    pub report: ReportOptions,
    /// `--enforce=false`: never deny; what would deny becomes a warning too.
    pub enforce: bool,
}

/// The admission decision for one object.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Whether the API server may go on.
    pub allowed: bool,
    /// `status.code` and `status.message` when denied.
    pub status: Option<(u16, String)>,
    /// Shown by kubectl.
    pub warnings: Vec<String>,
    /// Recorded in the audit log.
    pub audit: Map<String, Value>,
    /// What happened, for metrics: `allowed`, `warned`, `denied`, `error`.
    pub outcome: &'static str,
}

/// `[K8S001] message (at spec.containers[0].image)`; a finding with merged rules names
/// them all: `[K8S008, PSS-HOST-NAMESPACES] …`.
fn describe(f: &Finding) -> String {
    let path = display_path(&f.location.path);
    let at = if path.is_empty() {
        String::new()
    } else {
        format!(" (at {path})")
    };
    let mut ids = f.rule.id.clone();
    for r in &f.related_rules {
        ids.push_str(", ");
        ids.push_str(r);
    }
    format!("[{ids}] {}{at}", f.message)
}

fn truncate(mut s: String, max: usize) -> String {
    if s.chars().count() > max {
        s = s.chars().take(max - 1).collect();
        s.push('…');
    }
    s
}

/// An audit annotation key for a rule: `k8s001` (the API server prefixes the webhook's name;
/// the key must be a DNS label–like qualified name).
fn audit_key(rule: &str) -> String {
    let key: String = rule
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    let key = key.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if key.is_empty() {
        "finding".into()
    } else {
        key.to_owned()
    }
}

/// Turns the report of one object into an admission decision.
///
/// * Findings that fail under `--fail-on` deny (`403`), and `status.message` lists each
///   with its rule ID, message and JSON path; the others become `warnings`.
/// * Error records (a rule that failed or timed out, an object that could not be read)
///   mean the object was not fully checked: that denies too (`500`), as `policy eval`
///   exits 2.
/// * With `enforce` off nothing is denied: what would have denied is a warning.
/// * Every finding and error is in `auditAnnotations`, keyed by rule ID, plus `decision`.
pub fn decide(report: &Report, subject: &str, opts: &DecisionOptions) -> Decision {
    let mut failing = Vec::new();
    let mut warnings = Vec::new();
    let mut audit: Map<String, Value> = Map::new();
    let mut add_audit = |key: String, text: String| {
        let entry = audit
            .entry(key)
            .or_insert_with(|| Value::String(String::new()));
        if let Value::String(s) = entry {
            if !s.is_empty() {
                s.push_str("; ");
            }
            s.push_str(&text);
        }
    };
    for f in &report.findings {
        let text = describe(f);
        add_audit(
            audit_key(&f.rule.id),
            format!("{}: {}", f.severity.as_str().to_ascii_uppercase(), text),
        );
        if opts.report.is_failing(f) {
            failing.push(text);
        } else {
            warnings.push(truncate(
                format!("{} {text}", f.severity.as_str().to_ascii_uppercase()),
                MAX_WARNING_CHARS,
            ));
        }
    }
    let errors: Vec<String> = report
        .errors
        .iter()
        .map(|e| {
            let rule = e
                .rule
                .as_deref()
                .map(|r| format!(" in rule {r}"))
                .unwrap_or_default();
            format!("[{}] {}{rule}", e.kind.id(), e.message)
        })
        .collect();
    for (e, text) in report.errors.iter().zip(&errors) {
        add_audit(audit_key(e.kind.id()), text.clone());
    }
    let (allowed, status, outcome) = if !errors.is_empty() {
        let msg = format!(
            "{subject} could not be fully checked, so it is denied:\n{}",
            errors.join("\n")
        );
        if opts.enforce {
            (false, Some((500, msg)), "error")
        } else {
            warnings.splice(
                0..0,
                errors
                    .iter()
                    .map(|e| truncate(format!("would deny: {e}"), MAX_WARNING_CHARS)),
            );
            (true, None, "warned")
        }
    } else if !failing.is_empty() {
        if opts.enforce {
            let msg = format!(
                "{subject} violates {} polic{} at or above {}:\n{}",
                failing.len(),
                if failing.len() == 1 { "y" } else { "ies" },
                opts.report.fail_on.as_str(),
                failing.join("\n")
            );
            (false, Some((403, msg)), "denied")
        } else {
            warnings.splice(
                0..0,
                failing
                    .iter()
                    .map(|t| truncate(format!("would deny: {t}"), MAX_WARNING_CHARS)),
            );
            (true, None, "warned")
        }
    } else if warnings.is_empty() {
        (true, None, "allowed")
    } else {
        (true, None, "warned")
    };
    let decision = match (allowed, outcome) {
        (false, _) => "deny",
        (true, "warned") if !failing.is_empty() || !errors.is_empty() => "would-deny",
        (true, "warned") => "warn",
        _ => "allow",
    };
    audit.insert("decision".into(), Value::String(decision.into()));
    Decision {
        allowed,
        status,
        warnings,
        audit,
        outcome,
    }
}

/// A decision for an operation that is not evaluated (DELETE and CONNECT).
pub fn allow_unchecked() -> Decision {
    let mut audit = Map::new();
    audit.insert("decision".into(), Value::String("allow".into()));
    Decision {
        allowed: true,
        status: None,
        warnings: Vec::new(),
        audit,
        outcome: "allowed",
    }
}

/// The `AdmissionReview` response for `uid`.
pub fn response(uid: &str, d: &Decision) -> Value {
    let mut resp = json!({ "uid": uid, "allowed": d.allowed });
    if let Some((code, message)) = &d.status {
        resp["status"] = json!({ "code": code, "message": message });
    }
    if !d.warnings.is_empty() {
        resp["warnings"] = json!(d.warnings);
    }
    if !d.audit.is_empty() {
        resp["auditAnnotations"] = Value::Object(d.audit.clone());
    }
    json!({ "apiVersion": API_VERSION, "kind": "AdmissionReview", "response": resp })
}

/// An `AdmissionReview` response that says the evaluation failed (a deadline, an internal
/// error): not allowed, with `code` and `message`.
pub fn error_response(uid: &str, code: u16, message: &str) -> Value {
    json!({
        "apiVersion": API_VERSION,
        "kind": "AdmissionReview",
        "response": {
            "uid": uid,
            "allowed": false,
            "status": { "code": code, "message": message },
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn review(request: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "apiVersion": API_VERSION, "kind": "AdmissionReview", "request": request
        }))
        .expect("json")
    }

    fn pod() -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "a"}})
    }

    #[test]
    fn a_create_is_taken_apart() {
        let body = review(json!({
            "uid": "u-1", "operation": "CREATE", "object": pod(), "dryRun": true,
            "userInfo": {"username": "alice"}
        }));
        let r = parse_review(&body).expect("valid");
        assert_eq!(r.uid, "u-1");
        assert_eq!(r.operation, Operation::Create);
        assert!(r.dry_run);
        assert_eq!(r.subject, "Pod a/web");
        assert_eq!(r.object.as_ref().expect("object")["kind"], "Pod");
        assert!(r.review.get("object").is_none());
        assert_eq!(r.review["userInfo"]["username"], "alice");
        assert_eq!(r.review["operation"], "CREATE");
    }

    #[test]
    fn bad_reviews_say_what_is_wrong() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"{not json".to_vec(), "not JSON"),
            (b"[]".to_vec(), "expected a JSON object"),
            (
                serde_json::to_vec(&json!({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "request": {}})).expect("json"),
                "unknown AdmissionReview version \"admission.k8s.io/v1beta1\"",
            ),
            (
                serde_json::to_vec(&json!({"apiVersion": API_VERSION, "kind": "Pod"})).expect("json"),
                "kind must be",
            ),
            (
                serde_json::to_vec(&json!({"apiVersion": API_VERSION, "kind": "AdmissionReview"})).expect("json"),
                "no request",
            ),
            (review(json!({"operation": "CREATE", "object": pod()})), "uid"),
            (review(json!({"uid": "x", "operation": "PATCH", "object": pod()})), "PATCH"),
            (review(json!({"uid": "x", "operation": "CREATE"})), "object is missing"),
            (
                review(json!({"uid": "x", "operation": "CREATE", "object": {"spec": {}}})),
                "request.object is not a Kubernetes object: apiVersion",
            ),
            (
                review(json!({"uid": "x", "operation": "CREATE", "object": "text"})),
                "request.object is not a Kubernetes object",
            ),
            (
                review(json!({"uid": "x", "operation": "UPDATE", "object": pod(), "oldObject": [1]})),
                "request.oldObject is not a Kubernetes object",
            ),
        ];
        for (body, want) in cases {
            let err = parse_review(&body).expect_err(want);
            assert!(err.0.contains(want), "{err} does not contain {want}");
        }
    }

    #[test]
    fn delete_has_no_object() {
        let r = parse_review(&review(
            json!({"uid": "d", "operation": "DELETE", "name": "web", "namespace": "a",
                   "kind": {"group": "", "version": "v1", "kind": "Pod"}, "oldObject": pod()}),
        ))
        .expect("valid");
        assert_eq!(r.operation, Operation::Delete);
        assert!(r.object.is_none());
        assert_eq!(r.subject, "Pod a/web");
    }

    #[test]
    fn audit_keys_are_qualified_names() {
        assert_eq!(audit_key("K8S001"), "k8s001");
        assert_eq!(audit_key("my rule/1"), "my-rule-1");
        assert_eq!(audit_key("!!"), "finding");
    }

    #[test]
    fn long_warnings_are_cut() {
        let s = truncate("x".repeat(300), MAX_WARNING_CHARS);
        assert_eq!(s.chars().count(), MAX_WARNING_CHARS);
        assert!(s.ends_with('…'));
    }
}
