//! The NEON tier's hooks (`pulp::aarch64::Neon`): aarch64 Advanced SIMD, 128-bit vectors
//! (4 f32 or 2 f64 lanes), 32 vector registers. NEON is part of the aarch64 baseline; the
//! partial loads and stores use the portable buffered form of [`super::Isa`].

use super::dispatch::Level;
use super::{Isa, Neon};
use pulp::bytemuck::cast;

impl Isa for Neon {
    const LEVEL: Level = Level::Neon;

    #[inline(always)]
    fn round_f32s(self, a: Self::f32s) -> Self::f32s {
        // `frintn` rounds ties to even.
        cast(self.neon.vrndnq_f32(cast(a)))
    }
    #[inline(always)]
    fn round_f64s(self, a: Self::f64s) -> Self::f64s {
        cast(self.neon.vrndnq_f64(cast(a)))
    }
    #[inline(always)]
    fn ldexp_f32s(self, a: Self::f32s, k: Self::f32s) -> Self::f32s {
        // `k` is an integer of magnitude below 2^22 on every defined lane, so the
        // conversion is exact; shifted up to the exponent field, an integer add scales `a`
        // by 2^k (the same bits as the x86 tiers' magic-number form).
        let kbits = self
            .neon
            .vshlq_n_s32::<23>(self.neon.vcvtq_s32_f32(cast(k)));
        cast(self.neon.vaddq_s32(cast(a), kbits))
    }
    #[inline(always)]
    fn ldexp_f64s(self, a: Self::f64s, k: Self::f64s) -> Self::f64s {
        let kbits = self
            .neon
            .vshlq_n_s64::<52>(self.neon.vcvtq_s64_f64(cast(k)));
        cast(self.neon.vaddq_s64(cast(a), kbits))
    }
}
