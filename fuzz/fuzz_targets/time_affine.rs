//! `TimeAffine` with arbitrary small `(T, N, H, V)`, a bias and weights in any layout,
//! inputs in any layout (permuted, reversed, strided, broadcast) with NaN and infinities,
//! tensors of mismatched shapes, forward / backward / weight updates / parallelism in any
//! order: each call is an `Err` that changes nothing, or agrees with an `f64` model
//! (`ys = xs·W + b`; `dW = XSᵀ·dYS`, `db` = column sums, `dXS = dYS·Wᵀ`), IEEE semantics
//! for the non-finite.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use recur::kernels::{Error, Float, Parallelism};
use recur::layers::ndarray::{s, Array1, Array2, Array3, Ix1, Ix2};
use recur::layers::{Parameters, TimeAffine};
use recur_fuzz::{bits, close, entry, Layout3, Special};
use recur_testkit::Rng;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum BiasLayout {
    Contiguous,
    Reversed,
    Strided,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Forward {
        t: u8,
        n: u8,
        /// Nonzero: a wrong `H`.
        dh: i8,
        layout: Layout3,
        seed: u64,
        specials: Vec<(u16, Special)>,
    },
    Backward {
        /// Nonzero: a wrong `(T, N, V)` relative to the last forward.
        dt: i8,
        dn: i8,
        dv: i8,
        layout: Layout3,
        seed: u64,
        specials: Vec<(u16, Special)>,
    },
    /// New weights through `params_mut`.
    NewWeights {
        seed: u64,
    },
    Par(u8),
}

#[derive(Arbitrary, Debug)]
struct Input {
    h: u8,
    v: u8,
    bias: BiasLayout,
    /// `W` given transposed (column-major).
    w_transposed: bool,
    f64: bool,
    seed: u64,
    ops: Vec<Op>,
}

fn delta(x: usize, d: i8) -> usize {
    (x as isize + d as isize % 2).max(0) as usize
}

/// A `dim` tensor in `layout` with entries from `rng` and up to two specials; returns the
/// storage and the logical values (f64, `(T, N, C)` row-major).
fn tensor<T: Float>(
    dim: (usize, usize, usize),
    layout: Layout3,
    seed: u64,
    specials: &[(u16, Special)],
) -> (Array3<T>, Array3<f64>) {
    let mut rng = Rng::new(seed);
    let mut storage = layout.storage(dim, || T::from_f64(entry(&mut rng) - 1.0));
    let count = storage.len();
    for &(i, sp) in specials.iter().take(2) {
        if count > 0 {
            let i = i as usize % count;
            storage.as_slice_mut().expect("fresh storage is contiguous")[i] = T::from_f64(sp.get());
        }
    }
    // Row-major, whatever the layout (`mapv` keeps a permuted memory order).
    let logical = layout
        .view(&storage, dim)
        .mapv(|x| x.to_f64())
        .as_standard_layout()
        .into_owned();
    (storage, logical)
}

/// `Σ_k a_k·b_k` in f64 and its magnitude `Σ |a_k·b_k|`, IEEE for the non-finite.
fn dot(pairs: impl Iterator<Item = (f64, f64)>) -> (f64, f64) {
    pairs.fold((0.0, 0.0), |(s, m), (a, b)| (s + a * b, m + (a * b).abs()))
}

fn run<T: Float>(inp: &Input) {
    let (h, v) = (1 + inp.h as usize % 6, 1 + inp.v as usize % 7);
    let eps = T::EPSILON.to_f64();
    let mut rng = Rng::new(inp.seed);
    let mut w = Array2::from_shape_fn((h, v), |_| T::from_f64(entry(&mut rng) - 1.0));
    let b_vals: Vec<T> = (0..v).map(|_| T::from_f64(entry(&mut rng) - 1.0)).collect();
    let b = match inp.bias {
        BiasLayout::Contiguous => Array1::from(b_vals.clone()),
        BiasLayout::Reversed => {
            Array1::from_iter(b_vals.iter().rev().copied()).slice_move(s![..;-1])
        }
        BiasLayout::Strided => {
            Array1::from_iter(b_vals.iter().flat_map(|&x| [x, T::NAN])).slice_move(s![..;2])
        }
    };
    let w_arg = if inp.w_transposed {
        w.t().as_standard_layout().into_owned().reversed_axes()
    } else {
        w.clone()
    };
    assert!(TimeAffine::new(w_arg.clone(), Array1::from_elem(v + 1, T::ZERO)).is_err());
    let mut fc = TimeAffine::new(w_arg, b).expect("matching shapes");
    let mut bias = Array1::from(b_vals);
    assert_eq!((fc.input_size(), fc.output_size()), (h, v));
    // The model: the input of the last successful forward, `(T, N, H)` in f64.
    let mut last: Option<Array3<f64>> = None;
    for op in inp.ops.iter().take(8) {
        match op {
            Op::Forward {
                t,
                n,
                dh,
                layout,
                seed,
                specials,
            } => {
                let dim = (*t as usize % 5, *n as usize % 4, delta(h, *dh));
                let (storage, xs) = tensor::<T>(dim, *layout, *seed, specials);
                let grads_before = (bits(fc.grad_w().iter()), bits(fc.grad_b().iter()));
                match fc.forward(layout.view(&storage, dim)) {
                    Ok(ys) => {
                        assert_eq!(dim.2, h, "a wrong H was accepted");
                        assert_eq!(ys.dim(), (dim.0, dim.1, v));
                        for ((a, bb, j), &got) in ys.indexed_iter() {
                            let (s, mag) =
                                dot((0..h).map(|k| (xs[[a, bb, k]], w[[k, j]].to_f64())));
                            let bj = bias[j].to_f64();
                            let want = s + bj;
                            let tol = 2.0 * (h as f64 + 2.0) * eps * (mag + bj.abs());
                            assert!(
                                close(got.to_f64(), want, tol),
                                "ys[{a}, {bb}, {j}] = {got} want {want}"
                            );
                        }
                        last = Some(xs);
                    }
                    Err(e) => {
                        assert_ne!(dim.2, h, "valid xs refused: {e}");
                        assert!(
                            matches!(e, Error::ShapeMismatch { .. })
                                && e.to_string().contains("`xs`"),
                            "{e}"
                        );
                    }
                }
                assert_eq!(
                    (bits(fc.grad_w().iter()), bits(fc.grad_b().iter())),
                    grads_before
                );
            }
            Op::Backward {
                dt,
                dn,
                dv,
                layout,
                seed,
                specials,
            } => {
                let (lt, ln) = last.as_ref().map_or((1, 1), |x| (x.dim().0, x.dim().1));
                let dim = (delta(lt, *dt), delta(ln, *dn), delta(v, *dv));
                let (storage, dys) = tensor::<T>(dim, *layout, *seed, specials);
                let grads_before = (bits(fc.grad_w().iter()), bits(fc.grad_b().iter()));
                let result = fc
                    .backward(layout.view(&storage, dim))
                    .map(|d| d.mapv(|x| x.to_f64()));
                match (result, &last) {
                    (Ok(dxs), Some(xs)) => {
                        assert_eq!(dim, (xs.dim().0, xs.dim().1, v));
                        let rows = dim.0 * dim.1;
                        for ((a, bb, k), &got) in dxs.indexed_iter() {
                            let (want, mag) =
                                dot((0..v).map(|j| (dys[[a, bb, j]], w[[k, j]].to_f64())));
                            let tol = 2.0 * (v as f64 + 2.0) * eps * mag;
                            assert!(
                                close(got, want, tol),
                                "dxs[{a}, {bb}, {k}] = {got} want {want}"
                            );
                        }
                        let flat_x = xs
                            .view()
                            .into_shape_with_order((rows, h))
                            .expect("standard");
                        let flat_d = dys
                            .view()
                            .into_shape_with_order((rows, v))
                            .expect("standard");
                        for ((k, j), &got) in fc.grad_w().indexed_iter() {
                            let (want, mag) =
                                dot((0..rows).map(|r| (flat_x[[r, k]], flat_d[[r, j]])));
                            let tol = 2.0 * (rows as f64 + 2.0) * eps * mag;
                            assert!(
                                close(got.to_f64(), want, tol),
                                "dW[{k}, {j}] = {got} want {want}"
                            );
                        }
                        for (j, &got) in fc.grad_b().iter().enumerate() {
                            let (want, mag) = dot((0..rows).map(|r| (flat_d[[r, j]], 1.0)));
                            let tol = 2.0 * (rows as f64 + 2.0) * eps * mag;
                            assert!(
                                close(got.to_f64(), want, tol),
                                "db[{j}] = {got} want {want}"
                            );
                        }
                    }
                    (Ok(_), None) => panic!("backward before forward accepted"),
                    (Err(e), None) => assert!(matches!(e, Error::InvalidState { .. }), "{e}"),
                    (Err(e), Some(xs)) => {
                        assert_ne!(dim, (xs.dim().0, xs.dim().1, v), "{e}");
                        assert!(e.to_string().contains("`dys`"), "{e}");
                        assert_eq!(
                            (bits(fc.grad_w().iter()), bits(fc.grad_b().iter())),
                            grads_before
                        );
                    }
                }
            }
            Op::NewWeights { seed } => {
                let mut r = Rng::new(*seed);
                for p in fc.params_mut() {
                    let mut value = p.value;
                    value.mapv_inplace(|_| T::from_f64(entry(&mut r) - 1.0));
                    match p.name {
                        "w" => {
                            w.assign(&value.view().into_dimensionality::<Ix2>().expect("(H, V)"))
                        }
                        "b" => {
                            bias.assign(&value.view().into_dimensionality::<Ix1>().expect("(V)"))
                        }
                        other => panic!("unknown parameter {other}"),
                    }
                }
            }
            Op::Par(p) => fc.set_parallelism(match p % 3 {
                0 => Parallelism::Serial,
                1 => Parallelism::Auto,
                _ => Parallelism::Rayon(*p as usize % 4),
            }),
        }
        assert_eq!(fc.w(), w);
        assert_eq!(fc.b(), bias);
    }
}

fuzz_target!(|inp: Input| {
    if inp.f64 {
        run::<f64>(&inp);
    } else {
        run::<f32>(&inp);
    }
});
