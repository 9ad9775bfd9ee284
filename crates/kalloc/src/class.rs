//! Size classes.
//!
//! K42 had eight power-of-two classes from 16 B to 2 KiB. We keep those and
//! add three classes between each pair of powers from 64 B up (a quarter
//! step, as jemalloc does), which caps internal fragmentation at 25 % above
//! 64 B instead of 50 %, at no cost on the fast path: the class is one table
//! lookup either way, and each class has its own lists.
//!
//! A block of class `c` is aligned to the largest power of two that divides
//! its size (blocks are laid out at multiples of the size from an aligned
//! start in their span), so a request with a large alignment picks the first
//! class whose natural alignment suffices.

/// Block sizes, smallest first. Every size is a multiple of 16.
#[cfg(not(feature = "pow2-classes"))]
pub const CLASS_SIZES: &[u32] = &[
    16, 32, 48, 64, 80, 96, 112, 128, // 16-byte steps up to 128
    160, 192, 224, 256, // quarter steps from here on
    320, 384, 448, 512, //
    640, 768, 896, 1024, //
    1280, 1536, 1792, 2048,
];

/// K42's original classes (feature `pow2-classes`, for comparison).
#[cfg(feature = "pow2-classes")]
pub const CLASS_SIZES: &[u32] = &[16, 32, 64, 128, 256, 512, 1024, 2048];

/// Number of size classes.
pub const NUM_CLASSES: usize = CLASS_SIZES.len();

/// The largest request (size and alignment) served from size classes; larger
/// ones go straight to pages.
pub const MAX_SMALL: usize = 2048;

/// A cache line; the padded flavour rounds to it.
pub const CACHE_LINE: usize = 64;

/// `LOOKUP[(size + 15) / 16]` is the smallest class holding `size` bytes.
const LOOKUP: [u8; MAX_SMALL / 16 + 1] = build_lookup();

const fn build_lookup() -> [u8; MAX_SMALL / 16 + 1] {
    let mut table = [0u8; MAX_SMALL / 16 + 1];
    let mut i = 0;
    let mut class = 0;
    while i < table.len() {
        let size = (i * 16) as u32;
        while CLASS_SIZES[class] < size {
            class += 1;
        }
        table[i] = class as u8;
        i += 1;
    }
    table
}

/// The natural alignment of blocks of class `class`.
#[inline]
pub const fn class_align(class: usize) -> usize {
    let size = CLASS_SIZES[class] as usize;
    1 << size.trailing_zeros()
}

/// The class for a request, or `None` when it must go to pages.
#[inline]
pub fn class_for(size: usize, align: usize) -> Option<usize> {
    if size > MAX_SMALL || align > MAX_SMALL {
        return None;
    }
    let mut class = LOOKUP[size.div_ceil(16)] as usize;
    if align <= 16 {
        return Some(class); // Every class is 16-byte aligned.
    }
    // Rare: alignment beyond 16. Walk up to a class aligned enough; the
    // powers of two guarantee one exists at or below MAX_SMALL.
    while class_align(class) < align {
        class += 1;
    }
    Some(class)
}

/// The class for a padded request: rounded up to whole cache lines and
/// cache-line aligned, so no two blocks ever share a line.
#[inline]
pub fn padded_class_for(size: usize, align: usize) -> Option<usize> {
    let size = size.max(1).div_ceil(CACHE_LINE) * CACHE_LINE;
    class_for(size, align.max(CACHE_LINE))
}

/// How many blocks of `class` move between layers at once: about 16 KiB
/// worth, between 8 and 128 blocks.
#[inline]
pub fn batch(class: usize) -> u32 {
    BATCH[class]
}

/// `batch` precomputed: the free fast path compares against it, and a
/// division there would cost more than the rest of the path.
const BATCH: [u32; NUM_CLASSES] = {
    let mut table = [0; NUM_CLASSES];
    let mut c = 0;
    while c < NUM_CLASSES {
        let n = 16384 / CLASS_SIZES[c];
        table[c] = if n < 8 {
            8
        } else if n > 128 {
            128
        } else {
            n
        };
        c += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_size_gets_the_smallest_fitting_aligned_class() {
        for size in 0..=MAX_SMALL {
            for align in [1usize, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048] {
                let c = class_for(size, align).expect("small request");
                let bytes = CLASS_SIZES[c] as usize;
                assert!(bytes >= size, "size {size} align {align} -> {bytes}");
                assert!(class_align(c) >= align, "size {size} align {align}");
                // No smaller class would do.
                for (smaller, &s) in CLASS_SIZES.iter().enumerate().take(c) {
                    assert!((s as usize) < size || class_align(smaller) < align);
                }
            }
        }
    }

    #[test]
    fn oversized_requests_go_to_pages() {
        assert_eq!(class_for(MAX_SMALL + 1, 8), None);
        assert_eq!(class_for(16, 4096), None);
        assert_eq!(padded_class_for(2049, 8), None);
    }

    #[test]
    fn padded_classes_are_whole_aligned_lines() {
        for size in 1..=MAX_SMALL {
            let c = padded_class_for(size, 8).unwrap();
            assert_eq!(CLASS_SIZES[c] as usize % CACHE_LINE, 0, "size {size}");
            assert!(class_align(c) >= CACHE_LINE);
        }
    }

    #[test]
    fn classes_are_sorted_multiples_of_16() {
        assert!(CLASS_SIZES.windows(2).all(|w| w[0] < w[1]));
        assert!(CLASS_SIZES.iter().all(|s| s % 16 == 0));
        assert_eq!(CLASS_SIZES[NUM_CLASSES - 1] as usize, MAX_SMALL);
        assert!((0..NUM_CLASSES).all(|c| (8..=128).contains(&batch(c))));
    }
}
