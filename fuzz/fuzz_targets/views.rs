//! `MatRef` / `MatMut` constructors with arbitrary dimensions and strides (including values
//! whose products overflow `usize`): either `Err`, or a view all of whose elements lie in
//! the slice at `i * row_stride + j * col_stride`; a `MatMut` never aliases; `t()`,
//! `submatrix`, `get` and `set` never panic and address the same elements.
//!
//! Which views must be accepted is decided by an oracle of its own, not by a copy of the
//! library's bounds check: the largest offset in `u128` arithmetic, where it cannot
//! overflow ([`last_offset`]), checked against every element of the small views. An
//! out-of-bounds refusal must report that offset.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use recur::kernels::{Error, Float, MatMut, MatRef};
use recur_fuzz::Dim;

#[derive(Arbitrary, Debug)]
struct Input {
    len: u16,
    rows: Dim,
    cols: Dim,
    row_stride: Dim,
    col_stride: Dim,
    ctor: Ctor,
    f32: bool,
    /// Extra positions to probe with `get` / `set` (any value, in range or not).
    probes: Vec<(Dim, Dim)>,
    /// A sub-view to take: `(i, j, nrows, ncols)`.
    sub: (Dim, Dim, Dim, Dim),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Ctor {
    RefSlice,
    RefStrided,
    MutSlice,
    MutStrided,
}

/// The largest offset of a view, `None` when it has no element. Strides are unsigned, so
/// it is the offset of the last element, `(rows - 1) * rs + (cols - 1) * cs`, here in
/// `u128`: each product is below 2^128, and the sum, which can reach 2^129, saturates at
/// `u128::MAX`, far above any `usize`. (`oracle_agrees_with_every_element` checks the
/// corner argument on the small views.)
fn last_offset(rows: usize, cols: usize, rs: usize, cs: usize) -> Option<u128> {
    if rows == 0 || cols == 0 {
        return None;
    }
    let wide = |x: usize| x as u128; // lossless: usize has at most 64 bits
    let down = wide(rows - 1) * wide(rs);
    let across = wide(cols - 1) * wide(cs);
    Some(down.saturating_add(across))
}

/// Every element of the view lies in a slice of `len` elements (by [`last_offset`]).
fn in_bounds(len: usize, rows: usize, cols: usize, rs: usize, cs: usize) -> bool {
    last_offset(rows, cols, rs, cs).is_none_or(|off| off < len as u128)
}

/// The oracle's own check, on views small enough to visit: the largest offset over every
/// element, in `u128`, is [`last_offset`].
fn oracle_agrees_with_every_element(rows: usize, cols: usize, rs: usize, cs: usize) {
    if !small(rows, cols) {
        return;
    }
    let mut max = None;
    for i in 0..rows {
        for j in 0..cols {
            let off = i as u128 * rs as u128 + j as u128 * cs as u128;
            max = max.max(Some(off));
        }
    }
    assert_eq!(
        max,
        last_offset(rows, cols, rs, cs),
        "{rows}x{cols} ({rs}, {cs})"
    );
}

/// `rows * cols`, the length `from_slice` wants, without overflow.
fn elements(rows: usize, cols: usize) -> u128 {
    rows as u128 * cols as u128
}

/// A refusal by a strided constructor (`mutable`: `MatMut::from_strided`). `OutOfBounds`
/// only for a view the oracle finds out of bounds, reporting the oracle's largest offset
/// (`None` when it exceeds `usize`) and the slice's length; `AliasingStrides` only from a
/// `MatMut`, which may refuse any view its (sufficient, not necessary) rule cannot clear.
fn check_refusal(e: &Error, len: usize, dims: (usize, usize, usize, usize), mutable: bool) {
    let (rows, cols, rs, cs) = dims;
    match e {
        Error::OutOfBounds {
            max_offset,
            len: reported_len,
            ..
        } => {
            assert!(
                !in_bounds(len, rows, cols, rs, cs),
                "in-bounds view refused: {e}"
            );
            assert_eq!(*reported_len, len, "{e}");
            let want = last_offset(rows, cols, rs, cs).expect("an empty view is in bounds");
            assert_eq!(*max_offset, usize::try_from(want).ok(), "{e}");
        }
        Error::AliasingStrides { .. } if mutable => {}
        _ => panic!("unexpected refusal of {rows}x{cols} ({rs}, {cs}): {e:?}"),
    }
    let _ = e.to_string();
}

/// Few enough elements to visit each (and neither dimension huge: `0 x usize::MAX` has no
/// element but a loop over its rows would never end).
fn small(rows: usize, cols: usize) -> bool {
    rows <= 4096 && cols <= 4096 && rows * cols <= 4096
}

/// Brute force: do two elements of a small view share an offset?
fn aliases(rows: usize, cols: usize, rs: usize, cs: usize) -> Option<bool> {
    if !small(rows, cols) {
        return None;
    }
    let mut seen = std::collections::HashSet::new();
    for i in 0..rows {
        for j in 0..cols {
            if !seen.insert(i * rs + j * cs) {
                return Some(true);
            }
        }
    }
    Some(false)
}

/// Positions to probe: the four corners, just outside them, and the fuzzed ones.
fn probes(rows: usize, cols: usize, extra: &[(Dim, Dim)]) -> Vec<(usize, usize)> {
    let last_r = rows.wrapping_sub(1);
    let last_c = cols.wrapping_sub(1);
    let mut p = vec![
        (0, 0),
        (last_r, 0),
        (0, last_c),
        (last_r, last_c),
        (rows, 0),
        (0, cols),
        (rows, cols),
        (usize::MAX, usize::MAX),
    ];
    p.extend(extra.iter().take(16).map(|(a, b)| (a.get(), b.get())));
    p
}

/// The value stored at offset `o` of the backing slice (exact in both types for
/// `o < 2^24`).
fn tag<T: Float>(o: usize) -> T {
    T::from_usize(o + 1)
}

fn check_ref<T: Float>(v: MatRef<'_, T>, data: &[T], extra: &[(Dim, Dim)]) {
    let (rows, cols, rs, cs) = (v.rows(), v.cols(), v.row_stride(), v.col_stride());
    assert!(in_bounds(data.len(), rows, cols, rs, cs));
    for (i, j) in probes(rows, cols, extra) {
        let got = v.get(i, j);
        if i < rows && j < cols {
            let off = i * rs + j * cs;
            assert_eq!(
                got,
                Some(data[off]),
                "({i}, {j}) of {rows}x{cols} ({rs}, {cs})"
            );
        } else {
            assert_eq!(got, None);
        }
        // The transposed view sees the same element.
        assert_eq!(v.t().get(j, i), got);
    }
}

fn check_sub<T: Float>(v: MatRef<'_, T>, sub: (Dim, Dim, Dim, Dim)) {
    let (i, j, nr, nc) = (sub.0.get(), sub.1.get(), sub.2.get(), sub.3.get());
    let fits = i.checked_add(nr).is_some_and(|e| e <= v.rows())
        && j.checked_add(nc).is_some_and(|e| e <= v.cols());
    match v.submatrix(i, j, nr, nc) {
        None => assert!(!fits, "submatrix({i}, {j}, {nr}, {nc}) of {v:?} refused"),
        Some(s) => {
            assert!(fits);
            assert_eq!((s.rows(), s.cols()), (nr, nc));
            if nr > 0 && nc > 0 {
                for (a, b) in [(0, 0), (nr - 1, 0), (0, nc - 1), (nr - 1, nc - 1)] {
                    assert_eq!(s.get(a, b), v.get(i + a, j + b));
                }
            }
        }
    }
}

fn run<T: Float>(inp: &Input) {
    let len = inp.len as usize % 4097;
    let (rows, cols) = (inp.rows.get(), inp.cols.get());
    let (rs, cs) = (inp.row_stride.get(), inp.col_stride.get());
    let mut data: Vec<T> = (0..len).map(tag).collect();
    let extra = &inp.probes;
    oracle_agrees_with_every_element(rows, cols, rs, cs);
    match inp.ctor {
        Ctor::RefSlice => match MatRef::from_slice(&data, rows, cols) {
            Ok(v) => {
                assert_eq!(elements(rows, cols), len as u128);
                assert_eq!((v.row_stride(), v.col_stride()), (cols, 1));
                check_ref(v, &data, extra);
                check_sub(v, inp.sub);
            }
            Err(e) => {
                assert_ne!(elements(rows, cols), len as u128, "{e}");
                let _ = e.to_string();
            }
        },
        Ctor::RefStrided => match MatRef::from_strided(&data, rows, cols, rs, cs) {
            Ok(v) => {
                assert_eq!((v.rows(), v.cols()), (rows, cols));
                check_ref(v, &data, extra);
                check_sub(v, inp.sub);
            }
            Err(e) => {
                // A read-only view is refused exactly when some element is out of bounds.
                check_refusal(&e, len, (rows, cols, rs, cs), false);
            }
        },
        Ctor::MutSlice | Ctor::MutStrided => {
            let result = if matches!(inp.ctor, Ctor::MutSlice) {
                MatMut::from_slice(&mut data, rows, cols)
            } else {
                MatMut::from_strided(&mut data, rows, cols, rs, cs)
            };
            let (rows, cols, rs, cs) = match result {
                Err(e) => {
                    // `from_slice` refuses only a wrong length; `from_strided` also refuses
                    // strides under which elements might alias (its rule is sufficient,
                    // not necessary, so an aliasing refusal of an in-bounds view is not
                    // a failure, but an out-of-bounds one is).
                    if matches!(inp.ctor, Ctor::MutSlice) {
                        assert_ne!(elements(rows, cols), len as u128, "{e}");
                        let _ = e.to_string();
                    } else {
                        check_refusal(&e, len, (rows, cols, rs, cs), true);
                    }
                    return;
                }
                Ok(mut v) => {
                    let dims = (v.rows(), v.cols(), v.row_stride(), v.col_stride());
                    check_ref(v.as_ref(), &data_snapshot(&v), extra);
                    check_sub(v.as_ref(), inp.sub);
                    // Write a distinct value to every element of a small view, then read
                    // them all back: no two elements share a location.
                    let (r, c) = (dims.0, dims.1);
                    if small(r, c) {
                        for i in 0..r {
                            for j in 0..c {
                                assert!(v.set(i, j, T::from_usize(i * c + j).neg_marker()));
                            }
                        }
                        for i in 0..r {
                            for j in 0..c {
                                assert_eq!(
                                    v.get(i, j),
                                    Some(T::from_usize(i * c + j).neg_marker()),
                                    "element ({i}, {j}) of {dims:?} aliases another"
                                );
                            }
                        }
                        // Out-of-range writes change nothing.
                        assert!(!v.set(r, 0, T::ZERO) && !v.set(0, c, T::ZERO));
                        // Through the transposed view, the same locations.
                        let vt = v.rb_mut().t();
                        if r > 0 && c > 0 {
                            assert_eq!(vt.get(c - 1, r - 1), v_get(&v, r - 1, c - 1));
                        }
                    }
                    dims
                }
            };
            assert!(in_bounds(len, rows, cols, rs, cs));
            if let Some(true) = aliases(rows, cols, rs, cs) {
                panic!("aliasing view accepted: {rows}x{cols} strides ({rs}, {cs})");
            }
            // Exactly the view's elements were written (all others keep their tag).
            if small(rows, cols) {
                let mut written = 0usize;
                for (o, x) in data.iter().enumerate() {
                    if *x != tag::<T>(o) {
                        written += 1;
                    }
                }
                assert_eq!(written, rows * cols);
            }
        }
    }
}

fn v_get<T: Float>(v: &MatMut<'_, T>, i: usize, j: usize) -> Option<T> {
    v.get(i, j)
}

/// A copy of the slice under a mutable view, as the view sees it (for `check_ref`, which
/// compares `get` with the slice): rebuilt from the view's own reads of its slice.
fn data_snapshot<T: Float>(v: &MatMut<'_, T>) -> Vec<T> {
    let r = v.as_ref();
    r.as_slice().to_vec()
}

trait NegMarker {
    fn neg_marker(self) -> Self;
}
impl<T: Float> NegMarker for T {
    /// A value no tag has (tags are positive).
    fn neg_marker(self) -> Self {
        -self - T::ONE
    }
}

fuzz_target!(|inp: Input| {
    if inp.f32 {
        run::<f32>(&inp);
    } else {
        run::<f64>(&inp);
    }
});
