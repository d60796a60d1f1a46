//! GEMM on arbitrary small shapes (and some across the KC / MC / NC block edges, and through
//! the multi-threaded split above `PAR_MIN_FLOPS`, which a fuzz build lowers to 2¹⁶), any
//! strides, transposes and padding, every SIMD tier of this machine (one per input, picked
//! by it), `gemm` / `gemm_with` with each `Epilogue` / `PackedB` + `gemm_packed`: the
//! result agrees with `reference::gemm_reference` (f64 accumulation) within a k-scaled
//! tolerance, with the epilogue applied in f64; `beta = 0` never reads C (C holds NaN);
//! elements of C's slice outside the view are never written; a bad shape is an `Err` that
//! leaves C untouched.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use recur::kernels::dispatch::{available_levels, with_level};
use recur::kernels::reference::gemm_reference;
use recur::kernels::{
    gemm, gemm_packed, gemm_with, Epilogue, Float, Level, MatMut, MatRef, PackedB, Parallelism,
};
use recur_fuzz::entry;
use recur_testkit::Rng;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Layout {
    /// Row-major with `pad` extra elements per row and column stride `1 + cs % 3`.
    Row { pad: u8, cs: u8 },
    /// Column-major with `pad` extra elements per column and row stride `1 + rs % 3`.
    Col { pad: u8, rs: u8 },
    /// Every row the same (row stride 0); for C (which must not alias) row-major.
    BroadcastRows,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Coef {
    Zero,
    One,
    MinusOne,
    Eighths(i8),
}

impl Coef {
    fn get(self) -> f64 {
        match self {
            Coef::Zero => 0.0,
            Coef::One => 1.0,
            Coef::MinusOne => -1.0,
            Coef::Eighths(v) => f64::from(v) / 8.0,
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Values {
    /// Integers in [-4, 4].
    Ints,
    /// Uniform in [-1, 3) ([`entry`]).
    Unit,
    /// Signed powers of two from 2^-20 to 2^8 times [1, 3).
    Wide,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Special {
    Nan,
    Inf,
    NegInf,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Epi {
    None,
    Bias,
    Tanh,
    BiasTanh,
    TanhBackward { e: Layout, y: Layout },
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Entry {
    Gemm,
    With,
    /// `PackedB` built on the tier with this index in `available_levels()`.
    Packed {
        pack_tier: u8,
    },
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Par {
    Serial,
    Auto,
    Rayon(u8),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Big {
    /// `m` in 60..220 (`k < 17`): crosses every tier's MC (64 to 144).
    M,
    /// `k` in 250..270 or 378..394 (`m < 13`): crosses KC = 256, or AVX-512 f32's KC = 384.
    K,
    /// Above `PAR_MIN_FLOPS` (2¹⁶ in a fuzz build: `2·m·n·k >= 2^16`), so that the
    /// multi-threaded split runs (with `Parallelism::Auto` / `Rayon`): `m = 2`, `n` beyond
    /// every tier's NC (4096): the split is by columns, across the NC block edge.
    ParColumns,
    /// Above `PAR_MIN_FLOPS` with `m` beyond every MC, `n` small: the split is by rows.
    ParRows,
}

#[derive(Arbitrary, Debug)]
struct Input {
    m: u8,
    n: u8,
    k: u8,
    /// Lets one of m or k cross the block sizes MC / KC, or the shape pass
    /// `PAR_MIN_FLOPS` and the block edges.
    big: Option<Big>,
    a: Layout,
    b: Layout,
    c: Layout,
    alpha: Coef,
    beta: Coef,
    epi: Epi,
    entry: Entry,
    par: Par,
    f64: bool,
    /// The SIMD tier, an index into `available_levels()`.
    tier: u8,
    seed: u64,
    values: Values,
    /// `(in A?, element index, value)`.
    specials: Vec<(bool, u16, Special)>,
    /// A wrong shape for one argument (bias length, e/y shape, PackedB depth, C shape).
    wrong: Option<(u8, u8)>,
}

/// `(row_stride, col_stride, slice length)` of a `rows x cols` operand; extra slice
/// elements are guards.
fn strides(
    l: Layout,
    rows: usize,
    cols: usize,
    mutable: bool,
    tail: usize,
) -> (usize, usize, usize) {
    let (rs, cs) = match l {
        Layout::Row { pad, cs } => {
            let cs = 1 + cs as usize % 3;
            (cols * cs + pad as usize % 5, cs)
        }
        Layout::Col { pad, rs } => {
            let rs = 1 + rs as usize % 3;
            (rs, rows * rs + pad as usize % 5)
        }
        Layout::BroadcastRows if mutable => (cols, 1),
        Layout::BroadcastRows => (0, 1),
    };
    let len = if rows == 0 || cols == 0 {
        tail
    } else {
        (rows - 1) * rs + (cols - 1) * cs + 1 + tail
    };
    (rs, cs, len)
}

fn value(rng: &mut Rng, v: Values) -> f64 {
    match v {
        Values::Ints => rng.int(4),
        Values::Unit => entry(rng),
        Values::Wide => {
            let e = rng.below(29) as i32 - 20;
            let m = 1.0 + (entry(rng) + 1.0) / 2.0;
            let s = if rng.below(2) == 0 { 1.0 } else { -1.0 };
            s * m * 2f64.powi(e)
        }
    }
}

/// A `rows x cols` operand: its slice (guards = `guard`), strides, and the logical values.
struct Operand<T> {
    data: Vec<T>,
    rs: usize,
    cs: usize,
    rows: usize,
    cols: usize,
}

impl<T: Float> Operand<T> {
    #[allow(clippy::too_many_arguments)]
    fn new(
        l: Layout,
        rows: usize,
        cols: usize,
        mutable: bool,
        guard: T,
        rng: &mut Rng,
        vals: Values,
    ) -> Self {
        let tail = rng.below(3);
        let (rs, cs, len) = strides(l, rows, cols, mutable, tail);
        let mut data = vec![guard; len];
        for i in 0..rows {
            for j in 0..cols {
                data[i * rs + j * cs] = T::from_f64(value(rng, vals));
            }
        }
        Operand {
            data,
            rs,
            cs,
            rows,
            cols,
        }
    }
    fn at(&self, i: usize, j: usize) -> T {
        self.data[i * self.rs + j * self.cs]
    }
    fn view(&self) -> MatRef<'_, T> {
        MatRef::from_strided(&self.data, self.rows, self.cols, self.rs, self.cs)
            .expect("operand view is valid")
    }
}

fn epilogue<'a, T: Float>(
    kind: Epi,
    bias: &'a [T],
    e: MatRef<'a, T>,
    y: MatRef<'a, T>,
) -> Epilogue<'a, T> {
    match kind {
        Epi::None => Epilogue::None,
        Epi::Bias => Epilogue::Bias(bias),
        Epi::Tanh => Epilogue::Tanh,
        Epi::BiasTanh => Epilogue::BiasTanh(bias),
        Epi::TanhBackward { .. } => Epilogue::TanhBackward { e, y },
    }
}

fn bits<T: Float>(x: &[T]) -> Vec<u64> {
    x.iter().map(|v| v.to_f64().to_bits()).collect()
}

fn run<T: Float>(inp: &Input) {
    let (mut m, mut n, mut k) = (
        inp.m as usize % 41,
        inp.n as usize % 41,
        inp.k as usize % 41,
    );
    match inp.big {
        Some(Big::M) => (m, k) = (60 + inp.m as usize % 160, k % 17),
        Some(Big::K) if inp.k % 2 == 0 => (m, k) = (m % 13, 250 + inp.k as usize % 20),
        Some(Big::K) => (m, k) = (m % 13, 378 + inp.k as usize % 16),
        Some(Big::ParColumns) => (m, n, k) = (2, 4097 + inp.n as usize % 64, 4 + k % 13),
        Some(Big::ParRows) => {
            (m, n, k) = (
                150 + inp.m as usize % 100,
                4 + inp.n as usize % 2,
                56 + inp.k as usize % 13,
            )
        }
        None => {}
    }
    assert!(
        !matches!(inp.big, Some(Big::ParColumns | Big::ParRows))
            || 2 * m * n * k >= recur::kernels::PAR_MIN_FLOPS,
        "a split shape below PAR_MIN_FLOPS: {m}x{k}x{n}"
    );
    let mut rng = Rng::new(inp.seed);
    let nan = T::NAN;
    let mut a = Operand::<T>::new(inp.a, m, k, false, nan, &mut rng, inp.values);
    let mut b = Operand::<T>::new(inp.b, k, n, false, nan, &mut rng, inp.values);
    for &(in_a, idx, sp) in inp.specials.iter().take(4) {
        let x = match sp {
            Special::Nan => T::NAN,
            Special::Inf => T::INFINITY,
            Special::NegInf => -T::INFINITY,
        };
        let op = if in_a { &mut a } else { &mut b };
        let count = op.rows * op.cols;
        if count > 0 {
            let idx = idx as usize % count;
            let (i, j) = (idx / op.cols, idx % op.cols);
            op.data[i * op.rs + j * op.cs] = x;
        }
    }
    let alpha = T::from_f64(inp.alpha.get());
    let beta = T::from_f64(inp.beta.get());
    let sentinel = T::from_f64(-7777.0);
    let mut c0 = Operand::<T>::new(inp.c, m, n, true, sentinel, &mut rng, Values::Unit);
    if beta == T::ZERO {
        // beta = 0: C must not be read, so NaN in it must not show in the result.
        for i in 0..m {
            for j in 0..n {
                c0.data[i * c0.rs + j * c0.cs] = T::NAN;
            }
        }
    }
    let bias: Vec<T> = (0..n)
        .map(|_| T::from_f64(value(&mut rng, inp.values)))
        .collect();
    let (el, yl) = match inp.epi {
        Epi::TanhBackward { e, y } => (e, y),
        _ => (Layout::Row { pad: 0, cs: 0 }, Layout::Row { pad: 0, cs: 0 }),
    };
    let epi_kind = match inp.entry {
        Entry::Gemm => Epi::None,
        _ => inp.epi,
    };
    // e and y are read by TanhBackward only; the other epilogues get empty ones.
    let (ey_m, ey_n) = match epi_kind {
        Epi::TanhBackward { .. } => (m, n),
        _ => (0, 0),
    };
    let e = Operand::<T>::new(el, ey_m, ey_n, false, nan, &mut rng, inp.values);
    let y = Operand::<T>::new(yl, ey_m, ey_n, false, nan, &mut rng, Values::Unit);

    // Wrong shapes (exactly one argument), which must give an Err and leave C alone.
    let wrong = inp.wrong.map(|(what, by)| (what % 4, 1 + by as usize % 3));
    let bias_len = match wrong {
        Some((0, by)) => n + by,
        _ => n,
    };
    let bias_long: Vec<T> = (0..bias_len)
        .map(|j| bias.get(j).copied().unwrap_or(T::ONE))
        .collect();
    let (e_rows, y_cols) = match wrong {
        Some((1, by)) => (ey_m + by, ey_n),
        Some((2, by)) => (ey_m, ey_n + by),
        _ => (ey_m, ey_n),
    };
    let e_bad = Operand::<T>::new(el, e_rows, ey_n, false, nan, &mut rng, inp.values);
    let y_bad = Operand::<T>::new(yl, ey_m, y_cols, false, nan, &mut rng, Values::Unit);
    let packed_k = match wrong {
        Some((3, by)) => k + by,
        _ => k,
    };
    let b_for_pack = if packed_k == k {
        None
    } else {
        Some(Operand::<T>::new(
            Layout::Row { pad: 0, cs: 0 },
            packed_k,
            n,
            false,
            nan,
            &mut rng,
            inp.values,
        ))
    };

    let expect_err = match (wrong, epi_kind, inp.entry) {
        (Some((0, _)), Epi::Bias | Epi::BiasTanh, _) => true,
        (Some((1 | 2, _)), Epi::TanhBackward { .. }, _) => true,
        (Some((3, _)), _, Entry::Packed { .. }) => true,
        _ => false,
    };
    let par = match inp.par {
        Par::Serial => Parallelism::Serial,
        Par::Auto => Parallelism::Auto,
        Par::Rayon(t) => Parallelism::Rayon(t as usize % 4),
    };

    // The reference: alpha·A·B + beta·C accumulated in f64 (rounded once to T), then the
    // epilogue in f64; and the magnitude alpha·|A|·|B| + |beta·C| for the tolerance.
    let huge = matches!(inp.big, Some(Big::ParColumns | Big::ParRows));
    let magnitude = |i: usize, j: usize| {
        let mut mag = 0.0f64;
        for p in 0..k {
            mag += (a.at(i, p).to_f64() * b.at(p, j).to_f64()).abs();
        }
        mag *= alpha.to_f64().abs();
        if beta != T::ZERO {
            mag += (beta.to_f64() * c0.at(i, j).to_f64()).abs();
        }
        mag
    };
    // `(i, j, reference value)` of every element of C.
    let checked: Vec<(usize, usize, f64)> = {
        let mut c_ref = c0.data.clone();
        gemm_reference(
            alpha,
            a.view(),
            b.view(),
            beta,
            MatMut::from_strided(&mut c_ref, m, n, c0.rs, c0.cs).expect("C view"),
        )
        .expect("reference shapes chain");
        (0..m)
            .flat_map(|i| (0..n).map(move |j| (i, j)))
            .map(|(i, j)| (i, j, c_ref[i * c0.rs + j * c0.cs].to_f64()))
            .collect()
    };
    let eps = T::EPSILON.to_f64();
    // `(ok, want, tol)` of element (i, j) of the result, `got`, whose exact GEMM value
    // (rounded to T) is `v`, with tolerance `tol_v` on that value.
    let judge = |kind: Epi, i: usize, j: usize, v: f64, tol_v: f64, got: f64| {
        let bj = bias[j].to_f64();
        let (want, tol) = match kind {
            Epi::None => (v, tol_v),
            Epi::Bias => (v + bj, tol_v + 2.0 * eps * (v.abs() + bj.abs())),
            Epi::Tanh => (v.tanh(), tol_v + 4.0 * eps),
            Epi::BiasTanh => (
                (v + bj).tanh(),
                tol_v + 2.0 * eps * (v.abs() + bj.abs()) + 4.0 * eps,
            ),
            Epi::TanhBackward { .. } => {
                let (ev, yv) = (e.at(i, j).to_f64(), y.at(i, j).to_f64());
                // 1 − y² with one rounding (as the kernel forms it): without the
                // fusion, f64 itself loses digits to cancellation when |y| ≈ 1.
                let q_ref = (-yv).mul_add(yv, 1.0);
                let q = q_ref.abs() * (1.0 + eps);
                let s = v.abs() + ev.abs();
                let want = (v + ev) * q_ref;
                (
                    want,
                    2.0 * ((tol_v + eps * s) * q + (s + tol_v) * eps * q)
                        + 2.0 * eps * s * q
                        + 4.0 * f64::EPSILON * want.abs()
                        + f64::MIN_POSITIVE,
                )
            }
        };
        let ok = if want.is_nan() {
            got.is_nan()
        } else if want.is_infinite() {
            got == want
        } else {
            got.is_finite() && (got - want).abs() <= tol || (tol.is_infinite() && !got.is_nan())
        };
        (ok, want, tol)
    };
    let mut in_view = vec![false; c0.data.len()];
    for i in 0..m {
        for j in 0..n {
            in_view[i * c0.rs + j * c0.cs] = true;
        }
    }
    // One tier per input, picked by it: the fuzzer reaches every tier, and an input costs a
    // third of running them all. The split shapes (10⁵ multiply-adds) skip the scalar tier,
    // the slowest by far under the coverage and address-sanitizer instrumentation: the
    // split and block loops are the same code on every tier.
    let levels = available_levels();
    let pool: Vec<Level> = if huge && levels.len() > 1 {
        levels
            .iter()
            .copied()
            .filter(|&l| l != Level::Scalar)
            .collect()
    } else {
        levels.clone()
    };
    let run_on = [pool[inp.tier as usize % pool.len()]];
    for &level in &run_on {
        let mut c = c0.data.clone();
        let result = with_level(level, || {
            let cv = MatMut::from_strided(&mut c, m, n, c0.rs, c0.cs).expect("C view");
            let (ev, yv) = if expect_err {
                (e_bad.view(), y_bad.view())
            } else {
                (e.view(), y.view())
            };
            let bias_arg: &[T] = &bias_long;
            match inp.entry {
                Entry::Gemm => gemm(alpha, a.view(), b.view(), beta, cv),
                Entry::With => gemm_with(
                    alpha,
                    a.view(),
                    b.view(),
                    beta,
                    cv,
                    epilogue(epi_kind, bias_arg, ev, yv),
                    par,
                ),
                Entry::Packed { pack_tier } => {
                    let pack_level: Level = levels[pack_tier as usize % levels.len()];
                    let src = b_for_pack.as_ref().unwrap_or(&b);
                    let packed = with_level(pack_level, || PackedB::new(src.view()))
                        .expect("packing a small matrix");
                    assert_eq!((packed.rows(), packed.cols()), (src.rows, n));
                    gemm_packed(
                        alpha,
                        a.view(),
                        &packed,
                        beta,
                        cv,
                        epilogue(epi_kind, bias_arg, ev, yv),
                        par,
                    )
                }
            }
        });
        if expect_err {
            let err = result.expect_err("a wrong shape must be an Err");
            let _ = err.to_string();
            assert_eq!(bits(&c), bits(&c0.data), "a failed call wrote C");
            continue;
        }
        result.unwrap_or_else(|err| panic!("valid call failed on {level:?}: {err}"));
        for (o, (&got, &was)) in c.iter().zip(&c0.data).enumerate() {
            if !in_view[o] {
                assert_eq!(
                    got.to_f64().to_bits(),
                    was.to_f64().to_bits(),
                    "{level:?}: guard element {o} of C's slice was written"
                );
            }
        }
        for &(i, j, v) in &checked {
            let got = c[i * c0.rs + j * c0.cs].to_f64();
            // The tolerance grows with tol_v = 2(k+2)·eps·mag. Most elements pass with
            // (k+2)·eps·|v| in its place, which is smaller (|v| <= 2·mag): the magnitude,
            // a k-long sum, is formed only for those that do not.
            let quick = (k as f64 + 2.0) * eps * v.abs() + f64::MIN_POSITIVE;
            if quick.is_finite() && judge(epi_kind, i, j, v, quick, got).0 {
                continue;
            }
            let tol_v = 2.0 * (k as f64 + 2.0) * eps * magnitude(i, j) + f64::MIN_POSITIVE;
            let (ok, want, tol) = judge(epi_kind, i, j, v, tol_v, got);
            assert!(
                ok,
                "{level:?} {} m={m} n={n} k={k} C({i}, {j}) = {got:e}, want {want:e} (tol {tol:e})",
                T::NAME
            );
        }
    }
}

fuzz_target!(|inp: Input| {
    if inp.f64 {
        run::<f64>(&inp);
    } else {
        run::<f32>(&inp);
    }
});
