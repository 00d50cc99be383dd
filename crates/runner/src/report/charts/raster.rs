//! PNG pictures of the charts, rasterised from their SVG by resvg, with text set in the bundled DejaVu Sans
//! only (no system fonts), so a PNG is the same on every machine and its letters are evenly spaced.

use std::sync::OnceLock;

use anyhow::Context;
use resvg::{tiny_skia, usvg};

/// The bundled font, the one plotters measures text with.
const FONT: &[u8] = include_bytes!("../../../assets/DejaVuSans.ttf");

/// The rendering options: the bundled font as every generic family, nothing read from the system.
fn options() -> &'static usvg::Options<'static> {
    static OPTIONS: OnceLock<usvg::Options<'static>> = OnceLock::new();
    OPTIONS.get_or_init(|| {
        let mut opt = usvg::Options {
            font_family: "DejaVu Sans".to_string(),
            ..usvg::Options::default()
        };
        let db = opt.fontdb_mut();
        db.load_font_data(FONT.to_vec());
        db.set_sans_serif_family("DejaVu Sans");
        db.set_serif_family("DejaVu Sans");
        db.set_monospace_family("DejaVu Sans");
        opt
    })
}

/// The PNG bytes of the SVG document `svg` (white background, one pixel per SVG unit).
pub(crate) fn png_from_svg(svg: &str) -> anyhow::Result<Vec<u8>> {
    let tree = usvg::Tree::from_str(svg, options()).context("the chart's SVG cannot be parsed")?;
    let size = tree.size().to_int_size();
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height()).with_context(|| {
        format!(
            "a {}x{} picture cannot be allocated",
            size.width(),
            size.height()
        )
    })?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        tiny_skia::Transform::identity(),
        &mut pixmap.as_mut(),
    );
    pixmap
        .encode_png()
        .map_err(|e| anyhow::anyhow!("the chart cannot be encoded as PNG: {e}"))
}
