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
    let mut x = [0.5f32, -1.0, 0.0, 3.0];
    recur_kernels::tanh_inplace(&mut x);
    let want = [0.5f32, -1.0, 0.0, 3.0].map(|v| (v as f64).tanh() as f32);
    assert_eq!(x, want);
    let mut y = [0.25f64; 5];
    recur_kernels::tanh_inplace(&mut y);
    assert_eq!(y, [0.25f64.tanh(); 5]);
}
