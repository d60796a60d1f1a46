//! Regression tests for undefined behaviour Miri found (issue #7). They pass natively;
//! their point is `cargo +nightly miri test -p recur-kernels --test miri_regressions`.
//!
//! `tanh_inplace` used to build its source pointer with `self.y.as_ptr()` and then its
//! destination with `self.y.as_mut_ptr()`; the second (a unique reborrow of the whole
//! slice) invalidated the first under Stacked Borrows, so every later read through the
//! source pointer was UB ("attempting a read access using <tag> ... but that tag does not
//! exist in the borrow stack"). `TanhOp::with_simd` now derives the source from the
//! destination pointer.

#[test]
fn tanh_inplace_reads_through_a_valid_pointer() {
    // Values checked with a tolerance, not bits: Miri deliberately perturbs the libm
    // functions (`f64::tanh`) that give the expected values by a few ulp.
    let mut x = [0.5f32, -1.0, 0.0, 3.0];
    recur_kernels::tanh_inplace(&mut x);
    for (got, v) in x.iter().zip([0.5f64, -1.0, 0.0, 3.0]) {
        assert!(
            (f64::from(*got) - v.tanh()).abs() <= 1e-6,
            "tanh({v}) = {got}"
        );
    }
    let mut y = [0.25f64; 5];
    recur_kernels::tanh_inplace(&mut y);
    for got in y {
        assert!((got - 0.25f64.tanh()).abs() <= 1e-14, "tanh(0.25) = {got}");
    }
}
