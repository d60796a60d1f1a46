//! Once shapes are stable, `TimeRnn` and `Embedding` forward and backward (and a whole
//! language-model step: forward, backward, clipping, optimizer) do not touch the heap: a counting global
//! allocator proves it for the second and later calls.

use recur::kernels::Parallelism;
use recur::layers::ndarray::{Array1, Array2, Array3};
use recur::layers::optim::{Adam, Optimizer, Sgd};
use recur::layers::{Embedding, TimeRnn};
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

    // A whole language-model training step (forward, backward, clipping, optimizer
    // update) allocates nothing after the first, also after the update changed the weights
    // (Wh and the head's W are repacked into the same buffers): with SGD and with Adam
    // (whose moments are made at its first step). On one thread: with threads, which
    // rayon worker first runs a GEMM task of a given size (and so grows its own packing
    // buffers) is up to the pool, so a later step may still allocate a buffer or two.
    // (V, D, H) = (2000, 240, 64) at (T, N) = (35, 4) is large enough that, given
    // threads, the head's row blocks, the embedding's rows, the norm's tree and the
    // optimizer's chunks would split.
    for (par, adam) in [(Parallelism::Serial, false), (Parallelism::Serial, true)] {
        let mut model = SimpleRnnlm::<f32>::new(2000, 240, 64, 1).unwrap();
        model.set_parallelism(par);
        model.affine.set_block_rows(8).unwrap();
        let mut opt: Box<dyn Optimizer<f32>> = if adam {
            Box::new(Adam::new(0.01f32))
        } else {
            Box::new(Sgd::new(0.1f32))
        };
        opt.set_parallelism(par);
        let xs = Array2::from_shape_fn((35, 4), |(a, b)| ((a * 7 + b * 3) % 2000) as u32);
        let ts = Array2::from_shape_fn((35, 4), |(a, b)| ((a * 7 + b * 3 + 1) % 2000) as u32);
        for step in 0..4 {
            let n_allocs = allocations_during(|| {
                let loss = model
                    .train_step(xs.view(), ts.view(), Some(0.5), &mut *opt)
                    .unwrap();
                assert!(loss.is_finite());
            });
            if step > 0 {
                assert_eq!(
                    n_allocs, 0,
                    "{par:?}, Adam {adam}: language-model step {step}"
                );
            }
        }
    }
}
