//! `Sgd::step`, `Adam::step` and `clip_grads` on up to four parameters of any small shape,
//! values and gradients in any layout (contiguous, reversed, strided), gradients of the
//! wrong shape, NaN / infinite / huge / tiny entries, and every hyperparameter in or out
//! of range (NaN, infinities, zero, negative, one), in any order: each call is an `Err`
//! that changes nothing, or agrees with an `f64` model kept here (Adam's moments and step
//! count included; `clip_grads`' norm by a `hypot` fold, independent of the library's).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use recur::kernels::{Error, Float};
use recur::layers::ndarray::{s, Array1, ArrayViewMut1};
use recur::layers::optim::{clip_grads, Adam, Optimizer, Sgd};
use recur::layers::ParamMut;
use recur_fuzz::{close, entry, Special};
use recur_testkit::Rng;

#[derive(Arbitrary, Clone, Copy, Debug)]
enum Hyper {
    /// A valid value: `(1 + v) / 256` (in `(0, 1)`).
    Fine(u8),
    Zero,
    Negative,
    One,
    Big,
    Bad(Special),
}

impl Hyper {
    fn get(self) -> f64 {
        match self {
            Hyper::Fine(v) => (1.0 + f64::from(v)) / 257.0,
            Hyper::Zero => 0.0,
            Hyper::Negative => -0.5,
            Hyper::One => 1.0,
            Hyper::Big => 1e30,
            Hyper::Bad(s) => s.get(),
        }
    }
}

#[derive(Arbitrary, Clone, Copy, Debug)]
enum Layout {
    Contiguous,
    Reversed,
    /// Every other element of a twice longer array.
    Strided,
}

#[derive(Arbitrary, Clone, Copy, Debug)]
enum Scale {
    Unit,
    Huge,
    Tiny,
}

#[derive(Arbitrary, Debug)]
struct Param {
    len: u8,
    value: Layout,
    grad: Layout,
    /// A gradient one element longer or shorter than the value.
    wrong: Option<bool>,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Sgd(Hyper),
    Adam {
        lr: Hyper,
        beta1: Option<Hyper>,
        beta2: Option<Hyper>,
        eps: Option<Hyper>,
    },
    Clip(Hyper),
    /// New gradients, scaled, with up to two specials.
    Grads {
        seed: u64,
        scale: Scale,
        specials: Vec<(u8, Special)>,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    params: Vec<Param>,
    f64: bool,
    seed: u64,
    ops: Vec<Op>,
}

/// A 1-D array of `len` logical elements in `layout`, its storage and how to view it.
struct Stored<T> {
    data: Array1<T>,
    layout: Layout,
}

impl<T: Float> Stored<T> {
    fn new(len: usize, layout: Layout) -> Self {
        let n = if matches!(layout, Layout::Strided) {
            2 * len
        } else {
            len
        };
        Stored {
            data: Array1::from_elem(n, T::ZERO),
            layout,
        }
    }
    fn view_mut(&mut self) -> ArrayViewMut1<'_, T> {
        match self.layout {
            Layout::Contiguous => self.data.view_mut(),
            Layout::Reversed => self.data.slice_mut(s![..;-1]),
            Layout::Strided => self.data.slice_mut(s![..;2]),
        }
    }
    fn get(&mut self) -> Vec<f64> {
        self.view_mut().iter().map(|x| x.to_f64()).collect()
    }
    fn set(&mut self, xs: &[f64]) {
        for (d, &x) in self.view_mut().iter_mut().zip(xs) {
            *d = T::from_f64(x);
        }
    }
    /// Every element of the storage, guards included.
    fn bits(&self) -> Vec<u64> {
        self.data.iter().map(|x| x.to_f64().to_bits()).collect()
    }
}

struct Model {
    /// Adam's moments and step count, `None` before its first step.
    m: Option<(Vec<Vec<f64>>, Vec<Vec<f64>>, i32)>,
    /// Whether every Adam step so far had moderate inputs. After a huge gradient `v`
    /// overflows in T (IEEE: then NaN), not in f64, and the two part ways for good.
    exact: bool,
}

fn run<T: Float>(inp: &Input) {
    let eps_t = T::EPSILON.to_f64();
    let is_f64 = T::NAME == "f64";
    // The smallest normal and the smallest subnormal of T.
    let (min_t, tiny_t) = if is_f64 {
        (f64::MIN_POSITIVE, 5e-324)
    } else {
        (f64::from(f32::MIN_POSITIVE), 1.5e-45)
    };
    let mut rng = Rng::new(inp.seed);
    let mut values: Vec<Stored<T>> = Vec::new();
    let mut grads: Vec<Stored<T>> = Vec::new();
    let mut shapes_ok = true;
    for p in inp.params.iter().take(4) {
        let len = p.len as usize % 9;
        let glen = match p.wrong {
            Some(true) => len + 1,
            Some(false) if len > 0 => len - 1,
            _ => len,
        };
        shapes_ok &= glen == len;
        let mut v = Stored::<T>::new(len, p.value);
        v.set(&(0..len).map(|_| entry(&mut rng)).collect::<Vec<_>>());
        let mut g = Stored::<T>::new(glen, p.grad);
        g.set(&(0..glen).map(|_| entry(&mut rng) - 1.0).collect::<Vec<_>>());
        values.push(v);
        grads.push(g);
    }
    let mut adam = Adam::<T>::new(T::from_f64(0.01));
    let mut model = Model {
        m: None,
        exact: true,
    };
    for op in inp.ops.iter().take(10) {
        let before: Vec<(Vec<u64>, Vec<u64>)> = values
            .iter()
            .zip(&grads)
            .map(|(v, g)| (v.bits(), g.bits()))
            .collect();
        let w0: Vec<Vec<f64>> = values.iter_mut().map(Stored::get).collect();
        let g0: Vec<Vec<f64>> = grads.iter_mut().map(Stored::get).collect();
        let mut params: Vec<ParamMut<'_, T>> = values
            .iter_mut()
            .zip(grads.iter_mut())
            .map(|(v, g)| ParamMut {
                name: "p",
                value: v.view_mut().into_dyn(),
                grad: g.view_mut().into_dyn(),
                rows: None,
            })
            .collect();
        // Whether every input is moderate: then the f64 model is compared with.
        let moderate = w0.iter().chain(&g0).flatten().all(|x| x.abs() < 1e6);
        let result = match op {
            Op::Sgd(lr) => {
                let lr_t = T::from_f64(lr.get());
                let r = Sgd::new(lr_t).step(&mut params);
                drop(params);
                let lr = lr_t.to_f64();
                let valid = lr.is_finite() && lr > 0.0;
                check_err(&r, valid && shapes_ok, &["lr", "grad"]);
                if r.is_ok() && moderate {
                    for (v, (w, g)) in values.iter_mut().zip(w0.iter().zip(&g0)) {
                        for (&got, (&w, &g)) in v.get().iter().zip(w.iter().zip(g)) {
                            let want = w - lr * g;
                            let tol = 2.0 * eps_t * (w.abs() + (lr * g).abs());
                            assert!(close(got, want, tol), "sgd: {got} vs {want}");
                        }
                    }
                }
                r.map(drop)
            }
            Op::Adam {
                lr,
                beta1,
                beta2,
                eps,
            } => {
                adam.lr = T::from_f64(lr.get());
                adam.beta1 = T::from_f64(beta1.map_or(0.9, Hyper::get));
                adam.beta2 = T::from_f64(beta2.map_or(0.999, Hyper::get));
                adam.eps = T::from_f64(eps.map_or(1e-7, Hyper::get));
                let r = adam.step(&mut params);
                drop(params);
                let (lr, b1, b2, e) = (
                    adam.lr.to_f64(),
                    adam.beta1.to_f64(),
                    adam.beta2.to_f64(),
                    adam.eps.to_f64(),
                );
                let hyper_ok = lr.is_finite()
                    && lr > 0.0
                    && (0.0..1.0).contains(&b1)
                    && (0.0..1.0).contains(&b2)
                    && e.is_finite()
                    && e > 0.0;
                let same_params = model.m.as_ref().is_none_or(|(m, _, _)| {
                    m.len() == w0.len() && m.iter().zip(&w0).all(|(a, b)| a.len() == b.len())
                });
                check_err(
                    &r,
                    hyper_ok && shapes_ok && same_params,
                    &["lr", "beta1", "beta2", "eps", "grad", "params"],
                );
                if r.is_ok() {
                    model.exact &= moderate;
                    let exact = model.exact;
                    let (m, v, iter) = model.m.get_or_insert_with(|| {
                        let z: Vec<Vec<f64>> = w0.iter().map(|w| vec![0.0; w.len()]).collect();
                        (z.clone(), z, 0)
                    });
                    *iter = iter.saturating_add(1);
                    let lr_i = lr * (1.0 - b2.powi(*iter)).sqrt() / (1.0 - b1.powi(*iter));
                    let steps = f64::from(*iter);
                    for (p, vals) in values.iter_mut().enumerate() {
                        let got = vals.get();
                        for (i, &got) in got.iter().enumerate() {
                            let g = g0[p][i];
                            m[p][i] += (1.0 - b1) * (g - m[p][i]);
                            v[p][i] += (1.0 - b2) * (g * g - v[p][i]);
                            let upd = lr_i * m[p][i] / (v[p][i].sqrt() + e);
                            let want = w0[p][i] - upd;
                            // The moments are rounded to T at every step: a tolerance
                            // growing with the step count, relative to the update's size.
                            let ratio = m[p][i].abs() / (v[p][i].sqrt() + e);
                            let tol = 4.0 * eps_t * w0[p][i].abs()
                                + 256.0 * steps * eps_t * lr_i.abs() * (1.0 + ratio);
                            if exact && want.is_finite() {
                                assert!(
                                    close(got, want, tol),
                                    "adam step {iter}: {got} vs {want} (tol {tol})"
                                );
                            }
                        }
                    }
                }
                r.map(drop)
            }
            Op::Clip(max) => {
                let max_t = T::from_f64(max.get());
                let r = clip_grads(&mut params, max_t);
                drop(params);
                let max = max_t.to_f64();
                let all: Vec<f64> = g0.iter().flatten().copied().collect();
                let norm = all.iter().fold(0.0f64, |acc, &g| acc.hypot(g));
                let max_ok = max.is_finite() && max > 0.0;
                match &r {
                    Err(Error::InvalidArgument { arg, .. }) => {
                        assert!(!max_ok && *arg == "max_norm", "{r:?}")
                    }
                    Err(Error::NonFinite { .. }) => {
                        assert!(max_ok && !norm.is_finite(), "{r:?}: norm {norm}")
                    }
                    Err(e) => panic!("clip_grads: unexpected {e}"),
                    Ok(got) => {
                        assert!(max_ok && norm.is_finite(), "{r:?}: norm {norm}");
                        let tol = 4.0 * (all.len() as f64 + 1.0) * f64::EPSILON * norm;
                        assert!((got - norm).abs() <= tol, "norm {got} vs {norm}");
                        let rate = max / (norm + 1e-6);
                        if (rate - 1.0).abs() > 1e-9 {
                            for (gs, g0) in grads.iter_mut().zip(&g0) {
                                for (&got, &g) in gs.get().iter().zip(g0) {
                                    let want = if rate < 1.0 { g * rate } else { g };
                                    // The rate is rounded to T (a subnormal
                                    // one loses digits); the two norms differ by rounding.
                                    let rel =
                                        4.0 * eps_t + 8.0 * (all.len() as f64 + 1.0) * f64::EPSILON;
                                    let tol = rel * want.abs() + 2.0 * tiny_t * g.abs() + min_t;
                                    assert!(close(got, want, tol), "clipped {got} vs {want}");
                                }
                            }
                        }
                    }
                }
                r.map(drop)
            }
            Op::Grads {
                seed,
                scale,
                specials,
            } => {
                drop(params);
                let mut r = Rng::new(*seed);
                let k = match scale {
                    Scale::Unit => 1.0,
                    Scale::Huge if is_f64 => 1e200,
                    Scale::Huge => 1e30,
                    Scale::Tiny if is_f64 => 1e-200,
                    Scale::Tiny => 1e-30,
                };
                let total: usize = g0.iter().map(Vec::len).sum();
                let mut flat: Vec<f64> = (0..total).map(|_| (entry(&mut r) - 1.0) * k).collect();
                for &(i, sp) in specials.iter().take(2) {
                    if total > 0 {
                        flat[i as usize % total] = sp.get();
                    }
                }
                let mut off = 0;
                for g in grads.iter_mut() {
                    let len = g.view_mut().len();
                    g.set(&flat[off..off + len]);
                    off += len;
                }
                Ok(())
            }
        };
        if result.is_err() {
            let after: Vec<(Vec<u64>, Vec<u64>)> = values
                .iter()
                .zip(&grads)
                .map(|(v, g)| (v.bits(), g.bits()))
                .collect();
            assert_eq!(before, after, "a failed {op:?} changed the parameters");
        }
    }
}

/// `r` is `Ok` exactly when `valid`; an `Err` names one of `args` and says something.
fn check_err<R: std::fmt::Debug>(r: &Result<R, Error>, valid: bool, args: &[&str]) {
    match r {
        Ok(_) => assert!(valid, "an invalid step was accepted"),
        Err(e) => {
            assert!(!valid, "a valid step was refused: {e}");
            let msg = e.to_string();
            assert!(
                args.iter().any(|a| msg.contains(&format!("`{a}`"))),
                "{msg}"
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
