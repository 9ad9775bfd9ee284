//! Bad input: corrupted images give errors that name the problem, never a
//! panic or an endless loop (the test would hang). Property test over random
//! byte damage in metadata blocks; `KFS_PROPTEST_CASES` sets the case count.

use kfs::{fsck, mkfs, BlockDevice, Error, Fs, Imp, MemDevice, MkfsOptions, Options, BLOCK_SIZE};
use proptest::prelude::*;

/// A small image with every kind of metadata: hashed and linear
/// directories, small and extent files, indirect blocks, a symlink.
fn image() -> MemDevice {
    let dev = mkfs(MemDevice::new(512), &MkfsOptions::default()).unwrap();
    let mut fs = Fs::mount(dev, Options::deterministic()).unwrap();
    let r = fs.root();
    let d = fs.mkdir(r, b"dir", 0o755, 0, 0).unwrap().id;
    for i in 0..40 {
        let f = fs
            .create(d, format!("f{i}").as_bytes(), 0o644, 0, 0, 0)
            .unwrap()
            .id;
        fs.write(f, 0, &[i as u8; 100]).unwrap();
    }
    let big = fs.create(r, b"big", 0o644, 0, 0, 0).unwrap().id;
    fs.write(big, 0, &[5; 80_000]).unwrap();
    let ext = fs.create(r, b"ext", 0o644, 0, 0, 0).unwrap().id;
    fs.write(ext, 0, &[6; 30_000]).unwrap();
    fs.write(ext, 200_000, &[7; 10]).unwrap();
    fs.set_imp(ext, Imp::ExtentFile).unwrap();
    fs.symlink(r, b"link", b"dir/f1", 0, 0).unwrap();
    let mut dev = fs.unmount().unwrap();
    // A checkpoint with no changes: the newest superblock then lists no
    // blocks as part of its commit, so damage below reads as damage and not
    // as an interrupted commit (which mount would roll back).
    for _ in 0..2 {
        dev = Fs::mount(dev, Options::deterministic())
            .unwrap()
            .unmount()
            .unwrap();
    }
    assert!(kfs::read_superblock(&mut dev).unwrap().commit.is_empty());
    dev
}

/// Blocks worth damaging: superblocks, bitmaps, and every block in use.
fn used_blocks(dev: &MemDevice) -> Vec<u64> {
    let mut d = dev.clone();
    let fs = Fs::mount(
        &mut d,
        Options {
            read_only: true,
            ..Options::deterministic()
        },
    )
    .unwrap();
    (0..fs.geometry().total)
        .filter(|&b| fs.alloc_map().is_used(b))
        .collect()
}

/// Reads everything reachable; errors are fine, panics are not.
fn exercise<D: BlockDevice>(fs: &mut Fs<D>) {
    let mut stack = vec![fs.root()];
    let mut steps = 0;
    while let Some(d) = stack.pop() {
        steps += 1;
        assert!(steps < 10_000, "directory walk does not terminate");
        let Ok(entries) = fs.readdir(d) else { continue };
        for e in entries {
            if let Ok(a) = fs.getattr(e.id) {
                if a.mode & kfs::mode::S_IFMT == kfs::mode::S_IFDIR {
                    stack.push(e.id);
                } else {
                    let _ = fs.read(e.id, 0, a.size.min(1 << 20) as usize);
                    let _ = fs.readlink(e.id);
                    let _ = fs.write(e.id, 10, b"poke");
                }
            }
        }
    }
    let _ = fs.create(fs.root(), b"new", 0o644, 0, 0, 0);
    let _ = fs.fsync();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("KFS_PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(64)))]

    #[test]
    fn damaged_images_error_out_cleanly(
        hits in prop::collection::vec((any::<prop::sample::Index>(), 0..BLOCK_SIZE, any::<u8>(), any::<bool>()), 1..6)
    ) {
        let base = image();
        let blocks = used_blocks(&base);
        let mut dev = base.clone();
        for (blk, off, val, word) in hits {
            let b = *blk.get(&blocks) as usize;
            let img = dev.image_mut();
            if word {
                // Plant a plausible-looking large number (pointers, sizes, counts).
                let o = b * BLOCK_SIZE + off / 8 * 8;
                let v = if val & 1 == 0 { val as u64 * 0x0101_0101 } else { val as u64 * 0x0101_0101_0101_0101 };
                img[o..o + 8].copy_from_slice(&v.to_le_bytes());
            } else {
                img[b * BLOCK_SIZE + off] ^= val | 1;
            }
        }
        let _ = fsck(&mut dev.clone(), false);
        let _ = fsck(&mut dev.clone(), true);
        if let Ok(mut fs) = Fs::mount(&mut dev, Options::deterministic()) {
            exercise(&mut fs);
        }
        // After a repair, a second check must be clean or report only what it cannot fix.
        let mut repaired = dev.clone();
        if let Ok(rep) = fsck(&mut repaired, true) {
            if rep.errors.is_empty() {
                let again = fsck(&mut repaired, false).unwrap();
                prop_assert!(again.errors.is_empty() && again.fixed.is_empty(), "repair was not complete: {:?}", again);
            }
        }
    }
}

#[test]
fn mount_names_what_is_wrong() {
    let mut dev = image();
    dev.image_mut()[..BLOCK_SIZE * 2].fill(0);
    let e = Fs::mount(dev, Options::deterministic()).err().unwrap();
    assert!(
        matches!(&e, Error::Corrupt(m) if m.contains("no valid superblock") && m.contains("magic")),
        "{e}"
    );

    let dev = image();
    let mut d = dev.clone();
    let rb = {
        let fs = Fs::mount(&mut d, Options::deterministic()).unwrap();
        // Find the record block that holds the root (id 1): the first record block.
        let _ = fs;
        kfs::read_superblock(&mut d).unwrap().index[0]
    };
    // Point the first record block entry of the index at block 0.
    let mut dev = dev;
    let o = rb as usize * BLOCK_SIZE;
    dev.image_mut()[o..o + 8].copy_from_slice(&0u64.to_le_bytes());
    let e = Fs::mount(dev, Options::deterministic()).err().unwrap();
    assert!(
        matches!(&e, Error::Corrupt(m) if m.contains("record block 0")),
        "{e}"
    );
}

#[test]
fn fsck_repairs_a_wrong_link_count_and_a_leaked_block() {
    let dev = image();
    let mut fs = Fs::mount(dev, Options::deterministic()).unwrap();
    let big = fs.resolve("/big").unwrap();
    // Damage through the record map: a wrong nlink.
    let mut d = fs.unmount().unwrap();
    let sb = kfs::read_superblock(&mut d).unwrap();
    let mut idx = vec![0u8; BLOCK_SIZE];
    d.read_block(sb.index[0], &mut idx).unwrap();
    let k = big as usize / 16 * 8;
    let rb = u64::from_le_bytes(idx[k..k + 8].try_into().unwrap());
    let o = rb as usize * BLOCK_SIZE + (big as usize % 16) * 256 + 16;
    d.image_mut()[o..o + 4].copy_from_slice(&5u32.to_le_bytes());
    // And a leaked block: mark the last block used in the current bitmap.
    let geo = sb.geo;
    let last = geo.total - 1;
    let bm = (geo.bitmap_start(sb.seq % 2) + last / (BLOCK_SIZE as u64 * 8)) as usize * BLOCK_SIZE;
    let bit = (last % (BLOCK_SIZE as u64 * 8)) as usize;
    d.image_mut()[bm + bit / 8] |= 1 << (bit % 8);

    let rep = fsck(&mut d, false).unwrap();
    assert_eq!(rep.exit_code(), 4, "{rep:?}");
    assert!(rep
        .errors
        .iter()
        .any(|e| e.contains("link count 5 should be 1")));
    assert!(rep
        .errors
        .iter()
        .any(|e| e.contains(&format!("block {last} is marked used"))));
    let rep = fsck(&mut d, true).unwrap();
    assert_eq!(rep.exit_code(), 1);
    let rep = fsck(&mut d, false).unwrap();
    assert_eq!(rep.exit_code(), 0, "{rep:?}");
}
