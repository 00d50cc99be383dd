//! Progress reporting: a bar with an ETA when stderr is a terminal, plain periodic `tracing` log lines
//! otherwise (CI, redirected output), or nothing.

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How a run reports progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProgressMode {
    /// A bar on a terminal, log lines otherwise.
    #[default]
    Auto,
    /// Always log lines.
    Log,
    /// Nothing but warnings.
    Quiet,
}

/// A progress reporter over `total` steps.
pub struct Progress {
    bar: Option<ProgressBar>,
    log: bool,
    total: u64,
    start_step: u64,
    started: Instant,
    label: &'static str,
}

impl Progress {
    /// Starts reporting for a run of `total` steps of which `start_step` are already done.
    pub fn new(label: &'static str, total: u64, start_step: u64, mode: ProgressMode) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let bar = (mode == ProgressMode::Auto && terminal).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} (eta {eta}) {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_prefix(label);
            bar.set_position(start_step);
            bar.reset_eta();
            bar
        });
        Self {
            log: bar.is_none() && mode != ProgressMode::Quiet,
            bar,
            total,
            start_step,
            started: Instant::now(),
            label,
        }
    }

    /// Reports that `step` steps are done; `message` describes the latest step.
    pub fn update(&self, step: u64, message: &str) {
        if let Some(bar) = &self.bar {
            bar.set_position(step);
            bar.set_message(message.to_string());
        } else if self.log {
            let done = step.saturating_sub(self.start_step).max(1) as f64;
            let per_step = self.started.elapsed().as_secs_f64() / done;
            let eta = per_step * self.total.saturating_sub(step) as f64;
            tracing::info!(
                "{} step {step}/{} {message} eta {}",
                self.label,
                self.total,
                format_secs(eta)
            );
        }
    }

    /// Reports an event (an evaluation, a checkpoint) on its own line.
    pub fn note(&self, message: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| tracing::info!("{} {message}", self.label)),
            None if self.log => tracing::info!("{} {message}", self.label),
            None => {}
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `1h02m`, `3m05s` or `12s`.
pub fn format_secs(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}
