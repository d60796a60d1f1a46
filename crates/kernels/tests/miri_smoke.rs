//! A small tour of every unsafe path of the kernels, sized for Miri (issue #7): GEMM with
//! row-major, column-major, padded and broadcast operands, every epilogue, a `PackedB`,
//! sizes on both sides of the tiles, and tanh / tanh_backward on every tail length and
//! through the pipelined slice loop, in place too. Run natively it is a quick test; under
//! Miri (scalar tier: `RECUR_SIMD=scalar`) it checks the raw-pointer code for
//! out-of-bounds and aliasing violations.
//!
//! Every call is `Parallelism::Serial` (so not `gemm`, which uses `Auto`): `Auto` asks
//! rayon for its thread count, which starts the global pool, and crossbeam-epoch's worker
//! code trips Miri's Stacked Borrows checker (a known issue outside recur).

use recur_kernels::reference::gemm_reference;
use recur_kernels::{
    gemm_packed, gemm_with, tanh, tanh_backward, tanh_inplace, Epilogue, MatMut, MatRef, PackedB,
    Parallelism,
};
use recur_testkit::ulps_between_f32;

/// `rows x cols` operand with strides `(rs, cs)` inside a slice padded with NaN guards.
fn operand(rows: usize, cols: usize, rs: usize, cs: usize, seed: usize) -> Vec<f64> {
    let len = if rows == 0 || cols == 0 {
        1
    } else {
        (rows - 1) * rs + (cols - 1) * cs + 2
    };
    let mut d = vec![f64::NAN; len];
    for i in 0..rows {
        for j in 0..cols {
            d[i * rs + j * cs] = ((i * 7 + j * 3 + seed) % 9) as f64 - 4.0;
        }
    }
    d
}

fn layouts(rows: usize, cols: usize) -> [(usize, usize); 3] {
    [(cols + 1, 1), (1, rows + 2), (cols * 2, 2)]
}

/// f32 with C of one column: on AVX2 the column path transposes a row-major A in
/// registers (8 columns at a time, then one at a time), 33 rows (groups of 8 and 32, the
/// last one clamped); a column-major A is read in place.
#[test]
fn gemm_one_column_f32() {
    let (m, k) = (33, 19);
    for (rsa, csa) in [(k + 1, 1), (1, m + 2)] {
        let a: Vec<f32> = operand(m, k, rsa, csa, 6)
            .iter()
            .map(|&x| x as f32)
            .collect();
        let b: Vec<f32> = operand(k, 1, 1, 1, 7).iter().map(|&x| x as f32).collect();
        let av = MatRef::from_strided(&a, m, k, rsa, csa).unwrap();
        let bv = MatRef::from_slice(&b[..k], k, 1).unwrap();
        let mut want = vec![0.5f32; m];
        gemm_reference(
            1.0,
            av,
            bv,
            2.0,
            MatMut::from_slice(&mut want, m, 1).unwrap(),
        )
        .unwrap();
        let mut c = vec![0.5f32; m];
        let cv = MatMut::from_slice(&mut c, m, 1).unwrap();
        gemm_with(1.0, av, bv, 2.0, cv, Epilogue::None, Parallelism::Serial).unwrap();
        assert_eq!(c, want, "A strides ({rsa}, {csa})");
    }
}

#[test]
fn gemm_layouts_epilogues_and_packing() {
    // Small m, n, k on both sides of MR x NR = 4 x 4 (scalar) and 6 x 8 / 6 x 4 (AVX2).
    for &(m, n, k) in &[
        (0, 3, 2),
        (3, 0, 2),
        (2, 3, 0),
        (1, 1, 1),
        (5, 9, 3),
        (7, 5, 2),
        // One row panel of four rows, wide enough for wide tiles (4 x 3 vectors: 3
        // columns on the scalar tier, 12 on AVX2 f64) and a narrower tile after them.
        (4, 13, 1),
        // One column: the column path (A transposed through its buffer).
        (9, 1, 5),
    ] {
        for (ai, &(rsa, csa)) in layouts(m, k).iter().enumerate() {
            for (ci, &(rsc, csc)) in layouts(m, n).iter().enumerate() {
                let (rsb, csb) = layouts(k, n)[(ai + ci) % 3];
                let a = operand(m, k, rsa, csa, 1);
                let b = operand(k, n, rsb, csb, 2);
                let av = MatRef::from_strided(&a, m, k, rsa, csa).unwrap();
                let bv = MatRef::from_strided(&b, k, n, rsb, csb).unwrap();
                let c0 = operand(m, n, rsc, csc, 3);
                let mut want = c0.clone();
                let wv = MatMut::from_strided(&mut want, m, n, rsc, csc).unwrap();
                gemm_reference(2.0, av, bv, 0.5, wv).unwrap();
                // Integer inputs: every result is exact.
                let mut c = c0.clone();
                let cv = MatMut::from_strided(&mut c, m, n, rsc, csc).unwrap();
                gemm_with(2.0, av, bv, 0.5, cv, Epilogue::None, Parallelism::Serial).unwrap();
                assert_eq!(format!("{c:?}"), format!("{want:?}"), "{m} {n} {k}");
                let bias: Vec<f64> = (0..n).map(|j| j as f64).collect();
                let e = operand(m, n, rsc, csc, 4);
                let y = operand(m, n, n + 1, 1, 5);
                let epilogues = [
                    Epilogue::Bias(&bias),
                    Epilogue::Tanh,
                    Epilogue::BiasTanh(&bias),
                    Epilogue::TanhBackward {
                        e: MatRef::from_strided(&e, m, n, rsc, csc).unwrap(),
                        y: MatRef::from_strided(&y, m, n, n + 1, 1).unwrap(),
                    },
                ];
                let packed = PackedB::new(bv).unwrap();
                for epi in epilogues {
                    let mut c1 = c0.clone();
                    let cv = MatMut::from_strided(&mut c1, m, n, rsc, csc).unwrap();
                    gemm_with(1.0, av, bv, 0.0, cv, epi, Parallelism::Serial).unwrap();
                    let mut c2 = c0.clone();
                    let cv = MatMut::from_strided(&mut c2, m, n, rsc, csc).unwrap();
                    gemm_packed(1.0, av, &packed, 0.0, cv, epi, Parallelism::Serial).unwrap();
                    for i in 0..m {
                        for j in 0..n {
                            let (x1, x2) = (c1[i * rsc + j * csc], c2[i * rsc + j * csc]);
                            assert!(x1.is_finite() && x2.is_finite());
                            assert!((x1 - x2).abs() <= 1e-12 * (1.0 + x1.abs()));
                        }
                    }
                }
            }
        }
    }
    // A broadcast A (row stride 0) and a transposed B.
    let a = [1.0f32, 2.0];
    let bt = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]; // (3, 2), used as (2, 3)
    let mut c = [f32::NAN; 12];
    gemm_with(
        1.0,
        MatRef::from_strided(&a, 4, 2, 0, 1).unwrap(),
        MatRef::from_slice(&bt, 3, 2).unwrap().t(),
        0.0,
        MatMut::from_slice(&mut c, 4, 3).unwrap(),
        Epilogue::None,
        Parallelism::Serial,
    )
    .unwrap();
    assert_eq!(&c[..3], &[5.0, 11.0, 17.0]);
    assert_eq!(&c[9..], &[5.0, 11.0, 17.0]);
}

/// The packed path where the first row panel's micro-kernel packs B as it reads it in
/// place (C at most 8 strips wide, A read in place), with a partial strip at the right
/// edge or none, and a second reduction block (k > KC = 256). The skinny path's use of the same
/// kernel needs 8 row panels and more than 8 strips, and the packed path's with several A
/// blocks more than `MC` rows, 30 times the work: the native tests and AddressSanitizer
/// cover them (`skinny_path_matches_packed_path_bit_for_bit`, with blockings of `MR` and
/// `2·MR` rows).
#[test]
fn gemm_b_packed_by_the_first_row_panel() {
    for &(m, k, n) in &[(7, 260, 20), (1, 300, 16)] {
        let a = operand(m, k, k + 1, 1, 1);
        let b = operand(k, n, n + 3, 1, 2);
        let av = MatRef::from_strided(&a, m, k, k + 1, 1).unwrap();
        let bv = MatRef::from_strided(&b, k, n, n + 3, 1).unwrap();
        let c0 = operand(m, n, n, 1, 3);
        let mut want = c0.clone();
        let wv = MatMut::from_strided(&mut want, m, n, n, 1).unwrap();
        gemm_reference(2.0, av, bv, 0.5, wv).unwrap();
        let mut c = c0.clone();
        let cv = MatMut::from_strided(&mut c, m, n, n, 1).unwrap();
        gemm_with(2.0, av, bv, 0.5, cv, Epilogue::None, Parallelism::Serial).unwrap();
        // Integer inputs: every result is exact.
        assert_eq!(format!("{c:?}"), format!("{want:?}"), "{m} {k} {n}");
    }
}

#[test]
fn tanh_every_tail_length() {
    // Every tail length of the vector tiers, then lengths that run the pipelined slice loop
    // (two or more blocks of 2 vectors: from 32 elements on AVX2, 64 on AVX-512).
    for n in (0..=17).chain([31, 32, 33, 48, 50, 67]) {
        let x: Vec<f32> = (0..n).map(|i| i as f32 * 0.3 - 2.0).collect();
        let mut y = vec![0.0f32; n];
        tanh(&x, &mut y).unwrap();
        for (xi, yi) in x.iter().zip(&y) {
            // The documented bound: within 1 ulp of the correctly rounded tanh. Under Miri,
            // which perturbs libm results (the `f64::tanh` reference) by a few ulp of f64,
            // the reference itself can be off by an f32 ulp in rare cases.
            let want = (*xi as f64).tanh() as f32;
            let ulps = ulps_between_f32(*yi, want);
            let bound = if cfg!(miri) { 2 } else { 1 };
            assert!(
                ulps <= bound,
                "tanh({xi}) = {yi}, want {want} ({bound} ulp)"
            );
        }
        let dy = vec![2.0f32; n];
        let mut dx = vec![0.0f32; n];
        tanh_backward(&y, &dy, &mut dx).unwrap();
        for i in 0..n {
            assert_eq!(dx[i], 2.0 * (-y[i]).mul_add(y[i], 1.0));
        }
        // Misaligned sub-slices.
        if n > 1 {
            let mut buf = vec![0.0f32; n + 1];
            tanh(&x[1..], &mut buf[1..n]).unwrap();
            assert_eq!(&buf[1..n], &y[1..]);
        }
        // In place: the loop reads each block before it writes the block before it.
        let mut z = x.clone();
        tanh_inplace(&mut z);
        assert_eq!(z, y);
    }
}
