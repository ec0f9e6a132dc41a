//! Parsing policy files once, and the `not f(x)` rewrite OPA's compiler does.
//!
//! OPA evaluates the arguments of a call inside `not` *outside* the negation: on a
//! container without `image`, `not regex.match(re, c.image)` is undefined (the rule
//! does not fire), because `c.image` is undefined before the negation is tried.
//! regorus evaluates the whole call inside the negation, so the same rule fired on
//! every container missing the field, and ported policies reported extra findings.
//!
//! Before regorus sees a file, each `not` literal is rewritten as OPA's compiler would:
//! every argument of a call (a builtin or a user function, an operator other than
//! `==`/`=`, `in`, arithmetic) that is a reference (`input.x`, `c.image`, a rule) or a
//! composite containing one is bound to a fresh variable right before the `not`:
//!
//! ```text
//! not regex.match(re, c.image)   →   __policy_hoist_0 := c.image; not regex.match(re, __policy_hoist_0)
//! ```
//!
//! Operands of a top-level `==`/`=` stay inside (OPA rewrites `==` to unification,
//! so `not input.x == "a"` fires when `input.x` is missing); comprehensions stay
//! inside; references with a `_` wildcard stay inside (hoisting one would iterate it
//! outside the negation); a `not` with `with` modifiers is left alone. An unbraced
//! body (`x if not f(input.y)`) gets braces. Nothing is inserted across lines, so line
//! numbers do not move (columns after the insertion on that line do).
//! `tests/opa_diff/cases/negation.yaml` checks all of this against OPA.
//!
//! The same pass gives `rego.metadata.rule()` and `rego.metadata.chain()` (which
//! regorus lacks, and which need to know the calling rule): each call is replaced by
//! the value of its rule's `# METADATA` block (and its package's), as a literal.

use std::collections::BTreeSet;

use regorus::unstable::{
    AssignOp, BoolOp, Expr, Literal, LiteralStmt, Module, Parser, Query, Rule, RuleHead, Source,
};

/// A parsed policy file and the parser mode that accepted it.
pub(super) struct Parsed {
    pub module: Module,
    /// Parsed as Rego v0.
    pub v0: bool,
}

/// Parses `text` as Rego v1, or, unless it says `import rego.v1`, as v0 when v1 fails.
/// When both fail, the v1 error is returned.
pub(super) fn parse(path: &str, text: &str) -> anyhow::Result<Parsed> {
    let source = Source::from_contents(path.to_string(), text.to_string())?;
    let v1 = Parser::new(&source).and_then(|mut p| {
        p.enable_rego_v1()?;
        p.parse()
    });
    match v1 {
        Ok(module) => Ok(Parsed { module, v0: false }),
        Err(e) if !super::imports_rego_v1(text) => {
            match Parser::new(&source).and_then(|mut p| p.parse()) {
                Ok(module) => Ok(Parsed { module, v0: true }),
                Err(_) => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

/// One edit: replace bytes `start..end` of the text with `text`.
struct Edit {
    start: usize,
    end: usize,
    text: String,
}

/// `text` with every `not` literal's call arguments hoisted (see the module docs);
/// the text itself when there is nothing to hoist.
pub(super) fn hoist(parsed: &Parsed, text: &str) -> String {
    let rules: BTreeSet<String> = parsed
        .module
        .policy
        .iter()
        .filter_map(|r| rule_name(r))
        .collect();
    let package_path: Vec<String> = ref_components(&parsed.module.package.refr);
    // Only a file that calls `rego.metadata.*` needs its METADATA blocks read (a YAML
    // parse per rule: a third of this pass over the built-in files otherwise).
    let wants_metadata = text.contains("rego.metadata");
    let package_meta = wants_metadata
        .then(|| metadata_above(text, parsed.module.package.span.line, "package"))
        .flatten();
    let mut h = Hoister {
        text,
        rules,
        edits: Vec::new(),
        counter: 0,
        metadata: None,
        appended: Vec::new(),
    };
    for rule in &parsed.module.policy {
        if wants_metadata {
            let mut path = package_path.clone();
            path.extend(rule_name(rule));
            let rule_meta = metadata_above(text, rule.span().line, "rule");
            let mut chain = vec![chain_entry(&path, rule_meta.as_ref())];
            if package_meta.is_some() {
                chain.push(chain_entry(&package_path, package_meta.as_ref()));
            }
            h.metadata = Some((
                rule_meta
                    .unwrap_or_else(|| serde_json::json!({}))
                    .to_string(),
                serde_json::Value::Array(chain).to_string(),
            ));
        }
        if let Rule::Spec { bodies, head, .. } = rule.as_ref() {
            if let RuleHead::Compr {
                assign: Some(a), ..
            }
            | RuleHead::Func {
                assign: Some(a), ..
            } = head
            {
                h.expr(&a.value);
            }
            for body in bodies {
                if let Some(a) = &body.assign {
                    h.expr(&a.value);
                }
                h.query(&body.query);
            }
        }
    }
    if h.edits.is_empty() {
        return text.to_string();
    }
    let mut edits = h.edits;
    let end = text.len();
    for definition in h.appended {
        edits.push(Edit {
            start: end,
            end,
            text: definition,
        });
    }
    // Later edits first, so earlier offsets stay valid; an insertion (start == end) at
    // the same offset as a replacement's start goes after it in the text.
    edits.sort_by(|a, b| b.start.cmp(&a.start).then(b.end.cmp(&a.end)));
    let mut out = text.to_string();
    for e in edits {
        if e.start <= e.end
            && e.end <= out.len()
            && out.is_char_boundary(e.start)
            && out.is_char_boundary(e.end)
        {
            out.replace_range(e.start..e.end, &e.text);
        }
    }
    out
}

/// The last name of a rule's path (`deny`, `f`), for telling rule references apart
/// from local variables.
fn rule_name(rule: &Rule) -> Option<String> {
    let refr = match rule {
        Rule::Spec { head, .. } => match head {
            RuleHead::Compr { refr, .. }
            | RuleHead::Set { refr, .. }
            | RuleHead::Func { refr, .. } => refr,
        },
        Rule::Default { refr, .. } => refr,
    };
    let mut e = refr.as_ref();
    loop {
        match e {
            Expr::Var { span, .. } => return Some(span.text().to_string()),
            Expr::RefDot { refr, .. } | Expr::RefBrack { refr, .. } => e = refr.as_ref(),
            _ => return None,
        }
    }
}

struct Hoister<'a> {
    text: &'a str,
    rules: BTreeSet<String>,
    edits: Vec<Edit>,
    counter: usize,
    /// The current rule's `rego.metadata.rule()` and `rego.metadata.chain()` values,
    /// as Rego (JSON) text.
    metadata: Option<(String, String)>,
    /// Definitions to append to the file.
    appended: Vec<String>,
}

/// The furthest byte any part of `e` reaches (regorus's span of an infix expression
/// can end at its left operand).
fn max_end(e: &Expr) -> usize {
    let own = e.span().end as usize;
    let child = match e {
        Expr::Call { params, fcn, .. } => params
            .iter()
            .map(|p| max_end(p))
            .chain([max_end(fcn)])
            .max()
            .unwrap_or(0),
        Expr::BoolExpr { lhs, rhs, .. }
        | Expr::ArithExpr { lhs, rhs, .. }
        | Expr::BinExpr { lhs, rhs, .. }
        | Expr::AssignExpr { lhs, rhs, .. } => max_end(lhs).max(max_end(rhs)),
        Expr::Membership {
            value, collection, ..
        } => max_end(value).max(max_end(collection)),
        Expr::UnaryExpr { expr, .. } => max_end(expr),
        Expr::RefDot { refr, .. } => max_end(refr),
        Expr::RefBrack { refr, index, .. } => max_end(refr).max(max_end(index)),
        _ => 0,
    };
    own.max(child)
}

/// `data.a.b` → `["data", "a", "b"]` (plain components only).
fn ref_components(e: &Expr) -> Vec<String> {
    match e {
        Expr::Var { span, .. } => vec![span.text().to_string()],
        Expr::RefDot { refr, field, .. } => {
            let mut c = ref_components(refr);
            c.push(field.0.text().to_string());
            c
        }
        _ => Vec::new(),
    }
}

/// One entry of `rego.metadata.chain()`.
fn chain_entry(path: &[String], annotations: Option<&serde_json::Value>) -> serde_json::Value {
    let mut entry = serde_json::json!({ "path": path });
    if let Some(a) = annotations {
        entry["annotations"] = a.clone();
    }
    entry
}

/// The `# METADATA` block right above 1-based `line`, as JSON, with OPA's default
/// `scope`. `None` when there is none or it is not a YAML mapping.
fn metadata_above(text: &str, line: u32, scope: &str) -> Option<serde_json::Value> {
    let lines: Vec<&str> = text.lines().collect();
    let mut i = usize::try_from(line).ok()?.checked_sub(1)?;
    let mut block = Vec::new();
    while i > 0 {
        i -= 1;
        let l = lines.get(i)?.trim_start();
        let Some(comment) = l.strip_prefix('#') else {
            break;
        };
        if comment.trim() == "METADATA" {
            block.reverse();
            let yaml = block.join("\n");
            let mut value: serde_json::Value = yaml_serde::from_str(&yaml).ok()?;
            let map = value.as_object_mut()?;
            map.entry("scope").or_insert_with(|| scope.into());
            return Some(value);
        }
        block.push(comment.strip_prefix(' ').unwrap_or(comment));
    }
    None
}

impl Hoister<'_> {
    fn query(&mut self, q: &Query) {
        for stmt in &q.stmts {
            self.stmt(stmt);
        }
    }

    fn stmt(&mut self, stmt: &LiteralStmt) {
        for m in &stmt.with_mods {
            self.with_builtin(&m.r#as);
        }
        match &stmt.literal {
            Literal::NotExpr { expr, .. } => {
                if stmt.with_mods.is_empty() {
                    let mut spans = Vec::new();
                    self.negated(expr, true, &mut spans);
                    let mut end = (stmt.span.end as usize).max(max_end(expr));
                    // A string literal's span stops before its closing quote.
                    if matches!(self.text.as_bytes().get(end), Some(b'"' | b'`')) {
                        end += 1;
                    }
                    self.rewrite(stmt.span.start as usize, end, spans);
                }
                self.expr(expr);
            }
            Literal::Expr { expr, .. } => self.expr(expr),
            Literal::SomeIn { collection, .. } => self.expr(collection),
            Literal::Every { domain, query, .. } => {
                self.expr(domain);
                self.query(query);
            }
            Literal::SomeVars { .. } => {}
        }
    }

    /// Visits nested queries (comprehensions) of an expression, for `not` inside them.
    fn expr(&mut self, e: &Expr) {
        match e {
            Expr::ArrayCompr { query, term, .. } | Expr::SetCompr { query, term, .. } => {
                self.expr(term);
                self.query(query);
            }
            Expr::ObjectCompr {
                query, key, value, ..
            } => {
                self.expr(key);
                self.expr(value);
                self.query(query);
            }
            Expr::Array { items, .. } | Expr::Set { items, .. } => {
                items.iter().for_each(|i| self.expr(i))
            }
            Expr::Object { fields, .. } => fields.iter().for_each(|(_, k, v)| {
                self.expr(k);
                self.expr(v);
            }),
            Expr::Call {
                params, fcn, span, ..
            } => {
                let name = ref_components(fcn).join(".");
                if params.is_empty()
                    && (name == "rego.metadata.rule" || name == "rego.metadata.chain")
                {
                    if let Some((rule, chain)) = &self.metadata {
                        self.edits.push(Edit {
                            start: span.start as usize,
                            end: span.end as usize,
                            text: if name.ends_with("rule") {
                                rule.clone()
                            } else {
                                chain.clone()
                            },
                        });
                    }
                }
                params.iter().for_each(|p| self.expr(p));
            }
            Expr::RefDot { refr, .. } => self.expr(refr),
            Expr::RefBrack { refr, index, .. } => {
                self.expr(refr);
                self.expr(index);
            }
            Expr::UnaryExpr { expr, .. } => self.expr(expr),
            Expr::BinExpr { lhs, rhs, .. }
            | Expr::BoolExpr { lhs, rhs, .. }
            | Expr::ArithExpr { lhs, rhs, .. }
            | Expr::AssignExpr { lhs, rhs, .. } => {
                self.expr(lhs);
                self.expr(rhs);
            }
            Expr::Membership {
                value, collection, ..
            } => {
                self.expr(value);
                self.expr(collection);
            }
            _ => {}
        }
    }

    /// Collects the spans to hoist out of the negated expression `e`. `top` is the
    /// negated expression itself (whose `==`/`=` operands stay inside).
    fn negated(&self, e: &Expr, top: bool, out: &mut Vec<(usize, usize)>) {
        match e {
            Expr::Call { params, .. } => {
                for p in params {
                    self.operand(p, out);
                }
            }
            Expr::BoolExpr {
                op: BoolOp::Eq,
                lhs,
                rhs,
                ..
            }
            | Expr::AssignExpr {
                op: AssignOp::Eq,
                lhs,
                rhs,
                ..
            } if top => {
                for side in [lhs, rhs] {
                    if self.is_ref(side) {
                        continue;
                    }
                    self.operand(side, out);
                }
            }
            Expr::BoolExpr { lhs, rhs, .. }
            | Expr::ArithExpr { lhs, rhs, .. }
            | Expr::BinExpr { lhs, rhs, .. } => {
                self.operand(lhs, out);
                self.operand(rhs, out);
            }
            Expr::Membership {
                key,
                value,
                collection,
                ..
            } => {
                if let Some(k) = key {
                    self.operand(k, out);
                }
                self.operand(value, out);
                self.operand(collection, out);
            }
            Expr::UnaryExpr { expr, .. } => self.operand(expr, out),
            _ => {}
        }
    }

    /// An argument of a call inside a negation: hoisted when it is a reference or a
    /// composite containing one; a nested call is looked into.
    fn operand(&self, e: &Expr, out: &mut Vec<(usize, usize)>) {
        match e {
            Expr::Call { .. }
            | Expr::BoolExpr { .. }
            | Expr::ArithExpr { .. }
            | Expr::BinExpr { .. }
            | Expr::UnaryExpr { .. } => self.negated(e, false, out),
            _ if self.hoistable(e) => out.push((e.span().start as usize, e.span().end as usize)),
            _ => {}
        }
    }

    /// A reference (to `input`, `data`, a rule or a field of a local) or a composite
    /// holding one, with no wildcard, call or comprehension inside.
    fn hoistable(&self, e: &Expr) -> bool {
        (self.is_ref(e) || self.composite_with_ref(e)) && self.plain(e)
    }

    fn is_ref(&self, e: &Expr) -> bool {
        match e {
            Expr::RefDot { .. } | Expr::RefBrack { .. } => true,
            Expr::Var { span, .. } => self.rules.contains(span.text()),
            _ => false,
        }
    }

    fn composite_with_ref(&self, e: &Expr) -> bool {
        match e {
            Expr::Array { items, .. } | Expr::Set { items, .. } => items
                .iter()
                .any(|i| self.is_ref(i) || self.composite_with_ref(i)),
            Expr::Object { fields, .. } => fields
                .iter()
                .any(|(_, k, v)| self.is_ref(k) || self.is_ref(v) || self.composite_with_ref(v)),
            _ => false,
        }
    }

    /// No `_`, call or comprehension anywhere inside.
    fn plain(&self, e: &Expr) -> bool {
        match e {
            Expr::Var { span, .. } => span.text() != "_",
            Expr::String { .. }
            | Expr::RawString { .. }
            | Expr::Number { .. }
            | Expr::Bool { .. }
            | Expr::Null { .. } => true,
            Expr::RefDot { refr, .. } => self.plain(refr),
            Expr::RefBrack { refr, index, .. } => self.plain(refr) && self.plain(index),
            Expr::Array { items, .. } | Expr::Set { items, .. } => {
                items.iter().all(|i| self.plain(i))
            }
            Expr::Object { fields, .. } => fields
                .iter()
                .all(|(_, k, v)| self.plain(k) && self.plain(v)),
            _ => false,
        }
    }

    /// `with f as lower`: regorus only accepts a user function as the replacement, so a
    /// builtin named there is wrapped in a generated function of the same arity
    /// (appended to the file, so no line moves) and the `with` names that.
    fn with_builtin(&mut self, e: &Expr) {
        let name = ref_components(e).join(".");
        if name.is_empty() || self.rules.contains(name.split('.').next().unwrap_or("")) {
            return;
        }
        let arity = super::builtins::arities()
            .get(&name)
            .map(|n| usize::from(*n))
            .or_else(|| {
                regorus::unstable::BUILTINS
                    .get(name.as_str())
                    .map(|b| usize::from(b.1))
            });
        let Some(arity) = arity else { return };
        let wrapper = format!("__policy_builtin_{}", name.replace('.', "_"));
        let args: Vec<String> = (0..arity).map(|i| format!("a{i}")).collect();
        let definition = format!(
            "\n{wrapper}({}) := {name}({})\n",
            args.join(", "),
            args.join(", ")
        );
        if !self.appended.contains(&definition) {
            self.appended.push(definition);
        }
        self.edits.push(Edit {
            start: e.span().start as usize,
            end: e.span().end as usize,
            text: wrapper,
        });
    }

    /// Records the edits for one `not` literal spanning `start..end`.
    fn rewrite(&mut self, start: usize, end: usize, spans: Vec<(usize, usize)>) {
        if spans.is_empty() {
            return;
        }
        let mut prefix = String::new();
        for (s, e) in spans {
            let name = format!("__policy_hoist_{}", self.counter);
            self.counter += 1;
            let Some(arg) = self.text.get(s..e) else {
                return;
            };
            prefix.push_str(&format!("{name} := {arg}; "));
            self.edits.push(Edit {
                start: s,
                end: e,
                text: name,
            });
        }
        let braced = !self.after_if(start);
        if braced {
            self.edits.push(Edit {
                start,
                end: start,
                text: prefix,
            });
        } else {
            self.edits.push(Edit {
                start,
                end: start,
                text: format!("{{ {prefix}"),
            });
            self.edits.push(Edit {
                start: end,
                end,
                text: " }".into(),
            });
        }
    }

    /// Whether the literal at `start` is an unbraced rule body (`... if not f(x)`).
    fn after_if(&self, start: usize) -> bool {
        let before = self.text.get(..start).unwrap_or("").trim_end();
        before.ends_with("if")
            && !before[..before.len() - 2]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
    }
}
