// glibc's AVX2 vector tanhf (libmvec's _ZGVdN8v_tanhf, glibc >= 2.35), the best vector tanh
// an AVX2-only x86 CPU runs, timed by the protocol of the peer harness's tanh_bench.c and of
// examples/peers_tanh.rs: inputs uniform in [-10, 10] from the same xorshift generator, sizes
// 1 Ki, 64 Ki and 16 Mi, a calibration pass of at least 0.1 s, then REPS (5) timings of
// MIN_MEAS (0.2) seconds. Prints `TANH libmvec-avx2 <n> <median> <min> <max> <calls>`.
//
//   gcc -O2 -mavx2 -mfma crates/kernels/tools/tanh_glibc_avx2.c -o /tmp/tanh_glibc_avx2 -lmvec -lm
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

__m256 _ZGVdN8v_tanhf(__m256 x);

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}
static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
static uint64_t rng = 88172645463325252ull;
static float urand10(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((double)(rng >> 11) * (20.0 / 9007199254740992.0) - 10.0);
}
// n is a multiple of 8 here.
static void run(const float *x, float *y, size_t n) {
    for (size_t i = 0; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _ZGVdN8v_tanhf(_mm256_loadu_ps(x + i)));
}

int main(void) {
    size_t sizes[] = {1u << 10, 1u << 16, 1u << 24};
    int reps = getenv("REPS") ? atoi(getenv("REPS")) : 5;
    double min_meas = getenv("MIN_MEAS") ? atof(getenv("MIN_MEAS")) : 0.2;
    if (reps < 1) reps = 1;
    if (reps > 64) reps = 64;
    for (int s = 0; s < 3; s++) {
        size_t n = sizes[s];
        float *x = aligned_alloc(64, n * 4), *y = aligned_alloc(64, n * 4);
        if (!x || !y) return 1;
        for (size_t i = 0; i < n; i++) x[i] = urand10();
        memset(y, 0, n * 4);
        long calls = 0;
        double t0 = now(), dt;
        do {
            run(x, y, n);
            calls++;
            dt = now() - t0;
        } while (dt < 0.1 || calls < 2);
        long iters = (long)ceil(min_meas / (dt / calls));
        double g[64];
        for (int r = 0; r < reps; r++) {
            double t1 = now();
            for (long it = 0; it < iters; it++) run(x, y, n);
            g[r] = (double)n * iters / (now() - t1) * 1e-9;
        }
        qsort(g, reps, sizeof g[0], cmpd);
        printf("TANH libmvec-avx2 %zu %.3f %.3f %.3f %ld\n", n, g[reps / 2], g[0], g[reps - 1], iters);
        fflush(stdout);
        free(x), free(y);
    }
    return 0;
}
