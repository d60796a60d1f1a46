//! # recur-kernels
//!
//! SIMD GEMM and tanh for `f32` and `f64`, dispatched at run time to the best instruction
//! set of the CPU (AVX-512, AVX2+FMA, NEON, scalar), with the fused epilogues the recurrent
//! layers of `recur-layers` need.
//!
//! ## Matrices: strided views
//! A [`MatRef`] / [`MatMut`] is a `rows x cols` view into a slice with a row stride and a
//! column stride, in elements: element `(i, j)` is `data[i * row_stride + j * col_stride]`.
//! Row-major contiguous is `(cols, 1)`, column-major `(1, rows)`; [`MatRef::t`] transposes
//! by swapping the two, without moving data. Constructors check every addressed element
//! lies in the slice (overflow-checked), and mutable views that no two elements alias.
//!
//! ## Sequences: time-major `(T, N, ·)`
//! The layers store a sequence of `T` steps of `N` rows as one row-major `(T, N, H)`
//! tensor, element `(t, n, h)` at `(t·N + n)·H + h`. Step `t` is then the contiguous
//! `(N, H)` block at `t·N·H`, and all steps together are one `(T·N, H)` matrix: the
//! non-recurrent work of all steps is a single large GEMM.
//!
//! ## Instruction-set tiers
//! [`simd_level`] reports the tier in use: detected once per process, lowered (never
//! raised) by the environment variable `RECUR_SIMD=scalar|avx2|avx512`. Each kernel is
//! written once, generic over the tier, and compiled per tier with `#[target_feature]`;
//! the tiers, their detection and their target-feature trampolines are pulp's.
//!
//! ## Threads
//! GEMMs of at least [`PAR_MIN_FLOPS`] flops split C into blocks of rows or columns over
//! the rayon pool ([`Parallelism`]); `k` is never split, so results are bit-identical for
//! any thread count.
//!
//! ## Errors
//! Every fallible function returns [`Result`]; an [`Error`] names the operation, the
//! argument, and the expected and actual shapes. No public safe function panics on any
//! input. All `unsafe` code of recur lives in this crate, each block with its `SAFETY`
//! argument; the layers and the root crate forbid it.

// The modules, bottom to top: each uses only those above it in this list (checked by
// `.ci/check-layering`).
mod element;
pub mod elementwise;
pub mod error;
pub mod gemm;
pub(crate) mod simd;
pub mod tanh;
pub mod view;
pub(crate) mod vmath;

pub use dispatch::{simd_level, Level};
pub use element::Float;
pub use elementwise::{axpy, exp_inplace, exp_shifted_sum, max_value, scale};
pub use error::{Error, Result};
pub use gemm::reference;
pub use gemm::{gemm, gemm_packed, gemm_with, Epilogue, PackedB, Parallelism, PAR_MIN_FLOPS};
/// Tier detection and selection: [`Level`], `RECUR_SIMD`, [`dispatch::with_level`].
pub use simd::dispatch;
pub use tanh::{tanh, tanh_backward, tanh_inplace};
pub use view::{MatMut, MatRef};
