//! The perplexity curve as an SVG or PNG file (plotters).

use crate::lm::{files, EpochStats, LmError, LmResult};
use plotters::prelude::*;
use std::path::Path;
use std::sync::Mutex;

/// Font files tried, in order, for the labels.
const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

/// Registers the labels' font with plotters, once per process: the font's bytes must live
/// for the rest of the process, and registering it again would drop the reference to the
/// previous copy (a leak per plot). A failure is not remembered: the next call looks again.
fn register_font() -> LmResult<()> {
    static REGISTERED: Mutex<bool> = Mutex::new(false);
    let mut registered = REGISTERED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if *registered {
        return Ok(());
    }
    for path in FONT_PATHS {
        if let Ok(bytes) = std::fs::read(path) {
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                *registered = true;
                return Ok(());
            }
        }
    }
    Err(LmError::Plot(format!(
        "no TrueType font found for the labels (looked for {})",
        FONT_PATHS.join(", ")
    )))
}

/// The formats a plot can be written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Svg,
    Png,
}

fn format_of(path: &str) -> LmResult<Format> {
    let lower = path.to_ascii_lowercase();
    if lower.ends_with(".svg") {
        Ok(Format::Svg)
    } else if lower.ends_with(".png") {
        Ok(Format::Png)
    } else {
        Err(LmError::Plot(format!(
            "{path}: use a .svg or .png file name"
        )))
    }
}

/// The plot's size in pixels. A fuzz build (`cfg(fuzzing)`) draws a smaller one through
/// the same code: encoding an 800 x 500 PNG under the sanitizers was a third of a fuzzed
/// run's time.
const SIZE: (u32, u32) = if cfg!(fuzzing) {
    (320, 200)
} else {
    (800, 500)
};

/// Checks, before training, everything [`plot_perplexity`] needs at its end: a known
/// format, a font for the labels and a folder where `path` can be written.
pub fn check(path: &str) -> LmResult<()> {
    format_of(path)?;
    register_font()?;
    files::check_writable(Path::new(path))
}

/// Draws train (and optional held-out) perplexity per epoch, with the optimum as a
/// dashed line when known. The format follows the extension: `.svg` or `.png`. The file
/// is drawn under a temporary name in the same folder and renamed over `path` when
/// complete, so a failed plot leaves any previous file as it was.
pub fn plot_perplexity(path: &str, stats: &[EpochStats], optimum: Option<f64>) -> LmResult<()> {
    plot_sized(path, stats, optimum, SIZE)
}

/// [`plot_perplexity`] at `size` pixels.
fn plot_sized(
    path: &str,
    stats: &[EpochStats],
    optimum: Option<f64>,
    size: (u32, u32),
) -> LmResult<()> {
    let format = format_of(path)?;
    register_font()?;
    let target = Path::new(path);
    let name = target
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    // The temporary name keeps the extension: the PNG encoder chooses its format by it.
    let tmp = target.with_file_name(format!(".{}.{name}", std::process::id()));
    let drawn = match format {
        Format::Svg => draw(
            SVGBackend::new(&tmp, size).into_drawing_area(),
            stats,
            optimum,
        ),
        Format::Png => draw(
            BitMapBackend::new(&tmp, size).into_drawing_area(),
            stats,
            optimum,
        ),
    };
    let moved = drawn.and_then(|()| {
        std::fs::rename(&tmp, target).map_err(|source| LmError::Io {
            path: path.to_string(),
            source,
        })
    });
    if moved.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    moved
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sizes_draw_in_both_formats() {
        let stats: Vec<EpochStats> = (1..=3)
            .map(|epoch| EpochStats {
                epoch,
                loss: 3.0 / epoch as f64,
                perplexity: (3.0 / epoch as f64).exp(),
                tokens_per_sec: 1e4,
                seconds: 1.0,
            })
            .collect();
        let dir = std::env::temp_dir().join(format!("recur-plot-sizes-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for size in [(800, 500), (320, 200)] {
            for (ext, optimum, epochs) in [("png", Some(4.0), 3), ("svg", None, 1)] {
                let path = dir.join(format!("p{}.{ext}", size.0));
                let path = path.to_str().unwrap();
                plot_sized(path, &stats[..epochs], optimum, size).unwrap();
                let bytes = std::fs::read(path).unwrap();
                if ext == "png" {
                    // IHDR: width and height, big-endian, at bytes 16..24.
                    let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
                    assert_eq!((be(16), be(20)), size);
                } else {
                    assert!(String::from_utf8(bytes)
                        .unwrap()
                        .contains(&format!("width=\"{}\"", size.0)));
                }
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
