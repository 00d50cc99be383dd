//! Reading an experiment folder: `experiment.json`, then every run folder under `runs/` (found by its
//! `run.json`) with whatever results it holds. Missing files are normal (a run failed, is pending, or the
//! experiment does not ask for that evaluation); a file that exists but cannot be read becomes a warning that
//! names it, and the run is reported from the rest.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use ablate_train::metrics::{PretrainRow, RowKind, read_rows};
use ablate_train::{FinetuneSummary, PretrainSummary, RunStatus, TextEvalReport};
use anyhow::Context;
use serde::de::DeserializeOwned;

use crate::experiment::record::{AttentionMap, ExperimentInfo, RunRecord, RunState, files};

/// An experiment folder as read.
#[derive(Debug, Clone)]
pub struct Experiment {
    /// The folder.
    pub dir: PathBuf,
    /// `experiment.json`.
    pub info: ExperimentInfo,
    /// Variants in report order: those of `info` in file order, then any other found in the runs.
    pub variants: Vec<String>,
    /// Grid point labels in report order (`key=value` joined by `,`); one empty label without a grid.
    pub points: Vec<String>,
    /// The runs read, ordered by variant, grid point and seed.
    pub runs: Vec<RunData>,
    /// (variant, point, seed) asked for by `info` with no `run.json` at all.
    pub missing: Vec<(String, String, u64)>,
    /// Files that could not be read, and other inconsistencies.
    pub warnings: Vec<String>,
    /// `experiment.toml`, when present.
    pub experiment_toml: Option<String>,
    /// `commands.log`, when present.
    pub commands_log: Option<String>,
}

impl Experiment {
    /// Whether the experiment has grid axes (charts and tables are then drawn per grid point).
    pub fn has_grid(&self) -> bool {
        self.points.len() > 1 || self.points.first().is_some_and(|p| !p.is_empty())
    }

    /// The runs of one (variant, point), by seed.
    pub fn runs_of<'a>(
        &'a self,
        variant: &'a str,
        point: &'a str,
    ) -> impl Iterator<Item = &'a RunData> + 'a {
        self.runs
            .iter()
            .filter(move |r| r.record.variant == variant && r.point == point)
    }
}

/// One run folder as read.
#[derive(Debug, Clone)]
pub struct RunData {
    /// `run.json`.
    pub record: RunRecord,
    /// The run folder.
    pub dir: PathBuf,
    /// The grid point label.
    pub point: String,
    /// `pretrain/summary.json`.
    pub pretrain: Option<PretrainSummary>,
    /// `pretrain/metrics.csv` (empty when absent).
    pub metrics: Vec<PretrainRow>,
    /// `finetune/<task>/summary.json`, by task.
    pub finetune: BTreeMap<String, FinetuneSummary>,
    /// `length.json`.
    pub length: Option<TextEvalReport>,
    /// `attention.json`.
    pub attention: Option<AttentionMap>,
    /// Results the experiment asks for that this run does not have (file names relative to the run folder).
    pub absent: Vec<String>,
}

impl RunData {
    /// The pre-training summary when pre-training completed (its scores are final).
    pub fn pretrain_done(&self) -> Option<&PretrainSummary> {
        self.pretrain
            .as_ref()
            .filter(|s| s.status == RunStatus::Completed)
    }

    /// The fine-tuning summary of `task` when that fine-tuning completed.
    pub fn finetune_done(&self, task: &str) -> Option<&FinetuneSummary> {
        self.finetune
            .get(task)
            .filter(|s| s.status == RunStatus::Completed)
    }

    /// `(step, valid loss)` of the evaluation rows of `metrics.csv`, in step order.
    pub fn eval_curve(&self) -> Vec<(u64, f64)> {
        let mut out: Vec<(u64, f64)> = self
            .metrics
            .iter()
            .filter(|r| r.kind == RowKind::Eval)
            .filter_map(|r| r.eval_loss.filter(|v| v.is_finite()).map(|v| (r.step, v)))
            .collect();
        out.sort_by_key(|(s, _)| *s);
        out
    }
}

/// Reads the experiment folder `dir`.
pub fn collect(dir: &Path) -> anyhow::Result<Experiment> {
    anyhow::ensure!(
        dir.is_dir(),
        "{} is not a folder (expected an experiment folder written by `ablate run`)",
        dir.display()
    );
    let info_path = dir.join(files::EXPERIMENT_JSON);
    let info_text = std::fs::read_to_string(&info_path).with_context(|| {
        format!(
            "cannot read {} (is {} an experiment folder written by `ablate run`?)",
            info_path.display(),
            dir.display()
        )
    })?;
    let info: ExperimentInfo = serde_json::from_str(&info_text)
        .with_context(|| format!("{} is not a valid experiment.json", info_path.display()))?;

    let mut warnings = Vec::new();
    let mut runs = Vec::new();
    for run_dir in run_folders(&dir.join(files::RUNS), &mut warnings) {
        if let Some(run) = read_run(&info, dir, &run_dir, &mut warnings) {
            runs.push(run);
        }
    }

    let variants = ordered(&info.variants, runs.iter().map(|r| &r.record.variant));
    let expected_points = grid_points(&info);
    let points = ordered(&expected_points, runs.iter().map(|r| &r.point));
    for v in variants.iter().filter(|v| !info.variants.contains(v)) {
        warnings.push(format!(
            "variant `{v}` has runs but is not in {}",
            files::EXPERIMENT_JSON
        ));
    }
    let rank = |list: &[String], x: &str| list.iter().position(|y| y == x).unwrap_or(usize::MAX);
    runs.sort_by(|a, b| {
        (
            rank(&variants, &a.record.variant),
            rank(&points, &a.point),
            a.record.seed,
        )
            .cmp(&(
                rank(&variants, &b.record.variant),
                rank(&points, &b.point),
                b.record.seed,
            ))
    });

    let mut missing = Vec::new();
    for variant in &info.variants {
        for point in &expected_points {
            for &seed in &info.seeds {
                let found = runs.iter().any(|r| {
                    &r.record.variant == variant && &r.point == point && r.record.seed == seed
                });
                if !found {
                    missing.push((variant.clone(), point.clone(), seed));
                }
            }
        }
    }

    Ok(Experiment {
        dir: dir.to_path_buf(),
        variants,
        points,
        runs,
        missing,
        warnings,
        experiment_toml: read_text(&dir.join(files::EXPERIMENT_TOML)),
        commands_log: read_text(&dir.join(files::COMMANDS_LOG)),
        info,
    })
}

/// The label of a grid point: `key=value` for each axis of `info` in file order (then any other key),
/// joined by `,`; empty without a grid.
pub fn point_label(info: &ExperimentInfo, grid: &BTreeMap<String, String>) -> String {
    let mut parts: Vec<String> = info
        .grid
        .iter()
        .filter_map(|axis| grid.get(&axis.key).map(|v| format!("{}={v}", axis.key)))
        .collect();
    parts.extend(
        grid.iter()
            .filter(|(k, _)| !info.grid.iter().any(|a| &a.key == *k))
            .map(|(k, v)| format!("{k}={v}")),
    );
    parts.join(",")
}

/// Every grid point of `info` (the product of its axes, first axis slowest), as labels.
fn grid_points(info: &ExperimentInfo) -> Vec<String> {
    let mut points = vec![BTreeMap::new()];
    for axis in &info.grid {
        points = points
            .into_iter()
            .flat_map(|p| {
                axis.values.iter().map(move |v| {
                    let mut q = p.clone();
                    q.insert(axis.key.clone(), v.clone());
                    q
                })
            })
            .collect();
    }
    points.iter().map(|p| point_label(info, p)).collect()
}

/// `first` in its order, then the other values of `found` sorted.
fn ordered<'a>(first: &[String], found: impl Iterator<Item = &'a String>) -> Vec<String> {
    let extra: BTreeSet<&String> = found.filter(|x| !first.contains(x)).collect();
    first
        .iter()
        .cloned()
        .chain(extra.into_iter().cloned())
        .collect()
}

/// Folders under `runs` holding a `run.json`, sorted (a run folder's own sub-folders are not searched).
fn run_folders(runs: &Path, warnings: &mut Vec<String>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![runs.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if dir.join(files::RUN_JSON).is_file() {
            out.push(dir);
            continue;
        }
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                if dir != runs || runs.exists() {
                    warnings.push(format!("cannot list {}: {e}", shown(runs, &dir)));
                }
                continue;
            }
        };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(entry.path());
            }
        }
    }
    out.sort();
    out
}

fn read_run(
    info: &ExperimentInfo,
    base: &Path,
    dir: &Path,
    warnings: &mut Vec<String>,
) -> Option<RunData> {
    let record: RunRecord = read_json(base, &dir.join(files::RUN_JSON), warnings)?;
    let point = point_label(info, &record.grid);
    let pretrain_dir = dir.join(files::PRETRAIN);
    let pretrain = read_json(
        base,
        &pretrain_dir.join(ablate_train::summary::SUMMARY_FILE),
        warnings,
    );
    let metrics_path = pretrain_dir.join(ablate_train::metrics::METRICS_FILE);
    let metrics = if metrics_path.is_file() {
        read_rows::<PretrainRow>(&metrics_path).unwrap_or_else(|e| {
            warnings.push(format!("cannot read {}: {e}", shown(base, &metrics_path)));
            Vec::new()
        })
    } else {
        Vec::new()
    };

    let mut tasks: BTreeSet<String> = info.finetune_tasks.iter().cloned().collect();
    if let Ok(entries) = std::fs::read_dir(dir.join(files::FINETUNE)) {
        tasks.extend(
            entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.file_name().to_string_lossy().into_owned()),
        );
    }
    let mut finetune = BTreeMap::new();
    for task in tasks {
        let path = dir
            .join(files::FINETUNE)
            .join(&task)
            .join(ablate_train::summary::SUMMARY_FILE);
        if let Some(s) = read_json::<FinetuneSummary>(base, &path, warnings) {
            finetune.insert(task, s);
        }
    }
    let length = read_json(base, &dir.join(files::LENGTH_JSON), warnings);
    let attention_path = dir.join(files::ATTENTION_JSON);
    let attention = read_json::<AttentionMap>(base, &attention_path, warnings).filter(|map| {
        let n = map.tokens.len();
        let square = map
            .layers
            .iter()
            .flatten()
            .all(|head| head.len() == n && head.iter().all(|row| row.len() == n));
        let ok = n > 0 && square && map.layers.last().is_some_and(|l| !l.is_empty());
        if !ok {
            warnings.push(format!(
                "cannot read {}: its matrices are not {n} x {n} (one row and column per token)",
                shown(base, &attention_path)
            ));
        }
        ok
    });

    let mut run = RunData {
        record,
        dir: dir.to_path_buf(),
        point,
        pretrain,
        metrics,
        finetune,
        length,
        attention,
        absent: Vec::new(),
    };
    if run.record.status == RunState::Completed {
        run.absent = absent_results(info, &run);
    }
    Some(run)
}

/// What a completed run should hold and does not.
fn absent_results(info: &ExperimentInfo, run: &RunData) -> Vec<String> {
    let mut out = Vec::new();
    if run.pretrain_done().is_none() {
        out.push(format!("{}/summary.json (completed)", files::PRETRAIN));
    }
    for task in &info.finetune_tasks {
        if run.finetune_done(task).is_none() {
            out.push(format!(
                "{}/{task}/summary.json (completed)",
                files::FINETUNE
            ));
        }
    }
    if !info.lengths.is_empty() && run.length.is_none() {
        out.push(files::LENGTH_JSON.to_string());
    }
    if info.attention && run.attention.is_none() {
        out.push(files::ATTENTION_JSON.to_string());
    }
    out
}

/// `path` relative to the experiment folder `base` (as the report shows it).
fn shown(base: &Path, path: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Reads JSON at `path`: `None` when absent; `None` and a warning naming the file when unreadable.
fn read_json<T: DeserializeOwned>(
    base: &Path,
    path: &Path,
    warnings: &mut Vec<String>,
) -> Option<T> {
    if !path.exists() {
        return None;
    }
    let parsed = std::fs::read_to_string(path)
        .map_err(|e| e.to_string())
        .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()));
    match parsed {
        Ok(v) => Some(v),
        Err(e) => {
            warnings.push(format!("cannot read {}: {e}", shown(base, path)));
            None
        }
    }
}

fn read_text(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}
