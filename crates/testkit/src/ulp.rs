//! Units in the last place: the spacing of floating-point values at a value, and the
//! number of representable values between two numbers.

/// The spacing of `f32` values at `|y|`, as an `f64` (exact): `2^(e−23)` for `|y|` in the
/// binade `[2^e, 2^(e+1))`, `2^−149` for subnormals and zero. An error in ulp is then
/// `|y − exact| / ulp_f32(y)`. For infinities and NaN it is `2^105`, the formula applied to
/// their exponent field: not meaningful, but finite.
pub fn ulp_f32(y: f32) -> f64 {
    let e = ((y.to_bits() >> 23) & 0xff) as i32;
    2f64.powi(e.max(1) - 127 - 23)
}

/// The spacing of `f64` values at `|y|` (exact): `2^(e−52)` for `|y|` in `[2^e, 2^(e+1))`,
/// `2^−1074` for subnormals and zero; `2^972` for infinities and NaN (see [`ulp_f32`]).
pub fn ulp_f64(y: f64) -> f64 {
    let e = ((y.to_bits() >> 52) & 0x7ff) as i32;
    2f64.powi(e.max(1) - 1023 - 52)
}

/// The position of `x` in the order of all `f32` bit patterns by value: `2³¹ ± |bits|`,
/// so that `-0` and `+0` coincide and neighbouring values differ by one.
fn order_f32(x: f32) -> u32 {
    let bits = x.to_bits();
    let magnitude = bits & 0x7fff_ffff;
    if bits >> 31 == 1 {
        0x8000_0000 - magnitude
    } else {
        0x8000_0000 + magnitude
    }
}

/// The same for `f64`: `2⁶³ ± |bits|`.
fn order_f64(x: f64) -> u64 {
    let bits = x.to_bits();
    let magnitude = bits & 0x7fff_ffff_ffff_ffff;
    if bits >> 63 == 1 {
        0x8000_0000_0000_0000 - magnitude
    } else {
        0x8000_0000_0000_0000 + magnitude
    }
}

/// How many `f32` values apart `a` and `b` are, for any signs: 0 for equal values (`-0`
/// and `+0` included), 1 for neighbours, `2` for the smallest subnormals `-2^−149` and
/// `2^−149`. NaNs are not special-cased: ordered by their bits, beyond the infinity of
/// their sign, so a NaN is at least one ulp from every other value and 0 only from the
/// same NaN bit pattern; callers that mean "both NaN" check that first.
pub fn ulps_between_f32(a: f32, b: f32) -> u64 {
    u64::from(order_f32(a).abs_diff(order_f32(b)))
}

/// How many `f64` values apart `a` and `b` are (see [`ulps_between_f32`], also for NaN).
/// Never more than `2⁶⁴ − 2`, the distance between the two NaNs of largest magnitude.
pub fn ulps_between_f64(a: f64, b: f64) -> u64 {
    order_f64(a).abs_diff(order_f64(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulp_sizes() {
        assert_eq!(ulp_f32(1.0), 2f64.powi(-23));
        assert_eq!(ulp_f32(1.0f32.next_down()), 2f64.powi(-24));
        assert_eq!(ulp_f32(-3.0), 2f64.powi(-22));
        assert_eq!(ulp_f32(0.0), 2f64.powi(-149));
        assert_eq!(ulp_f32(f32::from_bits(1)), 2f64.powi(-149));
        assert_eq!(ulp_f32(f32::MIN_POSITIVE), 2f64.powi(-149));
        assert_eq!(ulp_f32(f32::MAX), 2f64.powi(104));
        assert_eq!(ulp_f64(1.0), f64::EPSILON);
        assert_eq!(ulp_f64(-0.75), f64::EPSILON / 2.0);
        assert_eq!(ulp_f64(0.0), 2f64.powi(-1074));
        assert_eq!(ulp_f64(f64::MAX), 2f64.powi(971));
        // Both are the gap to the next value up in magnitude.
        for y in [1e-30f32, 0.3, 7.0, 1e30] {
            assert_eq!(ulp_f32(y), f64::from(y.next_up()) - f64::from(y));
        }
        for y in [1e-300f64, 0.3, 7.0, 1e300] {
            assert_eq!(ulp_f64(y), y.next_up() - y);
        }
    }

    /// The helpers they replace, from the fuzz targets: the distance of the signed keys
    /// `±|bits|`, in a wider integer.
    fn old_f32(a: f32, b: f32) -> u64 {
        let key = |x: f32| {
            let i = x.to_bits() as i32;
            if i < 0 {
                i64::from(i32::MIN) - i64::from(i)
            } else {
                i64::from(i)
            }
        };
        (key(a) - key(b)).unsigned_abs()
    }
    fn old_f64(a: f64, b: f64) -> u128 {
        let key = |x: f64| {
            let i = x.to_bits() as i64;
            if i < 0 {
                i128::from(i64::MIN) - i128::from(i)
            } else {
                i128::from(i)
            }
        };
        (key(a) - key(b)).unsigned_abs()
    }

    #[test]
    fn distances() {
        assert_eq!(ulps_between_f32(1.0, 1.0), 0);
        assert_eq!(ulps_between_f32(0.0, -0.0), 0);
        assert_eq!(ulps_between_f32(1.0, 1.0f32.next_up()), 1);
        assert_eq!(ulps_between_f32(1.0f32.next_down(), 1.0f32.next_up()), 2);
        assert_eq!(ulps_between_f32(-f32::from_bits(1), f32::from_bits(1)), 2);
        assert_eq!(ulps_between_f32(f32::MAX, f32::INFINITY), 1);
        assert_eq!(
            ulps_between_f32(f32::NEG_INFINITY, f32::INFINITY),
            2 * 0x7f80_0000
        );
        assert_eq!(ulps_between_f64(-0.0, 0.0), 0);
        assert_eq!(ulps_between_f64(1.0, 1.0f64.next_up()), 1);
        assert_eq!(ulps_between_f64(-f64::from_bits(1), f64::from_bits(1)), 2);
        assert_eq!(ulps_between_f64(-1.0, 1.0), 2 * 1.0f64.to_bits());
        let (max_nan, min_nan) = (f64::from_bits(u64::MAX >> 1), f64::from_bits(u64::MAX));
        assert_eq!(ulps_between_f64(min_nan, max_nan), u64::MAX - 1);
        assert!(ulps_between_f32(f32::NAN, f32::INFINITY) >= 1);
        assert!(ulps_between_f64(f64::NAN, f64::MAX) >= 2);
        // The same as the fuzz targets' helpers everywhere, NaN bit patterns included.
        let f32s = [
            0.0f32,
            -0.0,
            1.0,
            -1.0,
            0.1,
            -7.5,
            f32::MAX,
            f32::MIN,
            f32::from_bits(1),
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            -f32::NAN,
            f32::from_bits(0x7f80_0001),
        ];
        for &a in &f32s {
            for &b in &f32s {
                assert_eq!(ulps_between_f32(a, b), old_f32(a, b), "{a:e} {b:e}");
            }
        }
        let f64s = [
            0.0f64,
            -0.0,
            1.0,
            -1.0,
            0.1,
            -7.5,
            f64::MAX,
            f64::MIN,
            f64::from_bits(1),
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -f64::NAN,
            f64::from_bits(u64::MAX),
        ];
        for &a in &f64s {
            for &b in &f64s {
                assert_eq!(
                    u128::from(ulps_between_f64(a, b)),
                    old_f64(a, b),
                    "{a:e} {b:e}"
                );
            }
        }
    }
}
