//! Which instruction set the kernels run on: detected once, cached, optionally lowered by
//! the `RECUR_SIMD` environment variable.
//!
//! Tiers, from lowest to highest:
//!
//! | [`Level`] | `RECUR_SIMD` | needs |
//! |---|---|---|
//! | `Scalar` | `scalar` | nothing (portable Rust; also what Miri runs) |
//! | `Neon` | `neon` | aarch64 with NEON (Advanced SIMD) |
//! | `Avx2` | `avx2` | x86-64 with AVX2 and FMA |
//! | `Avx512` | `avx512` | x86-64 with AVX-512 F/BW/CD/DQ/VL (plus the AVX2 tier's features) |
//!
//! `RECUR_SIMD` can only lower the tier: asking for a tier the CPU lacks gives the best
//! tier it has. [`forced_level`] tells a test whether the request was honoured, so a CI
//! run that asked for a tier cannot skip it silently.

use std::sync::atomic::{AtomicU8, Ordering};

pub use super::cache::{cache_sizes, CacheSizes, CacheSource};

/// An instruction-set tier of the kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Level {
    /// Portable Rust, one element at a time.
    Scalar,
    /// aarch64 NEON (128-bit).
    Neon,
    /// x86-64 AVX2 + FMA (256-bit, "x86-64-v3").
    Avx2,
    /// x86-64 AVX-512F (512-bit, "x86-64-v4").
    Avx512,
}

impl Level {
    /// The tier's name as [`simd_level`] prints it and `RECUR_SIMD` accepts it.
    pub fn name(self) -> &'static str {
        match self {
            Level::Scalar => "scalar",
            Level::Neon => "neon",
            Level::Avx2 => "avx2+fma",
            Level::Avx512 => "avx512",
        }
    }

    /// Parses a `RECUR_SIMD` value (`scalar`, `neon`, `avx2`, `avx2+fma`, `avx512`).
    pub fn parse(s: &str) -> Option<Level> {
        match s.trim().to_ascii_lowercase().as_str() {
            "scalar" => Some(Level::Scalar),
            "neon" => Some(Level::Neon),
            "avx2" | "avx2+fma" | "v3" => Some(Level::Avx2),
            "avx512" | "avx512f" | "v4" => Some(Level::Avx512),
            _ => None,
        }
    }

    fn to_u8(self) -> u8 {
        match self {
            Level::Scalar => 1,
            Level::Neon => 2,
            Level::Avx2 => 3,
            Level::Avx512 => 4,
        }
    }

    fn from_u8(v: u8) -> Level {
        match v {
            2 => Level::Neon,
            3 => Level::Avx2,
            4 => Level::Avx512,
            _ => Level::Scalar,
        }
    }
}

/// The best tier this CPU supports, ignoring `RECUR_SIMD` (pulp's detection: the
/// AVX-512 tier needs pulp's `x86::V4` feature set — AVX-512 F, BW, CD, DQ and VL besides
/// the AVX2 tier's — and the AVX2 tier its `x86::V3` set: AVX2, FMA, BMI1/2, LZCNT, …).
pub fn detected_level() -> Level {
    #[cfg(target_arch = "x86_64")]
    {
        if pulp::x86::V4::is_available() {
            return Level::Avx512;
        }
        if pulp::x86::V3::is_available() {
            return Level::Avx2;
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        if pulp::aarch64::Neon::is_available() {
            return Level::Neon;
        }
    }
    Level::Scalar
}

/// The tier `RECUR_SIMD` asks for, if it is set: `Ok(None)` when unset, `Err(value)` when
/// it holds something that is not a tier name.
pub fn forced_level() -> Result<Option<Level>, String> {
    match std::env::var("RECUR_SIMD") {
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => Level::parse(&v).map(Some).ok_or(v),
        Err(_) => Ok(None),
    }
}

static LEVEL: AtomicU8 = AtomicU8::new(0);

thread_local! {
    static THREAD_CAP: std::cell::Cell<Option<Level>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` with the kernels called *from this thread* lowered to at most `cap` (so that
/// one process can test or benchmark every tier). Work the kernels hand to other threads
/// keeps the tier chosen here. Nested calls restore the outer cap on return.
///
/// ```
/// use recur_kernels::{dispatch::with_level, simd_level, Level};
/// let name = with_level(Level::Scalar, || simd_level());
/// assert_eq!(name, "scalar");
/// ```
pub fn with_level<R>(cap: Level, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Level>);
    impl Drop for Restore {
        fn drop(&mut self) {
            THREAD_CAP.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(THREAD_CAP.with(|c| c.replace(Some(cap))));
    f()
}

/// The tiers this machine can run, lowest first (what tests and benches iterate over).
pub fn available_levels() -> Vec<Level> {
    let best = detected_level();
    [Level::Scalar, Level::Neon, Level::Avx2, Level::Avx512]
        .into_iter()
        .filter(|&l| supported_at_most(l, best) == l)
        .collect()
}

/// The tier the kernels use: the detected one, lowered by `RECUR_SIMD` if that names a
/// lower tier (computed on first use and cached for the life of the process), and by
/// [`with_level`] on this thread.
pub fn level() -> Level {
    let process = process_level();
    match THREAD_CAP.with(|c| c.get()) {
        Some(cap) => supported_at_most(cap, process),
        None => process,
    }
}

fn process_level() -> Level {
    let cached = LEVEL.load(Ordering::Relaxed);
    if cached != 0 {
        return Level::from_u8(cached);
    }
    let detected = detected_level();
    let chosen = match forced_level() {
        Ok(Some(forced)) => supported_at_most(forced, detected),
        _ => detected,
    };
    LEVEL.store(chosen.to_u8(), Ordering::Relaxed);
    chosen
}

/// The highest tier that is at most `want` and that the CPU (with best tier `have`)
/// runs. NEON and the x86 tiers are not comparable, so asking for one on the other
/// architecture gives `Scalar`.
fn supported_at_most(want: Level, have: Level) -> Level {
    match (want, have) {
        (Level::Scalar, _) => Level::Scalar,
        (Level::Neon, Level::Neon) => Level::Neon,
        (Level::Neon, _) => Level::Scalar,
        (_, Level::Neon) => Level::Scalar,
        (w, h) => w.min(h),
    }
}

/// The instruction set the dispatcher chose, e.g. `"avx512"`, `"avx2+fma"`, `"neon"` or
/// `"scalar"`.
///
/// ```
/// let level = recur_kernels::simd_level();
/// assert!(["avx512", "avx2+fma", "neon", "scalar"].contains(&level));
/// ```
pub fn simd_level() -> &'static str {
    level().name()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_roundtrips_names() {
        for l in [Level::Scalar, Level::Neon, Level::Avx2, Level::Avx512] {
            assert_eq!(Level::parse(l.name()), Some(l));
        }
        assert_eq!(Level::parse("sse9"), None);
    }

    #[test]
    fn forcing_only_lowers() {
        assert_eq!(supported_at_most(Level::Avx512, Level::Avx2), Level::Avx2);
        assert_eq!(supported_at_most(Level::Avx2, Level::Avx512), Level::Avx2);
        assert_eq!(
            supported_at_most(Level::Scalar, Level::Avx512),
            Level::Scalar
        );
        assert_eq!(supported_at_most(Level::Neon, Level::Avx2), Level::Scalar);
    }

    /// Fails when `RECUR_SIMD` asks for a tier this machine cannot run, or holds a value
    /// that is not a tier: a CI job that forces a tier must really test it.
    #[test]
    fn forced_tier_is_available() {
        match forced_level() {
            Ok(Some(want)) => {
                assert_eq!(
                    process_level(),
                    want,
                    "RECUR_SIMD asks for {} but this CPU's best tier is {}",
                    want.name(),
                    detected_level().name()
                );
            }
            Ok(None) => assert_eq!(process_level(), detected_level()),
            Err(v) => panic!("RECUR_SIMD={v:?} is not a tier name"),
        }
    }
}
