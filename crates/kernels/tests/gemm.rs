//! GEMM against the f64 naive reference and matrixmultiply, on every SIMD tier this machine
//! has: all small shapes, shapes around every block size, every layout of A, B and C,
//! padded strides with NaN guard cells, alpha/beta in {0, 1, other}, packed B, epilogues,
//! and thread-count determinism.

use recur_kernels::dispatch::{available_levels, with_level};
use recur_kernels::reference::gemm_reference;
use recur_kernels::{
    gemm, gemm_packed, gemm_with, tanh_inplace, Epilogue, Float, Level, MatMut, MatRef, PackedB,
    Parallelism,
};
use recur_testkit::{fast, Rng};

/// Storage of one operand: row-major or column-major, with `pad` extra elements between
/// consecutive rows (columns) filled with NaN guards.
#[derive(Clone, Copy, Debug)]
struct Layout {
    col_major: bool,
    pad: usize,
}

struct Stored<T> {
    data: Vec<T>,
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<T: Float> Stored<T> {
    fn new(rows: usize, cols: usize, l: Layout, mut val: impl FnMut(usize, usize) -> T) -> Self {
        let (rs, cs) = if l.col_major {
            (1, rows + l.pad)
        } else {
            (cols + l.pad, 1)
        };
        let len = if rows == 0 || cols == 0 {
            0
        } else {
            (rows - 1) * rs + (cols - 1) * cs + 1 + l.pad
        };
        let mut data = vec![T::NAN; len];
        for i in 0..rows {
            for j in 0..cols {
                data[i * rs + j * cs] = val(i, j);
            }
        }
        Stored {
            data,
            rows,
            cols,
            rs,
            cs,
        }
    }
    fn view(&self) -> MatRef<'_, T> {
        MatRef::from_strided(&self.data, self.rows, self.cols, self.rs, self.cs).unwrap()
    }
    fn view_mut(&mut self) -> MatMut<'_, T> {
        MatMut::from_strided(&mut self.data, self.rows, self.cols, self.rs, self.cs).unwrap()
    }
    fn get(&self, i: usize, j: usize) -> T {
        self.data[i * self.rs + j * self.cs]
    }
    /// Every element outside the view is still NaN.
    fn guards_intact(&self) -> bool {
        let mut inside = vec![false; self.data.len()];
        for i in 0..self.rows {
            for j in 0..self.cols {
                inside[i * self.rs + j * self.cs] = true;
            }
        }
        self.data
            .iter()
            .zip(&inside)
            .all(|(v, &ins)| ins || v.is_nan())
    }
}

const LAYOUTS: [Layout; 4] = [
    Layout {
        col_major: false,
        pad: 0,
    },
    Layout {
        col_major: true,
        pad: 0,
    },
    Layout {
        col_major: false,
        pad: 3,
    },
    Layout {
        col_major: true,
        pad: 2,
    },
];

/// Runs one integer-valued case: the result must equal the reference exactly, C = NaN
/// must not leak when beta = 0, and the guard cells must survive.
#[allow(clippy::too_many_arguments)]
fn check_exact<T: Float>(
    rng: &mut Rng,
    m: usize,
    k: usize,
    n: usize,
    la: Layout,
    lb: Layout,
    lc: Layout,
    alpha: f64,
    beta: f64,
) {
    let a = Stored::<T>::new(m, k, la, |_, _| T::from_f64(rng.int(4)));
    let b = Stored::<T>::new(k, n, lb, |_, _| T::from_f64(rng.int(4)));
    let c_init = |rng: &mut Rng| {
        Stored::<T>::new(m, n, lc, |_, _| {
            if beta == 0.0 {
                T::NAN
            } else {
                T::from_f64(rng.int(4))
            }
        })
    };
    let mut c = c_init(rng);
    let mut want = Stored::<T>::new(m, n, lc, |i, j| c.get(i, j));
    let (alpha, beta) = (T::from_f64(alpha), T::from_f64(beta));
    gemm(alpha, a.view(), b.view(), beta, c.view_mut()).unwrap();
    gemm_reference(alpha, a.view(), b.view(), beta, want.view_mut()).unwrap();
    for i in 0..m {
        for j in 0..n {
            assert_eq!(
                c.get(i, j).to_f64().to_bits(),
                want.get(i, j).to_f64().to_bits(),
                "{} m={m} k={k} n={n} {la:?} {lb:?} {lc:?} alpha={alpha} beta={beta} at ({i}, {j}): {} vs {}",
                recur_kernels::simd_level(),
                c.get(i, j),
                want.get(i, j)
            );
        }
    }
    assert!(c.guards_intact(), "guard cells of C overwritten");
}

fn every_tier(f: impl Fn(Level)) {
    for level in available_levels() {
        with_level(level, || f(level));
    }
}

#[test]
fn all_small_shapes_every_tier() {
    let max = if fast() { 6 } else { 17 };
    every_tier(|level| {
        let mut rng = Rng::new(1 + level as u64);
        let mut case = 0usize;
        for m in 0..=max {
            for k in 0..=max {
                for n in 0..=max {
                    let la = LAYOUTS[case % 4];
                    let lb = LAYOUTS[(case / 4) % 4];
                    let lc = LAYOUTS[(case / 16) % 4];
                    let (alpha, beta) =
                        [(1.0, 0.0), (1.0, 1.0), (-0.5, 2.0), (2.0, 0.0), (0.0, -1.0)][case % 5];
                    check_exact::<f32>(&mut rng, m, k, n, la, lb, lc, alpha, beta);
                    check_exact::<f64>(&mut rng, m, k, n, la, lb, lc, alpha, beta);
                    case += 1;
                }
            }
        }
    });
}

#[test]
fn every_layout_combination() {
    every_tier(|level| {
        let mut rng = Rng::new(100 + level as u64);
        for &(m, k, n) in &[(7, 5, 9), (13, 17, 33), (1, 19, 16), (25, 3, 1)] {
            for la in LAYOUTS {
                for lb in LAYOUTS {
                    for lc in LAYOUTS {
                        for (alpha, beta) in [(1.0, 0.0), (0.5, 1.0), (-1.5, 0.25)] {
                            check_exact::<f32>(&mut rng, m, k, n, la, lb, lc, alpha, beta);
                            check_exact::<f64>(&mut rng, m, k, n, la, lb, lc, alpha, beta);
                        }
                    }
                }
            }
        }
    });
}

#[test]
fn sizes_around_block_sizes_and_primes() {
    // Both sides of every MR, NR, KC, MC of the tiers, plus primes.
    let sizes: &[usize] = &[
        1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 15, 16, 17, 23, 24, 25, 31, 32, 33, 47, 63, 64, 65,
        71, 72, 73, 95, 96, 97, 127, 143, 144, 145, 255, 256, 257, 383, 384, 385,
    ];
    let cases = if fast() { 20 } else { 160 };
    every_tier(|level| {
        let mut rng = Rng::new(200 + level as u64);
        for case in 0..cases {
            let m = sizes[rng.below(sizes.len())];
            let k = sizes[rng.below(sizes.len())];
            let n = sizes[rng.below(sizes.len())];
            let la = LAYOUTS[rng.below(4)];
            let lb = LAYOUTS[rng.below(4)];
            let lc = LAYOUTS[rng.below(4)];
            let (alpha, beta) = [(1.0, 0.0), (1.0, 1.0), (0.5, -2.0)][case % 3];
            check_exact::<f32>(&mut rng, m, k, n, la, lb, lc, alpha, beta);
            check_exact::<f64>(&mut rng, m, k, n, la, lb, lc, alpha, beta);
        }
    });
}

#[test]
fn large_k_and_n_blocks() {
    // k beyond KC (several reduction blocks), n beyond NC (several column blocks: NC comes
    // from the CPU's caches, at most 8192 columns).
    every_tier(|level| {
        if fast() && level == Level::Scalar {
            return;
        }
        let mut rng = Rng::new(300 + level as u64);
        let row = LAYOUTS[0];
        check_exact::<f32>(&mut rng, 9, 1000, 37, row, row, row, 1.0, 1.0);
        check_exact::<f32>(&mut rng, 5, 20, 8300, row, row, LAYOUTS[3], 1.0, 0.0);
        check_exact::<f64>(&mut rng, 150, 530, 70, LAYOUTS[1], row, row, -1.0, 0.5);
        // Both at once (beta applied once per column block, in its first reduction block),
        // B column-major so that no tier takes the unpacked small path.
        check_exact::<f32>(&mut rng, 3, 400, 8300, row, LAYOUTS[1], row, 1.0, 0.5);
    });
}

fn rel_close(got: f64, want: f64, scale: f64, tol: f64) -> bool {
    (got - want).abs() <= tol * scale.max(f64::MIN_POSITIVE)
}

#[test]
fn random_values_within_k_scaled_tolerance_and_matrixmultiply() {
    every_tier(|level| {
        let mut rng = Rng::new(400 + level as u64);
        for &(m, k, n) in &[(33, 129, 65), (64, 256, 64), (1, 500, 3), (100, 7, 100)] {
            let a = rng.vec_f32(m * k, -1.0, 1.0);
            let b = rng.vec_f32(k * n, -1.0, 1.0);
            let mut c = vec![0.0f32; m * n];
            let mut mm = vec![0.0f32; m * n];
            gemm(
                1.0,
                MatRef::from_slice(&a, m, k).unwrap(),
                MatRef::from_slice(&b, k, n).unwrap(),
                0.0,
                MatMut::from_slice(&mut c, m, n).unwrap(),
            )
            .unwrap();
            // SAFETY: the pointers and strides describe the three row-major buffers above.
            unsafe {
                matrixmultiply::sgemm(
                    m,
                    k,
                    n,
                    1.0,
                    a.as_ptr(),
                    k as isize,
                    1,
                    b.as_ptr(),
                    n as isize,
                    1,
                    0.0,
                    mm.as_mut_ptr(),
                    n as isize,
                    1,
                );
            }
            for i in 0..m {
                for j in 0..n {
                    let exact: f64 = (0..k)
                        .map(|p| a[i * k + p] as f64 * b[p * n + j] as f64)
                        .sum();
                    let scale: f64 = (0..k)
                        .map(|p| (a[i * k + p] as f64 * b[p * n + j] as f64).abs())
                        .sum();
                    let tol = (k as f64 + 2.0) * f32::EPSILON as f64;
                    assert!(
                        rel_close(c[i * n + j] as f64, exact, scale, tol),
                        "ours ({i},{j})"
                    );
                    assert!(
                        rel_close(mm[i * n + j] as f64, exact, scale, tol),
                        "mm ({i},{j})"
                    );
                }
            }
        }
    });
}

#[test]
fn beta_zero_never_reads_c() {
    every_tier(|_| {
        for &(m, k, n) in &[(5, 3, 4), (17, 9, 33), (6, 0, 16)] {
            let a = vec![1.0f64; m * k];
            let b = vec![1.0f64; k * n];
            let mut c = vec![f64::NAN; m * n];
            gemm(
                2.0,
                MatRef::from_slice(&a, m, k).unwrap(),
                MatRef::from_slice(&b, k, n).unwrap(),
                0.0,
                MatMut::from_slice(&mut c, m, n).unwrap(),
            )
            .unwrap();
            assert!(c.iter().all(|&v| v == 2.0 * k as f64), "{m} {k} {n}: {c:?}");
        }
    });
}

#[test]
fn metamorphic_ab_plus_2ab_is_3ab() {
    every_tier(|level| {
        let mut rng = Rng::new(500 + level as u64);
        let (m, k, n) = (23, 41, 19);
        let a: Vec<f64> = (0..m * k).map(|_| rng.int(4)).collect();
        let b: Vec<f64> = (0..k * n).map(|_| rng.int(4)).collect();
        let av = MatRef::from_slice(&a, m, k).unwrap();
        let bv = MatRef::from_slice(&b, k, n).unwrap();
        let mut c = vec![0.0f64; m * n];
        gemm(1.0, av, bv, 0.0, MatMut::from_slice(&mut c, m, n).unwrap()).unwrap();
        gemm(2.0, av, bv, 1.0, MatMut::from_slice(&mut c, m, n).unwrap()).unwrap();
        let mut c3 = vec![0.0f64; m * n];
        gemm(3.0, av, bv, 0.0, MatMut::from_slice(&mut c3, m, n).unwrap()).unwrap();
        assert_eq!(c, c3);
    });
}

/// f64 value of `alpha·A·B + beta·C` followed by an epilogue, element by element.
#[allow(clippy::too_many_arguments)]
fn epilogue_reference(
    a: &[f64],
    b: &[f64],
    c0: &[f64],
    m: usize,
    k: usize,
    n: usize,
    alpha: f64,
    beta: f64,
    f: &dyn Fn(usize, usize, f64) -> f64,
) -> Vec<f64> {
    let mut out = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            let ab: f64 = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            let v = alpha * ab
                + if beta == 0.0 {
                    0.0
                } else {
                    beta * c0[i * n + j]
                };
            out[i * n + j] = f(i, j, v);
        }
    }
    out
}

#[test]
fn packed_b_and_every_epilogue() {
    every_tier(|level| {
        let mut rng = Rng::new(600 + level as u64);
        for &(m, k, n) in &[
            (1, 1, 1),
            (5, 3, 4),
            (20, 65, 33),
            (7, 300, 17),
            (0, 3, 3),
            (4, 0, 5),
        ] {
            let a = rng.vec_f64(m * k, -1.0, 1.0);
            let b = rng.vec_f64(k * n, -1.0, 1.0);
            let c0 = rng.vec_f64(m * n, -1.0, 1.0);
            let bias = rng.vec_f64(n, -1.0, 1.0);
            let e = rng.vec_f64(m * n, -1.0, 1.0);
            let y = rng.vec_f64(m * n, -1.0, 1.0);
            let packed = PackedB::new(MatRef::from_slice(&b, k, n).unwrap()).unwrap();
            assert_eq!((packed.rows(), packed.cols()), (k, n));
            let ev = MatRef::from_slice(&e, m, n).unwrap();
            let yv = MatRef::from_slice(&y, m, n).unwrap();
            type Case<'a> = (
                Epilogue<'a, f64>,
                Box<dyn Fn(usize, usize, f64) -> f64 + 'a>,
            );
            let cases: Vec<Case> = vec![
                (Epilogue::None, Box::new(|_, _, v| v)),
                (Epilogue::Bias(&bias), Box::new(|_, j, v| v + bias[j])),
                (Epilogue::Tanh, Box::new(|_, _, v: f64| v.tanh())),
                (
                    Epilogue::BiasTanh(&bias),
                    Box::new(|_, j, v: f64| (v + bias[j]).tanh()),
                ),
                (
                    Epilogue::TanhBackward { e: ev, y: yv },
                    Box::new(|i, j, v| (v + e[i * n + j]) * (1.0 - y[i * n + j] * y[i * n + j])),
                ),
            ];
            for (epi, f) in cases {
                for (alpha, beta) in [(1.0, 1.0), (0.5, 0.0)] {
                    let want = epilogue_reference(&a, &b, &c0, m, k, n, alpha, beta, &*f);
                    for use_packed in [false, true] {
                        let mut c = if beta == 0.0 {
                            vec![f64::NAN; m * n]
                        } else {
                            c0.clone()
                        };
                        let av = MatRef::from_slice(&a, m, k).unwrap();
                        let cv = MatMut::from_slice(&mut c, m, n).unwrap();
                        if use_packed {
                            gemm_packed(alpha, av, &packed, beta, cv, epi, Parallelism::Serial)
                                .unwrap();
                        } else {
                            let bv = MatRef::from_slice(&b, k, n).unwrap();
                            gemm_with(alpha, av, bv, beta, cv, epi, Parallelism::Serial).unwrap();
                        }
                        for (idx, (&g, &w)) in c.iter().zip(&want).enumerate() {
                            assert!(
                                (g - w).abs() <= 1e-13 * (1.0 + w.abs()) * (k as f64 + 1.0),
                                "{epi:?} packed={use_packed} m={m} k={k} n={n} at {idx}: {g} vs {w}"
                            );
                        }
                    }
                }
            }
        }
    });
}

/// The fused tanh epilogues give every element exactly the bits of the slice tanh applied
/// after the GEMM: on tiles narrower than a vector (whose rows the epilogue runs as one
/// stretch when C is exactly as wide), on tails of every length, and on wide C.
fn tanh_epilogue_bits<T: Float>(level: Level, seed: u64) {
    let mut rng = Rng::new(seed);
    for &(m, k, n) in &[
        (5, 4, 4),
        (5, 3, 3),
        (3, 2, 5),
        (1, 3, 7),
        (7, 5, 3),
        (13, 9, 1),
        (6, 4, 16),
        (11, 7, 17),
        (20, 65, 33),
    ] {
        let to_t = |v: Vec<f64>| v.into_iter().map(T::from_f64).collect::<Vec<T>>();
        let a = to_t(rng.vec_f64(m * k, -2.0, 2.0));
        let b = to_t(rng.vec_f64(k * n, -2.0, 2.0));
        let bias = to_t(rng.vec_f64(n, -1.0, 1.0));
        let av = MatRef::from_slice(&a, m, k).unwrap();
        let bv = MatRef::from_slice(&b, k, n).unwrap();
        for with_bias in [false, true] {
            let (fused_epi, plain_epi) = if with_bias {
                (Epilogue::BiasTanh(&bias), Epilogue::Bias(&bias))
            } else {
                (Epilogue::Tanh, Epilogue::None)
            };
            let mut fused = vec![T::from_f64(f64::NAN); m * n];
            let cv = MatMut::from_slice(&mut fused, m, n).unwrap();
            gemm_with(T::ONE, av, bv, T::ZERO, cv, fused_epi, Parallelism::Serial).unwrap();
            let mut plain = vec![T::from_f64(f64::NAN); m * n];
            let cv = MatMut::from_slice(&mut plain, m, n).unwrap();
            gemm_with(T::ONE, av, bv, T::ZERO, cv, plain_epi, Parallelism::Serial).unwrap();
            tanh_inplace(&mut plain);
            for (idx, (g, w)) in fused.iter().zip(&plain).enumerate() {
                assert_eq!(
                    g.to_f64().to_bits(),
                    w.to_f64().to_bits(),
                    "{level:?} m={m} k={k} n={n} bias={with_bias} at {idx}: {g:?} vs {w:?}"
                );
            }
        }
    }
}

#[test]
fn tanh_epilogues_match_gemm_then_tanh_bit_for_bit() {
    every_tier(|level| {
        tanh_epilogue_bits::<f32>(level, 700 + level as u64);
        tanh_epilogue_bits::<f64>(level, 800 + level as u64);
    });
}

/// A C of one column (a matrix-vector product) takes the column path, with C's rows in
/// the vector lanes: each element must have the bits of the same element of a C of three
/// columns (whose tiles put C's columns in the lanes), for every layout of A and C, the
/// epilogues the path takes, `beta` on and off, `k` across the `KC` blocks and row counts
/// around the groups of 8, 32 and 64 rows.
fn one_column_bits<T: Float>(level: Level, seed: u64) {
    let mut rng = Rng::new(seed);
    let row_major = LAYOUTS[0];
    for &m in &[6, 8, 13, 32, 33, 64, 65, 130] {
        for &k in &[0, 1, 7, 8, 9, 64, 255, 257, 520] {
            for la in LAYOUTS {
                let av = rng.vec_f64(m * k, -1.0, 1.0);
                let a = Stored::new(m, k, la, |i, p| T::from_f64(av[i * k + p]));
                let bv = rng.vec_f64(3 * k, -1.0, 1.0);
                let b1 = Stored::new(k, 1, row_major, |p, _| T::from_f64(bv[3 * p]));
                let b3 = Stored::new(k, 3, row_major, |p, j| T::from_f64(bv[3 * p + j]));
                let cv = rng.vec_f64(3 * m, -1.0, 1.0);
                let ev = rng.vec_f64(3 * m, -1.0, 1.0);
                let yv = rng.vec_f64(3 * m, -1.0, 1.0);
                let at = |v: &[f64], i: usize, j: usize| T::from_f64(v[3 * i + j]);
                let (e1, e3) = (
                    Stored::new(m, 1, row_major, |i, j| at(&ev, i, j)),
                    Stored::new(m, 3, row_major, |i, j| at(&ev, i, j)),
                );
                let (y1, y3) = (
                    Stored::new(m, 1, row_major, |i, j| at(&yv, i, j)),
                    Stored::new(m, 3, row_major, |i, j| at(&yv, i, j)),
                );
                for lc in [LAYOUTS[0], LAYOUTS[2], LAYOUTS[3]] {
                    for epi_kind in 0..3 {
                        fn epi<'a, T: Float>(
                            kind: usize,
                            e: &'a Stored<T>,
                            y: &'a Stored<T>,
                        ) -> Epilogue<'a, T> {
                            match kind {
                                0 => Epilogue::None,
                                1 => Epilogue::Tanh,
                                _ => Epilogue::TanhBackward {
                                    e: e.view(),
                                    y: y.view(),
                                },
                            }
                        }
                        for (alpha, beta) in [(1.0, 0.0), (0.5, 1.5)] {
                            let (alpha, beta) = (T::from_f64(alpha), T::from_f64(beta));
                            let mut c1 = Stored::new(m, 1, lc, |i, j| at(&cv, i, j));
                            let mut c3 = Stored::new(m, 3, lc, |i, j| at(&cv, i, j));
                            let (one, three) = (epi(epi_kind, &e1, &y1), epi(epi_kind, &e3, &y3));
                            let par = Parallelism::Serial;
                            gemm_with(alpha, a.view(), b1.view(), beta, c1.view_mut(), one, par)
                                .unwrap();
                            gemm_with(alpha, a.view(), b3.view(), beta, c3.view_mut(), three, par)
                                .unwrap();
                            assert!(c1.guards_intact(), "{level:?} m={m} k={k}");
                            for i in 0..m {
                                let (g, w) = (c1.get(i, 0), c3.get(i, 0));
                                assert_eq!(
                                    g.to_f64().to_bits(),
                                    w.to_f64().to_bits(),
                                    "{level:?} m={m} k={k} A {la:?} C {lc:?} epilogue \
                                     {epi_kind} beta={beta:?} row {i}: {g:?} vs {w:?}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn one_column_c_has_the_bits_of_a_wider_c() {
    every_tier(|level| {
        one_column_bits::<f32>(level, 900 + level as u64);
        one_column_bits::<f64>(level, 950 + level as u64);
    });
}

/// The column path split over threads by rows gives the bits of one thread.
#[test]
fn one_column_c_is_bit_identical_on_two_threads() {
    let (m, k) = (3001, 701);
    let mut rng = Rng::new(77);
    let a: Vec<f32> = rng
        .vec_f64(m * k, -1.0, 1.0)
        .into_iter()
        .map(|x| x as f32)
        .collect();
    let b: Vec<f32> = rng
        .vec_f64(k, -1.0, 1.0)
        .into_iter()
        .map(|x| x as f32)
        .collect();
    let run = |par| {
        let mut c = vec![f32::NAN; m];
        let (av, bv) = (
            MatRef::from_slice(&a, m, k).unwrap(),
            MatRef::from_slice(&b, k, 1).unwrap(),
        );
        let cv = MatMut::from_slice(&mut c, m, 1).unwrap();
        gemm_with(1.0, av, bv, 0.0, cv, Epilogue::None, par).unwrap();
        c
    };
    let one = run(Parallelism::Serial);
    let two = run(Parallelism::Rayon(2));
    assert!(one
        .iter()
        .zip(&two)
        .all(|(x, y)| x.to_bits() == y.to_bits()));
    let want = gemm_reference_f64(&a, &b, m, k);
    for (i, (&g, &w)) in one.iter().zip(&want).enumerate() {
        assert!(
            (f64::from(g) - w).abs() <= 1e-5 * (k as f64),
            "row {i}: {g} vs {w}"
        );
    }
}

fn gemm_reference_f64(a: &[f32], b: &[f32], m: usize, k: usize) -> Vec<f64> {
    (0..m)
        .map(|i| {
            (0..k)
                .map(|p| f64::from(a[i * k + p]) * f64::from(b[p]))
                .sum()
        })
        .collect()
}

#[test]
fn epilogue_on_strided_and_column_major_outputs() {
    every_tier(|_| {
        let mut rng = Rng::new(700);
        let (m, k, n) = (11, 7, 13);
        let a = rng.vec_f32(m * k, -1.0, 1.0);
        let b = rng.vec_f32(k * n, -1.0, 1.0);
        let e = Stored::<f32>::new(m, n, LAYOUTS[3], |_, _| rng.uniform_f32(-1.0, 1.0));
        let y = Stored::<f32>::new(m, n, LAYOUTS[2], |_, _| rng.uniform_f32(-1.0, 1.0));
        let bias = rng.vec_f32(n, -1.0, 1.0);
        let av = MatRef::from_slice(&a, m, k).unwrap();
        let bv = MatRef::from_slice(&b, k, n).unwrap();
        for epi in [
            Epilogue::TanhBackward {
                e: e.view(),
                y: y.view(),
            },
            Epilogue::BiasTanh(&bias),
            Epilogue::Tanh,
        ] {
            let mut row = vec![0.0f32; m * n];
            gemm_with(
                1.0,
                av,
                bv,
                0.0,
                MatMut::from_slice(&mut row, m, n).unwrap(),
                epi,
                Parallelism::Serial,
            )
            .unwrap();
            for lc in LAYOUTS {
                let mut c = Stored::<f32>::new(m, n, lc, |_, _| f32::NAN);
                gemm_with(1.0, av, bv, 0.0, c.view_mut(), epi, Parallelism::Serial).unwrap();
                for i in 0..m {
                    for j in 0..n {
                        // Same tier, same arithmetic: the layout of C must not change a bit.
                        assert_eq!(
                            c.get(i, j).to_bits(),
                            row[i * n + j].to_bits(),
                            "{lc:?} {epi:?}"
                        );
                    }
                }
                assert!(c.guards_intact());
            }
        }
    });
}

#[test]
fn bit_identical_for_any_thread_count() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    every_tier(|level| {
        let mut rng = Rng::new(800 + level as u64);
        for &(m, k, n) in &[(300, 200, 310), (40, 700, 650), (650, 300, 20)] {
            let a = rng.vec_f32(m * k, -1.0, 1.0);
            let b = rng.vec_f32(k * n, -1.0, 1.0);
            let mut c1 = vec![0.0f32; m * n];
            let mut c2 = vec![0.0f32; m * n];
            let av = MatRef::from_slice(&a, m, k).unwrap();
            let bv = MatRef::from_slice(&b, k, n).unwrap();
            gemm_with(
                1.0,
                av,
                bv,
                0.0,
                MatMut::from_slice(&mut c1, m, n).unwrap(),
                Epilogue::Tanh,
                Parallelism::Serial,
            )
            .unwrap();
            pool.install(|| {
                with_level(level, || {
                    gemm_with(
                        1.0,
                        av,
                        bv,
                        0.0,
                        MatMut::from_slice(&mut c2, m, n).unwrap(),
                        Epilogue::Tanh,
                        Parallelism::Rayon(2),
                    )
                    .unwrap()
                })
            });
            assert!(
                c1.iter().zip(&c2).all(|(x, y)| x.to_bits() == y.to_bits()),
                "{m} {k} {n}"
            );
        }
    });
}

#[test]
fn shape_errors_name_the_argument() {
    let a = [0.0f32; 6];
    let b = [0.0f32; 6];
    let mut c = [0.0f32; 4];
    let err = gemm(
        1.0,
        MatRef::from_slice(&a, 2, 3).unwrap(),
        MatRef::from_slice(&b, 2, 3).unwrap(),
        0.0,
        MatMut::from_slice(&mut c, 2, 2).unwrap(),
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("`b`") && msg.contains("(2, 3)"), "{msg}");
    let err = gemm(
        1.0,
        MatRef::from_slice(&a, 2, 3).unwrap(),
        MatRef::from_slice(&b, 3, 2).unwrap(),
        0.0,
        MatMut::from_slice(&mut c, 1, 4).unwrap(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("`c`"), "{err}");
    let bias = [0.0f32; 3];
    let err = gemm_with(
        1.0,
        MatRef::from_slice(&a, 2, 3).unwrap(),
        MatRef::from_slice(&b, 3, 2).unwrap(),
        0.0,
        MatMut::from_slice(&mut c, 2, 2).unwrap(),
        Epilogue::Bias(&bias),
        Parallelism::Serial,
    )
    .unwrap_err();
    assert!(err.to_string().contains("`bias`"), "{err}");
}
