//! Undefined behaviour found by Miri (issue #7) in code that is being rewritten elsewhere
//! (`src/tanh.rs`), kept as a failing test until its owners fix it. It passes natively;
//! it fails under `cargo +nightly miri test -p recur-kernels --test miri_regressions`.
//!
//! `tanh_inplace` builds its source pointer with `self.y.as_ptr()` and then its destination
//! with `self.y.as_mut_ptr()`; the second (a unique reborrow of the whole slice) invalidates
//! the first under Stacked Borrows, so every later read through the source pointer is UB:
//! "attempting a read access using <tag> ... but that tag does not exist in the borrow
//! stack for this location" (`TanhOp::with_simd`, `src/tanh.rs`). Deriving the source
//! from the destination pointer (`dst as *const T`) would fix it.

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
