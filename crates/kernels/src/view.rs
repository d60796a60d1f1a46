//! Strided matrix views over slices: [`MatRef`] and [`MatMut`].
//!
//! A view of `rows x cols` elements with strides `(row_stride, col_stride)` (in elements,
//! unsigned) maps element `(i, j)` to `data[i * row_stride + j * col_stride]`. Row-major
//! contiguous storage is `(cols, 1)`, column-major is `(1, rows)`; `.t()` swaps the
//! dimensions and the strides and moves no data.
//!
//! Constructors check, with overflow-checked arithmetic, that the largest offset a view
//! can address, `(rows - 1) * row_stride + (cols - 1) * col_stride`, lies inside the
//! slice (a view with no element addresses nothing and is always valid). `MatMut` also
//! rejects strides under which two elements would share a location: after ordering the
//! two dimensions by stride, the smaller stride must be nonzero when its dimension exceeds
//! 1, and the larger stride must be at least the smaller dimension's extent
//! (`dim_small * stride_small`) when its own dimension exceeds 1.

use crate::element::Float;
use crate::error::{Error, Result};

fn describe(rows: usize, cols: usize, rs: usize, cs: usize) -> String {
    format!("{rows} x {cols}, strides ({rs}, {cs})")
}

/// Largest offset a view addresses, `None` for an empty view, `Err` on overflow.
fn max_offset(rows: usize, cols: usize, rs: usize, cs: usize) -> Option<Option<usize>> {
    if rows == 0 || cols == 0 {
        return Some(None);
    }
    let a = (rows - 1).checked_mul(rs)?;
    let b = (cols - 1).checked_mul(cs)?;
    a.checked_add(b).map(Some)
}

fn check_bounds(
    op: &'static str,
    arg: &'static str,
    len: usize,
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
) -> Result<()> {
    match max_offset(rows, cols, rs, cs) {
        Some(None) => Ok(()),
        Some(Some(off)) if off < len => Ok(()),
        max => Err(Error::OutOfBounds {
            op,
            arg,
            view: describe(rows, cols, rs, cs),
            max_offset: max.flatten(),
            len,
        }),
    }
}

/// `true` if no two in-range `(i, j)` map to the same offset (a sufficient test).
fn strides_are_injective(rows: usize, cols: usize, rs: usize, cs: usize) -> bool {
    // Order the dimensions so that `s_small <= s_big`.
    let ((n_small, s_small), (n_big, s_big)) = if rs <= cs {
        ((rows, rs), (cols, cs))
    } else {
        ((cols, cs), (rows, rs))
    };
    if n_small > 1 && s_small == 0 {
        return false;
    }
    if n_big > 1 {
        // With n_small == 1 only a nonzero big stride is needed.
        let extent = n_small.saturating_mul(s_small).max(1);
        if s_big < extent {
            return false;
        }
    }
    true
}

/// An immutable strided view of a `rows x cols` matrix inside a slice.
///
/// ```
/// use recur_kernels::MatRef;
/// let data = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
/// let a = MatRef::from_slice(&data, 2, 3)?; // [[1, 2, 3], [4, 5, 6]]
/// assert_eq!(a.get(1, 0), Some(4.0));
/// let at = a.t(); // 3 x 2, no copy
/// assert_eq!((at.rows(), at.cols()), (3, 2));
/// assert_eq!(at.get(0, 1), Some(4.0));
/// # Ok::<(), recur_kernels::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<'a, T: Float> MatRef<'a, T> {
    /// A row-major contiguous view: element `(i, j)` is `data[i * cols + j]`.
    ///
    /// # Errors
    /// [`Error::SizeOverflow`] if `rows * cols` overflows, [`Error::ShapeMismatch`] if
    /// `data.len() != rows * cols`.
    pub fn from_slice(data: &'a [T], rows: usize, cols: usize) -> Result<Self> {
        check_exact_len("MatRef::from_slice", data.len(), rows, cols)?;
        Ok(MatRef {
            data,
            rows,
            cols,
            rs: cols,
            cs: 1,
        })
    }

    /// A view with explicit strides: element `(i, j)` is
    /// `data[i * row_stride + j * col_stride]`.
    ///
    /// # Errors
    /// [`Error::OutOfBounds`] if some element lies outside `data` (or its offset overflows).
    pub fn from_strided(
        data: &'a [T],
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Result<Self> {
        check_bounds(
            "MatRef::from_strided",
            "data",
            data.len(),
            rows,
            cols,
            row_stride,
            col_stride,
        )?;
        Ok(MatRef {
            data,
            rows,
            cols,
            rs: row_stride,
            cs: col_stride,
        })
    }

    /// The transposed view (`cols x rows`); no data moves.
    #[must_use]
    pub fn t(self) -> Self {
        MatRef {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// Distance in elements between `(i, j)` and `(i + 1, j)`.
    pub fn row_stride(&self) -> usize {
        self.rs
    }
    /// Distance in elements between `(i, j)` and `(i, j + 1)`.
    pub fn col_stride(&self) -> usize {
        self.cs
    }
    /// The underlying slice.
    pub fn as_slice(&self) -> &'a [T] {
        self.data
    }
    /// Element `(i, j)`, or `None` when out of range.
    pub fn get(&self, i: usize, j: usize) -> Option<T> {
        if i < self.rows && j < self.cols {
            Some(self.data[i * self.rs + j * self.cs])
        } else {
            None
        }
    }
    /// Element `(i, j)`; the caller has checked `i < rows`, `j < cols`.
    #[inline(always)]
    #[track_caller]
    pub(crate) fn at(&self, i: usize, j: usize) -> T {
        debug_assert!(i < self.rows && j < self.cols);
        self.data[i * self.rs + j * self.cs]
    }
    /// A sub-view of `nrows x ncols` elements starting at `(i, j)`, or `None` if it does
    /// not fit.
    pub fn submatrix(&self, i: usize, j: usize, nrows: usize, ncols: usize) -> Option<Self> {
        let ie = i.checked_add(nrows)?;
        let je = j.checked_add(ncols)?;
        if ie > self.rows || je > self.cols {
            return None;
        }
        if nrows == 0 || ncols == 0 {
            return Some(MatRef {
                data: &self.data[..0],
                rows: nrows,
                cols: ncols,
                rs: self.rs,
                cs: self.cs,
            });
        }
        let start = i * self.rs + j * self.cs;
        Some(MatRef {
            data: &self.data[start..],
            rows: nrows,
            cols: ncols,
            rs: self.rs,
            cs: self.cs,
        })
    }
}

fn check_exact_len(op: &'static str, len: usize, rows: usize, cols: usize) -> Result<()> {
    let want = rows.checked_mul(cols).ok_or_else(|| Error::SizeOverflow {
        op,
        arg: "rows * cols",
        shape: format!("({rows}, {cols})"),
    })?;
    if want != len {
        return Err(Error::ShapeMismatch {
            op,
            arg: "data",
            expected: format!("a slice of rows * cols = {rows} * {cols} = {want} elements"),
            got: format!("{len} elements"),
        });
    }
    Ok(())
}

/// A mutable strided view of a `rows x cols` matrix inside a slice; no two elements
/// share a location.
///
/// ```
/// use recur_kernels::MatMut;
/// let mut data = [0.0f64; 6];
/// let mut c = MatMut::from_slice(&mut data, 3, 2)?;
/// c.set(2, 1, 7.0);
/// assert_eq!(data[5], 7.0);
/// // Strides under which two elements would alias are refused:
/// let mut other = [0.0f64; 6];
/// assert!(MatMut::from_strided(&mut other, 2, 2, 1, 1).is_err());
/// # Ok::<(), recur_kernels::Error>(())
/// ```
#[derive(Debug)]
pub struct MatMut<'a, T> {
    data: &'a mut [T],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<'a, T: Float> MatMut<'a, T> {
    /// A row-major contiguous mutable view: element `(i, j)` is `data[i * cols + j]`.
    ///
    /// # Errors
    /// [`Error::SizeOverflow`] if `rows * cols` overflows, [`Error::ShapeMismatch`] if
    /// `data.len() != rows * cols`.
    pub fn from_slice(data: &'a mut [T], rows: usize, cols: usize) -> Result<Self> {
        check_exact_len("MatMut::from_slice", data.len(), rows, cols)?;
        Ok(MatMut {
            data,
            rows,
            cols,
            rs: cols,
            cs: 1,
        })
    }

    /// A mutable view with explicit strides.
    ///
    /// # Errors
    /// [`Error::OutOfBounds`] if some element lies outside `data` (or its offset
    /// overflows), [`Error::AliasingStrides`] if two elements could share a location.
    pub fn from_strided(
        data: &'a mut [T],
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Result<Self> {
        let op = "MatMut::from_strided";
        check_bounds(op, "data", data.len(), rows, cols, row_stride, col_stride)?;
        if rows > 0 && cols > 0 && !strides_are_injective(rows, cols, row_stride, col_stride) {
            return Err(Error::AliasingStrides {
                op,
                arg: "data",
                view: describe(rows, cols, row_stride, col_stride),
            });
        }
        Ok(MatMut {
            data,
            rows,
            cols,
            rs: row_stride,
            cs: col_stride,
        })
    }

    /// The transposed view (`cols x rows`); no data moves.
    #[must_use]
    pub fn t(self) -> Self {
        MatMut {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }

    /// A shorter-lived mutable view of the same elements.
    pub fn rb_mut(&mut self) -> MatMut<'_, T> {
        MatMut {
            data: self.data,
            rows: self.rows,
            cols: self.cols,
            rs: self.rs,
            cs: self.cs,
        }
    }

    /// An immutable view of the same elements.
    pub fn as_ref(&self) -> MatRef<'_, T> {
        MatRef {
            data: self.data,
            rows: self.rows,
            cols: self.cols,
            rs: self.rs,
            cs: self.cs,
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// Distance in elements between `(i, j)` and `(i + 1, j)`.
    pub fn row_stride(&self) -> usize {
        self.rs
    }
    /// Distance in elements between `(i, j)` and `(i, j + 1)`.
    pub fn col_stride(&self) -> usize {
        self.cs
    }
    /// Element `(i, j)`, or `None` when out of range.
    pub fn get(&self, i: usize, j: usize) -> Option<T> {
        self.as_ref().get(i, j)
    }
    /// Sets element `(i, j)`; returns `false` (and changes nothing) when out of range.
    pub fn set(&mut self, i: usize, j: usize, v: T) -> bool {
        if i < self.rows && j < self.cols {
            self.data[i * self.rs + j * self.cs] = v;
            true
        } else {
            false
        }
    }
    /// Raw pointer to element `(0, 0)` (valid to write at every in-range offset).
    #[inline(always)]
    pub(crate) fn ptr_mut(&mut self) -> *mut T {
        self.data.as_mut_ptr()
    }
    /// Element `(i, j)` by mutable reference; the caller has checked the range.
    #[inline(always)]
    #[track_caller]
    pub(crate) fn at_mut(&mut self, i: usize, j: usize) -> &mut T {
        debug_assert!(i < self.rows && j < self.cols);
        &mut self.data[i * self.rs + j * self.cs]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_checked_with_overflow() {
        let d = [0.0f32; 10];
        assert!(MatRef::from_strided(&d, 2, 5, 5, 1).is_ok());
        assert!(MatRef::from_strided(&d, 2, 5, 6, 1).is_err());
        assert!(MatRef::from_strided(&d, usize::MAX, 2, usize::MAX, 1).is_err());
        assert!(MatRef::from_strided(&d, 0, usize::MAX, 7, usize::MAX).is_ok());
        assert!(MatRef::from_slice(&d, usize::MAX, 2).is_err());
        assert!(MatRef::from_slice(&d, 3, 3).is_err());
        // Broadcast (stride 0) is fine for reading.
        assert!(MatRef::from_strided(&d, 100, 3, 0, 1).is_ok());
    }

    #[test]
    fn mutable_views_reject_aliasing() {
        let mut d = [0.0f32; 64];
        assert!(MatMut::from_strided(&mut d, 3, 4, 4, 1).is_ok());
        assert!(MatMut::from_strided(&mut d, 3, 4, 1, 3).is_ok());
        assert!(MatMut::from_strided(&mut d, 3, 4, 3, 1).is_err());
        assert!(MatMut::from_strided(&mut d, 3, 4, 0, 1).is_err());
        assert!(MatMut::from_strided(&mut d, 1, 4, 0, 1).is_ok());
        assert!(MatMut::from_strided(&mut d, 4, 1, 1, 0).is_ok());
        assert!(MatMut::from_strided(&mut d, 1, 1, 0, 0).is_ok());
        assert!(MatMut::from_strided(&mut d, 2, 2, 2, 3).is_err());
        assert!(MatMut::from_strided(&mut d, 2, 3, 7, 2).is_ok());
    }

    #[test]
    fn injectivity_test_is_sound_on_small_cases() {
        // Brute force: whenever the rule accepts, offsets really are distinct.
        for rows in 1..5 {
            for cols in 1..5 {
                for rs in 0..7 {
                    for cs in 0..7 {
                        if strides_are_injective(rows, cols, rs, cs) {
                            let mut seen = std::collections::HashSet::new();
                            for i in 0..rows {
                                for j in 0..cols {
                                    assert!(
                                        seen.insert(i * rs + j * cs),
                                        "{rows} {cols} {rs} {cs}"
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
    fn transpose_swaps() {
        let d: Vec<f64> = (0..6).map(f64::from).collect();
        let a = MatRef::from_slice(&d, 2, 3).unwrap();
        let t = a.t();
        for i in 0..2 {
            for j in 0..3 {
                assert_eq!(a.get(i, j), t.get(j, i));
            }
        }
        assert_eq!(a.get(2, 0), None);
    }
}
