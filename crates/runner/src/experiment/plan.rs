//! Expansion of an experiment into runs: one per (variant, grid point, seed), each with its own fully
//! checked run spec, in a fixed order that `--shard I/N` splits deterministically.

use std::collections::BTreeMap;
use std::path::Path;

use ablate_train::RunSpec;

use super::record::{ExperimentInfo, GridAxis};
use super::spec::{Experiment, Problem, Problems};

/// One run of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedRun {
    /// `variant[~key=value,...]/seed-N`: the run folder under `runs/`.
    pub id: String,
    /// The variant's name.
    pub variant: String,
    /// The seed.
    pub seed: u64,
    /// The grid point: axis key to value as TOML text.
    pub grid: BTreeMap<String, String>,
    /// The checked pre-training spec.
    pub spec: RunSpec,
}

/// Which part of a sweep one process runs: runs whose position in the plan is `index` modulo `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 0-based shard number.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            || format!("`{s}`: use I/N with 0 <= I < N, e.g. 0/4 (Slurm: $SLURM_ARRAY_TASK_ID/4)");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// Whether the run at `position` of the plan belongs to this shard.
    pub fn owns(&self, position: usize) -> bool {
        position % self.count == self.index
    }
}

/// Every grid point: the cartesian product of the axes, in axis order (one empty point without axes).
fn grid_points(grid: &[(String, Vec<toml::Value>)]) -> Vec<Vec<(String, toml::Value)>> {
    let mut points: Vec<Vec<(String, toml::Value)>> = vec![Vec::new()];
    for (key, values) in grid {
        points = points
            .into_iter()
            .flat_map(|p| {
                values.iter().map(move |v| {
                    let mut q = p.clone();
                    q.push((key.clone(), v.clone()));
                    q
                })
            })
            .collect();
    }
    points
}

/// A TOML value as short text (strings without quotes).
pub fn value_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn folder_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '=' | ',') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Merges `over` into `base`, table by table.
pub fn deep_merge(base: &mut toml::Table, over: &toml::Table) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => deep_merge(b, o),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Sets the dotted `key` of `table`, creating tables on the way; fails when a part is not a table.
pub fn set_dotted(table: &mut toml::Table, key: &str, value: toml::Value) -> Result<(), String> {
    let parts: Vec<&str> = key.split('.').collect();
    let mut t = table;
    for part in &parts[..parts.len() - 1] {
        let entry = t
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        t = entry
            .as_table_mut()
            .ok_or_else(|| format!("`{part}` is not a table, so `{key}` cannot be set"))?;
    }
    t.insert(parts[parts.len() - 1].to_string(), value);
    Ok(())
}

/// Makes the relative `data.corpus` and `data.tokenizer_file` of `table` relative to `dir`, as absolute
/// paths: the run spec is written into the run folder and read by a child stage from there, so a path
/// relative to the experiment file (or to the working directory) would point elsewhere.
fn anchor_paths(table: &mut toml::Table, dir: &Path) {
    if let Some(toml::Value::Table(data)) = table.get_mut("data") {
        for key in ["corpus", "tokenizer_file"] {
            if let Some(toml::Value::String(p)) = data.get_mut(key)
                && Path::new(p.as_str()).is_relative()
            {
                let joined = dir.join(p.as_str());
                let anchored = std::path::absolute(&joined).unwrap_or(joined);
                *p = anchored.display().to_string();
            }
        }
    }
}

/// Expands `exp` into its runs, building and checking every run spec; returns every problem found.
pub fn expand(exp: &Experiment) -> Result<Vec<PlannedRun>, Problems> {
    let dir = exp.file.parent().unwrap_or(Path::new("")).to_path_buf();
    let mut problems: Vec<Problem> = Vec::new();
    let mut seen: Vec<usize> = Vec::new();
    let mut report = |location: String, message: String| {
        if let Some(i) = problems.iter().position(|p| p.message == message) {
            seen[i] += 1;
            let p = &mut problems[i];
            if seen[i] <= 3 {
                p.location.push_str(&format!(", {location}"));
            } else if let Some(cut) = p.location.find(" (and ") {
                p.location.truncate(cut);
                p.location.push_str(&format!(" (and {} more)", seen[i] - 3));
            } else {
                p.location.push_str(&format!(" (and {} more)", seen[i] - 3));
            }
        } else {
            seen.push(1);
            problems.push(Problem { location, message });
        }
    };
    let mut runs = Vec::new();
    for variant in &exp.variants {
        for point in grid_points(&exp.grid) {
            let mut label = String::new();
            let mut table = exp.base.clone();
            deep_merge(&mut table, &variant.overrides);
            let mut ok = true;
            if let Err(m) = set_dotted(
                &mut table,
                "model.preset",
                toml::Value::String(variant.preset.clone()),
            ) {
                report(format!("variant {}", variant.name), m);
                ok = false;
            }
            for (key, value) in &point {
                if !label.is_empty() {
                    label.push(',');
                }
                label.push_str(&format!("{key}={}", value_text(value)));
                if let Err(m) = set_dotted(&mut table, key, value.clone()) {
                    report(format!("grid.\"{key}\""), m);
                    ok = false;
                }
            }
            anchor_paths(&mut table, &dir);
            let at = if label.is_empty() {
                format!("variant {}", variant.name)
            } else {
                format!("variant {} at {label}", variant.name)
            };
            if !ok {
                continue;
            }
            let spec = match run_spec(&table) {
                Ok(s) => s,
                Err(m) => {
                    report(at, m);
                    continue;
                }
            };
            if let Some(corpus) = &spec.data.corpus
                && !corpus.exists()
            {
                report(
                    at.clone(),
                    format!(
                        "data.corpus {} does not exist; build it (`ablate data corpus`) or fix the \
                         path (relative paths are taken from the experiment file's folder)",
                        corpus.display()
                    ),
                );
                continue;
            }
            let grid: BTreeMap<String, String> = point
                .iter()
                .map(|(k, v)| (k.clone(), value_text(v)))
                .collect();
            let prefix = if label.is_empty() {
                variant.name.clone()
            } else {
                format!("{}~{}", variant.name, folder_safe(&label))
            };
            for &seed in &exp.seeds {
                let mut spec = spec.clone();
                spec.seed = seed;
                runs.push(PlannedRun {
                    id: format!("{prefix}/seed-{seed}"),
                    variant: variant.name.clone(),
                    seed,
                    grid: grid.clone(),
                    spec,
                });
            }
        }
    }
    if !problems.is_empty() {
        return Err(Problems {
            file: exp.file.clone(),
            list: problems,
        });
    }
    Ok(runs)
}

/// Parses and checks one run spec table.
fn run_spec(table: &toml::Table) -> Result<RunSpec, String> {
    let text = toml::to_string(table).map_err(|e| e.to_string())?;
    // the text is generated, so a parse error's line and snippet mean nothing to the user: keep the message
    let spec = RunSpec::from_toml_str(&text).map_err(|e| {
        let full = e.to_string();
        match full.rfind("^\n") {
            Some(at) if full.contains("TOML parse error") => full[at + 2..].trim().to_string(),
            _ => full.trim_start_matches("<spec>: ").trim_end().to_string(),
        }
    })?;
    spec.validate().map_err(|e| e.to_string())?;
    Ok(spec)
}

/// The report's view of the experiment.
pub fn info(exp: &Experiment, runs: &[PlannedRun]) -> ExperimentInfo {
    ExperimentInfo {
        name: exp.name.clone(),
        description: exp.description.clone(),
        variants: exp.variants.iter().map(|v| v.name.clone()).collect(),
        presets: exp.variants.iter().map(|v| v.preset.clone()).collect(),
        baseline: exp.baseline.clone(),
        seeds: exp.seeds.clone(),
        grid: exp
            .grid
            .iter()
            .map(|(key, values)| GridAxis {
                key: key.clone(),
                values: values.iter().map(value_text).collect(),
            })
            .collect(),
        finetune_tasks: exp
            .finetune
            .as_ref()
            .map(|f| f.tasks.iter().map(|t| t.name().to_string()).collect())
            .unwrap_or_default(),
        lengths: exp
            .length
            .as_ref()
            .map(|l| l.lengths.clone())
            .unwrap_or_default(),
        train_max_len: runs.first().map(|r| r.spec.data.max_len).unwrap_or(0),
        attention: exp.attention.is_some(),
    }
}
