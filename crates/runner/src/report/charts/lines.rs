//! Line charts: the valid MLM loss against step (mean over seeds with a 95% confidence band, the
//! frequency-only loss of the same masked tokens as a dashed reference line), and the MLM accuracy against the
//! evaluation row length (mean with 95% confidence intervals, log2 axis, the training length marked). The
//! baseline is drawn thicker; legends sit in a column right of the plot.

use std::collections::BTreeMap;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::legend::{self, Entry, Key};
use super::{AXIS, Chart, LABEL, TITLE, TickAxis, colour, mean_series, padded, variant_label};
use crate::report::aggregate::Summary;
use crate::report::collect::Experiment;
use crate::report::stats;

/// One variant's line: points `(x, mean, low, high)`, the band being the 95% confidence interval of the mean.
pub(crate) struct Curve {
    name: String,
    colour: RGBColor,
    baseline: bool,
    points: Vec<(f64, f64, f64, f64)>,
}

/// The line width of a variant: the baseline stands out.
fn width(baseline: bool) -> u32 {
    if baseline { 4 } else { 2 }
}

/// The valid loss chart.
pub(crate) struct LossChart {
    title: String,
    curves: Vec<Curve>,
    /// The unigram (frequency-only) loss of the valid masked tokens, when the runs recorded it.
    unigram: Option<f64>,
}

/// The valid loss of every variant at `point`, from the completed pre-trainings; `None` without any.
pub(crate) fn valid_loss(exp: &Experiment, point: &str, title: &str) -> Option<LossChart> {
    let mut curves = Vec::new();
    let mut unigram = Vec::new();
    for (i, variant) in exp.variants.iter().enumerate() {
        let mut by_step: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
        for run in exp
            .runs_of(variant, point)
            .filter(|r| r.pretrain_done().is_some())
        {
            unigram.extend(
                run.pretrain_done()
                    .and_then(|s| s.unigram.as_ref())
                    .map(|u| u.loss),
            );
            for (step, loss) in run.eval_curve() {
                by_step.entry(step).or_default().push(loss);
            }
        }
        if by_step.is_empty() {
            continue;
        }
        let points = by_step
            .iter()
            .filter_map(|(&step, v)| {
                let m = stats::moments(v)?;
                let hw = stats::ci95_half_width(&m).unwrap_or(0.0);
                Some((step as f64, m.mean, m.mean - hw, m.mean + hw))
            })
            .collect();
        curves.push(Curve {
            name: variant_label(exp, variant),
            colour: super::colour(i),
            baseline: *variant == exp.info.baseline,
            points,
        });
    }
    (!curves.is_empty()).then(|| LossChart {
        title: title.to_string(),
        curves,
        unigram: stats::moments(&unigram).map(|m| m.mean),
    })
}

impl Chart for LossChart {
    fn size(&self) -> (u32, u32) {
        (1200, 620)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let all = self.curves.iter().flat_map(|c| &c.points);
        let (x_max, y_lo, y_hi) = all.fold(
            (1.0f64, f64::INFINITY, f64::NEG_INFINITY),
            |(x, lo, hi), p| (x.max(p.0), lo.min(p.2), hi.max(p.3)),
        );
        let (y_lo, y_hi) = match self.unigram {
            Some(u) => (y_lo.min(u), y_hi.max(u)),
            None => (y_lo, y_hi),
        };
        let (y0, y1) = padded(y_lo, y_hi, 0.05);
        let mut entries: Vec<Entry> = self
            .curves
            .iter()
            .map(|c| Entry::new(c.name.clone(), c.colour, Key::Line(width(c.baseline))))
            .collect();
        let grey = RGBColor(100, 100, 100);
        if let Some(u) = self.unigram {
            entries.push(Entry::new(
                format!("unigram (frequency only): {u:.2}"),
                grey,
                Key::Dashed,
            ));
        }
        entries.push(Entry::new("95% CI of the mean over seeds", grey, Key::Band));
        let body = root.titled(&self.title, TITLE)?;
        let plot = legend::split(&body, &entries)?;
        let mut chart = ChartBuilder::on(&plot)
            .margin(15)
            .x_label_area_size(50)
            .y_label_area_size(75)
            .build_cartesian_2d(0.0..x_max * 1.02, y0..y1)?;
        chart
            .configure_mesh()
            .x_desc("optimiser step")
            .y_desc("valid MLM loss (nats per masked token)")
            .axis_desc_style(AXIS)
            .label_style(LABEL)
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.2}"))
            .light_line_style(RGBColor(244, 244, 244))
            .draw()?;
        for c in &self.curves {
            let col = c.colour;
            let mut band: Vec<(f64, f64)> = c.points.iter().map(|p| (p.0, p.3)).collect();
            band.extend(c.points.iter().rev().map(|p| (p.0, p.2)));
            chart.draw_series(std::iter::once(Polygon::new(band, col.mix(0.18).filled())))?;
        }
        for c in &self.curves {
            let col = c.colour;
            chart.draw_series(LineSeries::new(
                c.points.iter().map(|p| (p.0, p.1)),
                col.stroke_width(width(c.baseline)),
            ))?;
            chart.draw_series(
                c.points
                    .iter()
                    .map(|p| Circle::new((p.0, p.1), 3, col.filled())),
            )?;
        }
        if let Some(u) = self.unigram {
            let dashes =
                DashedLineSeries::new([(0.0, u), (x_max * 1.02, u)], 8, 6, grey.stroke_width(2));
            chart.draw_series(dashes)?;
        }
        Ok(())
    }
}

/// The length chart: per variant `(length, mean, std)` of the MLM accuracy.
pub(crate) struct LengthChart {
    title: String,
    lengths: Vec<usize>,
    train_len: usize,
    lines: Vec<LengthLine>,
}

/// A variant's legend name, colour, whether it is the baseline, and `(length, mean, 95% CI half-width)` points.
type LengthLine = (String, RGBColor, bool, Vec<(usize, f64, f64)>);

/// MLM accuracy per length of every variant at `point`; `None` when no run has length scores.
pub(crate) fn length(
    exp: &Experiment,
    summary: &Summary,
    point: &str,
    title: &str,
) -> Option<LengthChart> {
    let mut lengths = crate::report::metrics::lengths(exp);
    lengths.sort_unstable();
    let mut lines = Vec::new();
    for (i, variant) in exp.variants.iter().enumerate() {
        let pts: Vec<(usize, f64, f64)> = lengths
            .iter()
            .filter_map(|&len| {
                let row = summary.get(variant, point, &format!("len{len}_acc"))?;
                Some((len, row.moments.mean, row.ci95.unwrap_or(0.0)))
            })
            .collect();
        if !pts.is_empty() {
            let baseline = *variant == exp.info.baseline;
            lines.push((variant_label(exp, variant), colour(i), baseline, pts));
        }
    }
    (!lines.is_empty()).then(|| LengthChart {
        title: title.to_string(),
        lengths,
        train_len: exp.info.train_max_len,
        lines,
    })
}

impl Chart for LengthChart {
    fn size(&self) -> (u32, u32) {
        (1200, 620)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let lg = |len: usize| (len.max(1) as f64).log2();
        let mut ticks: Vec<usize> = self.lengths.clone();
        if self.train_len > 0 && !ticks.contains(&self.train_len) {
            ticks.push(self.train_len);
            ticks.sort_unstable();
        }
        let (x_lo, x_hi) = (lg(ticks[0]), lg(*ticks.last().unwrap_or(&ticks[0])));
        let (x0, x1) = padded(x_lo, x_hi, 0.06);
        let pcts = self
            .lines
            .iter()
            .flat_map(|l| &l.3)
            .flat_map(|p| [(p.1 - p.2) * 100.0, (p.1 + p.2) * 100.0]);
        let (lo, hi) = pcts.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
        let (y0, y1) = padded(lo, hi, 0.08);
        let (y0, y1) = (y0.max(0.0), y1.min(100.0).max(y0.max(0.0) + 1e-3));
        let grey = RGBColor(90, 90, 90);
        let mut entries: Vec<Entry> = self
            .lines
            .iter()
            .map(|l| Entry::new(l.0.clone(), l.1, Key::Line(width(l.2))))
            .collect();
        if self.train_len > 0 {
            entries.push(Entry::new(
                format!("training length ({} tokens)", self.train_len),
                grey,
                Key::Dashed,
            ));
        }
        let body = root.titled(&self.title, TITLE)?;
        let plot = legend::split(&body, &entries)?;
        let mut chart = ChartBuilder::on(&plot)
            .margin(15)
            .x_label_area_size(50)
            .y_label_area_size(75)
            .build_cartesian_2d(
                TickAxis::new(x0..x1, ticks.iter().map(|&l| lg(l)).collect()),
                y0..y1,
            )?;
        chart
            .configure_mesh()
            .x_desc("evaluation row length (tokens, log2 scale)")
            .y_desc("MLM accuracy at masked positions (%)")
            .axis_desc_style(AXIS)
            .label_style(LABEL)
            .x_label_formatter(&|v| format!("{:.0}", 2f64.powf(*v)))
            .y_label_formatter(&|v| format!("{v:.1}"))
            .light_line_style(RGBColor(244, 244, 244))
            .draw()?;
        if self.train_len > 0 {
            let x = lg(self.train_len);
            chart.draw_series(DashedLineSeries::new(
                vec![(x, y0), (x, y1)],
                8,
                6,
                grey.stroke_width(2),
            ))?;
        }
        for (_, col, baseline, pts) in &self.lines {
            let points: Vec<_> = pts
                .iter()
                .map(|p| (lg(p.0), p.1 * 100.0, p.2 * 100.0))
                .collect();
            mean_series(&mut chart, &points, *col, width(*baseline))?;
        }
        root.draw_text(
            "points: mean over seeds; whiskers: 95% CI of the mean",
            &TextStyle::from(LABEL).color(&BLACK.mix(0.7)),
            (15, root.dim_in_pixel().1 as i32 - 18),
        )?;
        Ok(())
    }
}
