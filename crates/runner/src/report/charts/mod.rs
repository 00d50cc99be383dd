//! The report's charts, drawn with plotters as SVG and rasterised to PNG by resvg, under `DIR/charts/`: validation loss
//! curves, final metrics, length extrapolation, attention maps and throughput. With grid axes every chart is
//! drawn once per grid point (file names suffixed `_<point>`). Text uses the bundled DejaVu Sans font, so the
//! pictures are the same on every machine.

mod bars;
mod grid;
mod heatmap;
mod legend;
mod lines;
mod raster;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::Context;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use super::aggregate::Summary;
use super::collect::Experiment;

/// Which chart a [`ChartFile`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    /// Valid MLM loss against step.
    ValidLoss,
    /// Headline metrics, bars with error bars.
    FinalMetrics,
    /// MLM accuracy against evaluation length.
    Length,
    /// A variant's attention map.
    Attention,
    /// Pre-training throughput.
    Throughput,
    /// One metric of every variant across the grid points.
    Grid,
}

/// One chart written (as PNG and SVG).
#[derive(Debug, Clone, PartialEq)]
pub struct ChartFile {
    /// Which chart.
    pub kind: ChartKind,
    /// Its title, also the report's caption.
    pub title: String,
    /// The grid point drawn (empty without a grid).
    pub point: String,
    /// File name without extension, inside `charts/`.
    pub stem: String,
    /// The PNG and SVG files.
    pub files: Vec<PathBuf>,
}

/// A chart that can be drawn on any plotters backend.
pub(crate) trait Chart {
    /// Pixel size.
    fn size(&self) -> (u32, u32);
    /// Draws the chart on `root` (already filled white).
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static;
}

/// Draws every chart the experiment has data for into `dir`.
pub fn draw_all(exp: &Experiment, summary: &Summary, dir: &Path) -> anyhow::Result<Vec<ChartFile>> {
    register_font()?;
    let mut out = Vec::new();
    for point in &exp.points {
        let suffix = if exp.has_grid() {
            format!("_{}", slug(point))
        } else {
            String::new()
        };
        let at = if point.is_empty() {
            String::new()
        } else {
            format!(" ({point})")
        };
        let mut add = |kind,
                       title: String,
                       stem: String,
                       chart: Option<&dyn ChartDyn>|
         -> anyhow::Result<()> {
            if let Some(chart) = chart {
                let files = chart.save(dir, &stem)?;
                out.push(ChartFile {
                    kind,
                    title,
                    point: point.clone(),
                    stem,
                    files,
                });
            }
            Ok(())
        };
        let title = format!("Valid MLM loss during pre-training{at}");
        let chart = lines::valid_loss(exp, point, &title);
        add(
            ChartKind::ValidLoss,
            title,
            format!("valid_loss{suffix}"),
            chart.as_ref().map(|c| c as _),
        )?;

        let title = format!("Final scores, mean and 95% CI over seeds{at}");
        let chart = bars::final_metrics(exp, summary, point, &title);
        add(
            ChartKind::FinalMetrics,
            title,
            format!("final_metrics{suffix}"),
            chart.as_ref().map(|c| c as _),
        )?;

        let title = format!("MLM accuracy against row length{at}");
        let chart = lines::length(exp, summary, point, &title);
        add(
            ChartKind::Length,
            title,
            format!("length{suffix}"),
            chart.as_ref().map(|c| c as _),
        )?;

        for variant in &exp.variants {
            if let Some((seed, chart)) = heatmap::attention(exp, variant, point) {
                let title = format!(
                    "Attention of {variant}, last layer, mean over heads (seed {seed}){at}"
                );
                let chart = chart.titled(&title);
                let stem = format!("attention_{}{suffix}", slug(variant));
                add(ChartKind::Attention, title, stem, Some(&chart))?;
            }
        }

        let title = format!("Pre-training throughput, mean and 95% CI over seeds{at}");
        let chart = bars::throughput(exp, summary, point, &title);
        add(
            ChartKind::Throughput,
            title,
            format!("throughput{suffix}"),
            chart.as_ref().map(|c| c as _),
        )?;
    }
    let title = "Valid MLM loss across the grid, mean and 95% CI over seeds".to_string();
    if let Some(chart) = grid::across(exp, summary, "mlm_loss", &title) {
        let files = chart.save(dir, "grid_mlm_loss")?;
        out.push(ChartFile {
            kind: ChartKind::Grid,
            title,
            point: String::new(),
            stem: "grid_mlm_loss".to_string(),
            files,
        });
    }
    Ok(out)
}

/// [`Chart`] made object safe: draws to both backends and saves.
pub(crate) trait ChartDyn {
    /// Writes `dir/stem.png` and `dir/stem.svg` atomically; returns their paths.
    fn save(&self, dir: &Path, stem: &str) -> anyhow::Result<Vec<PathBuf>>;
}

impl<C: Chart> ChartDyn for C {
    fn save(&self, dir: &Path, stem: &str) -> anyhow::Result<Vec<PathBuf>> {
        let mut text = String::new();
        {
            let root = SVGBackend::with_string(&mut text, self.size()).into_drawing_area();
            root.fill(&WHITE)?;
            self.draw(&root)?;
            root.present()?;
        }
        let svg = dir.join(format!("{stem}.svg"));
        let png = dir.join(format!("{stem}.png"));
        let bytes = raster::png_from_svg(&text)
            .with_context(|| format!("cannot draw {}", png.display()))?;
        ablate_data::write_bytes(&svg, text.as_bytes())?;
        ablate_data::write_bytes(&png, &bytes)?;
        Ok(vec![png, svg])
    }
}

/// Registers the bundled font as `sans-serif` (once per process).
fn register_font() -> anyhow::Result<()> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE.get_or_init(|| {
        plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            include_bytes!("../../../assets/DejaVuSans.ttf"),
        )
        .is_ok()
    });
    anyhow::ensure!(
        ok,
        "the bundled font assets/DejaVuSans.ttf cannot be loaded"
    );
    Ok(())
}

/// A file-name-safe form of `text`: letters, digits, `.`, `-` and `_` kept, anything else `-`.
pub fn slug(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The colour of the variant at `index` (tab10, then a few more; the same in every chart).
pub(crate) fn colour(index: usize) -> RGBColor {
    const PALETTE: [RGBColor; 12] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
        RGBColor(23, 190, 207),
        RGBColor(0, 0, 128),
        RGBColor(128, 128, 0),
    ];
    PALETTE[index % PALETTE.len()]
}

/// The legend name of a variant: `name (baseline)` for the baseline.
pub(crate) fn variant_label(exp: &Experiment, variant: &str) -> String {
    if variant == exp.info.baseline {
        format!("{variant} (baseline)")
    } else {
        variant.to_string()
    }
}

/// Font sizes.
pub(crate) const TITLE: (&str, u32) = ("sans-serif", 22);
pub(crate) const AXIS: (&str, u32) = ("sans-serif", 16);
pub(crate) const LABEL: (&str, u32) = ("sans-serif", 13);

/// Pixels needed by `text` at font size `size` (an upper estimate for DejaVu Sans).
pub(crate) fn text_width(text: &str, size: u32) -> u32 {
    (text.chars().count() as u32 * size * 62).div_ceil(100) + 4
}

/// `lo..hi` widened by `pad` of its span on each side (and made non-empty).
pub(crate) fn padded(lo: f64, hi: f64, pad: f64) -> (f64, f64) {
    let span = if hi > lo {
        hi - lo
    } else {
        lo.abs().max(1.0) * 0.1
    };
    (lo - span * pad, hi + span * pad)
}

/// One series of `(x, mean, 95%-CI half-width)` points, in chart units: the line, a whisker at each point
/// whose half-width is not zero (there is nothing to show, and a zero-length line cannot be stroked), and a
/// dot at each mean.
pub(crate) fn mean_series<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<TickAxis, plotters::coord::types::RangedCoordf64>>,
    points: &[(f64, f64, f64)],
    col: RGBColor,
    width: u32,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let xy = |&(x, m, _): &(f64, f64, f64)| (x, m);
    chart.draw_series(LineSeries::new(
        points.iter().map(xy),
        col.stroke_width(width),
    ))?;
    chart.draw_series(
        points
            .iter()
            .filter(|p| p.2 > 0.0)
            .map(|&(x, m, h)| ErrorBar::new_vertical(x, m - h, m, m + h, col.stroke_width(2), 10)),
    )?;
    chart.draw_series(points.iter().map(|p| Circle::new(xy(p), 4, col.filled())))?;
    Ok(())
}

/// An `f64` axis whose ticks sit exactly at the given values (category positions, log2 lengths); the labels
/// come from the chart's label formatter.
#[derive(Clone)]
pub(crate) struct TickAxis {
    inner: plotters::coord::types::RangedCoordf64,
    ticks: Vec<f64>,
}

impl TickAxis {
    /// The axis over `range` with ticks at `ticks`.
    pub(crate) fn new(range: std::ops::Range<f64>, ticks: Vec<f64>) -> Self {
        Self {
            inner: range.into(),
            ticks,
        }
    }

    /// Categories `0..n` (ticks at the integers, half a step of room at both ends).
    pub(crate) fn categories(n: usize) -> Self {
        Self::new(-0.5..n as f64 - 0.5, (0..n).map(|i| i as f64).collect())
    }
}

impl plotters::coord::ranged1d::Ranged for TickAxis {
    type ValueType = f64;
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<H: plotters::coord::ranged1d::KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.inner.range()
    }
}
