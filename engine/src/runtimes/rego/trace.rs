//! `--trace`: a rule-level explanation of each entry rule's outcome on a document, for
//! people porting conftest policies who need to see why a result fired (or did not).
//!
//! regorus has no evaluation trace like OPA's, but it records which policy lines it
//! evaluated (its coverage feature). Each entry rule is evaluated again on its own, on a
//! copy of the compiled engine with coverage on, and the evaluated lines are mapped to
//! the rules that contain them: the explanation names the entry rule, its number of
//! results, and every rule whose body was evaluated on the way, with `file:line`
//! (`data.main.warn: 1 result; evaluated data.main.warn (warn.rego:8),
//! data.kubernetes.is_service (kubernetes.rego:4)`). A rule is attributed to the nearest
//! rule head above an evaluated line (a line that starts a rule at column 1, as `opa fmt`
//! writes them).

use std::collections::BTreeMap;

use super::{results, RegoEvaluator, RegoPackage, RegoTest};
use crate::inputs::DocumentKind;

/// The rule containing 1-based `line` of a policy: `data.<package>.<rule>` and the line
/// of its head.
fn enclosing_rule(code: &str, line: u32) -> Option<(String, u32)> {
    let lines: Vec<&str> = code.lines().collect();
    let package = lines.iter().find_map(|l| {
        l.trim_start()
            .strip_prefix("package ")
            .map(|p| p.split('#').next().unwrap_or(p).trim().to_owned())
    })?;
    let mut i = usize::try_from(line).ok()?.checked_sub(1)?;
    loop {
        let text = lines.get(i)?;
        let first = text.chars().next();
        if first.is_some_and(|c| c.is_ascii_alphabetic() || c == '_') {
            let name: String = text
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if matches!(name.as_str(), "package" | "import") {
                return None;
            }
            // `default x := …` names `x`.
            let name = match name.as_str() {
                "default" => text["default".len()..]
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect(),
                _ => name,
            };
            return Some((format!("data.{package}.{name}"), u32::try_from(i + 1).ok()?));
        }
        i = i.checked_sub(1)?;
    }
}

/// The last path component, for short `file:line` references.
fn short(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

impl RegoEvaluator {
    /// Explains every entry rule of `pkgs` that applies to `kind` on the current input:
    /// one line per rule (see the module docs). Errors and timeouts are reported by the
    /// normal evaluation; here they are one line saying so.
    pub fn trace(&mut self, pkgs: &[&RegoPackage], kind: DocumentKind) -> Vec<String> {
        let mut out: Vec<String> = self
            .activate(super::perkind::Slot::Kind(kind))
            .into_iter()
            .map(|f| f.message)
            .collect();
        for pkg in pkgs {
            for entry in pkg.entries.iter().filter(|e| e.meta.applies_to(kind)) {
                let mut engine = self.pristine.clone();
                if let Some(input) = &self.input {
                    engine.set_input(input.clone());
                }
                engine.set_enable_coverage(true);
                let (outcome, used) = super::memory::scope(self.memory, self.timeout, || {
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        engine.eval_rule(entry.query.clone())
                    }))
                });
                let value = match outcome {
                    Ok(_) if used.over_budget => {
                        out.push(format!(
                            "{}: failed: over {}",
                            entry.query,
                            super::memory::its_budget(self.memory)
                        ));
                        continue;
                    }
                    Ok(Ok(v)) => v,
                    Ok(Err(e)) => {
                        out.push(format!(
                            "{}: failed: {}",
                            entry.query,
                            super::first_line(&format!("{e:#}"))
                        ));
                        continue;
                    }
                    Err(_) => {
                        out.push(format!("{}: failed: the Rego engine panicked", entry.query));
                        continue;
                    }
                };
                let mut found = Vec::new();
                results::collect(&value, entry, pkg, &mut found);
                let n = found.len();
                out.push(format!(
                    "{}: {n} result{}; evaluated {}",
                    entry.query,
                    if n == 1 { "" } else { "s" },
                    evaluated(&engine)
                ));
            }
        }
        out
    }

    /// Explains one Rego unit test (`policy test --trace`): its value and the rules
    /// evaluated on the way, as [`RegoEvaluator::trace`] does for entry rules
    /// (`data.main.test_x: true; evaluated data.main.test_x (main_test.rego:4), …`).
    pub fn trace_test(&mut self, test: &RegoTest) -> String {
        let query = test.query();
        if let Some(failure) = self.activate(super::perkind::Slot::Full).into_iter().next() {
            return format!("{query}: failed: {}", failure.message);
        }
        let mut engine = self.pristine.clone();
        engine.set_enable_coverage(true);
        let (outcome, used) = super::memory::scope(self.memory, self.timeout, || {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                engine.eval_rule(query.clone())
            }))
        });
        let value = match outcome {
            Ok(_) if used.over_budget => {
                format!("failed: over {}", super::memory::its_budget(self.memory))
            }
            Ok(Ok(regorus::Value::Undefined)) => "undefined".to_owned(),
            Ok(Ok(v)) => v
                .to_json_str()
                .map(|s| s.trim().to_owned())
                .unwrap_or_else(|_| format!("{v:?}")),
            Ok(Err(e)) => format!("failed: {}", super::first_line(&format!("{e:#}"))),
            Err(_) => "failed: the Rego engine panicked".to_owned(),
        };
        // Prints of this second evaluation were already shown by the first.
        let _ = engine.take_prints();
        format!("{query}: {value}; evaluated {}", evaluated(&engine))
    }
}

/// The rules whose bodies `engine` evaluated (its coverage), in file then line order,
/// each once: `data.main.deny (policy.rego:8), …`, or `nothing`.
fn evaluated(engine: &regorus::Engine) -> String {
    let mut rules: BTreeMap<(String, u32), String> = BTreeMap::new();
    if let Ok(report) = engine.get_coverage_report() {
        for file in &report.files {
            for line in &file.covered {
                if let Some((rule, head)) = enclosing_rule(&file.code, *line) {
                    rules.entry((file.path.clone(), head)).or_insert(rule);
                }
            }
        }
    }
    if rules.is_empty() {
        return "nothing".to_owned();
    }
    rules
        .iter()
        .map(|((file, line), rule)| format!("{rule} ({}:{line})", short(file)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_map_to_their_rule() {
        let code = "package k8s.x\nimport rego.v1\n\nis_service if {\n\tinput.kind == \"Service\"\n}\n\ndefault allow := false\n";
        assert_eq!(
            enclosing_rule(code, 5),
            Some(("data.k8s.x.is_service".to_owned(), 4))
        );
        assert_eq!(
            enclosing_rule(code, 8),
            Some(("data.k8s.x.allow".to_owned(), 8))
        );
        assert_eq!(enclosing_rule(code, 2), None);
        assert_eq!(enclosing_rule(code, 0), None);
        assert_eq!(enclosing_rule(code, 99), None);
    }
}
