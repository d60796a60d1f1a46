//! Regressions found by the fuzz targets in the kernels.
//!
//! `PackedB::new` / `PackedB::repack` of a `(k, 0)` matrix (no columns, `k > 0`) panics in
//! builds with debug assertions (`cargo test`, the fuzz builds): `pack_b` asserts that its
//! destination holds `kc * nr` elements even when there is no panel to write, and
//! `repack` computes `k * nr` unchecked. Release builds (no debug assertions, wrapping
//! arithmetic) gave the right, empty, result, so this failed only in debug builds. Found
//! by `cargo fuzz run gemm` (input: `m = 50, n = 0, k = 2`, `Entry::Packed`); fixed by
//! skipping the packing of an empty operand.

use recur_kernels::dispatch::{available_levels, with_level};
use recur_kernels::{gemm_packed, Epilogue, MatMut, MatRef, PackedB, Parallelism};

#[test]
fn packing_a_matrix_without_columns_does_not_panic() {
    for level in available_levels() {
        with_level(level, || {
            let empty: [f32; 0] = [];
            let b = MatRef::from_slice(&empty, 3, 0).unwrap(); // (k, n) = (3, 0)
            let packed = PackedB::new(b).unwrap();
            assert_eq!((packed.rows(), packed.cols()), (3, 0));
            let a = [1.0f32; 6];
            let mut c: [f32; 0] = [];
            gemm_packed(
                1.0,
                MatRef::from_slice(&a, 2, 3).unwrap(),
                &packed,
                0.0,
                MatMut::from_slice(&mut c, 2, 0).unwrap(),
                Epilogue::None,
                Parallelism::Serial,
            )
            .unwrap();
            // Repacking into an existing operand takes the same path.
            let mut p = PackedB::new(MatRef::from_slice(&[1.0f32], 1, 1).unwrap()).unwrap();
            p.repack(b).unwrap();
            assert_eq!((p.rows(), p.cols()), (3, 0));
        });
    }
}

#[test]
fn packing_a_huge_matrix_without_columns_does_not_overflow() {
    // A (usize::MAX, 0) view addresses nothing and is valid; packing it needs no memory.
    let empty: [f64; 0] = [];
    let b = MatRef::from_strided(&empty, usize::MAX, 0, 1, 1).unwrap();
    match PackedB::new(b) {
        Ok(p) => assert_eq!((p.rows(), p.cols()), (usize::MAX, 0)),
        Err(e) => assert!(e.to_string().contains("`b`"), "{e}"),
    }
}
