//! # recur
//!
//! Facade of the recur workspace: SIMD kernels ([`kernels`]), recurrent layers
//! ([`layers`]), gradient verification ([`check`]), and an RNN language model with its
//! trainer ([`lm`]), which the `recur` command runs (`cli`, with the default `cli`
//! feature).
//!
//! ```
//! use recur::layers::ndarray::{array, Array1, Array2};
//! use recur::layers::{ids_to_time_major, Embedding, TimeRnn};
//!
//! let ids = array![[0u32, 1, 2, 3], [0, 3, 4, 2]];              // batch-major (N, T)
//! let ids = ids_to_time_major(ids.view());                       // time-major (T, N)
//! let mut emb = Embedding::new(Array2::<f32>::zeros((10, 3)));   // (V, D)
//! let mut rnn = TimeRnn::new(Array2::zeros((3, 4)), Array2::zeros((4, 4)), Array1::zeros(4))?;
//! let xs = emb.forward(ids.view())?.to_owned();                  // (T, N, D)
//! let hs = rnn.forward(xs.view())?;                              // (T, N, H)
//! assert_eq!(hs.dim(), (4, 2, 4));
//! # Ok::<(), recur::kernels::Error>(())
//! ```

#![forbid(unsafe_code)]

// `recur::` paths inside the crate too: `src/cli/baseline.rs` is also compiled into
// `benches/rnn.rs`, where the crate is `recur`.
extern crate self as recur;

#[cfg(feature = "cli")]
pub mod cli;
pub mod lm;

pub use recur_check as check;
pub use recur_kernels as kernels;
pub use recur_layers as layers;
