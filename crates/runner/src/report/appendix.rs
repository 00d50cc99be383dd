//! The closing sections of `report.md`: the runs that failed, are missing or unfinished (with the reason
//! from `run.json`) and the files that could not be read; then how the folder was produced.

use std::fmt::Write as _;

use super::collect::Experiment;
use crate::experiment::record::RunState;

/// The failed, missing and unfinished runs, and the files that could not be read.
pub(crate) fn problems(md: &mut String, exp: &Experiment) {
    md.push_str("## Failed, missing and unfinished runs\n\n");
    let mut rows = Vec::new();
    for run in &exp.runs {
        let r = &run.record;
        match r.status {
            RunState::Completed if run.absent.is_empty() => {}
            RunState::Completed => rows.push((
                r.id.clone(),
                "completed".to_string(),
                String::new(),
                format!("missing: {}", run.absent.join(", ")),
            )),
            RunState::Failed => {
                let (stage, reason) = r
                    .failure
                    .as_ref()
                    .map(|f| (f.stage.clone(), f.reason.clone()))
                    .unwrap_or_default();
                rows.push((r.id.clone(), "failed".to_string(), stage, reason));
            }
            RunState::Running => rows.push((
                r.id.clone(),
                "running".to_string(),
                String::new(),
                "started and not finished (running now, or interrupted: `ablate run` resumes it)"
                    .to_string(),
            )),
            RunState::Pending => rows.push((
                r.id.clone(),
                "pending".to_string(),
                String::new(),
                "not started yet".to_string(),
            )),
        }
    }
    for (variant, point, seed) in &exp.missing {
        let at = if point.is_empty() {
            String::new()
        } else {
            format!(", {point}")
        };
        rows.push((
            format!("{variant}{at}, seed {seed}"),
            "missing".to_string(),
            String::new(),
            "no run folder (run.json) yet".to_string(),
        ));
    }
    if rows.is_empty() && exp.warnings.is_empty() {
        md.push_str("None: every run asked for finished with all its results.\n\n");
    }
    if !rows.is_empty() {
        md.push_str("| run | state | stage | reason |\n|---|---|---|---|\n");
        for (id, state, stage, reason) in rows {
            let _ = writeln!(
                md,
                "| `{id}` | {state} | {} | {} |",
                escape(&stage),
                escape(&reason)
            );
        }
        md.push('\n');
    }
    if !exp.warnings.is_empty() {
        md.push_str("Warnings (files that could not be read are left out of the results):\n\n");
        for w in &exp.warnings {
            let _ = writeln!(md, "- {}", w.replace('\n', " "));
        }
        md.push('\n');
    }
}

/// `commands.log`, `experiment.toml` and the command that wrote the report.
pub(crate) fn provenance(md: &mut String, exp: &Experiment) {
    md.push_str("## How this was produced\n\n");
    let blocks = [
        (
            "`commands.log` (the `ablate run` commands that worked on this folder)",
            "text",
            &exp.commands_log,
        ),
        ("`experiment.toml`", "toml", &exp.experiment_toml),
    ];
    for (title, lang, text) in blocks {
        let _ = writeln!(md, "{title}:\n");
        match text {
            Some(t) => fenced(md, lang, t),
            None => md.push_str("(absent)\n\n"),
        }
    }
    md.push_str(
        "This report (tables, charts, `summary.csv`, `summary.parquet`) was written by:\n\n",
    );
    fenced(md, "sh", &format!("ablate report {}", exp.dir.display()));
}

/// `text` in a code fence longer than any backtick run inside it.
fn fenced(md: &mut String, lang: &str, text: &str) {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    let _ = writeln!(md, "{fence}{lang}\n{}\n{fence}\n", text.trim_end());
}

fn escape(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}
