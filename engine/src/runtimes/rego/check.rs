//! Load-time checks OPA's compiler makes and regorus does not: recursion, unknown
//! functions and arity.
//!
//! regorus reports these per rule at evaluation time, or never: a recursive function
//! recursed until the thread's stack overflowed, which aborts the whole process (no
//! Rust code can catch a stack overflow). OPA refuses such a policy when it compiles it
//! (`opa check`). These checks run over every parsed file before any is handed to
//! regorus, and a file that fails one is refused as a whole (POL003 with file:line:col),
//! as a file that does not parse is; the other files still load.
//!
//! * **Recursion**: a rule or function that depends on itself through rule references,
//!   `data.` references or calls, within or across packages (`rego_recursion_error`).
//! * **Unknown functions**: a call that is neither a builtin, an extension of this
//!   engine, nor a user function in any loaded file (`rego_type_error`).
//! * **Arity**: a call with a number of arguments no definition takes (one extra, as
//!   an output argument, is allowed as OPA allows it).
//!
//! The analysis is conservative: a variable with a rule's name counts as a reference to
//! the rule unless the rule's own text binds it, so a valid policy is never refused
//! for a cycle it does not have.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use regorus::unstable::{Expr, Literal, Module, Query, Rule, RuleHead, Span};

/// A refused file: where, and why (OPA's wording).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CheckError {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

/// A rule or function: its path `pkg.name` (without `data.`).
#[derive(Debug, Default)]
struct Node {
    /// Where it is first defined.
    at: Option<(String, u32, u32)>,
    /// Argument counts of its function definitions (empty: not a function).
    arities: BTreeSet<usize>,
    /// It also has a definition that is not a function.
    value_rule: bool,
    /// Paths of the rules it depends on.
    deps: BTreeSet<String>,
}

/// Checks `modules` (path, module) together; returns the errors, at most one per file
/// per kind of problem is not promised (every problem is reported).
pub(super) fn check(
    modules: &[(String, &Module)],
    extensions: &BTreeMap<String, u8>,
) -> Vec<CheckError> {
    let mut nodes: BTreeMap<String, Node> = BTreeMap::new();
    // Pass 1: every rule's path and arities.
    for (file, module) in modules {
        let pkg = package(module);
        for rule in &module.policy {
            let Some((name, args, span)) = head(rule) else {
                continue;
            };
            let node = nodes.entry(format!("{pkg}.{name}")).or_default();
            if node.at.is_none() {
                node.at = Some((file.clone(), span.line, span.col));
            }
            match args {
                Some(n) => {
                    node.arities.insert(n);
                }
                None => node.value_rule = true,
            }
        }
    }
    let mut errors = Vec::new();
    for (path, node) in &nodes {
        if node.value_rule && !node.arities.is_empty() {
            let (file, line, column) = node.at.clone().unwrap_or_default();
            errors.push(CheckError {
                file,
                line,
                column,
                message: format!("rego_type_error: conflicting rules data.{path} found"),
            });
        }
    }
    // Pass 2: dependencies, unknown functions and arity.
    for (file, module) in modules {
        let pkg = package(module);
        let imports = imports(module);
        for rule in &module.policy {
            let Some((name, _, _)) = head(rule) else {
                continue;
            };
            let mut w = Walker {
                pkg: &pkg,
                imports: &imports,
                nodes: &nodes,
                extensions,
                locals: BTreeSet::new(),
                deps: BTreeSet::new(),
                errors: Vec::new(),
                file,
            };
            bound_names(rule, &mut w.locals);
            w.rule(rule);
            unsafe_in_negation(rule, &imports, &nodes, &pkg, file, &mut w.errors);
            errors.append(&mut w.errors);
            let deps = w.deps;
            if let Some(node) = nodes.get_mut(&format!("{pkg}.{name}")) {
                node.deps.extend(deps);
            }
        }
    }
    errors.extend(cycles(&nodes));
    errors
}

/// Every node on a cycle, with the cycle OPA would print.
fn cycles(nodes: &BTreeMap<String, Node>) -> Vec<CheckError> {
    // Strongly connected components (Tarjan, iterative): linear in rules and edges, so a
    // chain of thousands of functions loads at once instead of searching from every rule.
    let names: Vec<&String> = nodes.keys().collect();
    let index_of: HashMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let edges: Vec<Vec<usize>> = names
        .iter()
        .map(|n| {
            nodes[*n]
                .deps
                .iter()
                .filter_map(|d| index_of.get(d.as_str()).copied())
                .collect()
        })
        .collect();
    let n = names.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut component = vec![usize::MAX; n];
    let mut next_index = 0;
    let mut components = 0;
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        let mut work: Vec<(usize, usize)> = vec![(root, 0)];
        index[root] = next_index;
        low[root] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut edge)) = work.last_mut() {
            if *edge < edges[v].len() {
                let w = edges[v][*edge];
                *edge += 1;
                if index[w] == usize::MAX {
                    index[w] = next_index;
                    low[w] = next_index;
                    next_index += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                work.pop();
                if let Some(&(parent, _)) = work.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == index[v] {
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        component[w] = components;
                        if w == v {
                            break;
                        }
                    }
                    components += 1;
                }
            }
        }
    }
    let mut size = vec![0usize; components];
    for &c in &component {
        size[c] += 1;
    }
    let mut errors = Vec::new();
    for start in 0..n {
        let c = component[start];
        let recursive = size[c] > 1 || edges[start].contains(&start);
        if !recursive {
            continue;
        }
        // The shortest way back to `start` inside its component (breadth first).
        let mut parent = vec![usize::MAX; n];
        let mut queue = std::collections::VecDeque::from([start]);
        let mut last = None;
        'search: while let Some(v) = queue.pop_front() {
            for &w in &edges[v] {
                if component[w] != c {
                    continue;
                }
                if w == start {
                    last = Some(v);
                    break 'search;
                }
                if parent[w] == usize::MAX {
                    parent[w] = v;
                    queue.push_back(w);
                }
            }
        }
        let mut cycle = vec![start];
        let mut at = last;
        let mut back = Vec::new();
        while let Some(v) = at {
            if v == start {
                break;
            }
            back.push(v);
            at = Some(parent[v]);
        }
        cycle.extend(back.into_iter().rev());
        cycle.push(start);
        let (file, line, column) = nodes[names[start]].at.clone().unwrap_or_default();
        let chain: Vec<String> = cycle
            .iter()
            .map(|&i| format!("data.{}", names[i]))
            .collect();
        errors.push(CheckError {
            file,
            line,
            column,
            message: format!(
                "rego_recursion_error: rule data.{} is recursive: {}",
                names[start],
                chain.join(" -> ")
            ),
        });
    }
    errors
}

fn package(module: &Module) -> String {
    let comps = components(&module.package.refr);
    comps
        .strip_prefix(&["data".to_string()])
        .unwrap_or(&comps)
        .join(".")
}

/// The dotted components of a reference made of a variable, `.field`s and string
/// indexes (`data.lib["k8s"].f` → data, lib, k8s, f); empty for anything else.
fn components(e: &Expr) -> Vec<String> {
    match e {
        Expr::Var { span, .. } => vec![span.text().to_string()],
        Expr::RefDot { refr, field, .. } => {
            let mut c = components(refr);
            if !c.is_empty() {
                c.push(field.0.text().to_string());
            }
            c
        }
        Expr::RefBrack { refr, index, .. } => {
            let mut c = components(refr);
            match index.as_ref() {
                Expr::String { value, .. } if !c.is_empty() => {
                    if let regorus::Value::String(s) = value {
                        c.push(s.to_string());
                    }
                    c
                }
                _ => c,
            }
        }
        _ => Vec::new(),
    }
}

/// Import aliases → the path they stand for (without `data.`).
fn imports(module: &Module) -> HashMap<String, Vec<String>> {
    let mut map = HashMap::new();
    for import in &module.imports {
        let comps = components(&import.refr);
        if comps.first().map(String::as_str) != Some("data") || comps.len() < 2 {
            continue;
        }
        let alias = import
            .r#as
            .as_ref()
            .map(|s| s.text().to_string())
            .or_else(|| comps.last().cloned())
            .unwrap_or_default();
        map.insert(alias, comps[1..].to_vec());
    }
    map
}

/// A rule's name (first component of its head), its argument count when it is a
/// function, and where it is.
fn head(rule: &Rule) -> Option<(String, Option<usize>, Span)> {
    match rule {
        Rule::Spec { head, span, .. } => {
            let (refr, args) = match head {
                RuleHead::Compr { refr, .. } | RuleHead::Set { refr, .. } => (refr, None),
                RuleHead::Func { refr, args, .. } => (refr, Some(args.len())),
            };
            let comps = components(refr);
            Some((comps.first()?.clone(), args, span.clone()))
        }
        Rule::Default {
            refr, args, span, ..
        } => {
            let comps = components(refr);
            Some((
                comps.first()?.clone(),
                (!args.is_empty()).then_some(args.len()),
                span.clone(),
            ))
        }
    }
}

/// Names a rule's text binds (`:=`, `=` left sides, `some`, arguments, `every`), which
/// therefore are not references to rules of the same name.
fn bound_names(rule: &Rule, out: &mut BTreeSet<String>) {
    fn vars(e: &Expr, out: &mut BTreeSet<String>) {
        match e {
            Expr::Var { span, .. } => {
                out.insert(span.text().to_string());
            }
            Expr::Array { items, .. } | Expr::Set { items, .. } => {
                items.iter().for_each(|i| vars(i, out))
            }
            Expr::Object { fields, .. } => fields.iter().for_each(|(_, k, v)| {
                vars(k, out);
                vars(v, out);
            }),
            Expr::RefBrack { refr, index, .. } => {
                vars(index, out);
                // `input.x[i]`: `i` is bound by iteration; the root is not.
                if !matches!(refr.as_ref(), Expr::Var { .. }) {
                    vars(refr, out);
                }
            }
            _ => {}
        }
    }
    fn query(q: &Query, out: &mut BTreeSet<String>) {
        for stmt in &q.stmts {
            match &stmt.literal {
                Literal::SomeVars { vars: v, .. } => v.iter().for_each(|s| {
                    out.insert(s.text().to_string());
                }),
                Literal::SomeIn {
                    key,
                    value,
                    collection,
                    ..
                } => {
                    if let Some(k) = key {
                        vars(k, out);
                    }
                    vars(value, out);
                    expr(collection, out);
                }
                Literal::Every {
                    key,
                    value,
                    query: q,
                    domain,
                    ..
                } => {
                    if let Some(k) = key {
                        out.insert(k.text().to_string());
                    }
                    out.insert(value.text().to_string());
                    expr(domain, out);
                    query(q, out);
                }
                Literal::Expr { expr: e, .. } | Literal::NotExpr { expr: e, .. } => expr(e, out),
            }
        }
    }
    fn expr(e: &Expr, out: &mut BTreeSet<String>) {
        match e {
            Expr::AssignExpr { lhs, rhs, .. } => {
                vars(lhs, out);
                vars(rhs, out);
                expr(rhs, out);
            }
            Expr::ArrayCompr { query: q, .. }
            | Expr::SetCompr { query: q, .. }
            | Expr::ObjectCompr { query: q, .. } => query(q, out),
            // Output arguments (`walk(x, [path, value])`) bind their variables.
            Expr::Call { params, .. } => params.iter().for_each(|p| {
                vars(p, out);
                expr(p, out);
            }),
            Expr::RefBrack { index, .. } => vars(index, out),
            _ => {}
        }
    }
    if let Rule::Spec { head, bodies, .. } = rule {
        match head {
            RuleHead::Func { args, .. } => args.iter().for_each(|a| vars(a, out)),
            RuleHead::Set { key: Some(k), .. } => vars(k, out),
            RuleHead::Compr { refr, .. } => {
                if let Expr::RefBrack { index, .. } = refr.as_ref() {
                    vars(index, out);
                }
            }
            _ => {}
        }
        for body in bodies {
            query(&body.query, out);
        }
    }
    if let Rule::Default { args, .. } = rule {
        args.iter().for_each(|a| vars(a, out));
    }
}

struct Walker<'a> {
    pkg: &'a str,
    imports: &'a HashMap<String, Vec<String>>,
    nodes: &'a BTreeMap<String, Node>,
    extensions: &'a BTreeMap<String, u8>,
    locals: BTreeSet<String>,
    deps: BTreeSet<String>,
    errors: Vec<CheckError>,
    file: &'a str,
}

impl Walker<'_> {
    fn rule(&mut self, rule: &Rule) {
        match rule {
            Rule::Spec { head, bodies, .. } => {
                match head {
                    RuleHead::Compr { refr, assign, .. } => {
                        self.head_ref(refr);
                        if let Some(a) = assign {
                            self.expr(&a.value);
                        }
                    }
                    RuleHead::Set { refr, key, .. } => {
                        self.head_ref(refr);
                        if let Some(k) = key {
                            self.expr(k);
                        }
                    }
                    RuleHead::Func { assign, .. } => {
                        if let Some(a) = assign {
                            self.expr(&a.value);
                        }
                    }
                }
                for body in bodies {
                    if let Some(a) = &body.assign {
                        self.expr(&a.value);
                    }
                    self.query(&body.query);
                }
            }
            Rule::Default { value, .. } => self.expr(value),
        }
    }

    /// Index expressions of a head like `labels[k]`.
    fn head_ref(&mut self, refr: &Expr) {
        if let Expr::RefBrack { index, refr, .. } = refr {
            self.expr(index);
            self.head_ref(refr);
        }
    }

    fn query(&mut self, q: &Query) {
        for stmt in &q.stmts {
            match &stmt.literal {
                Literal::SomeVars { .. } => {}
                Literal::SomeIn {
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
                Literal::Expr { expr, .. } | Literal::NotExpr { expr, .. } => self.expr(expr),
                Literal::Every { domain, query, .. } => {
                    self.expr(domain);
                    self.query(query);
                }
            }
            // `with` targets are replaced, not called; their values are evaluated.
            for m in &stmt.with_mods {
                self.with_value(&m.r#as);
            }
        }
    }

    /// The value of a `with`: a function name there is a replacement, not a call.
    fn with_value(&mut self, e: &Expr) {
        let comps = components(e);
        if !comps.is_empty()
            && self.resolve(&comps).is_empty()
            && !self.is_builtin(&comps.join("."))
        {
            self.expr(e);
        } else if !comps.is_empty() {
            for target in self.resolve(&comps) {
                self.deps.insert(target);
            }
        } else {
            self.expr(e);
        }
    }

    /// The full path (without `data.`) that `comps` (as written, with import aliases)
    /// names; `None` for locals and `input`.
    fn full_path(&self, comps: &[String]) -> Option<Vec<String>> {
        let first = comps.first()?;
        if first == "data" {
            Some(comps[1..].to_vec())
        } else if let Some(target) = self.imports.get(first) {
            Some(target.iter().chain(&comps[1..]).cloned().collect())
        } else if self.locals.contains(first) || first == "input" {
            None
        } else {
            Some(
                self.pkg
                    .split('.')
                    .map(str::to_string)
                    .chain(comps.iter().cloned())
                    .collect(),
            )
        }
    }

    /// Rule paths a reference may depend on: every rule whose path is a prefix of it,
    /// or, for a `data.` reference to a package, every rule of that package.
    fn resolve(&self, comps: &[String]) -> Vec<String> {
        let Some(full) = self.full_path(comps) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for i in 1..full.len() {
            let candidate = full[..=i].join(".");
            if self.nodes.contains_key(&candidate) {
                out.push(candidate);
            }
        }
        if out.is_empty() && comps.first().is_some_and(|f| f == "data") {
            let prefix = format!("{}.", full.join("."));
            out.extend(
                self.nodes
                    .keys()
                    .filter(|k| k.starts_with(&prefix))
                    .cloned(),
            );
        }
        out
    }

    fn is_builtin(&self, name: &str) -> bool {
        name == "print"
            // OPA builtins compiled out of this build (no network, no runtime info): known
            // names, so a rule that calls one fails when it runs, naming the call (POL001).
            || matches!(name, "http.send" | "net.lookup_ip_addr" | "opa.runtime")
            || name.starts_with("policy.")
            || name == "rego.metadata.rule"
            || name == "rego.metadata.chain"
            || regorus::unstable::BUILTINS.contains_key(name)
            || self.extensions.contains_key(name)
    }

    fn builtin_arity(&self, name: &str) -> Option<usize> {
        if let Some(n) = self.extensions.get(name) {
            return Some(usize::from(*n));
        }
        regorus::unstable::BUILTINS
            .get(name)
            .map(|b| usize::from(b.1))
    }

    fn error(&mut self, span: &Span, message: String) {
        self.errors.push(CheckError {
            file: self.file.to_string(),
            line: span.line,
            column: span.col,
            message,
        });
    }

    fn expr(&mut self, e: &Expr) {
        match e {
            Expr::Var { .. } | Expr::RefDot { .. } | Expr::RefBrack { .. } => {
                let comps = components(e);
                if !comps.is_empty() {
                    for target in self.resolve(&comps) {
                        self.deps.insert(target);
                    }
                }
                // Indexes and roots that are not plain components.
                match e {
                    Expr::RefDot { refr, .. } if components(refr).is_empty() => {
                        self.expr(refr);
                    }
                    Expr::RefBrack { refr, index, .. } => {
                        if components(refr).is_empty() {
                            self.expr(refr);
                        } else {
                            self.head_ref(refr);
                        }
                        self.expr(index);
                    }
                    _ => {}
                }
            }
            Expr::Call { fcn, params, .. } => {
                for p in params {
                    self.expr(p);
                }
                let comps = components(fcn);
                if comps.is_empty() {
                    return;
                }
                let name = comps.join(".");
                let target = self
                    .full_path(&comps)
                    .map(|f| f.join("."))
                    .filter(|t| self.nodes.contains_key(t));
                if let Some(target) = target {
                    let arities = &self.nodes[&target].arities;
                    let n = params.len();
                    if !arities.is_empty()
                        && !arities.contains(&n)
                        && !arities.iter().any(|a| a + 1 == n)
                    {
                        let want = arities.iter().next().copied().unwrap_or_default();
                        self.error(
                            fcn.span(),
                            format!(
                                "rego_type_error: function data.{target} has arity {want}, got {n} argument{}",
                                if n == 1 { "" } else { "s" }
                            ),
                        );
                    }
                    self.deps.insert(target);
                } else if self.is_builtin(&name) {
                    if let Some(want) = self.builtin_arity(&name) {
                        let n = params.len();
                        if name != "print" && n != want && n != want + 1 {
                            self.error(
                                fcn.span(),
                                format!(
                                    "rego_type_error: {name}: arity mismatch: have {n} argument{}, want {want}",
                                    if n == 1 { "" } else { "s" }
                                ),
                            );
                        }
                    }
                } else {
                    self.error(
                        fcn.span(),
                        format!("rego_type_error: undefined function {name}"),
                    );
                }
            }
            Expr::Array { items, .. } | Expr::Set { items, .. } => {
                items.iter().for_each(|i| self.expr(i))
            }
            Expr::Object { fields, .. } => fields.iter().for_each(|(_, k, v)| {
                self.expr(k);
                self.expr(v);
            }),
            Expr::ArrayCompr { term, query, .. } | Expr::SetCompr { term, query, .. } => {
                self.expr(term);
                self.query(query);
            }
            Expr::ObjectCompr {
                key, value, query, ..
            } => {
                self.expr(key);
                self.expr(value);
                self.query(query);
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
}

/// Variables of a `not` literal that nothing outside a negation in the same rule binds
/// (`not input.a[i]` with no other `i`): OPA's `rego_unsafe_var_error`. regorus would
/// iterate them inside the negation instead.
fn unsafe_in_negation(
    rule: &Rule,
    imports: &HashMap<String, Vec<String>>,
    nodes: &BTreeMap<String, Node>,
    pkg: &str,
    file: &str,
    errors: &mut Vec<CheckError>,
) {
    /// Variables of `e` (not function names, not inside comprehensions unless `deep`).
    fn vars(e: &Expr, deep: bool, out: &mut Vec<(String, Span)>) {
        match e {
            Expr::Var { span, .. } => out.push((span.text().to_string(), span.clone())),
            Expr::Call { params, .. } => params.iter().for_each(|p| vars(p, deep, out)),
            Expr::RefDot { refr, .. } => vars(refr, deep, out),
            Expr::RefBrack { refr, index, .. } => {
                vars(refr, deep, out);
                vars(index, deep, out);
            }
            Expr::Array { items, .. } | Expr::Set { items, .. } => {
                items.iter().for_each(|i| vars(i, deep, out))
            }
            Expr::Object { fields, .. } => fields.iter().for_each(|(_, k, v)| {
                vars(k, deep, out);
                vars(v, deep, out);
            }),
            Expr::UnaryExpr { expr, .. } => vars(expr, deep, out),
            Expr::BinExpr { lhs, rhs, .. }
            | Expr::BoolExpr { lhs, rhs, .. }
            | Expr::ArithExpr { lhs, rhs, .. }
            | Expr::AssignExpr { lhs, rhs, .. } => {
                vars(lhs, deep, out);
                vars(rhs, deep, out);
            }
            Expr::Membership {
                key,
                value,
                collection,
                ..
            } => {
                if let Some(k) = key {
                    vars(k, deep, out);
                }
                vars(value, deep, out);
                vars(collection, deep, out);
            }
            Expr::ArrayCompr { term, query, .. } | Expr::SetCompr { term, query, .. } if deep => {
                vars(term, deep, out);
                query_vars(query, out, &mut Vec::new());
            }
            Expr::ObjectCompr {
                key, value, query, ..
            } if deep => {
                vars(key, deep, out);
                vars(value, deep, out);
                query_vars(query, out, &mut Vec::new());
            }
            _ => {}
        }
    }
    /// Variables outside negations (`bound`) and the `not` literals' own (`negated`).
    fn query_vars(q: &Query, bound: &mut Vec<(String, Span)>, negated: &mut Vec<(String, Span)>) {
        for stmt in &q.stmts {
            match &stmt.literal {
                Literal::NotExpr { expr, .. } => vars(expr, false, negated),
                Literal::Expr { expr, .. } => vars(expr, true, bound),
                Literal::SomeVars { vars: v, .. } => {
                    bound.extend(v.iter().map(|s| (s.text().to_string(), s.clone())))
                }
                Literal::SomeIn {
                    key,
                    value,
                    collection,
                    ..
                } => {
                    if let Some(k) = key {
                        vars(k, true, bound);
                    }
                    vars(value, true, bound);
                    vars(collection, true, bound);
                }
                Literal::Every {
                    key,
                    value,
                    domain,
                    query,
                    ..
                } => {
                    if let Some(k) = key {
                        bound.push((k.text().to_string(), k.clone()));
                    }
                    bound.push((value.text().to_string(), value.clone()));
                    vars(domain, true, bound);
                    query_vars(query, bound, negated);
                }
            }
            for m in &stmt.with_mods {
                vars(&m.r#as, true, bound);
            }
        }
    }
    let Rule::Spec { head, bodies, .. } = rule else {
        return;
    };
    let mut bound = Vec::new();
    let mut negated = Vec::new();
    match head {
        RuleHead::Func { args, .. } => args.iter().for_each(|a| vars(a, true, &mut bound)),
        RuleHead::Compr { refr, .. } | RuleHead::Set { refr, .. } => vars(refr, true, &mut bound),
    }
    for body in bodies {
        query_vars(&body.query, &mut bound, &mut negated);
    }
    let bound: BTreeSet<String> = bound.into_iter().map(|(n, _)| n).collect();
    let mut reported = BTreeSet::new();
    for (name, span) in negated {
        if name == "_"
            || name == "input"
            || name == "data"
            || bound.contains(&name)
            || imports.contains_key(&name)
            || nodes.contains_key(&format!("{pkg}.{name}"))
            || !reported.insert(name.clone())
        {
            continue;
        }
        errors.push(CheckError {
            file: file.to_string(),
            line: span.line,
            column: span.col,
            message: format!("rego_unsafe_var_error: var {name} is unsafe"),
        });
    }
}

/// conftest's refusal of `deny[msg] if { … }` in a Rego v1 file. In v1 that head
/// defines an object (`deny[msg] = true`), not the set of messages the author meant
/// (`deny contains msg if`), so the rule would never report its message; conftest
/// refuses a policy with such an entry rule (`deny`, `violation`, `warn`, with any
/// `_suffix`) when it loads, and so does this engine. v0 files keep the v0 meaning
/// (`deny[msg] { … }` is a set there).
pub(super) fn if_without_contains(file: &str, module: &Module) -> Vec<CheckError> {
    let mut errors = Vec::new();
    for rule in &module.policy {
        let Rule::Spec {
            head: RuleHead::Compr { refr, assign, .. },
            span,
            ..
        } = rule.as_ref()
        else {
            continue;
        };
        // A reference head (`deny[msg]`, `deny.x`), not a plain name.
        if !matches!(refr.as_ref(), Expr::RefBrack { .. } | Expr::RefDot { .. }) {
            continue;
        }
        let comps = components(refr);
        let root = match comps.first() {
            Some(r) => r.clone(),
            None => match refr.as_ref() {
                Expr::RefBrack { refr, .. } => {
                    components(refr).first().cloned().unwrap_or_default()
                }
                _ => String::new(),
            },
        };
        if super::entry_level(&root).is_none() {
            continue;
        }
        let value_true = match assign {
            None => true,
            Some(a) => matches!(
                a.value.as_ref(),
                Expr::Bool {
                    value: regorus::Value::Bool(true),
                    ..
                }
            ),
        };
        if !value_true {
            continue;
        }
        let text = span.text();
        let head = text
            .find(" if")
            .or_else(|| text.find('{'))
            .map_or(text, |end| &text[..end])
            .trim();
        errors.push(CheckError {
            file: file.to_string(),
            line: span.line,
            column: span.col,
            message: format!(
                "rule {head} is using 'if' keyword without 'contains' keyword: in Rego v1 it \
                 defines an object whose values are true, not a set of messages (write `{root} \
                 contains … if`)"
            ),
        });
    }
    errors
}

/// Builtins OPA's strict mode refuses as deprecated.
const DEPRECATED: &[&str] = &[
    "any",
    "all",
    "re_match",
    "net.cidr_overlap",
    "set_diff",
    "cast_array",
    "cast_set",
    "cast_string",
    "cast_boolean",
    "cast_null",
    "cast_object",
];

/// OPA's strict mode (`opa check --strict`, `conftest --strict`): unused local
/// variables and arguments (`scopes.rs`), an import that shadows another, and calls of
/// deprecated builtins. Each is an error in OPA's wording at its position.
pub(super) fn strict(file: &str, module: &Module) -> Vec<CheckError> {
    let mut errors = super::scopes::strict_errors(file, module);
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for import in &module.imports {
        let comps = components(&import.refr);
        let alias = import
            .r#as
            .as_ref()
            .map(|s| s.text().to_string())
            .or_else(|| comps.last().cloned())
            .unwrap_or_default();
        if let Some(first) = seen.get(&alias) {
            errors.push(CheckError {
                file: file.to_string(),
                line: import.span.line,
                column: import.span.col,
                message: format!("rego_compile_error: import must not shadow import {first}"),
            });
        } else {
            seen.insert(alias, comps.join("."));
        }
    }
    let mut calls = Vec::new();
    for rule in &module.policy {
        rule_calls(rule, &mut calls);
    }
    for (name, span) in calls {
        if DEPRECATED.contains(&name.as_str()) {
            errors.push(CheckError {
                file: file.to_string(),
                line: span.line,
                column: span.col,
                message: format!(
                    "rego_type_error: deprecated built-in function calls in expression: {name}"
                ),
            });
        }
    }
    errors.sort_by_key(|e| (e.line, e.column));
    errors
}

/// Every call in a rule: the function's dotted name and where it is.
fn rule_calls(rule: &Rule, out: &mut Vec<(String, Span)>) {
    fn query(q: &Query, out: &mut Vec<(String, Span)>) {
        for stmt in &q.stmts {
            match &stmt.literal {
                Literal::SomeVars { .. } => {}
                Literal::SomeIn {
                    key,
                    value,
                    collection,
                    ..
                } => {
                    if let Some(k) = key {
                        expr(k, out);
                    }
                    expr(value, out);
                    expr(collection, out);
                }
                Literal::Expr { expr: e, .. } | Literal::NotExpr { expr: e, .. } => expr(e, out),
                Literal::Every {
                    domain, query: q, ..
                } => {
                    expr(domain, out);
                    query(q, out);
                }
            }
            for m in &stmt.with_mods {
                expr(&m.r#as, out);
            }
        }
    }
    fn expr(e: &Expr, out: &mut Vec<(String, Span)>) {
        match e {
            Expr::Call { fcn, params, .. } => {
                let name = components(fcn).join(".");
                if !name.is_empty() {
                    out.push((name, fcn.span().clone()));
                }
                params.iter().for_each(|p| expr(p, out));
            }
            Expr::Array { items, .. } | Expr::Set { items, .. } => {
                items.iter().for_each(|i| expr(i, out))
            }
            Expr::Object { fields, .. } => fields.iter().for_each(|(_, k, v)| {
                expr(k, out);
                expr(v, out);
            }),
            Expr::ArrayCompr { term, query: q, .. } | Expr::SetCompr { term, query: q, .. } => {
                expr(term, out);
                query(q, out);
            }
            Expr::ObjectCompr {
                key,
                value,
                query: q,
                ..
            } => {
                expr(key, out);
                expr(value, out);
                query(q, out);
            }
            Expr::UnaryExpr { expr: x, .. } | Expr::RefDot { refr: x, .. } => expr(x, out),
            Expr::RefBrack { refr, index, .. } => {
                expr(refr, out);
                expr(index, out);
            }
            Expr::BinExpr { lhs, rhs, .. }
            | Expr::BoolExpr { lhs, rhs, .. }
            | Expr::ArithExpr { lhs, rhs, .. }
            | Expr::AssignExpr { lhs, rhs, .. } => {
                expr(lhs, out);
                expr(rhs, out);
            }
            Expr::Membership {
                key,
                value,
                collection,
                ..
            } => {
                if let Some(k) = key {
                    expr(k, out);
                }
                expr(value, out);
                expr(collection, out);
            }
            _ => {}
        }
    }
    match rule {
        Rule::Spec { head, bodies, .. } => {
            match head {
                RuleHead::Compr {
                    assign: Some(a), ..
                }
                | RuleHead::Func {
                    assign: Some(a), ..
                } => expr(&a.value, out),
                RuleHead::Set { key: Some(k), .. } => expr(k, out),
                _ => {}
            }
            for body in bodies {
                if let Some(a) = &body.assign {
                    expr(&a.value, out);
                }
                query(&body.query, out);
            }
        }
        Rule::Default { value, .. } => expr(value, out),
    }
}
