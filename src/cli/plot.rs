//! The perplexity curve as an SVG or PNG file (plotters).

use plotters::prelude::*;
use recur::lm::{EpochStats, LmError, LmResult};

/// Font files tried, in order, for the labels.
const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

fn register_font() -> LmResult<()> {
    for path in FONT_PATHS {
        if let Ok(bytes) = std::fs::read(path) {
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                return Ok(());
            }
        }
    }
    Err(LmError::Plot(format!(
        "no TrueType font found for the labels (looked for {})",
        FONT_PATHS.join(", ")
    )))
}

/// Draws train (and optional held-out) perplexity per epoch, with the optimum as a
/// dashed line when known. The format follows the extension: `.svg` or `.png`.
pub fn plot_perplexity(path: &str, stats: &[EpochStats], optimum: Option<f64>) -> LmResult<()> {
    register_font()?;
    let lower = path.to_ascii_lowercase();
    if lower.ends_with(".svg") {
        let root = SVGBackend::new(path, (800, 500)).into_drawing_area();
        draw(root, stats, optimum)
    } else if lower.ends_with(".png") {
        let root = BitMapBackend::new(path, (800, 500)).into_drawing_area();
        draw(root, stats, optimum)
    } else {
        Err(LmError::Plot(format!(
            "{path}: use a .svg or .png file name"
        )))
    }
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    stats: &[EpochStats],
    optimum: Option<f64>,
) -> LmResult<()> {
    let err = |e: &dyn std::fmt::Display| LmError::Plot(e.to_string());
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let epochs = stats.len().max(1) as f64;
    let max_ppl = stats
        .iter()
        .map(|s| s.perplexity)
        .chain(optimum)
        .filter(|p| p.is_finite())
        .fold(1.0f64, f64::max);
    let min_ppl = stats
        .iter()
        .map(|s| s.perplexity)
        .chain(optimum)
        .filter(|p| p.is_finite() && *p > 0.0)
        .fold(max_ppl, f64::min);
    let mut chart = ChartBuilder::on(&root)
        .caption("recur: training perplexity", ("sans-serif", 24))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(
            1.0..epochs.max(2.0),
            (min_ppl * 0.9).max(0.5)..max_ppl * 1.05,
        )
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("perplexity")
        .draw()
        .map_err(|e| err(&e))?;
    chart
        .draw_series(LineSeries::new(
            stats.iter().map(|s| (s.epoch as f64, s.perplexity)),
            BLUE.stroke_width(2),
        ))
        .map_err(|e| err(&e))?
        .label("train")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
    if let Some(opt) = optimum {
        chart
            .draw_series(DashedLineSeries::new(
                [(1.0, opt), (epochs.max(2.0), opt)],
                6,
                4,
                RED.stroke_width(1),
            ))
            .map_err(|e| err(&e))?
            .label("optimum")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
