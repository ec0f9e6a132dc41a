//! Data that only exists once the inputs are read (the run-wide `data.inventory`), added
//! to an already compiled set.
//!
//! Compiling the policies does not wait for the inputs, and most runs never need a
//! run-wide view. When one is needed, the compiled engine is cloned (cheap: regorus
//! shares its modules), the data is merged in, and the clone is prepared once, before
//! any worker clones it again.

use std::sync::Arc;

use super::RegoPolicySet;

impl RegoPolicySet {
    /// This set with `data` merged into its `data` document. Fails (with regorus's
    /// message) when `data` clashes with a value already there, e.g. a data file that
    /// sets a different `inventory`.
    pub fn with_data(&self, data: serde_json::Value) -> Result<RegoPolicySet, String> {
        if let Some(per_kind) = &self.per_kind {
            let mut whole = None;
            if per_kind.has_users() {
                // Its whole engine was compiled at load: refused as it would be whole.
                let mut engine = self.engine.clone();
                engine
                    .add_data(regorus::Value::from(data.clone()))
                    .map_err(|e| format!("{e:#}"))?;
                engine
                    .eval_query("1 == 1".to_string(), false)
                    .map_err(|e| super::first_line(&format!("{e:#}")))?;
                whole = Some((engine, Arc::clone(&self.plans)));
            }
            let mut set = self.clone();
            if let Some((engine, _)) = &whole {
                set.engine = engine.clone();
            }
            let lazy = super::perkind::PerKind::with_data(per_kind, data, whole)?;
            set.per_kind = Some(Arc::new(lazy));
            return Ok(set);
        }
        let mut set = self.clone();
        set.engine
            .add_data(regorus::Value::from(data))
            .map_err(|e| format!("{e:#}"))?;
        set.engine
            .eval_query("1 == 1".to_string(), false)
            .map_err(|e| super::first_line(&format!("{e:#}")))?;
        Ok(set)
    }
}

impl super::RegoEvaluator {
    /// Changes the time limit of this evaluator's rule evaluations (a combined package
    /// looks at the whole run in one evaluation, so it gets a limit that grows with the
    /// run, see [`crate::eval::combine`]).
    pub fn set_time_limit(&mut self, limit: std::time::Duration) {
        let config = regorus::utils::limits::ExecutionTimerConfig {
            limit,
            check_interval: super::DEFAULT_CHECK_INTERVAL,
        };
        self.engine.set_execution_timer_config(config);
        self.pristine.set_execution_timer_config(config);
        for parked in &mut self.parked {
            parked.set_timer(config);
        }
        self.timer = Some(config);
        self.timeout = limit;
    }

    /// The time limit of one rule evaluation.
    pub fn time_limit(&self) -> std::time::Duration {
        self.timeout
    }
}
