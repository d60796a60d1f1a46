//! The data caches of the CPU the kernels run on, as the CPU reports them: what the GEMM
//! sizes its packed blocks from (`MC` from L2, `NC` from L3; see `gemm::tiers::Blocking`).
//!
//! Read once per process: on x86-64 from CPUID (leaf 4 on Intel, leaf `0x8000_001D` on
//! AMD: the same "deterministic cache parameters" format, ways × partitions × line size ×
//! sets), elsewhere on Linux from `/sys/devices/system/cpu/cpu0/cache`; when neither
//! answers (or under Miri), [`CacheSizes::FALLBACK`].

use std::sync::OnceLock;

/// The data-cache sizes one core sees, in bytes.
///
/// `l3` is this core's *share* of the last-level cache: its size divided by the number of
/// logical CPUs the CPU says share it (a shared cache is not one core's to fill).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheSizes {
    /// Level-1 data cache of one core.
    pub l1d: usize,
    /// Level-2 cache of one core (SMT siblings and, on the few CPUs that share an L2
    /// between cores, the other cores of the cluster are not counted against it).
    pub l2: usize,
    /// This core's share of the level-3 cache (0 when there is none).
    pub l3: usize,
    /// Where the figures come from.
    pub source: CacheSource,
}

/// Where [`CacheSizes`] came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheSource {
    /// The CPUID instruction (x86-64).
    Cpuid,
    /// Linux's `/sys/devices/system/cpu/cpu0/cache`.
    Sysfs,
    /// Neither answered: [`CacheSizes::FALLBACK`].
    Fallback,
}

impl CacheSizes {
    /// The sizes used when the CPU reports nothing: 32 KiB L1d, 512 KiB L2 and a 2 MiB
    /// share of L3, the smallest of the x86-64 and aarch64 server cores of the last years
    /// (so blocks sized from them fit everywhere).
    pub const FALLBACK: CacheSizes = CacheSizes {
        l1d: 32 << 10,
        l2: 512 << 10,
        l3: 2 << 20,
        source: CacheSource::Fallback,
    };
}

/// The caches of this CPU, read once and cached.
///
/// ```
/// let c = recur_kernels::dispatch::cache_sizes();
/// assert!(c.l1d > 0 && c.l2 >= c.l1d);
/// ```
pub fn cache_sizes() -> CacheSizes {
    static SIZES: OnceLock<CacheSizes> = OnceLock::new();
    *SIZES.get_or_init(detect)
}

/// One cache as a CPU describes it.
#[derive(Clone, Copy, Debug)]
struct CacheLevel {
    level: u32,
    /// Data or unified (instruction caches are skipped by the readers).
    bytes: usize,
    /// Logical CPUs sharing it (at least 1).
    sharing: usize,
}

fn detect() -> CacheSizes {
    if cfg!(miri) {
        return CacheSizes::FALLBACK;
    }
    if let Some(levels) = cpuid_levels() {
        if let Some(c) = from_levels(&levels, CacheSource::Cpuid) {
            return c;
        }
    }
    if let Some(levels) = sysfs_levels() {
        if let Some(c) = from_levels(&levels, CacheSource::Sysfs) {
            return c;
        }
    }
    CacheSizes::FALLBACK
}

/// The per-core sizes from a list of data / unified caches; `None` without an L1d or an
/// L2 (a report too odd to size blocks from). Implausible sizes (below 4 KiB or above
/// 4 GiB) count as absent.
fn from_levels(levels: &[CacheLevel], source: CacheSource) -> Option<CacheSizes> {
    let plausible = |b: usize| (4 << 10..=4 << 30).contains(&b);
    let size = |want: u32, share: bool| {
        levels
            .iter()
            .filter(|c| c.level == want && plausible(c.bytes))
            .map(|c| {
                if share {
                    c.bytes / c.sharing.max(1)
                } else {
                    c.bytes
                }
            })
            .max()
    };
    let l1d = size(1, false)?;
    let l2 = size(2, false)?.max(l1d);
    // The last level is shared by many cores: count one logical CPU's part.
    let l3 = size(3, true).unwrap_or(0);
    Some(CacheSizes {
        l1d,
        l2,
        l3,
        source,
    })
}

#[cfg(all(target_arch = "x86_64", not(miri)))]
fn cpuid_levels() -> Option<Vec<CacheLevel>> {
    use std::arch::x86_64::{__cpuid, __cpuid_count, CpuidResult};
    // `unsafe` for toolchains from before these intrinsics became safe functions.
    #[allow(unused_unsafe)]
    // SAFETY: CPUID is part of x86-64 (every 64-bit x86 CPU executes it) and only reads
    // identification registers; an unknown leaf returns zeros or the highest leaf's data.
    let id = |leaf: u32, sub: u32| -> CpuidResult { unsafe { __cpuid_count(leaf, sub) } };
    #[allow(unused_unsafe)]
    // SAFETY: as above.
    let (vendor, max_ext) = unsafe { (__cpuid(0), __cpuid(0x8000_0000).eax) };
    let max_basic = vendor.eax;
    // "AuthenticAMD" / "HygonGenuine" describe their caches in leaf 0x8000_001D (with the
    // TOPOEXT feature), Intel and others in leaf 4; the format is the same.
    let amd = matches!(
        (vendor.ebx, vendor.edx, vendor.ecx),
        (0x6874_7541, 0x6974_6e65, 0x444d_4163) | (0x6f67_7948, 0x6e65_476e, 0x656e_6975)
    );
    let leaf = if amd && max_ext >= 0x8000_001D && id(0x8000_0001, 0).ecx & (1 << 22) != 0 {
        0x8000_001D
    } else if max_basic >= 4 {
        4
    } else {
        return None;
    };
    let mut levels = Vec::new();
    // Sub-leaves until the "no more caches" type 0 (at most 16: a guard against a
    // hypervisor that never says 0).
    for sub in 0..16 {
        let r = id(leaf, sub);
        let kind = r.eax & 0x1F;
        if kind == 0 {
            break;
        }
        if kind == 2 {
            continue; // instruction cache
        }
        let level = (r.eax >> 5) & 0x7;
        let sharing = (((r.eax >> 14) & 0xFFF) + 1) as usize;
        let ways = ((r.ebx >> 22) & 0x3FF) as usize + 1;
        let partitions = ((r.ebx >> 12) & 0x3FF) as usize + 1;
        let line = (r.ebx & 0xFFF) as usize + 1;
        let sets = r.ecx as usize + 1;
        let bytes = ways
            .saturating_mul(partitions)
            .saturating_mul(line)
            .saturating_mul(sets);
        levels.push(CacheLevel {
            level,
            bytes,
            sharing,
        });
    }
    Some(levels)
}

#[cfg(not(all(target_arch = "x86_64", not(miri))))]
fn cpuid_levels() -> Option<Vec<CacheLevel>> {
    None
}

/// Linux's description of cpu0's caches: `index*/{level,type,size,shared_cpu_list}`.
fn sysfs_levels() -> Option<Vec<CacheLevel>> {
    let dir = std::path::Path::new("/sys/devices/system/cpu/cpu0/cache");
    let mut levels = Vec::new();
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let read = |name: &str| std::fs::read_to_string(path.join(name)).ok();
        let (Some(level), Some(kind), Some(size)) = (read("level"), read("type"), read("size"))
        else {
            continue;
        };
        if kind.trim() == "Instruction" {
            continue;
        }
        let (Ok(level), Some(bytes)) = (level.trim().parse::<u32>(), parse_size(&size)) else {
            continue;
        };
        let sharing = read("shared_cpu_list").map_or(1, |l| cpu_list_len(&l));
        levels.push(CacheLevel {
            level,
            bytes,
            sharing,
        });
    }
    Some(levels)
}

/// `"32K"`, `"1024K"`, `"32M"`, `"512"` as bytes.
fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let (digits, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => s.split_at(i),
        None => (s, ""),
    };
    let n: usize = digits.parse().ok()?;
    let shift = match unit.trim() {
        "" => 0,
        "K" | "KB" | "KiB" => 10,
        "M" | "MB" | "MiB" => 20,
        "G" | "GB" | "GiB" => 30,
        _ => return None,
    };
    n.checked_mul(1 << shift)
}

/// How many CPUs a list such as `"0-3,8,10-11"` names (at least 1).
fn cpu_list_len(list: &str) -> usize {
    let mut n = 0usize;
    for part in list.trim().split(',').filter(|p| !p.is_empty()) {
        n += match part.split_once('-') {
            Some((a, b)) => match (a.trim().parse::<usize>(), b.trim().parse::<usize>()) {
                (Ok(a), Ok(b)) if b >= a => b - a + 1,
                _ => 1,
            },
            None => 1,
        };
    }
    n.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_cpu_reports_plausible_caches() {
        let c = cache_sizes();
        assert!(c.l1d >= 4 << 10, "{c:?}");
        assert!(c.l2 >= c.l1d, "{c:?}");
        if cfg!(all(target_arch = "x86_64", not(miri))) {
            assert_eq!(c.source, CacheSource::Cpuid, "{c:?}");
        }
    }

    #[test]
    fn sizes_and_cpu_lists_parse() {
        assert_eq!(parse_size("32K\n"), Some(32 << 10));
        assert_eq!(parse_size("1024K"), Some(1 << 20));
        assert_eq!(parse_size("32M"), Some(32 << 20));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("12Q"), None);
        assert_eq!(parse_size(""), None);
        assert_eq!(cpu_list_len("0-3,8,10-11\n"), 7);
        assert_eq!(cpu_list_len("0"), 1);
        assert_eq!(cpu_list_len(""), 1);
        assert_eq!(cpu_list_len("5-2"), 1);
    }

    #[test]
    fn levels_give_per_core_sizes() {
        let l = |level, bytes, sharing| CacheLevel {
            level,
            bytes,
            sharing,
        };
        // Zen 3: private 32 KiB L1d and 512 KiB L2, 32 MiB L3 shared by 16 threads.
        let zen3 = [l(1, 32 << 10, 2), l(2, 512 << 10, 2), l(3, 32 << 20, 16)];
        let c = from_levels(&zen3, CacheSource::Cpuid).unwrap();
        assert_eq!((c.l1d, c.l2, c.l3), (32 << 10, 512 << 10, 2 << 20));
        // No L3, and nonsense entries ignored.
        let odd = [l(1, 48 << 10, 1), l(2, 2 << 20, 1), l(3, 1, 1)];
        let c = from_levels(&odd, CacheSource::Sysfs).unwrap();
        assert_eq!((c.l1d, c.l2, c.l3), (48 << 10, 2 << 20, 0));
        // Without an L1d or an L2 there is nothing to size from.
        assert!(from_levels(&[l(2, 1 << 20, 1)], CacheSource::Cpuid).is_none());
        assert!(from_levels(&[], CacheSource::Cpuid).is_none());
    }
}
