//! Crash injection: power fails after block write k, for every k of a
//! workload. After each crash the image must mount, fsck must find no
//! corruption, and the tree must equal exactly the last checkpoint whose
//! superblock write made it to the disk: everything fsync'd survives.

mod common;

use common::{snapshot, Node};
use kfs::{
    fsck, mkfs, BlockDevice, CrashDevice, Fs, Imp, MemDevice, MkfsOptions, Options, SetAttr,
};
use std::collections::BTreeMap;

type Snap = BTreeMap<String, Node>;

fn opts() -> Options {
    let mut o = Options::deterministic();
    // Small caches: write-back between checkpoints happens too.
    o.cache_blocks = 24;
    o.dirty_blocks = 3;
    o.dir_hash_threshold = 1;
    o.extent_threshold = 6;
    o
}

/// The workload. `durable` gets (writes issued when the fsync returned,
/// tree at that moment) for every fsync.
fn workload<D: BlockDevice>(
    fs: &mut Fs<D>,
    issued: fn(&mut Fs<D>) -> u64,
    mut durable: Option<&mut Vec<(u64, Snap)>>,
) -> kfs::Result<()> {
    let mut sync = |fs: &mut Fs<D>| -> kfs::Result<()> {
        fs.fsync()?;
        if let Some(d) = durable.as_mut() {
            let n = issued(fs);
            d.push((n, snapshot(fs)));
        }
        Ok(())
    };
    let r = fs.root();
    let a = fs.mkdir(r, b"a", 0o755, 1, 1)?.id;
    let b = fs.mkdir(a, b"b", 0o700, 1, 1)?.id;
    let f1 = fs.create(a, b"f1", 0o644, 1, 1, 0)?.id;
    fs.write(f1, 0, &[1; 5000])?;
    sync(fs)?;
    fs.write(f1, 1000, &[2; 3000])?;
    let g = fs.create(r, b"g", 0o600, 0, 0, 0)?.id;
    fs.write(g, 0, &(0..60_000u32).map(|i| i as u8).collect::<Vec<_>>())?;
    sync(fs)?;
    fs.link(f1, b, b"h")?;
    fs.symlink(r, b"s", b"a/f1", 0, 0)?;
    fs.rename(r, b"g", b, b"g2", false)?;
    sync(fs)?;
    fs.setattr(
        g,
        &SetAttr {
            size: Some(10_000),
            mode: Some(0o640),
            ..Default::default()
        },
    )?;
    fs.unlink(a, b"f1")?;
    for i in 0..24 {
        let f = fs.create(b, format!("n{i}").as_bytes(), 0o644, 0, 0, 0)?.id;
        fs.write(f, 0, format!("file {i}").as_bytes())?;
    }
    sync(fs)?;
    let x = fs.create(r, b"x", 0o644, 0, 0, 0)?.id;
    let fh = fs.open(x, false)?;
    fs.write_fh(fh, 0, &[9; 9000])?;
    fs.unlink(r, b"x")?;
    sync(fs)?; // the orphan is in this checkpoint
    fs.write_fh(fh, 9000, &[8; 100])?;
    fs.release(fh)?;
    fs.set_imp(g, Imp::ExtentFile)?;
    fs.write(g, 1 << 20, b"sparse tail")?;
    fs.set_imp(b, Imp::LinearDir)?;
    sync(fs)?;
    for i in 0..24 {
        if i % 2 == 0 {
            fs.unlink(b, format!("n{i}").as_bytes())?;
        }
    }
    fs.rename(b, b"h", r, b"h-moved", false)?;
    let _ = fs.rmdir(r, b"a"); // not empty: fails, changes nothing
    sync(fs)?;
    // Not synced: must never appear after a crash.
    fs.write(g, 0, &[0xEE; 4096])?;
    fs.create(r, b"unsynced", 0o644, 0, 0, 0)?;
    Ok(())
}

#[test]
fn every_crash_point_recovers_the_last_durable_checkpoint() {
    let base = mkfs(MemDevice::new(1024), &MkfsOptions::default()).unwrap();
    let initial = {
        let mut fs = Fs::mount(base.clone(), opts()).unwrap();
        snapshot(&mut fs)
    };
    // Reference run: no crash.
    let mut durable = Vec::new();
    let mut fs = Fs::mount(CrashDevice::new(base.clone(), u64::MAX), opts()).unwrap();
    workload(&mut fs, |fs| fs.device().issued, Some(&mut durable)).unwrap();
    let total = fs.device().issued;
    drop(fs);
    assert!(
        durable.len() >= 6 && total > 50,
        "workload too small: {total} writes"
    );

    let mut seen = std::collections::BTreeSet::new();
    for k in 0..=total {
        let mut fs = Fs::mount(CrashDevice::new(base.clone(), k), opts()).unwrap();
        // After the crash point the running system reads stale blocks; it
        // may fail, but it must not panic. Its results are irrelevant.
        let _ = workload(&mut fs, |fs| fs.device().issued, None);
        let mut dev = fs.into_device().inner;

        let rep = fsck(&mut dev, false)
            .unwrap_or_else(|e| panic!("crash after {k} writes: fsck failed: {e}"));
        assert!(
            rep.is_clean(),
            "crash after {k} writes: fsck found {:?}",
            rep.errors
        );
        let idx = durable.iter().rposition(|(n, _)| *n <= k);
        seen.insert(idx);
        let want = idx.map_or(&initial, |i| &durable[i].1);
        let mut fs = Fs::mount(dev, opts())
            .unwrap_or_else(|e| panic!("crash after {k} writes: mount failed: {e}"));
        let got = snapshot(&mut fs);
        assert!(
            &got == want,
            "crash after {k} writes: recovered tree differs from the last durable checkpoint"
        );
    }
    // Every checkpoint (and the initial state) was the recovery point for some k.
    assert_eq!(seen.len(), durable.len() + 1);
    eprintln!("{total} crash points, {} checkpoints", durable.len());
}

#[test]
fn unflushed_writes_lost_in_any_order_still_recover_a_checkpoint() {
    // A disk with a write-back cache: at the power loss any subset of the
    // writes since the last flush may be missing. Checkpoint i is then
    // guaranteed once its final flush ran; i + 1 may also have landed.
    let base = mkfs(MemDevice::new(1024), &MkfsOptions::default()).unwrap();
    let initial = {
        let mut fs = Fs::mount(base.clone(), opts()).unwrap();
        snapshot(&mut fs)
    };
    let mut durable = Vec::new();
    let mut fs = Fs::mount(CrashDevice::reordering(base.clone(), u64::MAX, 1), opts()).unwrap();
    workload(&mut fs, |fs| fs.device().issued, Some(&mut durable)).unwrap();
    let total = fs.device().issued;
    drop(fs);
    let seeds: u64 = std::env::var("KFS_CRASH_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    let mut newer = 0;
    for k in 0..=total {
        for seed in 0..seeds {
            let mut fs = Fs::mount(
                CrashDevice::reordering(base.clone(), k, seed * 7919 + k),
                opts(),
            )
            .unwrap();
            let _ = workload(&mut fs, |fs| fs.device().issued, None);
            let mut dev = fs.into_device().power_loss();
            let rep = fsck(&mut dev, false).unwrap_or_else(|e| {
                panic!("crash after {k} writes (seed {seed}): fsck failed: {e}")
            });
            assert!(
                rep.is_clean(),
                "crash after {k} writes (seed {seed}): fsck found {:?}",
                rep.errors
            );
            let g = durable.iter().rposition(|(n, _)| *n < k);
            let sure = g.map_or(&initial, |i| &durable[i].1);
            let maybe = durable.get(g.map_or(0, |i| i + 1)).map(|(_, s)| s);
            let mut fs = Fs::mount(dev, opts())
                .unwrap_or_else(|e| panic!("crash after {k} writes: mount failed: {e}"));
            let got = snapshot(&mut fs);
            if Some(&got) == maybe && &got != sure {
                newer += 1;
            } else {
                assert!(&got == sure, "crash after {k} writes (seed {seed}): recovered tree is neither the last flushed checkpoint nor the next");
            }
        }
    }
    eprintln!(
        "{total} crash points x {seeds} loss patterns; {newer} recovered the in-flight checkpoint"
    );
}
