//! Bar charts, horizontal so that long variant names stay readable: the headline scores (valid MLM accuracy and
//! each fine-tuning task's test accuracy, one panel each) and the pre-training throughput. Bars are means over
//! seeds, whiskers the 95% confidence interval of the mean (Student t over seeds), the number beside each bar
//! its mean; the baseline's bar is outlined and its mean drawn as a dashed line across the panel.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{AXIS, Chart, LABEL, TITLE, TickAxis, colour, text_width, variant_label};
use crate::report::aggregate::Summary;
use crate::report::collect::Experiment;
use crate::report::metrics::MetricKind;

/// One bar: label, colour, (mean, 95% CI half-width) when the variant has values, and whether it is the
/// baseline.
type Bar = (String, RGBColor, Option<(f64, f64)>, bool);

/// One panel: a metric over the variants.
pub(crate) struct Panel {
    title: String,
    x_desc: String,
    /// Values are multiplied by this before drawing (100 for shares shown in percent).
    scale: f64,
    decimals: usize,
    bars: Vec<Bar>,
}

/// Panels side by side (up to three a row) under one title.
pub(crate) struct BarChart {
    title: String,
    panels: Vec<Panel>,
}

const PANEL_WIDTH: u32 = 560;
const COLUMNS: usize = 3;

fn panel(
    exp: &Experiment,
    summary: &Summary,
    point: &str,
    key: &str,
    title: &str,
) -> Option<Panel> {
    let metric = summary.metric(key)?;
    let bars: Vec<Bar> = exp
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let value = summary
                .get(v, point, key)
                .map(|r| (r.moments.mean, r.ci95.unwrap_or(0.0)));
            (
                variant_label(exp, v),
                colour(i),
                value,
                *v == exp.info.baseline,
            )
        })
        .collect();
    if bars.iter().all(|b| b.2.is_none()) {
        return None;
    }
    let (scale, decimals, unit) = match metric.kind {
        MetricKind::Fraction => (100.0, 2, "%"),
        MetricKind::Rate => (1.0, 0, "tokens/s"),
        MetricKind::Loss | MetricKind::Perplexity => (1.0, 3, ""),
        MetricKind::Seconds => (1.0, 1, "s"),
        MetricKind::Count => (1.0, 0, ""),
    };
    let x_desc = if unit.is_empty() {
        metric.label.clone()
    } else {
        format!("{} ({unit})", metric.label)
    };
    Some(Panel {
        title: title.to_string(),
        x_desc,
        scale,
        decimals,
        bars,
    })
}

/// Valid MLM accuracy and each task's test accuracy at `point`; `None` when none has values.
pub(crate) fn final_metrics(
    exp: &Experiment,
    summary: &Summary,
    point: &str,
    title: &str,
) -> Option<BarChart> {
    let mut keys = vec![("mlm_accuracy".to_string(), "valid MLM accuracy".to_string())];
    for task in crate::report::metrics::finetune_tasks(exp) {
        keys.push((format!("{task}_acc"), format!("{task}: test accuracy")));
    }
    let panels: Vec<Panel> = keys
        .iter()
        .filter_map(|(key, t)| panel(exp, summary, point, key, t))
        .collect();
    (!panels.is_empty()).then(|| BarChart {
        title: title.to_string(),
        panels,
    })
}

/// Median pre-training tokens/s at `point`; `None` without values.
pub(crate) fn throughput(
    exp: &Experiment,
    summary: &Summary,
    point: &str,
    title: &str,
) -> Option<BarChart> {
    let p = panel(
        exp,
        summary,
        point,
        "tokens_per_s",
        "median tokens/s over the train steps",
    )?;
    Some(BarChart {
        title: title.to_string(),
        panels: vec![p],
    })
}

impl BarChart {
    fn label_area(&self) -> u32 {
        let longest = self
            .panels
            .iter()
            .flat_map(|p| &p.bars)
            .map(|b| text_width(&b.0, LABEL.1))
            .max();
        longest.unwrap_or(60).clamp(60, 320) + 12
    }

    fn rows(&self) -> usize {
        self.panels.len().div_ceil(COLUMNS)
    }

    fn panel_height(&self) -> u32 {
        let n = self.panels.iter().map(|p| p.bars.len()).max().unwrap_or(1) as u32;
        110 + 34 * n
    }
}

impl Chart for BarChart {
    fn size(&self) -> (u32, u32) {
        let cols = self.panels.len().min(COLUMNS) as u32;
        (
            cols * (PANEL_WIDTH + self.label_area()),
            80 + self.rows() as u32 * self.panel_height(),
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (w, h) = root.dim_in_pixel();
        let body = root
            .titled(&self.title, TITLE)?
            .shrink((0, 0), (w, h.saturating_sub(80)));
        let cols = self.panels.len().min(COLUMNS);
        let areas = body.split_evenly((self.rows(), cols));
        for (panel, area) in self.panels.iter().zip(&areas) {
            draw_panel(panel, area, self.label_area())?;
        }
        root.draw_text(
            "bars: mean over seeds; whiskers: 95% CI of the mean; outlined bar and dashed line: the baseline",
            &TextStyle::from(LABEL).color(&BLACK.mix(0.7)),
            (15, root.dim_in_pixel().1 as i32 - 18),
        )?;
        Ok(())
    }
}

fn draw_panel<DB: DrawingBackend>(
    p: &Panel,
    area: &DrawingArea<DB, Shift>,
    label_area: u32,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let n = p.bars.len();
    let hi = p
        .bars
        .iter()
        .filter_map(|b| b.2)
        .map(|(m, s)| (m + s) * p.scale)
        .fold(0.0f64, f64::max);
    let x1 = if hi > 0.0 { hi * 1.18 } else { 1.0 };
    // Row i (first variant on top) is drawn at y = n - 1 - i.
    let y_of = |i: usize| (n - 1 - i) as f64;
    let labels: Vec<String> = p.bars.iter().map(|b| b.0.clone()).collect();
    let label_of = move |y: &f64| {
        let k = y.round();
        if (y - k).abs() > 1e-6 || k < 0.0 || k as usize >= n {
            return String::new();
        }
        labels[n - 1 - k as usize].clone()
    };
    let mut chart = ChartBuilder::on(area)
        .caption(&p.title, AXIS)
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(label_area)
        .build_cartesian_2d(0.0..x1, TickAxis::categories(n))?;
    let decimals = p.decimals;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc(p.x_desc.as_str())
        .axis_desc_style(LABEL)
        .label_style(LABEL)
        .y_label_formatter(&label_of)
        .x_label_formatter(&|v| format_value(*v, decimals.min(1)))
        .light_line_style(RGBColor(244, 244, 244))
        .draw()?;
    let value_style = TextStyle::from(LABEL).pos(Pos::new(HPos::Left, VPos::Center));
    if let Some((mean, _)) = p.bars.iter().find(|b| b.3).and_then(|b| b.2) {
        let (lo, hi) = (-0.5, n as f64 - 0.5);
        chart.draw_series(DashedLineSeries::new(
            [(mean * p.scale, lo), (mean * p.scale, hi)],
            6,
            5,
            BLACK.mix(0.55).stroke_width(1),
        ))?;
    }
    for (i, (_, col, value, baseline)) in p.bars.iter().enumerate() {
        let y = y_of(i);
        let Some((mean, std)) = value else {
            chart.draw_series(std::iter::once(Text::new(
                "no data",
                (x1 * 0.01, y),
                value_style.clone(),
            )))?;
            continue;
        };
        let (m, s) = (mean * p.scale, std * p.scale);
        chart.draw_series(std::iter::once(Rectangle::new(
            [(0.0, y - 0.32), (m, y + 0.32)],
            col.filled(),
        )))?;
        if *baseline {
            chart.draw_series(std::iter::once(Rectangle::new(
                [(0.0, y - 0.32), (m, y + 0.32)],
                BLACK.stroke_width(2),
            )))?;
        }
        // No whisker where the spread is zero (nothing to show; a zero-length line cannot be stroked).
        if s > 0.0 {
            chart.draw_series(std::iter::once(ErrorBar::new_horizontal(
                y,
                (m - s).max(0.0),
                m,
                m + s,
                BLACK.stroke_width(2),
                12,
            )))?;
        }
        chart.draw_series(std::iter::once(Text::new(
            format_value(m, p.decimals),
            (m + s + x1 * 0.015, y),
            value_style.clone(),
        )))?;
    }
    Ok(())
}

fn format_value(v: f64, decimals: usize) -> String {
    format!("{v:.decimals$}")
}
