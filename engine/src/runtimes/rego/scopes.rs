//! OPA's scoping of local variables, replayed over regorus's AST: which binding each
//! occurrence of a variable refers to.
//!
//! OPA's compiler (`rewriteLocalVars`) walks a rule in text order with a stack of
//! scopes: the function arguments, the rule body, and one scope per comprehension and
//! `every` body. `x := …` and `some x` declare `x` in the innermost scope (the right
//! side of `:=` is read first); any other occurrence refers to the innermost scope that
//! already knows `x`, or, when none does, is a new variable of the innermost scope.
//! So in `[name | input[i].n == name; name := input[i].m]`, the first `name` is the
//! enclosing rule's and the declared one is the comprehension's own. regorus instead
//! makes a `:=` variable local to its whole query, and refuses the same comprehension
//! ("var `name` used before definition below"), although OPA and conftest accept it.
//!
//! Two things are built on this model:
//! * [`renames`]: the edits that give such a shadowing declaration (and every later
//!   occurrence of it) a fresh name, so that regorus sees what OPA sees;
//! * [`strict_errors`]: the checks of OPA's strict mode (`opa check --strict`,
//!   `conftest --strict`) on local variables: an assigned (`:=`) or declared (`some`)
//!   variable never used, and a function argument never used.

use std::collections::BTreeMap;

use regorus::unstable::{
    AssignOp, Expr, Literal, LiteralStmt, Module, Query, Rule, RuleHead, Span,
};

use super::check::CheckError;

/// How a binding came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A function argument.
    Arg,
    /// `x := …`.
    Assigned,
    /// `some x`.
    Declared,
    /// `some x in …`, `every x in …`: declared, never reported unused.
    Iterated,
    /// First seen in an expression (unification, iteration, a reference).
    Seen,
}

#[derive(Debug)]
struct Binding {
    name: String,
    kind: Kind,
    /// The scope that holds it.
    frame: usize,
    /// Where it is declared (assigned and declared bindings).
    at: Option<Span>,
    /// Occurrences after the declaration.
    uses: u32,
    /// It is declared in a scope where its name was already seen (OPA refuses that:
    /// "var x referenced above"); such a binding is never renamed.
    conflict: bool,
    /// Its name is a variable of an enclosing scope at its declaration.
    shadows: bool,
}

/// One rule's scopes, bindings and occurrences.
#[derive(Debug, Default)]
struct Model {
    /// Parent of each scope (`None` for the arguments' scope), and its depth.
    frames: Vec<(Option<usize>, usize)>,
    /// The open scopes, innermost last: name → binding.
    stack: Vec<(usize, BTreeMap<String, usize>)>,
    bindings: Vec<Binding>,
    /// Each occurrence: its span, the scope it is in, the binding it refers to.
    occurrences: Vec<(Span, usize, usize)>,
    /// Each `some x, y` statement: its span and the bindings it declares.
    somes: Vec<(Span, Vec<usize>)>,
}

impl Model {
    fn push(&mut self) {
        let parent = self.stack.last().map(|(id, _)| *id);
        let depth = parent.map_or(0, |p| self.frames[p].1 + 1);
        self.frames.push((parent, depth));
        self.stack.push((self.frames.len() - 1, BTreeMap::new()));
    }

    fn pop(&mut self) {
        self.stack.pop();
    }

    fn top(&self) -> usize {
        self.stack.last().map_or(0, |(id, _)| *id)
    }

    /// Declares `span`'s variable in the innermost scope.
    fn declare(&mut self, span: &Span, kind: Kind) {
        let name = span.text().to_string();
        if name == "_" {
            return;
        }
        let frame = self.top();
        let conflict = self
            .stack
            .last()
            .is_some_and(|(_, names)| names.contains_key(&name));
        let shadows = self.stack[..self.stack.len().saturating_sub(1)]
            .iter()
            .any(|(_, names)| names.contains_key(&name));
        self.bindings.push(Binding {
            name: name.clone(),
            kind,
            frame,
            at: Some(span.clone()),
            uses: 0,
            conflict,
            shadows,
        });
        let id = self.bindings.len() - 1;
        if let Some((_, names)) = self.stack.last_mut() {
            names.insert(name, id);
        }
        self.occurrences.push((span.clone(), frame, id));
    }

    /// An occurrence of `span`'s variable that does not declare it.
    fn use_var(&mut self, span: &Span) {
        let name = span.text();
        if name == "_" {
            return;
        }
        let frame = self.top();
        let found = self
            .stack
            .iter()
            .rev()
            .find_map(|(_, names)| names.get(name).copied());
        let id = match found {
            Some(id) => {
                self.bindings[id].uses += 1;
                id
            }
            None => {
                self.bindings.push(Binding {
                    name: name.to_string(),
                    kind: Kind::Seen,
                    frame,
                    at: None,
                    uses: 0,
                    conflict: false,
                    shadows: false,
                });
                let id = self.bindings.len() - 1;
                if let Some((_, names)) = self.stack.last_mut() {
                    names.insert(name.to_string(), id);
                }
                id
            }
        };
        self.occurrences.push((span.clone(), frame, id));
    }

    /// Whether scope `inner` is `outer` or nested in it.
    fn within(&self, mut inner: usize, outer: usize) -> bool {
        loop {
            if inner == outer {
                return true;
            }
            match self.frames[inner].0 {
                Some(p) => inner = p,
                None => return false,
            }
        }
    }

    /// Every variable of a pattern (`[a, {"k": b}]`) declared with `kind`.
    fn declare_pattern(&mut self, e: &Expr, kind: Kind) {
        match e {
            Expr::Var { span, .. } => self.declare(span, kind),
            Expr::Array { items, .. } => items.iter().for_each(|i| self.declare_pattern(i, kind)),
            Expr::Object { fields, .. } => fields
                .iter()
                .for_each(|(_, _, v)| self.declare_pattern(v, kind)),
            other => self.expr(other),
        }
    }

    fn query(&mut self, q: &Query) {
        for stmt in &q.stmts {
            self.stmt(stmt);
        }
    }

    fn stmt(&mut self, stmt: &LiteralStmt) {
        match &stmt.literal {
            Literal::SomeVars { vars, span } => {
                let first = self.bindings.len();
                vars.iter().for_each(|v| self.declare(v, Kind::Declared));
                let ids = (first..self.bindings.len()).collect();
                self.somes.push((span.clone(), ids));
            }
            Literal::SomeIn {
                key,
                value,
                collection,
                ..
            } => {
                self.expr(collection);
                if let Some(k) = key {
                    self.declare_pattern(k, Kind::Iterated);
                }
                self.declare_pattern(value, Kind::Iterated);
            }
            Literal::Expr { expr, .. } => match expr.as_ref() {
                Expr::AssignExpr {
                    op: AssignOp::ColEq,
                    lhs,
                    rhs,
                    ..
                } => {
                    self.expr(rhs);
                    self.declare_pattern(lhs, Kind::Assigned);
                }
                e => self.expr(e),
            },
            Literal::NotExpr { expr, .. } => self.expr(expr),
            Literal::Every {
                key,
                value,
                domain,
                query,
                ..
            } => {
                self.expr(domain);
                self.push();
                if let Some(k) = key {
                    self.declare(k, Kind::Iterated);
                }
                self.declare(value, Kind::Iterated);
                self.query(query);
                self.pop();
            }
        }
        for m in &stmt.with_mods {
            self.expr(&m.r#as);
        }
    }

    fn expr(&mut self, e: &Expr) {
        match e {
            Expr::Var { span, .. } => self.use_var(span),
            Expr::Array { items, .. } | Expr::Set { items, .. } => {
                items.iter().for_each(|i| self.expr(i))
            }
            Expr::Object { fields, .. } => fields.iter().for_each(|(_, k, v)| {
                self.expr(k);
                self.expr(v);
            }),
            Expr::ArrayCompr { term, query, .. } | Expr::SetCompr { term, query, .. } => {
                self.push();
                self.query(query);
                self.expr(term);
                self.pop();
            }
            Expr::ObjectCompr {
                key, value, query, ..
            } => {
                self.push();
                self.query(query);
                self.expr(key);
                self.expr(value);
                self.pop();
            }
            // The function's name is not a variable.
            Expr::Call { params, .. } => params.iter().for_each(|p| self.expr(p)),
            Expr::UnaryExpr { expr, .. } => self.expr(expr),
            Expr::RefDot { refr, .. } => self.expr(refr),
            Expr::RefBrack { refr, index, .. } => {
                self.expr(refr);
                self.expr(index);
            }
            Expr::BinExpr { lhs, rhs, .. }
            | Expr::BoolExpr { lhs, rhs, .. }
            | Expr::ArithExpr { lhs, rhs, .. }
            | Expr::AssignExpr { lhs, rhs, .. } => {
                self.expr(lhs);
                self.expr(rhs);
            }
            Expr::Membership {
                key,
                value,
                collection,
                ..
            } => {
                if let Some(k) = key {
                    self.expr(k);
                }
                self.expr(value);
                self.expr(collection);
            }
            _ => {}
        }
    }

    /// The variables of a rule head's reference (`deny[msg]`, `a.b[k]`), past its name.
    fn head_ref(&mut self, refr: &Expr) {
        match refr {
            Expr::RefBrack { refr, index, .. } => {
                self.head_ref(refr);
                self.expr(index);
            }
            Expr::RefDot { refr, .. } => self.head_ref(refr),
            _ => {}
        }
    }

    /// Models one rule: the arguments' scope, then each body (an `else` chain shares
    /// the arguments) with the head's key and value read in that body's scope.
    fn rule(rule: &Rule) -> Model {
        let mut m = Model::default();
        m.push();
        let Rule::Spec { head, bodies, .. } = rule else {
            return m;
        };
        if let RuleHead::Func { args, .. } = head {
            args.iter().for_each(|a| m.declare_pattern(a, Kind::Arg));
        }
        let head_reads = |m: &mut Model| match head {
            RuleHead::Compr { refr, assign, .. } => {
                m.head_ref(refr);
                if let Some(a) = assign {
                    m.expr(&a.value);
                }
            }
            RuleHead::Set { refr, key, .. } => {
                m.head_ref(refr);
                if let Some(k) = key {
                    m.expr(k);
                }
            }
            RuleHead::Func { assign, .. } => {
                if let Some(a) = assign {
                    m.expr(&a.value);
                }
            }
        };
        if bodies.is_empty() {
            m.push();
            head_reads(&mut m);
            m.pop();
        }
        for body in bodies {
            m.push();
            m.query(&body.query);
            if body.is_else {
                if let Some(a) = &body.assign {
                    m.expr(&a.value);
                }
            } else {
                head_reads(&mut m);
            }
            m.pop();
        }
        m
    }
}

/// A byte range of the file and the text to put there.
pub(super) type Rename = (usize, usize, String);

/// Renames that make regorus scope `module`'s comprehension and `every` variables as
/// OPA does (see the module docs). Empty when nothing needs it (almost always).
///
/// * A variable declared (`:=`, `some`) in a comprehension or `every` body that
///   shadows a variable of an enclosing scope gets a fresh name, at its declaration and
///   every occurrence that refers to it: regorus refuses the shadowing, or reads the
///   occurrences before the declaration as the new variable.
/// * `some x` whose `x` occurs only inside nested comprehensions is dropped: OPA lets
///   each comprehension bind such a variable itself (nothing outside binds it), which
///   is what regorus does with a variable it does not know outside; regorus instead
///   refuses the rule ("duplicated definition of local variable").
pub(super) fn renames(module: &Module, text: &str) -> Vec<Rename> {
    let mut out = Vec::new();
    let mut counter = 0;
    for rule in &module.policy {
        let m = Model::rule(rule);
        let mut renamed = Vec::new();
        for (id, b) in m.bindings.iter().enumerate() {
            if b.conflict || !b.shadows || b.kind == Kind::Seen || b.kind == Kind::Arg {
                continue;
            }
            // Only scopes nested in a body: the body itself is depth 1.
            if m.frames[b.frame].1 < 2 {
                continue;
            }
            let fresh = loop {
                let candidate = format!("__policy_local{counter}_{}", b.name);
                counter += 1;
                if !text.contains(&candidate) {
                    break candidate;
                }
            };
            renamed.push(id);
            for (span, _, other) in &m.occurrences {
                if *other == id {
                    out.push((span.start as usize, span.end as usize, fresh.clone()));
                }
            }
        }
        for (span, ids) in &m.somes {
            let vacuous = |id: &usize| {
                let b = &m.bindings[*id];
                let mut uses = m
                    .occurrences
                    .iter()
                    .filter(|(_, _, other)| other == id)
                    .skip(1)
                    .peekable();
                !renamed.contains(id)
                    && !b.conflict
                    && uses.peek().is_some()
                    && uses.all(|(_, frame, _)| *frame != b.frame && m.within(*frame, b.frame))
            };
            if !ids.iter().any(vacuous) {
                continue;
            }
            let kept: Vec<&str> = ids
                .iter()
                .filter(|id| !vacuous(id))
                .map(|id| m.bindings[*id].name.as_str())
                .collect();
            let replacement = if kept.is_empty() {
                "true".to_string()
            } else {
                format!("some {}", kept.join(", "))
            };
            out.push((span.start as usize, span.end as usize, replacement));
        }
    }
    out
}

/// Applies `renames` to `text`.
pub(super) fn apply(text: &str, mut renames: Vec<Rename>) -> String {
    renames.sort_by_key(|r| std::cmp::Reverse(r.0));
    let mut out = text.to_string();
    for (start, end, name) in renames {
        if start <= end
            && end <= out.len()
            && out.is_char_boundary(start)
            && out.is_char_boundary(end)
        {
            out.replace_range(start..end, &name);
        }
    }
    out
}

/// OPA strict mode's checks on local variables (`rego_compile_error`), each at the
/// declaration (the rule's head for an argument), in OPA's wording.
pub(super) fn strict_errors(file: &str, module: &Module) -> Vec<CheckError> {
    let mut errors = Vec::new();
    for rule in &module.policy {
        let m = Model::rule(rule);
        let mut args = Vec::new();
        for b in &m.bindings {
            let Some(at) = &b.at else { continue };
            if b.uses > 0 || b.name.starts_with("__policy_") {
                continue;
            }
            let message = match b.kind {
                Kind::Assigned => format!("rego_compile_error: assigned var {} unused", b.name),
                Kind::Declared => format!("rego_compile_error: declared var {} unused", b.name),
                Kind::Arg => {
                    args.push(b.name.clone());
                    continue;
                }
                Kind::Seen | Kind::Iterated => continue,
            };
            errors.push(CheckError {
                file: file.to_string(),
                line: at.line,
                column: at.col,
                message,
            });
        }
        let head = rule.span();
        for name in args {
            errors.push(CheckError {
                file: file.to_string(),
                line: head.line,
                column: head.col,
                message: format!(
                    "rego_compile_error: unused argument {name}. (hint: use _ (wildcard variable) instead)"
                ),
            });
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(text: &str) -> Module {
        super::super::rewrite::parse("p.rego", text)
            .expect("parses")
            .module
    }

    fn renamed(text: &str) -> String {
        apply(text, renames(&module(text), text))
    }

    #[test]
    fn a_shadowing_declaration_and_its_later_uses_are_renamed() {
        let text =
            "package t\nr := x if {\n\tname := 1\n\tx := [name | input[i] == name; name := i]\n}\n";
        assert_eq!(
            renamed(text),
            "package t\nr := x if {\n\tname := 1\n\tx := [__policy_local0_name | input[i] == name; __policy_local0_name := i]\n}\n"
        );
        // `some` redeclared in a comprehension.
        let text =
            "package t\nr := x if {\n\tsome i\n\tinput[i]\n\tx := {j | some i; j := input[i]}\n}\n";
        assert_eq!(
            renamed(text),
            "package t\nr := x if {\n\tsome i\n\tinput[i]\n\tx := {j | some __policy_local0_i; j := input[__policy_local0_i]}\n}\n"
        );
    }

    #[test]
    fn a_some_only_comprehensions_bind_is_dropped() {
        let text =
            "package t\nr := x if {\n\tsome i, k\n\tinput[k]\n\tx := [v | v := input[i]]\n}\n";
        assert_eq!(
            renamed(text),
            "package t\nr := x if {\n\tsome k\n\tinput[k]\n\tx := [v | v := input[i]]\n}\n"
        );
        let text = "package t\nr := x if {\n\tsome i\n\tx := [v | v := input[i]]\n}\n";
        assert_eq!(
            renamed(text),
            "package t\nr := x if {\n\ttrue\n\tx := [v | v := input[i]]\n}\n"
        );
    }

    #[test]
    fn nothing_to_rename_in_ordinary_rules() {
        for text in [
            "package t\nr := x if {\n\tx := [y | some y in input; y > 1]\n}\n",
            // Referenced above in the same scope: OPA refuses it, and so does regorus.
            "package t\nr if {\n\tx == 1\n\tx := 2\n}\n",
            "package t\nr := [y | y == x; x := 1]\n",
        ] {
            assert!(renames(&module(text), text).is_empty(), "{text}");
        }
    }

    #[test]
    fn strict_mode_finds_unused_locals_and_arguments() {
        let text = "package t\nf(a, b, _) := a if {\n\tc := 1\n\tsome d\n\tx := [e | e := 1]\n\tx\n}\ng(a) := a if true else := 0 if true\n";
        let errors: Vec<String> = strict_errors("p.rego", &module(text))
            .into_iter()
            .map(|e| format!("{}:{}: {}", e.line, e.column, e.message))
            .collect();
        assert_eq!(
            errors,
            [
                "3:5: rego_compile_error: assigned var c unused",
                "4:10: rego_compile_error: declared var d unused",
                "2:1: rego_compile_error: unused argument b. (hint: use _ (wildcard variable) instead)",
            ]
        );
    }
}
