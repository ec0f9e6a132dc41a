//! `policy rules`: lists the loaded rules, or explains one (`--explain ID`).

use std::io::Write;

use anyhow::bail;

use super::args::{RulesArgs, RulesFormat};
use super::eval::{load_config, policy_options, print_config_warnings};
use super::ExitStatus;
use crate::config::{self, RuleOverride};
use crate::diagnostics::Report;
use crate::eval::PolicySet;
use crate::report::explain::{explain, ExplainStyle};
use crate::rules::peers::{self, Peer};
use crate::rules::RuleMeta;

pub(super) fn run(a: RulesArgs, out: &mut dyn Write) -> anyhow::Result<ExitStatus> {
    let cfg = load_config(&a.config)?;
    let set = PolicySet::load(&policy_options(&a.policy, cfg.as_ref())?);
    for e in &set.errors {
        eprintln!(
            "{}:{}:{}: error[{}]: {}",
            e.file,
            e.line,
            e.column,
            e.kind.id(),
            e.message
        );
    }
    let mut rules = set.rules();
    if let Some(cfg) = &cfg {
        // The configuration's `rules` overrides: `off` rules are not listed, re-graded
        // ones show their new severity.
        let mut report = Report {
            rules,
            disabled: set.disabled.clone(),
            ..Report::default()
        };
        let cwd = std::env::current_dir()?;
        let warnings = config::apply(cfg, &mut report, &cwd, config::Date::today());
        print_config_warnings(cfg, &warnings);
        rules = report.rules;
    }
    if let Some(tool) = &a.peer {
        let Some(peer) = Peer::parse(tool) else {
            bail!("unknown tool {tool:?}: use --peer hadolint or --peer checkov");
        };
        print_peer(peer, &rules, a.format, out)?;
    } else if let Some(id) = &a.explain {
        let Some(rule) = rules.iter().find(|r| r.id.eq_ignore_ascii_case(id)) else {
            if let Some(cfg) = &cfg {
                if cfg
                    .rules
                    .iter()
                    .any(|(k, e)| k.eq_ignore_ascii_case(id) && e.action == RuleOverride::Off)
                {
                    bail!(
                        "rule {id:?} is turned off by {} (`rules: {{{id}: off}}`); run with --no-config to see it",
                        cfg.file.display()
                    );
                }
            }
            if id.to_ascii_uppercase().starts_with("PSS-") && a.policy.pss.is_none() {
                bail!("no rule with ID {id:?} is loaded: the PSS-* rules load with --pss LEVEL (e.g. `policy rules --pss restricted --explain {id}`)");
            }
            bail!("no rule with ID {id:?} is loaded (see `policy rules`)");
        };
        match a.format {
            RulesFormat::Json => serde_json::to_writer_pretty(&mut *out, &**rule)?,
            RulesFormat::Text => out.write_all(explain(rule, ExplainStyle::Text).as_bytes())?,
        }
        writeln!(out)?;
    } else {
        match a.format {
            RulesFormat::Json => {
                let list: Vec<_> = rules.iter().map(|r| &**r).collect();
                serde_json::to_writer_pretty(&mut *out, &list)?;
                writeln!(out)?;
            }
            RulesFormat::Text => {
                // IDs are padded to 12 columns, or to the longest ID (PSS-* rules).
                let width = rules
                    .iter()
                    .map(|r| r.id.chars().count())
                    .fold(12, usize::max);
                for r in &rules {
                    let kinds: Vec<&str> = r.kinds.iter().map(|k| k.as_str()).collect();
                    writeln!(
                        out,
                        "{:<width$} {:<8} {:<22} {}",
                        r.id,
                        r.severity.as_str(),
                        if kinds.is_empty() {
                            "*".to_string()
                        } else {
                            kinds.join(",")
                        },
                        r.title
                    )?;
                }
            }
        }
    }
    Ok(if set.errors.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Error
    })
}

/// `policy rules --peer TOOL`: every check of the tool, with the loaded rules that cover
/// it (and whether they are loaded), or the reason none does.
fn print_peer(
    peer: Peer,
    rules: &[std::sync::Arc<RuleMeta>],
    format: RulesFormat,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let loaded = |id: &str| rules.iter().any(|r| r.id.eq_ignore_ascii_case(id));
    let rows = peers::table(peer);
    match format {
        RulesFormat::Json => {
            let list: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "peer": peer.name(),
                        "id": r.id,
                        "title": r.title,
                        "rules": r.ours,
                        "loaded": r.ours.iter().all(|o| loaded(o)),
                        "note": r.note,
                    })
                })
                .collect();
            serde_json::to_writer_pretty(&mut *out, &list)?;
            writeln!(out)?;
        }
        RulesFormat::Text => {
            let covered = rows.iter().filter(|r| !r.ours.is_empty()).count();
            writeln!(
                out,
                "{} checks of {peer}: {covered} covered, {} not (with the reason)",
                rows.len(),
                rows.len() - covered
            )?;
            for r in &rows {
                let ours = if r.ours.is_empty() {
                    "-".to_string()
                } else {
                    r.ours
                        .iter()
                        .map(|o| {
                            if loaded(o) {
                                (*o).to_string()
                            } else {
                                format!("{o} (not loaded)")
                            }
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                writeln!(out, "{:<14} {:<22} {}", r.id, ours, r.title)?;
                if !r.note.is_empty() {
                    writeln!(out, "{:<14} {:<22} {}", "", "", r.note)?;
                }
            }
        }
    }
    Ok(())
}
