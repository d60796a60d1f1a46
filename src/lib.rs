//! recur
pub use recur_kernels as kernels;
