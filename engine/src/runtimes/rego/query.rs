//! Ad-hoc queries against a compiled policy set, as `opa eval` runs them.
//!
//! The engine normally evaluates only entry rules; the differential test against OPA
//! (`tests/opa_diff.rs`) and anyone embedding the engine need to ask for any value
//! (`data.pkg.rule`, an expression) with the very engine `policy eval` uses: the same
//! parser modes, rewrites, load-time checks, builtins and strictness. This is that door.

use serde_json::Value as Json;

use super::RegoPolicySet;

/// Why a query produced no result set.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The query did not parse or compile, or evaluation raised an error.
    #[error("{0}")]
    Eval(String),
    /// regorus panicked; the engine copy used for the query was dropped.
    #[error("the Rego engine panicked: {0}")]
    Panicked(String),
}

/// The name the query's value is bound to.
const RESULT_VAR: &str = "policy_query_result";

impl RegoPolicySet {
    /// Evaluates `expr` (a Rego expression such as `data.pkg.rule` or `count(input.a)`)
    /// with `input`, and returns every value it takes, in regorus's order, as JSON
    /// (sets become arrays). An undefined expression is an empty list. The engine's
    /// time limit applies.
    pub fn query(&self, input: Option<&Json>, expr: &str) -> Result<Vec<Json>, QueryError> {
        let mut engine = self.whole_engine();
        if let Some(input) = input {
            let value: regorus::Value =
                serde::Deserialize::deserialize(input).unwrap_or(regorus::Value::Undefined);
            engine.set_input(value);
        }
        let query = format!("{RESULT_VAR} := {expr}");
        let (outcome, used) = super::memory::scope(self.memory, self.timeout, || {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                engine.eval_query(query, false)
            }))
        });
        let results = match outcome {
            Ok(_) if used.over_budget => {
                return Err(QueryError::Eval(format!(
                    "the query allocated more than {} and was stopped",
                    super::memory::its_budget(self.memory)
                )))
            }
            Ok(Ok(results)) => results,
            Ok(Err(e)) => return Err(QueryError::Eval(super::first_line(&format!("{e:#}")))),
            Err(payload) => {
                let what = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                return Err(QueryError::Panicked(what));
            }
        };
        let mut values = Vec::new();
        for result in &results.result {
            let value = &result.bindings[RESULT_VAR];
            if *value == regorus::Value::Undefined {
                continue;
            }
            let text = value
                .to_json_str()
                .map_err(|e| QueryError::Eval(format!("result is not JSON: {e}")))?;
            values.push(
                serde_json::from_str(&text)
                    .map_err(|e| QueryError::Eval(format!("result is not JSON: {e}")))?,
            );
        }
        Ok(values)
    }
}
