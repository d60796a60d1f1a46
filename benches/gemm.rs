//! GEMM benchmarks (placeholder, filled in by a later commit).

fn main() {}
