//! `TimeRnn` with arbitrary small `(T, N, D, H)`, tensors of mismatched shapes and any
//! memory layout, stateful on/off, and `set_state` / `reset_state` / `forward` /
//! `backward` / weight updates / parallelism in any order: each call is an `Err` (which
//! changes nothing) or agrees with an `f64` model: `recur_check::reference::time_rnn_forward`
//! for the forward, a naive BPTT here for the backward. Inputs may be strided and hold NaN
//! and infinities: NaN wants NaN and an infinity the same infinity (IEEE classes do not
//! depend on the order of a sum), finite values the usual tolerance.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use recur::check::reference::time_rnn_forward;
use recur::kernels::{Error, Float, Parallelism};
use recur::layers::ndarray::{s, Array1, Array2, Array3, ArrayView2, ArrayView3, Axis};
use recur::layers::{Parameters, TimeRnn};
use recur_fuzz::{close, entry, value_bits, Special};
use recur_testkit::Rng;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Layout {
    Standard,
    /// A `(N, T, C)` array viewed as `(T, N, C)`.
    Permuted,
    /// Read through a negative stride along T.
    Reversed,
    /// One step broadcast over T (stride 0).
    Broadcast,
    /// Every other element of a `(T, N, 2C)` array (stride 2 along C).
    Strided,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Forward {
        t: u8,
        n: u8,
        /// Nonzero: a wrong `D`.
        dd: i8,
        layout: Layout,
        seed: u64,
        specials: Vec<(u16, Special)>,
    },
    Backward {
        /// Nonzero: a wrong `(T, N, H)` relative to the last forward.
        dt: i8,
        dn: i8,
        dh: i8,
        layout: Layout,
        seed: u64,
    },
    SetState {
        n: u8,
        /// Nonzero: a wrong `H`.
        dh: i8,
        seed: u64,
    },
    ResetState,
    Stateful(bool),
    /// New weights through `wh_mut` / `wx_mut` / `b_mut` or through `params_mut`.
    NewWeights {
        via_params: bool,
        seed: u64,
    },
    Par(u8),
}

#[derive(Arbitrary, Debug)]
struct Input {
    d: u8,
    h: u8,
    /// A constructor call with a wrong shape first: `(which, by)`.
    bad_new: Option<(u8, u8)>,
    f64: bool,
    seed: u64,
    ops: Vec<Op>,
}

fn storage<T: Float>(dim: (usize, usize, usize), layout: Layout, rng: &mut Rng) -> Array3<T> {
    let (t, n, c) = dim;
    let val = || T::from_f64(entry(rng));
    match layout {
        Layout::Standard | Layout::Reversed => Array3::from_shape_simple_fn((t, n, c), val),
        Layout::Permuted => Array3::from_shape_simple_fn((n, t, c), val),
        Layout::Broadcast => Array3::from_shape_simple_fn((t.min(1), n, c), val),
        Layout::Strided => Array3::from_shape_simple_fn((t, n, 2 * c), val),
    }
}

fn view<T: Float>(st: &Array3<T>, dim: (usize, usize, usize), layout: Layout) -> ArrayView3<'_, T> {
    match layout {
        Layout::Standard => st.view(),
        Layout::Permuted => st.view().permuted_axes([1, 0, 2]),
        Layout::Reversed => st.slice(s![..;-1, .., ..]),
        Layout::Broadcast => st.broadcast(dim).expect("broadcast over T"),
        Layout::Strided => st.slice(s![.., .., ..;2]),
    }
}

/// The carried state's values (NaN equal to NaN).
fn state_of<T: Float>(rnn: &TimeRnn<T>) -> Option<Vec<u64>> {
    rnn.state().map(|s| value_bits(s.iter()))
}

fn to_f64_3<T: Float>(a: ArrayView3<'_, T>) -> Array3<f64> {
    a.mapv(|x| x.to_f64())
}
fn to_f64_2<T: Float>(a: ArrayView2<'_, T>) -> Array2<f64> {
    a.mapv(|x| x.to_f64())
}

/// The largest finite magnitude (the scale of the rounding errors of the finite results).
fn max_abs<'a>(it: impl IntoIterator<Item = &'a f64>) -> f64 {
    it.into_iter()
        .filter(|x| x.is_finite())
        .fold(0.0, |m, x| m.max(x.abs()))
}

fn assert_close<T: Float, D: recur::layers::ndarray::Dimension>(
    what: &str,
    got: recur::layers::ndarray::ArrayView<'_, T, D>,
    want: &recur::layers::ndarray::Array<f64, D>,
    tol: f64,
) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    for (g, w) in got.iter().zip(want.iter()) {
        let g = g.to_f64();
        assert!(
            close(g, *w, tol),
            "{what}: {g:e} vs reference {w:e} (tol {tol:e}, {})",
            T::NAME
        );
    }
}

struct Weights<T> {
    wx: Array2<T>,
    wh: Array2<T>,
    b: Array1<T>,
}

fn weights<T: Float>(d: usize, h: usize, rng: &mut Rng) -> Weights<T> {
    // Wh entries in [-1/H, 3/H) (`entry` is [-1, 3)): |Wh| < 3 in both norms, so errors
    // stay moderate over the few steps T of a fuzz case (the forward tolerance measures
    // the growth, |Wh|'s largest row sum, itself).
    let hs = 1.0 / h.max(1) as f64;
    Weights {
        wx: Array2::from_shape_simple_fn((d, h), || T::from_f64(entry(rng))),
        wh: Array2::from_shape_simple_fn((h, h), || T::from_f64(entry(rng) * hs)),
        b: Array1::from_shape_simple_fn(h, || T::from_f64(entry(rng))),
    }
}

/// The last successful forward, as the model sees it.
struct Last {
    xs: Array3<f64>,
    h0: Array2<f64>,
    hs: Array3<f64>,
    /// Whether the weights are still those of that forward.
    same_weights: bool,
}

/// Naive BPTT in f64: `(dxs, dwx, dwh, db, dh0)`.
#[allow(clippy::type_complexity)]
fn backward_reference(
    wx: &Array2<f64>,
    wh: &Array2<f64>,
    last: &Last,
    dhs: &Array3<f64>,
) -> (
    Array3<f64>,
    Array2<f64>,
    Array2<f64>,
    Array1<f64>,
    Array2<f64>,
) {
    let (t_len, n, d) = last.xs.dim();
    let h = wh.nrows();
    let mut dxs = Array3::zeros((t_len, n, d));
    let mut dwx = Array2::zeros((d, h));
    let mut dwh = Array2::zeros((h, h));
    let mut db = Array1::zeros(h);
    let mut dh_next = Array2::<f64>::zeros((n, h));
    for t in (0..t_len).rev() {
        let hprev = if t == 0 {
            last.h0.clone()
        } else {
            last.hs.index_axis(Axis(0), t - 1).to_owned()
        };
        let mut dz = Array2::<f64>::zeros((n, h));
        for i in 0..n {
            for j in 0..h {
                let y = last.hs[[t, i, j]];
                dz[[i, j]] = (dhs[[t, i, j]] + dh_next[[i, j]]) * (1.0 - y * y);
            }
        }
        for i in 0..n {
            for j in 0..h {
                for k in 0..d {
                    dwx[[k, j]] += last.xs[[t, i, k]] * dz[[i, j]];
                    dxs[[t, i, k]] += dz[[i, j]] * wx[[k, j]];
                }
                for k in 0..h {
                    dwh[[k, j]] += hprev[[i, k]] * dz[[i, j]];
                }
                db[j] += dz[[i, j]];
            }
        }
        let mut next = Array2::<f64>::zeros((n, h));
        for i in 0..n {
            for k in 0..h {
                for j in 0..h {
                    next[[i, k]] += dz[[i, j]] * wh[[k, j]];
                }
            }
        }
        dh_next = next;
    }
    (dxs, dwx, dwh, db, dh_next)
}

fn run<T: Float>(inp: &Input) {
    let (d, h) = (inp.d as usize % 7, inp.h as usize % 7);
    let mut rng = Rng::new(inp.seed);
    let eps = T::EPSILON.to_f64();
    if let Some((which, by)) = inp.bad_new {
        let by = 1 + by as usize % 2;
        let w = weights::<T>(d, h, &mut rng);
        let (wh, b, arg) = match which % 3 {
            0 => (Array2::from_elem((h + by, h), T::ZERO), w.b, "wh"),
            1 => (Array2::from_elem((h, h + by), T::ZERO), w.b, "wh"),
            _ => (w.wh, Array1::from_elem(h + by, T::ZERO), "b"),
        };
        let err = TimeRnn::new(w.wx, wh, b).expect_err("mismatched weights accepted");
        let msg = err.to_string();
        assert!(msg.contains(&format!("`{arg}`")), "{msg}");
    }
    let w = weights::<T>(d, h, &mut rng);
    let mut rnn = TimeRnn::new(w.wx.clone(), w.wh.clone(), w.b.clone()).expect("valid weights");
    assert_eq!((rnn.input_size(), rnn.hidden_size()), (d, h));
    let mut wx = to_f64_2(w.wx.view());
    let mut wh = to_f64_2(w.wh.view());
    let mut b = w.b.mapv(|x| x.to_f64());
    let mut stateful = false;
    let mut state: Option<Array2<f64>> = None;
    let mut last: Option<Last> = None;

    for op in inp.ops.iter().take(10) {
        match *op {
            Op::Forward {
                t,
                n,
                dd,
                layout,
                seed,
                ref specials,
            } => {
                let (t_len, n) = (t as usize % 6, n as usize % 5);
                let dx = (d as isize + dd as isize % 2).max(0) as usize;
                let dim = (t_len, n, dx);
                let mut st = storage::<T>(dim, layout, &mut Rng::new(seed));
                let len = st.len();
                for &(i, sp) in specials.iter().take(2) {
                    if len > 0 {
                        st.as_slice_mut().expect("standard")[i as usize % len] =
                            T::from_f64(sp.get());
                    }
                }
                let xs = view(&st, dim, layout);
                let xs64 = to_f64_3(xs.view());
                let before = state_of(&rnn);
                match rnn.forward(xs) {
                    Err(e) => {
                        let msg = e.to_string();
                        assert!(matches!(e, Error::ShapeMismatch { .. }), "{msg}");
                        if dx != d {
                            assert!(msg.contains("`xs`"), "{msg}");
                        } else {
                            let sn = state.as_ref().map(|s| s.nrows());
                            assert!(sn.is_some_and(|sn| sn != n), "valid forward refused: {msg}");
                            assert!(msg.contains("`state`"), "{msg}");
                        }
                        // The state is unchanged.
                        assert_eq!(state_of(&rnn), before);
                    }
                    Ok(hs) => {
                        assert_eq!(dx, d, "xs with a wrong D accepted");
                        if let Some(s) = &state {
                            assert_eq!(s.nrows(), n, "state of a wrong N accepted");
                        }
                        let h0 = state.clone().unwrap_or_else(|| Array2::zeros((n, h)));
                        let want = time_rnn_forward(
                            wx.view(),
                            wh.view(),
                            b.view(),
                            xs64.view(),
                            Some(h0.view()),
                        )
                        .expect("the layer accepted these shapes");
                        let zscale = 1.0
                            + max_abs(&b)
                            + d as f64 * max_abs(&xs64) * max_abs(&wx)
                            + h as f64 * max_abs(&wh) * max_abs(&h0).max(1.0);
                        let lip = (0..h)
                            .map(|i| wh.row(i).iter().map(|x| x.abs()).sum::<f64>())
                            .fold(1.0, f64::max);
                        let growth: f64 = (0..=t_len).map(|s| lip.powi(s as i32)).sum();
                        let tol = 8.0 * eps * (d + h + 2) as f64 * zscale * growth;
                        assert_close("hs", hs.view(), &want, tol);
                        let hs_got = to_f64_3(hs.view());
                        // The state a stateful layer carries: the last hidden state (h0
                        // itself when T = 0).
                        let carried = if t_len > 0 {
                            hs_got.index_axis(Axis(0), t_len - 1).to_owned()
                        } else {
                            h0.clone()
                        };
                        last = Some(Last {
                            xs: xs64,
                            h0,
                            hs: hs_got,
                            same_weights: true,
                        });
                        if stateful {
                            let s = rnn.state().expect("stateful keeps the last state");
                            assert_eq!(value_bits(to_f64_2(s).iter()), value_bits(carried.iter()));
                            state = Some(carried);
                        } else {
                            assert!(
                                rnn.state().is_none(),
                                "a non-stateful forward keeps a state"
                            );
                            state = None;
                        }
                    }
                }
            }
            Op::Backward {
                dt,
                dn,
                dh,
                layout,
                seed,
            } => {
                let (lt, ln) = last
                    .as_ref()
                    .map_or((1, 1), |l| (l.xs.dim().0, l.xs.dim().1));
                let dim = (
                    (lt as isize + dt as isize % 2).max(0) as usize,
                    (ln as isize + dn as isize % 2).max(0) as usize,
                    (h as isize + dh as isize % 2).max(0) as usize,
                );
                let st = storage::<T>(dim, layout, &mut Rng::new(seed));
                let dhs = view(&st, dim, layout);
                let dhs64 = to_f64_3(dhs.view());
                let grads = |rnn: &TimeRnn<T>| {
                    (
                        value_bits(rnn.grad_wx().iter()),
                        value_bits(rnn.grad_wh().iter()),
                        value_bits(rnn.grad_b().iter()),
                        value_bits(rnn.grad_h0().iter()),
                    )
                };
                let grads_before = grads(&rnn);
                match (rnn.backward(dhs), &last) {
                    (Err(e), None) => assert!(matches!(e, Error::InvalidState { .. }), "{e}"),
                    (Ok(_), None) => panic!("backward before forward accepted"),
                    (Err(e), Some(l)) => {
                        let msg = e.to_string();
                        assert_ne!(dim, (l.xs.dim().0, l.xs.dim().1, h), "{msg}");
                        assert!(msg.contains("`dhs`"), "{msg}");
                        assert!(
                            msg.contains(&format!("({}, {}, {})", dim.0, dim.1, dim.2)),
                            "{msg}"
                        );
                    }
                    (Ok(dxs), Some(l)) => {
                        let (t_len, n, _) = l.xs.dim();
                        assert_eq!(dim, (t_len, n, h), "dhs of a wrong shape accepted");
                        assert_eq!(dxs.dim(), (t_len, n, d));
                        if l.same_weights {
                            let (rdxs, rdwx, rdwh, rdb, rdh0) =
                                backward_reference(&wx, &wh, l, &dhs64);
                            let base = 16.0
                                * eps
                                * ((t_len + 1) * (t_len + 1) * (n + 1) * (d + h + 2)) as f64;
                            let tol = |a: f64| base * a.max(1.0);
                            let dxs = dxs.to_owned();
                            assert_close("dxs", dxs.view(), &rdxs, tol(max_abs(&rdxs)));
                            assert_close("grad_wx", rnn.grad_wx(), &rdwx, tol(max_abs(&rdwx)));
                            assert_close("grad_wh", rnn.grad_wh(), &rdwh, tol(max_abs(&rdwh)));
                            assert_close("grad_b", rnn.grad_b(), &rdb, tol(max_abs(&rdb)));
                            assert_close("grad_h0", rnn.grad_h0(), &rdh0, tol(max_abs(&rdh0)));
                        }
                        continue;
                    }
                }
                // A failed backward leaves the gradients as they were.
                assert_eq!(grads(&rnn), grads_before);
            }
            Op::SetState { n, dh, seed } => {
                let n = n as usize % 5;
                let width = (h as isize + dh as isize % 2).max(0) as usize;
                let mut r = Rng::new(seed);
                let hv = Array2::from_shape_simple_fn((n, width), || T::from_f64(entry(&mut r)));
                let before = state_of(&rnn);
                match rnn.set_state(hv.view()) {
                    Ok(()) => {
                        assert_eq!(width, h);
                        assert_eq!(rnn.state().expect("state set"), hv);
                        state = Some(to_f64_2(hv.view()));
                    }
                    Err(e) => {
                        assert_ne!(width, h);
                        let msg = e.to_string();
                        assert!(
                            msg.contains("`h`") && msg.contains(&format!("({n}, {width})")),
                            "{msg}"
                        );
                        assert_eq!(state_of(&rnn), before);
                    }
                }
            }
            Op::ResetState => {
                rnn.reset_state();
                assert!(rnn.state().is_none());
                state = None;
            }
            Op::Stateful(on) => {
                rnn.set_stateful(on);
                assert_eq!(rnn.is_stateful(), on);
                stateful = on;
            }
            Op::NewWeights { via_params, seed } => {
                let nw = weights::<T>(d, h, &mut Rng::new(seed));
                if via_params {
                    for p in rnn.params_mut() {
                        let mut value = p.value;
                        match p.name {
                            "wx" => value.assign(&nw.wx.view().into_dyn()),
                            "wh" => value.assign(&nw.wh.view().into_dyn()),
                            "b" => value.assign(&nw.b.view().into_dyn()),
                            other => panic!("unknown parameter {other}"),
                        }
                    }
                } else {
                    rnn.wx_mut().assign(&nw.wx);
                    rnn.wh_mut().assign(&nw.wh);
                    rnn.b_mut().assign(&nw.b);
                }
                wx = to_f64_2(nw.wx.view());
                wh = to_f64_2(nw.wh.view());
                b = nw.b.mapv(|x| x.to_f64());
                if let Some(l) = &mut last {
                    l.same_weights = false;
                }
            }
            Op::Par(p) => rnn.set_parallelism(match p % 3 {
                0 => Parallelism::Serial,
                1 => Parallelism::Auto,
                _ => Parallelism::Rayon(p as usize % 4),
            }),
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
