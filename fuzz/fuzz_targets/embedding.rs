//! `Embedding` with arbitrary `V`, `D`, ids (including ids `>= V`) and `dout` shapes and
//! layouts, forward / backward / weight updates in any order: each call is an `Err` (and
//! then changes nothing) or gives exactly the rows / accumulated gradients of a model
//! kept here. Values are small integers, so sums are exact in both types; weights and
//! `dout` may also hold NaN and infinities (IEEE: a row copies them, a sum with NaN or
//! with both infinities is NaN whatever the order), and `dout` may be strided.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use recur::kernels::{Error, Float};
use recur::layers::ndarray::{s, Array2, Array3, ArrayView3};
use recur::layers::Embedding;
use recur_fuzz::{value_bits, Special};
use recur_testkit::Rng;

#[derive(Arbitrary, Debug)]
enum Op {
    Forward {
        t: u8,
        n: u8,
        /// Ids; a position beyond this list gets `(t·N + n) % V`.
        ids: Vec<u32>,
        /// Read the ids through a transposed (non-contiguous) view.
        transposed: bool,
    },
    Backward {
        /// `(T, N, D)` deltas from the last forward's shape (nonzero: a wrong shape).
        dt: i8,
        dn: i8,
        dd: i8,
        layout: Layout,
        seed: u64,
        specials: Vec<(u16, Special)>,
    },
    SetWeight {
        v: u8,
        d: u8,
        value: Result<i8, Special>,
    },
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Layout {
    Standard,
    /// A `(N, T, D)` array viewed as `(T, N, D)`.
    Permuted,
    /// Stored reversed along T, read through a negative stride.
    Reversed,
    /// One `(1, N, D)` step broadcast over T (stride 0).
    Broadcast,
    /// Every other element of a `(T, N, 2D)` array (stride 2 along D).
    Strided,
}

#[derive(Arbitrary, Debug)]
struct Input {
    v: u8,
    d: u8,
    f64: bool,
    seed: u64,
    ops: Vec<Op>,
}

/// Storage for `dout: (T, N, D)` in the given memory layout; [`view`] reads it as
/// `(T, N, D)`.
fn make_dout<T: Float>(dim: (usize, usize, usize), layout: Layout, rng: &mut Rng) -> Array3<T> {
    let (t, n, d) = dim;
    let val = || T::from_f64(rng.int(8));
    match layout {
        Layout::Standard => Array3::from_shape_simple_fn((t, n, d), val),
        Layout::Permuted => Array3::from_shape_simple_fn((n, t, d), val),
        Layout::Reversed => Array3::from_shape_simple_fn((t, n, d), val),
        Layout::Broadcast => Array3::from_shape_simple_fn((t.min(1), n, d), val),
        Layout::Strided => Array3::from_shape_simple_fn((t, n, 2 * d), val),
    }
}

fn view<T: Float>(
    storage: &Array3<T>,
    dim: (usize, usize, usize),
    layout: Layout,
) -> ArrayView3<'_, T> {
    match layout {
        Layout::Standard => storage.view(),
        Layout::Permuted => storage.view().permuted_axes([1, 0, 2]),
        Layout::Reversed => storage.slice(s![..;-1, .., ..]),
        Layout::Broadcast => storage.broadcast(dim).expect("broadcast over T"),
        Layout::Strided => storage.slice(s![.., .., ..;2]),
    }
}

fn run<T: Float>(inp: &Input) {
    let (v, d) = (inp.v as usize % 21, inp.d as usize % 9);
    let mut rng = Rng::new(inp.seed);
    let mut w = Array2::from_shape_fn((v, d), |_| T::from_f64(rng.int(16)));
    let mut emb = Embedding::new(w.clone());
    assert_eq!((emb.vocab_size(), emb.dim()), (v, d));
    // The model: the ids `(T, N)` of the last successful forward, and the gradient.
    let mut last: Option<Array2<u32>> = None;
    let mut grad = Array2::from_elem((v, d), T::ZERO);
    for op in inp.ops.iter().take(12) {
        match op {
            Op::Forward {
                t,
                n,
                ids,
                transposed,
            } => {
                let (t, n) = (*t as usize % 7, *n as usize % 5);
                let tn = Array2::from_shape_fn((t, n), |(a, b)| {
                    ids.get(a * n + b)
                        .copied()
                        .unwrap_or(((a * n + b) % v.max(1)) as u32)
                });
                let stored;
                let view = if *transposed {
                    stored = tn.t().as_standard_layout().into_owned();
                    stored.t()
                } else {
                    tn.view()
                };
                let bad = tn.iter().position(|&id| id as usize >= v);
                match emb.forward(view) {
                    Ok(xs) => {
                        assert!(bad.is_none(), "id >= V accepted");
                        assert_eq!(xs.dim(), (t, n, d));
                        for ((a, b), &id) in tn.indexed_iter() {
                            assert_eq!(
                                value_bits(xs.slice(s![a, b, ..]).iter()),
                                value_bits(w.row(id as usize).iter())
                            );
                        }
                        last = Some(tn);
                    }
                    Err(e) => {
                        let i = bad.expect("valid ids refused");
                        let msg = e.to_string();
                        assert!(matches!(e, Error::IndexOutOfRange { .. }), "{msg}");
                        assert!(msg.contains("`ids`"), "{msg}");
                        let (a, b) = (i / n, i % n);
                        assert!(msg.contains(&format!("[t={a}, n={b}]")), "{msg}");
                    }
                }
            }
            Op::Backward {
                dt,
                dn,
                dd,
                layout,
                seed,
                specials,
            } => {
                let (lt, ln) = last.as_ref().map_or((1, 1), |l| l.dim());
                let dim = (
                    (lt as isize + *dt as isize % 2).max(0) as usize,
                    (ln as isize + *dn as isize % 2).max(0) as usize,
                    (d as isize + *dd as isize % 2).max(0) as usize,
                );
                let mut r = Rng::new(*seed);
                let mut storage = make_dout::<T>(dim, *layout, &mut r);
                let len = storage.len();
                for &(i, sp) in specials.iter().take(2) {
                    if len > 0 {
                        storage.as_slice_mut().expect("standard")[i as usize % len] =
                            T::from_f64(sp.get());
                    }
                }
                let dout = view(&storage, dim, *layout);
                assert_eq!(dout.dim(), dim);
                match (emb.backward(dout.view()), &last) {
                    (Ok(()), Some(ids)) => {
                        assert_eq!(dim, (ids.nrows(), ids.ncols(), d));
                        grad.fill(T::ZERO);
                        for ((a, b), &id) in ids.indexed_iter() {
                            for k in 0..d {
                                grad[[id as usize, k]] += dout[[a, b, k]];
                            }
                        }
                    }
                    (Ok(()), None) => panic!("backward before forward accepted"),
                    (Err(e), None) => assert!(matches!(e, Error::InvalidState { .. }), "{e}"),
                    (Err(e), Some(ids)) => {
                        assert_ne!(dim, (ids.nrows(), ids.ncols(), d), "{e}");
                        let msg = e.to_string();
                        assert!(msg.contains("`dout`"), "{msg}");
                        assert!(
                            msg.contains(&format!("({}, {}, {})", dim.0, dim.1, dim.2)),
                            "{msg}"
                        );
                    }
                }
                assert_eq!(
                    value_bits(emb.grad_w().iter()),
                    value_bits(grad.iter()),
                    "gradient after backward"
                );
            }
            Op::SetWeight {
                v: rv,
                d: rd,
                value,
            } => {
                if v > 0 && d > 0 {
                    let (i, j) = (*rv as usize % v, *rd as usize % d);
                    let x = T::from_f64(value.map_or_else(|sp| sp.get(), f64::from));
                    emb.weight_mut()[[i, j]] = x;
                    w[[i, j]] = x;
                }
            }
        }
        assert_eq!(value_bits(emb.weight().iter()), value_bits(w.iter()));
    }
}

fuzz_target!(|inp: Input| {
    if inp.f64 {
        run::<f64>(&inp);
    } else {
        run::<f32>(&inp);
    }
});
