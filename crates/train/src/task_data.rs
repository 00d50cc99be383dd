//! The examples of a fine-tuning task: read from a task folder, built on demand (from the pre-training
//! run's own shards, so the task text is held out from pre-training) when no folder is given.

use std::path::{Path, PathBuf};

use ablate_data::tasks::{
    TASKS_FILE, TaskExample, TaskOptions, TasksReport, build_tasks, read_examples,
};

use crate::error::{Result, TrainError};
use crate::finetune_spec::FinetuneTask;
use crate::fsutil::read_json;
use crate::run_dir::{PretrainedRun, prepare_data};

/// A task's label names and examples.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskData {
    /// The folder read.
    pub dir: PathBuf,
    /// Label names by class index.
    pub labels: Vec<String>,
    /// Training examples.
    pub train: Vec<TaskExample>,
    /// Validation examples.
    pub valid: Vec<TaskExample>,
    /// Test examples.
    pub test: Vec<TaskExample>,
}

/// The task folder to read: `tasks_dir` when given, else one in `cache_dir` keyed by the task rules'
/// version and the run's shards, built now if missing.
pub fn task_folder(
    task: FinetuneTask,
    tasks_dir: Option<&Path>,
    run: &PretrainedRun,
    cache_dir: &Path,
) -> Result<PathBuf> {
    if let Some(dir) = tasks_dir {
        if !dir.join(TASKS_FILE).is_file() {
            return Err(TrainError::input(
                format!("tasks_dir {}", dir.display()),
                format!(
                    "no {TASKS_FILE}; build the task sets with `ablate data tasks` or leave tasks_dir out"
                ),
            ));
        }
        return Ok(dir.to_path_buf());
    }
    let shards = prepare_data(&run.spec, cache_dir)?;
    let key = &shards.index().fingerprint;
    let dir = cache_dir.join(format!(
        "tasks-v{}-{}-{}",
        ablate_data::tasks::TASK_RULES_VERSION,
        &key[..key.len().min(16)],
        task.name()
    ));
    if !dir.join(TASKS_FILE).is_file() {
        tracing::info!(
            "building the {} task set into {}",
            task.name(),
            dir.display()
        );
        let opts = TaskOptions {
            tasks: vec![task.kind()],
            ..TaskOptions::default()
        };
        build_tasks(shards.dir(), &dir, &opts)?;
    }
    Ok(dir)
}

/// Reads `task` from the folder `dir`.
pub fn load_task(task: FinetuneTask, dir: &Path) -> Result<TaskData> {
    let report: TasksReport = read_json(&dir.join(TASKS_FILE))?;
    let Some(entry) = report.tasks.iter().find(|t| t.name == task.name()) else {
        return Err(TrainError::input(
            format!("task folder {}", dir.display()),
            format!(
                "it holds no `{}` task; build it with `ablate data tasks`",
                task.name()
            ),
        ));
    };
    let folder = dir.join(task.name());
    let read = |split: &str| read_examples(&folder.join(format!("{split}.jsonl")));
    let data = TaskData {
        dir: dir.to_path_buf(),
        labels: entry.labels.clone(),
        train: read("train")?,
        valid: read("valid")?,
        test: read("test")?,
    };
    let classes = data.labels.len();
    for (split, set) in [
        ("train", &data.train),
        ("valid", &data.valid),
        ("test", &data.test),
    ] {
        if set.is_empty() {
            return Err(TrainError::input(
                format!("task {} ({})", task.name(), folder.display()),
                format!(
                    "its {split} split is empty; build the tasks from a corpus with more held-out text"
                ),
            ));
        }
        if let Some(e) = set.iter().find(|e| e.label as usize >= classes) {
            return Err(TrainError::input(
                format!("task {} ({split})", task.name()),
                format!("label {} is not below the {classes} label names", e.label),
            ));
        }
    }
    Ok(data)
}
