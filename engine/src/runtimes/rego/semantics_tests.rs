//! Unit tests of the OPA semantics this runtime adds to regorus: non-strict builtin
//! errors and `--strict`, load-time checks (recursion, unknown functions, arity), the
//! `not f(x)` rewrite and the OPA-compatible builtins. The differential test against
//! OPA itself is `tests/opa_diff.rs`.

use super::*;

fn set(text: &str, strict: bool) -> RegoPolicySet {
    RegoPolicySet::compile(
        &[RegoSource {
            path: "p.rego".into(),
            text: text.into(),
            builtin: false,
        }],
        &[],
        &RegoOptions {
            strict,
            ..RegoOptions::default()
        },
    )
}

fn deny(set: &RegoPolicySet, input: serde_json::Value) -> (usize, usize) {
    let mut ev = set.evaluator();
    ev.set_input(&input);
    let (results, failures) = ev.evaluate(&set.packages[0], DocumentKind::Kubernetes);
    (results.len(), failures.len())
}

#[test]
fn builtin_errors_are_undefined_unless_strict() {
    let text = "package t\ndeny contains \"n\" if to_number(input.n) > 1\ndeny contains \"d\" if 1 / input.z > 0\ndeny contains \"ok\" if true\n";
    let lax = set(text, false);
    assert!(lax.errors.is_empty(), "{:?}", lax.errors);
    assert_eq!(deny(&lax, serde_json::json!({"n": "abc", "z": 0})), (1, 0));
    let strict = set(text, true);
    let (_, failures) = deny(&strict, serde_json::json!({"n": "abc", "z": 0}));
    assert_eq!(failures, 1);
    // An extension's error follows the same rule.
    let text =
        "package t\ndeny contains \"j\" if io.jwt.decode(input.t)\ndeny contains \"ok\" if true\n";
    assert_eq!(
        deny(&set(text, false), serde_json::json!({"t": "x"})),
        (1, 0)
    );
    assert_eq!(deny(&set(text, true), serde_json::json!({"t": "x"})).1, 1);
}

#[test]
fn recursion_is_refused_at_load_with_its_position() {
    let s = RegoPolicySet::compile(
        &[
            RegoSource {
                path: "rec.rego".into(),
                text: "package t\n\nf(x) := g(x)\ng(x) := f(x)\ndeny contains \"x\" if f(1)\n"
                    .into(),
                builtin: false,
            },
            RegoSource {
                path: "ok.rego".into(),
                text: "package u\ndeny contains \"y\" if true\n".into(),
                builtin: false,
            },
        ],
        &[],
        &RegoOptions::default(),
    );
    let e = &s.errors[0];
    assert_eq!((e.file.as_str(), e.line, e.column), ("rec.rego", 3, 1));
    assert!(
        e.message
            .contains("rule data.t.f is recursive: data.t.f -> data.t.g -> data.t.f"),
        "{}",
        e.message
    );
    assert!(e.kind == ErrorKind::PolicyError);
    // The other file still loads.
    assert_eq!(s.packages.len(), 1);
    assert_eq!(s.packages[0].name, "u");
}

#[test]
fn unknown_functions_and_arity_are_refused_at_load() {
    let s = set("package t\ndeny contains \"x\" if no_such(1)\n", false);
    assert_eq!(s.errors.len(), 1);
    assert_eq!((s.errors[0].line, s.errors[0].column), (2, 22));
    assert!(s.errors[0].message.contains("undefined function no_such"));
    let s = set(
        "package t\ndeny contains \"x\" if startswith(\"a\")\n",
        false,
    );
    assert!(
        s.errors[0].message.contains("startswith: arity mismatch"),
        "{:?}",
        s.errors
    );
    let s = set(
        "package t\nf(a, b) := a\ndeny contains \"x\" if f(1, 2, 3, 4)\n",
        false,
    );
    assert!(
        s.errors[0]
            .message
            .contains("function data.t.f has arity 2"),
        "{:?}",
        s.errors
    );
    // Not recursive: a local variable named like a rule; a library function.
    // (regorus itself refuses `some x` shadowing the rule `x` with "used before
    // definition", a difference from OPA of its own; what matters here is that the
    // recursion check does not fire.)
    let s = set("package t\nx := 1\ny := v if { some x in [1]; v := x }\nf(a) := a\ndeny contains \"d\" if f(1) == data.t.x\n", false);
    assert!(
        !s.errors.iter().any(|e| e.message.contains("recursive")),
        "{:?}",
        s.errors
    );
}

#[test]
fn not_over_an_undefined_argument_does_not_fire() {
    let s = set(
        "package t\ndeny contains c.name if {\n  some c in input.containers\n  not startswith(c.image, \"registry.local/\")\n}\ndeny contains \"missing\" if not regex.match(\"^a\", input.tag)\n",
        false,
    );
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    let input =
        serde_json::json!({"containers": [{"name": "a", "image": "docker.io/x"}, {"name": "b"}]});
    let mut ev = s.evaluator();
    ev.set_input(&input);
    let (results, failures) = ev.evaluate(&s.packages[0], DocumentKind::Kubernetes);
    assert!(failures.is_empty());
    let messages: Vec<&str> = results.iter().map(|r| r.message.as_str()).collect();
    assert_eq!(messages, ["a"]);
}

#[test]
fn go_compatible_builtins() {
    let s = set("package t\nx := 1\n", false);
    let q = |e: &str| s.query(None, e).unwrap_or_else(|err| panic!("{e}: {err}"));
    assert_eq!(
        q("sprintf(\"%05d|%-4s|%x\", [-42, \"ab\", \"hi\"])"),
        [serde_json::json!("-0042|ab  |6869")]
    );
    assert_eq!(q("count(\"😀\")"), [serde_json::json!(1)]);
    assert_eq!(q("strings.count(\"aaaa\", \"aa\")"), [serde_json::json!(2)]);
    assert_eq!(
        q("json.marshal(\"<&>\")"),
        [serde_json::json!("\"\\u003c\\u0026\\u003e\"")]
    );
    assert_eq!(
        q("yaml.unmarshal(\"a: yes\\nb: 0644\")"),
        [serde_json::json!({"a": true, "b": 420})]
    );
    assert_eq!(
        q("crypto.sha256(\"abc\")"),
        [serde_json::json!(
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        )]
    );
    assert_eq!(
        q("semver.compare(\"v1.2.3\", \"1.2.3\")"),
        [serde_json::json!(0)]
    );
    assert_eq!(q("re_match(\"^a\", \"abc\")"), [serde_json::json!(true)]);
}

#[test]
fn hoisting_rewrites_unbraced_bodies() {
    let text = "package t\nx if not upper(input.x) == \"A\"\n";
    let parsed = rewrite::parse("p.rego", text).expect("parses");
    assert_eq!(
        rewrite::hoist(&parsed, text),
        "package t\nx if { __policy_hoist_0 := input.x; not upper(__policy_hoist_0) == \"A\" }\n"
    );
}
