//! GEMM benchmarks (placeholder until the GEMM benches land).
fn main() {}
