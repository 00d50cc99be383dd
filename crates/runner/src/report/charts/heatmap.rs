//! The attention heatmap of one variant: the last encoder layer's attention probabilities averaged over heads,
//! for the experiment's sentence under the first seed's model; queries are rows (top to bottom), keys are
//! columns, with a viridis colour scale from 0 to the largest probability.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{AXIS, Chart, LABEL, TITLE, TickAxis, text_width};
use crate::experiment::record::AttentionMap;
use crate::report::collect::Experiment;

/// The heatmap of one run.
pub(crate) struct AttentionChart {
    title: String,
    tokens: Vec<String>,
    /// `[query][key]`.
    matrix: Vec<Vec<f64>>,
}

impl AttentionChart {
    /// The same chart under `title`.
    pub(crate) fn titled(mut self, title: &str) -> Self {
        self.title = title.to_string();
        self
    }
}

/// The map of the lowest seed of `variant` at `point` that has one, with that seed; `None` without any, or
/// when the map is malformed (no layer, or rows that do not match the tokens).
pub(crate) fn attention(
    exp: &Experiment,
    variant: &str,
    point: &str,
) -> Option<(u64, AttentionChart)> {
    exp.runs_of(variant, point).find_map(|run| {
        let map = run.attention.as_ref()?;
        let matrix = last_layer_mean(map)?;
        Some((
            run.record.seed,
            AttentionChart {
                title: String::new(),
                tokens: map.tokens.clone(),
                matrix,
            },
        ))
    })
}

/// The last layer averaged over heads, checked against the token count.
pub fn last_layer_mean(map: &AttentionMap) -> Option<Vec<Vec<f64>>> {
    let n = map.tokens.len();
    let layer = map.layers.last()?;
    if n == 0 || layer.is_empty() {
        return None;
    }
    let mut out = vec![vec![0.0f64; n]; n];
    for head in layer {
        if head.len() != n || head.iter().any(|row| row.len() != n) {
            return None;
        }
        for (acc, row) in out.iter_mut().zip(head) {
            for (a, &p) in acc.iter_mut().zip(row) {
                *a += f64::from(p);
            }
        }
    }
    let heads = layer.len() as f64;
    out.iter_mut().flatten().for_each(|v| *v /= heads);
    Some(out)
}

const COLOUR_BAR: u32 = 120;

impl AttentionChart {
    fn cell(&self) -> u32 {
        (640 / self.tokens.len().max(1) as u32).clamp(12, 44)
    }

    fn label_area(&self) -> u32 {
        let longest = self
            .tokens
            .iter()
            .map(|t| text_width(t, LABEL.1))
            .max()
            .unwrap_or(20);
        longest.clamp(30, 200) + 10
    }

    fn max(&self) -> f64 {
        let m = self.matrix.iter().flatten().copied().fold(0.0f64, f64::max);
        if m > 0.0 { m } else { 1.0 }
    }
}

impl Chart for AttentionChart {
    fn size(&self) -> (u32, u32) {
        let grid = self.cell() * self.tokens.len() as u32;
        let lab = self.label_area() + 30;
        let w = (lab + 20 + grid + COLOUR_BAR).max(text_width(&self.title, TITLE.1) + 30);
        (w, 45 + lab + 20 + grid)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let n = self.tokens.len();
        let body = root.titled(&self.title, TITLE)?;
        // Square cells: the plot is `side` x `side`, with the colour scale right beside it.
        let (lab, margin) = (self.label_area() + 30, 10);
        let (w, h) = body.dim_in_pixel();
        let avail_w = w.saturating_sub(COLOUR_BAR + lab + 2 * margin).max(1);
        let avail_h = h.saturating_sub(lab + 2 * margin).max(1);
        let side = avail_w.min(avail_h);
        let used = lab + 2 * margin + side + COLOUR_BAR;
        let (_, body) = body.split_horizontally(w.saturating_sub(used) / 2);
        let (main, rest) = body.split_horizontally(lab + 2 * margin + side);
        let (bar, _) = rest.split_horizontally(COLOUR_BAR);
        let top = |y: &f64| n as f64 - 1.0 - y;
        let token_at = |v: f64| {
            let k = v.round();
            if (v - k).abs() > 1e-6 || k < 0.0 || k as usize >= n {
                String::new()
            } else {
                self.tokens[k as usize].clone()
            }
        };
        let mut chart = ChartBuilder::on(&main)
            .margin_top(margin)
            .margin_left(margin)
            .margin_right(margin)
            .margin_bottom(margin + avail_h - side)
            .x_label_area_size(lab)
            .y_label_area_size(lab)
            .build_cartesian_2d(TickAxis::categories(n), TickAxis::categories(n))?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("key (attended) token")
            .y_desc("query token")
            .axis_desc_style(AXIS)
            .label_style(LABEL)
            .x_label_formatter(&|_| String::new())
            .y_label_formatter(&|v| token_at(top(v)))
            .draw()?;
        let max = self.max();
        chart.draw_series(self.matrix.iter().enumerate().flat_map(|(q, row)| {
            let y = n as f64 - 1.0 - q as f64;
            row.iter().enumerate().map(move |(k, &p)| {
                let c = ViridisRGB.get_color_normalized(p as f32, 0.0, max as f32);
                Rectangle::new(
                    [(k as f64 - 0.5, y - 0.5), (k as f64 + 0.5, y + 0.5)],
                    c.filled(),
                )
            })
        }))?;
        // Key tokens written downwards from under their column (plotters centres rotated tick labels on the
        // axis, which would run them into the plot).
        let down = TextStyle::from(LABEL)
            .transform(FontTransform::Rotate90)
            .pos(Pos::new(HPos::Left, VPos::Center));
        chart.draw_series((0..n).map(|k| {
            EmptyElement::at((k as f64, -0.5)) + Text::new(token_at(k as f64), (0, 8), down.clone())
        }))?;

        // The colour scale.
        let mut scale = ChartBuilder::on(&bar)
            .margin_top(margin)
            .margin_bottom(margin + avail_h - side + lab)
            .margin_right(10)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..1.0, 0.0..max)?;
        scale
            .configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_desc("attention probability")
            .axis_desc_style(LABEL)
            .label_style(LABEL)
            .y_label_formatter(&|v| format!("{v:.2}"))
            .draw()?;
        let steps = 100;
        scale.draw_series((0..steps).map(|i| {
            let (a, b) = (
                max * i as f64 / steps as f64,
                max * (i + 1) as f64 / steps as f64,
            );
            let c = ViridisRGB.get_color_normalized(((a + b) / 2.0) as f32, 0.0, max as f32);
            Rectangle::new([(0.0, a), (1.0, b)], c.filled())
        }))?;
        Ok(())
    }
}
