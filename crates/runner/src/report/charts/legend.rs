//! A legend in its own column right of the plotting area, so it never covers data.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{LABEL, text_width};

/// How an entry's key is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Key {
    /// A solid line of this width (a data series).
    Line(u32),
    /// A dashed line (a reference line).
    Dashed,
    /// A translucent band (a confidence band).
    Band,
}

/// One legend entry.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The text.
    pub(crate) label: String,
    /// The key's colour.
    pub(crate) colour: RGBColor,
    /// The key's shape.
    pub(crate) key: Key,
}

impl Entry {
    /// An entry.
    pub(crate) fn new(label: impl Into<String>, colour: RGBColor, key: Key) -> Self {
        Self {
            label: label.into(),
            colour,
            key,
        }
    }
}

const KEY_WIDTH: i32 = 26;
const ROW: i32 = 22;

/// The legend column's width in pixels for `entries`.
pub(crate) fn width(entries: &[Entry]) -> u32 {
    let text = entries
        .iter()
        .map(|e| text_width(&e.label, LABEL.1))
        .max()
        .unwrap_or(0);
    (text + KEY_WIDTH as u32 + 30).clamp(120, 360)
}

/// Splits `area` into the plotting area (returned) and a legend column at its right, and draws `entries`
/// in that column, top-aligned with the plot.
pub(crate) fn split<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[Entry],
) -> anyhow::Result<DrawingArea<DB, Shift>>
where
    DB::ErrorType: 'static,
{
    let (w, _) = area.dim_in_pixel();
    let legend_w = width(entries).min(w / 2);
    let (plot, column) = area.split_horizontally(w - legend_w);
    let style = TextStyle::from(LABEL).pos(Pos::new(HPos::Left, VPos::Center));
    for (i, e) in entries.iter().enumerate() {
        let y = 30 + i as i32 * ROW;
        let (x0, x1) = (8, 8 + KEY_WIDTH);
        match e.key {
            Key::Line(width) => {
                column.draw(&PathElement::new(
                    vec![(x0, y), (x1, y)],
                    e.colour.stroke_width(width),
                ))?;
            }
            Key::Dashed => {
                for (a, b) in [(x0, x0 + 8), (x0 + 13, x0 + 21)] {
                    column.draw(&PathElement::new(
                        vec![(a, y), (b, y)],
                        e.colour.stroke_width(2),
                    ))?;
                }
            }
            Key::Band => {
                column.draw(&Rectangle::new(
                    [(x0, y - 6), (x1, y + 6)],
                    e.colour.mix(0.25).filled(),
                ))?;
            }
        }
        column.draw(&Text::new(e.label.clone(), (x1 + 8, y), style.clone()))?;
    }
    Ok(plot)
}
