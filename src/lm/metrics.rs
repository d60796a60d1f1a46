//! Per-epoch metrics as a CSV file, one row per epoch.

use super::error::LmResult;
use super::files::write_atomic;
use super::train::EpochStats;
use std::path::Path;

/// The header row of [`write_metrics`]' files.
pub const METRICS_HEADER: &str = "epoch,loss,perplexity,tokens_per_sec,seconds";

/// Writes `stats` to `path` as CSV: [`METRICS_HEADER`], then one row per epoch with
/// every field at full precision.
///
/// ```
/// use recur::lm::{write_metrics, EpochStats};
/// let path = std::env::temp_dir().join(format!("recur-doc-metrics-{}.csv", std::process::id()));
/// let s = EpochStats { epoch: 1, loss: 2.5, perplexity: 2.5f64.exp(), tokens_per_sec: 1e5, seconds: 0.25 };
/// write_metrics(path.to_str().unwrap(), &[s])?;
/// let csv = std::fs::read_to_string(&path)?;
/// assert!(csv.starts_with("epoch,loss,perplexity,tokens_per_sec,seconds\n1,2.5,12.18"));
/// assert!(csv.ends_with(",100000,0.25\n"));
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// The file is written atomically ([`write_atomic`]).
///
/// # Errors
/// [`LmError::Io`] naming `path` if it cannot be written.
pub fn write_metrics(path: &str, stats: &[EpochStats]) -> LmResult<()> {
    write_atomic(Path::new(path), |f| {
        writeln!(f, "{METRICS_HEADER}")?;
        for s in stats {
            writeln!(
                f,
                "{},{},{},{},{}",
                s.epoch, s.loss, s.perplexity, s.tokens_per_sec, s.seconds
            )?;
        }
        Ok(())
    })
}
