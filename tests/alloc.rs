//! Once shapes are stable, `TimeRnn` and `Embedding` forward and backward (and a whole
//! language-model step, optimizer included) do not touch the heap: a counting global
//! allocator proves it for the second and later calls.

use recur::kernels::Parallelism;
use recur::layers::ndarray::{Array1, Array2, Array3};
use recur::layers::optim::{Adam, Optimizer};
use recur::layers::{Embedding, Parameters, TimeRnn};
use recur::lm::SimpleRnnlm;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCS.load(Ordering::SeqCst);
    f();
    ALLOCS.load(Ordering::SeqCst) - before
}

// One test function: the counter is process-wide, so nothing may run beside it.
#[test]
fn steady_state_passes_do_not_allocate() {
    for &(t, n, d, h) in &[(4, 5, 3, 4), (5, 10, 100, 100), (7, 3, 17, 33)] {
        let wx = Array2::from_shape_fn((d, h), |(i, j)| ((i + 2 * j) as f32 * 0.1).sin() * 0.1);
        let wh = Array2::from_shape_fn((h, h), |(i, j)| ((3 * i + j) as f32 * 0.1).cos() * 0.1);
        let mut rnn = TimeRnn::new(wx, wh, Array1::zeros(h)).unwrap();
        rnn.set_parallelism(Parallelism::Serial);
        rnn.set_stateful(true);
        let xs = Array3::from_elem((t, n, d), 0.5f32);
        let dhs = Array3::from_elem((t, n, h), 0.25f32);
        let mut emb = Embedding::new(Array2::from_elem((20, d), 0.1f32));
        let ids = Array2::from_shape_fn((t, n), |(a, b)| ((a * n + b) % 20) as u32);
        let mut step = || {
            emb.forward(ids.view()).unwrap();
            rnn.forward(xs.view()).unwrap();
            rnn.backward(dhs.view()).unwrap();
            emb.backward(xs.view()).unwrap();
        };
        step(); // warm-up: buffers reach their sizes
        let n_allocs = allocations_during(|| {
            for _ in 0..3 {
                step();
            }
        });
        assert_eq!(n_allocs, 0, "(T, N, D, H) = {:?}", (t, n, d, h));
    }

    // A whole language-model training step: forward and backward allocate nothing, also
    // after an optimizer step changed the weights (Wh is repacked into the same buffers).
    // (`params_mut` itself returns a Vec; it runs outside the counted region.)
    let mut model = SimpleRnnlm::<f32>::new(50, 16, 24, 1);
    model.set_parallelism(Parallelism::Serial);
    let mut opt = Adam::new(0.01f32);
    let xs = Array2::from_shape_fn((5, 4), |(a, b)| ((a * 4 + b) % 50) as u32);
    let ts = Array2::from_shape_fn((5, 4), |(a, b)| ((a * 4 + b + 1) % 50) as u32);
    for step in 0..4 {
        let n_allocs = allocations_during(|| {
            model.forward(xs.view(), ts.view()).unwrap();
            model.backward().unwrap();
        });
        if step > 0 {
            assert_eq!(n_allocs, 0, "language-model step {step}");
        }
        let mut params = model.params_mut();
        opt.step(&mut params).unwrap();
    }
}
