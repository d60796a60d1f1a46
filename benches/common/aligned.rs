//! Operands placed at a chosen offset from a 64-byte boundary, for the timing examples.
//!
//! The peer harness hands every library 64-byte aligned buffers (`aligned_alloc(64, ..)`),
//! and a `Vec` is only as aligned as the allocator makes it (16 bytes past a page for a
//! large one with glibc): a B or C row of 16 floats then spans two cache lines, which on
//! Zen 3 cost up to 10% at 16 x 128 x 128. Timing recur on the harness's terms means the
//! same alignment.

use std::ops::Range;

/// `data` copied to `off` bytes past a 64-byte boundary of a new buffer (`off` a multiple
/// of the element size, below 64), or `data` itself when `off` is `None`: the buffer and
/// the range of it that holds the copy.
pub fn placed<T: Copy + Default>(data: Vec<T>, off: Option<usize>) -> (Vec<T>, Range<usize>) {
    let Some(off) = off else {
        let len = data.len();
        return (data, 0..len);
    };
    let size = std::mem::size_of::<T>();
    let mut buf = vec![T::default(); data.len() + 128 / size];
    let to_line = (64 - buf.as_ptr() as usize % 64) % 64;
    let start = (to_line + off % 64) / size;
    buf[start..start + data.len()].copy_from_slice(&data);
    (buf, start..start + data.len())
}
