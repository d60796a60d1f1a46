//! Accuracy of the vectorized tanh (`recur_kernels::tanh`), on every tier this machine runs.
//!
//! * `f32`: the error of `y` is `|y − tanh_f64(x)| / ulp(y)`, in `f64`, where `ulp(y)` is the
//!   spacing of `f32` values at `|y|` (`2^(e−23)` for `y` in the binade `[2^e, 2^(e+1))`,
//!   `2^−149` for subnormals and 0) and `tanh_f64` is the platform `f64::tanh` (its own error,
//!   under 2⁻⁵² relative, is 2⁻²⁸ of an `f32` ulp). The promise is ≤ 1 ulp for every input.
//!   `f32_every_input_within_one_ulp` checks all 2³² inputs on the best tier (about 30 s in
//!   release on two cores); `f32_dense_sweep_within_one_ulp` checks every 37th bit pattern
//!   (1.16·10⁸ inputs, every binade, both signs) on every tier. Debug builds and
//!   `RECUR_FAST_TEST=1` thin both out (every 65537th / 4099th input).
//! * `f64`: the error is measured against a double-double evaluation written below (relative
//!   error below 2⁻¹⁰⁰), in units of `ulp(y) = 2^(e−52)`. The promise is ≤ 2 ulp.

use rayon::prelude::*;
use recur_kernels::dispatch::{available_levels, with_level};
use recur_kernels::{tanh, tanh_backward, tanh_inplace, Level};
use recur_testkit::{ulp_f32, ulp_f64, Rng};
use std::time::Instant;

/// From here on `tanh` must give exactly ±1. The correctly rounded result is 1 from about
/// 9.0109 (`f32`) and 19.0617 (`f64`); the tests leave a little room for the 1-ulp (2-ulp)
/// error allowance right at the threshold.
const SAT_F32: f32 = 9.02;
const SAT_F64: f64 = 19.1;

/// The thinned-out sweeps: in debug builds, or with `RECUR_FAST_TEST=1`.
fn fast() -> bool {
    cfg!(debug_assertions) || recur_testkit::fast()
}

/// Worst error found: `(error in ulp, input, output)`.
#[derive(Clone, Copy, Debug)]
struct Worst<T> {
    ulp: f64,
    x: T,
    y: T,
}

impl<T: Copy> Worst<T> {
    fn max(self, other: Self) -> Self {
        if other.ulp > self.ulp {
            other
        } else {
            self
        }
    }
}

/// The f32 error of `tanh` on `xs` (all finite or infinite, none NaN), checking on the way
/// that `|y| <= 1`, that `tanh(-x)` is exactly `-tanh(x)` and that tiny `x` give `x`.
fn f32_chunk(xs: &mut [f32], ys: &mut Vec<f32>, level: Level) -> Worst<f32> {
    ys.resize(xs.len(), 0.0);
    with_level(level, || tanh(xs, ys)).unwrap();
    let mut worst = Worst {
        ulp: 0.0,
        x: 0.0,
        y: 0.0,
    };
    for (&x, &y) in xs.iter().zip(ys.iter()) {
        assert!(y.abs() <= 1.0, "|tanh({x:e})| = |{y:e}| > 1");
        assert_eq!(
            y.is_sign_negative(),
            x.is_sign_negative(),
            "sign of tanh({x:e})"
        );
        // Outside [1e-4, SAT_F32] the result is known exactly, and the error is then below
        // ½ ulp without asking libm (which is also slow on the subnormal inputs).
        if x.abs() >= SAT_F32 {
            // 0 < 1 − tanh(x) < 2⁻²⁵ = ulp(1)/4.
            assert_eq!(y.abs(), 1.0, "tanh({x:e}) = {y:e} must saturate");
            continue;
        }
        if x.abs() < 1e-4 {
            // tanh(x) = x(1 − x²/3 + …) with x²/3 < 3.4e-9 < 2⁻²⁵: within ⅛ ulp of x.
            assert_eq!(y.to_bits(), x.to_bits(), "tanh({x:e}) = {y:e}");
            continue;
        }
        let want = (x as f64).tanh();
        let err = (y as f64 - want).abs() / ulp_f32(y);
        if err > worst.ulp {
            worst = Worst { ulp: err, x, y };
        }
    }
    // Exact oddness.
    for x in xs.iter_mut() {
        *x = -*x;
    }
    let neg: Vec<f32> = {
        let mut out = vec![0.0f32; xs.len()];
        with_level(level, || tanh(xs, &mut out)).unwrap();
        out
    };
    for ((&x, &y), &yn) in xs.iter().zip(ys.iter()).zip(&neg) {
        assert_eq!(
            yn.to_bits(),
            (-y).to_bits(),
            "tanh({x:e}) is not -tanh({:e})",
            -x
        );
    }
    worst
}

/// Sweeps the non-negative, non-NaN f32 bit patterns `0, stride, 2·stride, …` up to +inf
/// (and, through the oddness check, their negatives) on `level`, on all cores.
fn f32_sweep(stride: u32, level: Level) -> Worst<f32> {
    const CHUNK: u32 = 1 << 20;
    let top = f32::INFINITY.to_bits(); // 0x7f80_0000: every finite non-negative value, +inf
    let count = top / stride + 1;
    (0..count.div_ceil(CHUNK))
        .into_par_iter()
        .map_init(
            || (Vec::new(), Vec::new()),
            |(xs, ys), c| {
                xs.clear();
                let lo = c * CHUNK;
                let hi = (lo + CHUNK).min(count);
                xs.extend((lo..hi).map(|i| f32::from_bits(i * stride)));
                f32_chunk(xs, ys, level)
            },
        )
        .reduce(
            || Worst {
                ulp: 0.0,
                x: 0.0,
                y: 0.0,
            },
            Worst::max,
        )
}

/// Every tier (the exhaustive sweep runs only the best one): every 37th bit pattern in
/// release builds, every 4099th in debug builds or with `RECUR_FAST_TEST=1`.
#[test]
fn f32_dense_sweep_within_one_ulp() {
    let stride = if fast() { 4099 } else { 37 };
    for level in available_levels() {
        let start = Instant::now();
        let w = f32_sweep(stride, level);
        eprintln!(
            "f32 tanh, {} inputs (stride {stride}, both signs) on {}: max error {:.4} ulp at \
             x = {:e} (y = {:e}), {:.1} s",
            2 * (f32::INFINITY.to_bits() / stride + 1),
            level.name(),
            w.ulp,
            w.x,
            w.y,
            start.elapsed().as_secs_f64()
        );
        assert!(w.ulp <= 1.0, "{w:?} on {}", level.name());
    }
}

/// All 2³² inputs on the best tier (about 30 s in release on two Zen 3 cores): the
/// 2³¹ − 2²³ + 1 non-negative non-NaN ones against `f64::tanh`, their negatives through
/// the exact-oddness check, and every NaN. In debug builds or with `RECUR_FAST_TEST=1`, only
/// every 65537th input.
#[test]
fn f32_every_input_within_one_ulp() {
    let level = recur_kernels::dispatch::level();
    let stride = if fast() { 65537 } else { 1 };
    let start = Instant::now();
    let w = f32_sweep(stride, level);
    eprintln!(
        "f32 tanh, 2^32 inputs / {stride} on {}: max error {:.4} ulp at x = {:e} \
         (y = {:e}), {:.1} s",
        level.name(),
        w.ulp,
        w.x,
        w.y,
        start.elapsed().as_secs_f64()
    );
    assert!(w.ulp <= 1.0, "{w:?}");
    // Every NaN bit pattern gives NaN (2²⁴ − 2 of them, both signs).
    let nans: Vec<f32> = (0x7f80_0001u32..=0x7fff_ffff)
        .chain(0xff80_0001..=0xffff_ffff)
        .step_by(stride as usize)
        .map(f32::from_bits)
        .collect();
    let mut y = vec![0.0f32; nans.len()];
    with_level(level, || tanh(&nans, &mut y)).unwrap();
    assert!(y.iter().all(|v| v.is_nan()));
}

// ---------------------------------------------------------------------------------------
// f64: a double-double reference.

/// An unevaluated sum `hi + lo` with `|lo| <= ulp(hi)/2`.
#[derive(Clone, Copy, Debug)]
struct Dd {
    hi: f64,
    lo: f64,
}

impl Dd {
    fn new(x: f64) -> Dd {
        Dd { hi: x, lo: 0.0 }
    }
    fn two_sum(a: f64, b: f64) -> Dd {
        let s = a + b;
        let bb = s - a;
        Dd {
            hi: s,
            lo: (a - (s - bb)) + (b - bb),
        }
    }
    fn fast(a: f64, b: f64) -> Dd {
        let s = a + b;
        Dd {
            hi: s,
            lo: b - (s - a),
        }
    }
    fn add(self, o: Dd) -> Dd {
        let s = Dd::two_sum(self.hi, o.hi);
        let t = Dd::two_sum(self.lo, o.lo);
        let u = Dd::fast(s.hi, s.lo + t.hi);
        Dd::fast(u.hi, u.lo + t.lo)
    }
    fn mul(self, o: Dd) -> Dd {
        let p = self.hi * o.hi;
        let e = self.hi.mul_add(o.hi, -p);
        Dd::fast(p, e + (self.hi * o.lo + self.lo * o.hi))
    }
    fn scale(self, s: f64) -> Dd {
        // s a power of two
        Dd {
            hi: self.hi * s,
            lo: self.lo * s,
        }
    }
    fn div(self, o: Dd) -> Dd {
        let q1 = self.hi / o.hi;
        let r = self.add(o.mul(Dd::new(-q1)));
        let q2 = r.hi / o.hi;
        let r = r.add(o.mul(Dd::new(-q2)));
        let q3 = r.hi / o.hi;
        Dd::fast(q1, q2).add(Dd::new(q3))
    }
}

/// `e^r − 1` for `|r| <= 0.35`, to about 2⁻¹⁰⁴ relative: Taylor on `r/2⁸`, then eight
/// squarings in the form `m ← 2m + m²` (which keeps the relative accuracy of `e^r − 1`).
fn expm1_dd(r: Dd) -> Dd {
    let s = r.scale(1.0 / 256.0);
    // m = s + s²/2! + … + s¹²/12!, by Horner on 1/n!
    let mut m = Dd::new(0.0);
    for n in (1..=12).rev() {
        // m = s/n · (1 + m)
        m = s.mul(Dd::new(1.0).add(m)).div(Dd::new(n as f64));
    }
    for _ in 0..8 {
        m = m.scale(2.0).add(m.mul(m));
    }
    m
}

/// `tanh(x)` for finite `x`, to about 2⁻¹⁰⁰ relative.
fn tanh_dd(x: f64) -> Dd {
    let a = x.abs();
    let t = if a == 0.0 || a < 1e-30 {
        // tanh(a) = a − a³/3 + …: a³ is at most 1e-90 relative.
        Dd::new(a).add(Dd::new(-(a * a * a) / 3.0))
    } else if a > 40.0 {
        Dd::new(1.0)
    } else {
        // E − 1 = e^{2a} − 1 = 2^k (1 + m) − 1 with m = e^r − 1, r = 2a − k ln 2.
        const LN2: Dd = Dd {
            hi: std::f64::consts::LN_2,
            lo: 2.319_046_813_846_299_6e-17,
        };
        let k = (2.0 * a / std::f64::consts::LN_2).round();
        let r = Dd::new(2.0 * a).add(LN2.mul(Dd::new(-k)));
        let m = expm1_dd(r);
        let p = 2f64.powi(k as i32);
        let em1 = m.scale(p).add(Dd::new(p)).add(Dd::new(-1.0));
        em1.div(em1.add(Dd::new(2.0)))
    };
    if x < 0.0 {
        Dd {
            hi: -t.hi,
            lo: -t.lo,
        }
    } else {
        t
    }
}

/// Error of `y` against the double-double `r`, in `ulp_f64(y)`.
fn err_f64(y: f64, r: Dd) -> f64 {
    ((y - r.hi) - r.lo).abs() / ulp_f64(y)
}

/// The f64 sample: `n` inputs of each kind below, both signs.
fn f64_sample(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    let top = 20f64.to_bits();
    let mut xs = Vec::with_capacity(4 * n + 64);
    for _ in 0..n {
        // uniform over the bit patterns in [0, 20]: every binade, subnormals included
        xs.push(f64::from_bits(rng.next_u64() % (top + 1)));
        // uniform over the values in [0, 20]
        xs.push(20.0 * rng.uniform_f64(0.0, 1.0));
        // around the switch between the two formulas, and in [0.5, 2], the hardest region
        xs.push(0.5 + 0.1 * rng.uniform_f64(0.0, 1.0));
        xs.push(0.5 + 1.5 * rng.uniform_f64(0.0, 1.0));
    }
    xs.extend([
        0.0,
        5e-324,
        f64::MIN_POSITIVE,
        1e-300,
        1e-8,
        0.5625,
        0.5625f64.next_up(),
        0.5625f64.next_down(),
        (0.5f64).atanh(),
        1.0,
        9.0,
        19.0,
        19.06,
        19.07,
        19.999,
        20.0,
    ]);
    let neg: Vec<f64> = xs.iter().map(|x| -x).collect();
    xs.extend(neg);
    xs
}

#[test]
fn f64_within_two_ulp_against_double_double() {
    // 4 kinds × n × 2 signs ≥ 10⁷ in release.
    let n = if fast() { 20_000 } else { 1_300_000 };
    let xs = f64_sample(n, 17);
    let start = Instant::now();
    let refs: Vec<Dd> = xs.par_iter().map(|&x| tanh_dd(x)).collect();
    eprintln!(
        "f64 double-double reference: {} inputs, {:.1} s",
        xs.len(),
        start.elapsed().as_secs_f64()
    );
    for level in available_levels() {
        let mut ys = vec![0.0f64; xs.len()];
        with_level(level, || tanh(&xs, &mut ys)).unwrap();
        let w = xs
            .par_iter()
            .zip(&ys)
            .zip(&refs)
            .map(|((&x, &y), &r)| {
                assert!(y.abs() <= 1.0, "|tanh({x:e})| = |{y:e}| > 1");
                Worst {
                    ulp: err_f64(y, r),
                    x,
                    y,
                }
            })
            .reduce(
                || Worst {
                    ulp: 0.0,
                    x: 0.0,
                    y: 0.0,
                },
                Worst::max,
            );
        eprintln!(
            "f64 tanh, {} inputs on {}: max error {:.4} ulp at x = {:e} (y = {:e})",
            xs.len(),
            level.name(),
            w.ulp,
            w.x,
            w.y,
        );
        assert!(w.ulp <= 2.0, "{w:?} on {}", level.name());
    }
}

// ---------------------------------------------------------------------------------------
// Special values, on every tier.

fn check_specials<T: recur_kernels::Float>(values: &[T], expect: impl Fn(T, T)) {
    for level in available_levels() {
        let mut ys = vec![T::ZERO; values.len()];
        with_level(level, || tanh(values, &mut ys)).unwrap();
        for (&x, &y) in values.iter().zip(&ys) {
            expect(x, y);
        }
        // in place and through the zero-padded tail, one at a time
        for (&x, &y) in values.iter().zip(&ys) {
            let mut one_elem = [x];
            with_level(level, || tanh_inplace(&mut one_elem));
            assert!(
                one_elem[0] == y || (y.is_nan() && one_elem[0].is_nan()),
                "{}: tail {:?} vs {:?}",
                level.name(),
                one_elem[0],
                y
            );
        }
    }
}

#[test]
fn special_values_f32() {
    let values = [
        f32::NAN,
        -f32::NAN,
        f32::from_bits(0x7f80_0001), // signalling NaN
        f32::INFINITY,
        f32::NEG_INFINITY,
        0.0,
        -0.0,
        f32::from_bits(1), // smallest subnormal
        -f32::from_bits(1),
        f32::from_bits(0x007f_ffff), // largest subnormal
        f32::MIN_POSITIVE,
        1e-30,
        -1e-20,
        2.4e-4, // tanh(x) == x below about 2.9e-4
        9.01,
        9.02,
        9.1,
        -9.1,
        10.0,
        10.5,
        100.0,
        -1e30,
        f32::MAX,
        f32::MIN,
    ];
    check_specials(&values, |x, y| {
        assert!(x.is_nan() || y.abs() <= 1.0, "tanh({x:e}) = {y:e}");
        if x.is_nan() {
            assert!(y.is_nan(), "tanh({x}) = {y}");
        } else if x.is_infinite() || x.abs() >= SAT_F32 {
            assert_eq!(y, x.signum(), "tanh({x:e}) must saturate");
        } else if x.abs() <= 2.4e-4 {
            assert_eq!(y.to_bits(), x.to_bits(), "tanh({x:e}) = {y:e}, want x");
        }
    });
}

#[test]
fn special_values_f64() {
    let values = [
        f64::NAN,
        -f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        0.0,
        -0.0,
        f64::from_bits(1),
        -f64::from_bits(1),
        f64::from_bits(0x000f_ffff_ffff_ffff),
        f64::MIN_POSITIVE,
        1e-300,
        -1e-20,
        1e-9, // tanh(x) == x below about 1.3e-8
        19.07,
        19.1,
        19.5,
        -19.5,
        20.0,
        21.0,
        1e300,
        f64::MAX,
        f64::MIN,
    ];
    check_specials(&values, |x, y| {
        assert!(x.is_nan() || y.abs() <= 1.0, "tanh({x:e}) = {y:e}");
        if x.is_nan() {
            assert!(y.is_nan(), "tanh({x}) = {y}");
        } else if x.is_infinite() || x.abs() >= SAT_F64 {
            assert_eq!(y, x.signum(), "tanh({x:e}) must saturate");
        } else if x.abs() <= 1e-9 {
            assert_eq!(y.to_bits(), x.to_bits(), "tanh({x:e}) = {y:e}, want x");
        }
    });
}

/// Every tier gives the same bits (same algorithm, all operations IEEE-exact), for every
/// slice length up to 150: every tail length, and every way out of the pipelined loop
/// (two blocks of 4 vectors, 128 elements on AVX-512 f32, then single vectors, then a
/// tail), out of place and in place.
#[test]
fn tiers_agree_bitwise_and_tails_match_lanes() {
    let mut rng = Rng::from_state(99);
    let xs: Vec<f32> = (0..100_000)
        .map(|_| {
            let r = rng.uniform_f32(0.0, 1.0);
            (r - 0.5) * 24.0 * r * r
        })
        .collect();
    let xd: Vec<f64> = xs.iter().map(|&x| x as f64 * 1.7).collect();
    let levels = available_levels();
    let run32 = |l: Level| {
        let mut y = vec![0.0f32; xs.len()];
        with_level(l, || tanh(&xs, &mut y)).unwrap();
        y
    };
    let run64 = |l: Level| {
        let mut y = vec![0.0f64; xd.len()];
        with_level(l, || tanh(&xd, &mut y)).unwrap();
        y
    };
    let (b32, b64) = (run32(Level::Scalar), run64(Level::Scalar));
    for &l in &levels {
        assert!(run32(l) == b32, "f32 {} differs from scalar", l.name());
        assert!(run64(l) == b64, "f64 {} differs from scalar", l.name());
        for n in 0..=150 {
            let mut y = vec![0.0f32; n];
            with_level(l, || tanh(&xs[..n], &mut y)).unwrap();
            assert_eq!(y, b32[..n], "f32 {} n = {n}", l.name());
            let mut y = xs[..n].to_vec();
            with_level(l, || tanh_inplace(&mut y));
            assert_eq!(y, b32[..n], "f32 in place {} n = {n}", l.name());
            let mut z = vec![0.0f64; n];
            with_level(l, || tanh(&xd[..n], &mut z)).unwrap();
            assert_eq!(z, b64[..n], "f64 {} n = {n}", l.name());
            let mut z = xd[..n].to_vec();
            with_level(l, || tanh_inplace(&mut z));
            assert_eq!(z, b64[..n], "f64 in place {} n = {n}", l.name());
        }
    }
}

/// `dx = dy·(1 − y²)` near saturation: exactly 0 at `y = ±1`, the fused form elsewhere.
#[test]
fn backward_near_saturation() {
    for level in available_levels() {
        let below_one = 1.0f32.next_down();
        let y = [1.0f32, -1.0, below_one, -below_one, 0.999, 0.0];
        let dy = [3.0f32, 3.0, 2.0, 2.0, 1.0, 5.0];
        let mut dx = [f32::NAN; 6];
        with_level(level, || tanh_backward(&y, &dy, &mut dx)).unwrap();
        assert_eq!(&dx[..2], &[0.0, 0.0], "{}", level.name());
        // 1 − (1 − 2⁻²⁴)² = 2⁻²³ − 2⁻⁴⁸, rounded once: 2⁻²³ (times dy = 2: 2⁻²²).
        assert_eq!(dx[2], 2.0 * (-below_one).mul_add(below_one, 1.0));
        assert_eq!(dx[2], 2f32.powi(-22));
        assert_eq!(dx[3], dx[2]);
        assert_eq!(dx[4], (-0.999f32).mul_add(0.999, 1.0));
        assert_eq!(dx[5], 5.0);

        // y computed by our own tanh at large x: the gradient vanishes, never negative.
        let xs: Vec<f64> = (0..200).map(|i| 15.0 + 0.03 * i as f64).collect();
        let mut ys = vec![0.0f64; xs.len()];
        with_level(level, || tanh(&xs, &mut ys)).unwrap();
        let dys = vec![1.0f64; xs.len()];
        let mut dxs = vec![f64::NAN; xs.len()];
        with_level(level, || tanh_backward(&ys, &dys, &mut dxs)).unwrap();
        for ((&x, &y), &d) in xs.iter().zip(&ys).zip(&dxs) {
            assert!(d >= 0.0, "{x}: {d}");
            if x >= SAT_F64 {
                assert_eq!((y, d), (1.0, 0.0), "{x}");
            } else {
                // 1 − y² = (1 − y)(1 + y), with 1 − y exact: within an ulp or two of that.
                let want = (1.0 - y) * (1.0 + y);
                assert!(
                    (d - want).abs() <= 2.0 * f64::EPSILON * want,
                    "{x}: {d} vs {want}"
                );
            }
        }
    }
}
