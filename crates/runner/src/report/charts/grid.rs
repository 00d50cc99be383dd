//! The cross-grid chart of a sweep with grid axes: one metric of every variant at every grid point (the points
//! in the experiment's order on the x axis), mean with the 95% confidence interval over seeds.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::legend::{self, Entry, Key};
use super::{AXIS, Chart, LABEL, TITLE, TickAxis, colour, mean_series, padded, variant_label};
use crate::report::aggregate::Summary;
use crate::report::collect::Experiment;
use crate::report::metrics::MetricKind;

/// A variant's legend name, colour, whether it is the baseline, and `(point index, mean, half-width)`.
type GridLine = (String, RGBColor, bool, Vec<(usize, f64, f64)>);

/// The chart.
pub(crate) struct GridChart {
    title: String,
    y_desc: String,
    scale: f64,
    points: Vec<String>,
    lines: Vec<GridLine>,
}

/// `metric` of every variant across the grid points; `None` without a grid of at least two points or values.
pub(crate) fn across(
    exp: &Experiment,
    summary: &Summary,
    metric: &str,
    title: &str,
) -> Option<GridChart> {
    if !exp.has_grid() || exp.points.len() < 2 {
        return None;
    }
    let m = summary.metric(metric)?;
    let scale = if m.kind == MetricKind::Fraction {
        100.0
    } else {
        1.0
    };
    let unit = if m.kind == MetricKind::Fraction {
        " (%)"
    } else {
        ""
    };
    let lines: Vec<GridLine> = exp
        .variants
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            let pts: Vec<(usize, f64, f64)> = exp
                .points
                .iter()
                .enumerate()
                .filter_map(|(k, p)| {
                    let r = summary.get(v, p, metric)?;
                    Some((k, r.moments.mean, r.ci95.unwrap_or(0.0)))
                })
                .collect();
            (!pts.is_empty()).then(|| {
                (
                    variant_label(exp, v),
                    colour(i),
                    *v == exp.info.baseline,
                    pts,
                )
            })
        })
        .collect();
    (!lines.is_empty()).then(|| GridChart {
        title: title.to_string(),
        y_desc: format!("{}{unit}", m.label),
        scale,
        points: exp.points.clone(),
        lines,
    })
}

impl Chart for GridChart {
    fn size(&self) -> (u32, u32) {
        (1200, 620)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let s = self.scale;
        let (lo, hi) = self
            .lines
            .iter()
            .flat_map(|l| &l.3)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
                (a.min((p.1 - p.2) * s), b.max((p.1 + p.2) * s))
            });
        let (y0, y1) = padded(lo, hi, 0.08);
        let entries: Vec<Entry> = self
            .lines
            .iter()
            .map(|l| Entry::new(l.0.clone(), l.1, Key::Line(if l.2 { 4 } else { 2 })))
            .collect();
        let body = root.titled(&self.title, TITLE)?;
        let plot = legend::split(&body, &entries)?;
        let n = self.points.len();
        let names = self.points.clone();
        let label_of = move |x: &f64| {
            let k = x.round();
            if (x - k).abs() > 1e-6 || k < 0.0 || k as usize >= n {
                return String::new();
            }
            names[k as usize].clone()
        };
        let mut chart = ChartBuilder::on(&plot)
            .margin(15)
            .x_label_area_size(50)
            .y_label_area_size(75)
            .build_cartesian_2d(TickAxis::categories(n), y0..y1)?;
        chart
            .configure_mesh()
            .x_desc("grid point")
            .y_desc(self.y_desc.as_str())
            .axis_desc_style(AXIS)
            .label_style(LABEL)
            .x_label_formatter(&label_of)
            .y_label_formatter(&|v| format!("{v:.2}"))
            .light_line_style(RGBColor(244, 244, 244))
            .draw()?;
        for (_, col, baseline, pts) in &self.lines {
            let points: Vec<_> = pts.iter().map(|p| (p.0 as f64, p.1 * s, p.2 * s)).collect();
            mean_series(&mut chart, &points, *col, if *baseline { 4 } else { 2 })?;
        }
        root.draw_text(
            "points: mean over seeds; whiskers: 95% CI of the mean",
            &TextStyle::from(LABEL).color(&BLACK.mix(0.7)),
            (15, root.dim_in_pixel().1 as i32 - 18),
        )?;
        Ok(())
    }
}
