//! Helpers shared by recur's tests and fuzz targets (not published).
//!
//! - [`Rng`]: a small deterministic generator (xorshift64*), so that every test and fuzz
//!   target draws its data the same way on every machine, without a dependency;
//! - [`ulp_f32`], [`ulp_f64`]: the size of one unit in the last place at a value, to
//!   express an error in ulp; [`ulps_between_f32`], [`ulps_between_f64`]: how many
//!   representable values apart two numbers are;
//! - [`fast`]: whether `RECUR_FAST_TEST` asks for the thinned-out sweeps.
//!
//! It depends on nothing, in particular not on `recur-kernels`, which dev-depends on it.

#![forbid(unsafe_code)]

mod rng;
mod ulp;

pub use rng::Rng;
pub use ulp::{ulp_f32, ulp_f64, ulps_between_f32, ulps_between_f64};

/// `true` when the environment variable `RECUR_FAST_TEST` is set to anything but `0`: the
/// big sweeps then take a sample (CI sets it for Miri, AddressSanitizer and qemu runs, and
/// it makes quick local runs quick).
pub fn fast() -> bool {
    std::env::var("RECUR_FAST_TEST").is_ok_and(|v| v != "0")
}
