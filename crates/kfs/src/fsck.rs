//! The checker: every invariant of a KFS image, and the repairs it can make.
//!
//! Invariants checked:
//! 0. The superblock's free-block count matches its bitmap.
//! 1. A valid superblock; the bitmap and RecordMap it names load and every
//!    record decodes (else the image cannot be mounted: uncorrectable).
//! 2. Every object's block map decodes, points into the data area, and maps
//!    nothing beyond the object's size; symlink targets fit a block.
//! 3. No block is used twice (by two objects, or by an object and the
//!    RecordMap).
//! 4. The bitmap marks exactly the used blocks (repair: rewrite it).
//! 5. Directory blocks parse; entries name live records with the right type;
//!    a name appears once; hashed entries sit in their bucket (repair: drop
//!    the entry, fix the type, rebuild the directory).
//! 6. Directories form a tree: each is reached once and its parent field
//!    names the directory that holds it (repair: fix the parent).
//! 7. Every live object is reachable (repair: link it into /lost+found);
//!    unreachable objects with no links are orphans of an open-unlinked file
//!    and are simply reclaimed.
//! 8. `nlink` equals the references (files) or 2 + subdirectories (repair).

use crate::dev::BlockDevice;
use crate::dir::DirEntry;
use crate::error::{Error, Result};
use crate::fs::{Fs, Options};
use crate::layout::{mode, Imp, ROOT_ID};
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

/// What fsck found.
#[derive(Debug, Default, Clone)]
pub struct FsckReport {
    /// Problems found and not repaired.
    pub errors: Vec<String>,
    /// Problems found and repaired.
    pub fixed: Vec<String>,
    /// Harmless observations (e.g. orphans reclaimed).
    pub notes: Vec<String>,
    /// Live objects.
    pub objects: u64,
    /// Directories.
    pub dirs: u64,
    /// Blocks in use.
    pub used_blocks: u64,
}

impl FsckReport {
    /// No corruption was found (notes aside).
    pub fn is_clean(&self) -> bool {
        self.errors.is_empty() && self.fixed.is_empty()
    }
    /// The e2fsck-style exit code: 0 clean, 1 corrected, 4 uncorrected.
    pub fn exit_code(&self) -> i32 {
        if !self.errors.is_empty() {
            4
        } else if !self.fixed.is_empty() {
            1
        } else {
            0
        }
    }
}

struct Checker {
    report: FsckReport,
    repair: bool,
}

impl Checker {
    fn problem(&mut self, fixable: bool, msg: String) -> bool {
        if self.repair && fixable {
            self.report.fixed.push(msg);
            true
        } else {
            self.report.errors.push(msg);
            false
        }
    }
}

/// Checks the image on `dev`; with `repair`, fixes what it can and writes a
/// new checkpoint. An image that cannot be mounted yields `Err` naming why.
pub fn fsck<D: BlockDevice>(dev: &mut D, repair: bool) -> Result<FsckReport> {
    let opts = Options {
        read_only: true,
        ..Options::deterministic()
    };
    let mut fs = Fs::mount(dev, opts)?;
    let mut c = Checker {
        report: FsckReport::default(),
        repair,
    };
    let geo = fs.geo;
    // 0: the superblock's free count matches its bitmap (the next
    // checkpoint rewrites it, so this is always repairable).
    let sb_free = crate::fs::read_superblock(&mut fs.dev.inner)?.free_blocks;
    if sb_free != fs.alloc.free_blocks() {
        c.problem(
            true,
            format!(
                "superblock says {sb_free} free blocks, the bitmap {}",
                fs.alloc.free_blocks()
            ),
        );
    }

    // 2, 3: block maps and double use.
    let mut owner: BTreeMap<u64, u64> = BTreeMap::new(); // block -> object (0 = RecordMap)
    let mut claim = |c: &mut Checker, b: u64, who: u64| {
        if let Some(prev) = owner.insert(b, who) {
            c.problem(
                false,
                format!("block {b} is used by both object {prev} and object {who}"),
            );
        }
    };
    for b in fs.recs.meta_blocks().collect::<Vec<_>>() {
        claim(&mut c, b, 0);
    }
    let ids: Vec<u64> = fs.recs.ids().collect();
    let mut bad: BTreeSet<u64> = BTreeSet::new();
    for &id in &ids {
        if let Err(e) = fs.load(id) {
            c.problem(true, format!("object {id}: {e}; removing it"));
            bad.insert(id);
            continue;
        }
        let o = fs.objs.get(&id).expect("loaded");
        let blocks: Vec<u64> = o
            .mapping()
            .values()
            .copied()
            .chain(o.meta_blocks())
            .collect();
        for b in blocks {
            claim(&mut c, b, id);
        }
        let r = fs.recs.get(id)?;
        if r.kind() == mode::S_IFLNK && (r.size == 0 || r.size >= 4096) {
            c.problem(false, format!("symlink {id}: target length {}", r.size));
        }
        if r.imp.is_dir() && !r.is_dir() || !r.imp.is_dir() && r.is_dir() {
            c.problem(
                false,
                format!(
                    "object {id}: implementation {} does not fit its type",
                    r.imp.name()
                ),
            );
        }
    }
    c.report.used_blocks = owner.len() as u64 + geo.first_data();

    // 4: the bitmap. Fixed first so that later repairs allocate safely.
    let mut bitmap_fixes = (Vec::new(), Vec::new());
    for b in geo.first_data()..geo.total {
        let used = fs.alloc.is_used(b);
        let seen = owner.contains_key(&b);
        if seen && !used && c.problem(true, format!("block {b} is in use but marked free")) {
            bitmap_fixes.0.push(b);
        }
        if used
            && !seen
            && c.problem(
                true,
                format!("block {b} is marked used but nothing uses it"),
            )
        {
            bitmap_fixes.1.push(b);
        }
    }
    for b in bitmap_fixes.0 {
        fs.alloc.mark_used(b);
    }
    for b in bitmap_fixes.1 {
        fs.alloc.free(b)?;
    }
    if c.repair {
        fs.opts.read_only = false;
        for &id in &bad {
            fs.objs.remove(&id);
            fs.recs.remove(id);
        }
    }

    // 5, 6: the directory tree.
    let mut t = Tree::default();
    t.visited.insert(ROOT_ID);
    walk(&mut fs, &mut c, &mut t, &bad, ROOT_ID)?;
    // Detached subtrees: walk each top first so its children count as reached.
    let mut detached: Vec<(bool, u64)> = fs
        .recs
        .ids()
        .filter(|i| !bad.contains(i) && !t.visited.contains(i))
        .filter_map(|i| {
            fs.recs
                .get(i)
                .ok()
                .filter(|r| r.is_dir() && r.nlink > 0)
                .map(|r| (r.parent, i))
        })
        .map(|(p, i)| {
            (
                fs.recs.get(p).is_ok_and(|r| r.is_dir()) && !t.visited.contains(&p) && p != i,
                i,
            )
        })
        .collect();
    detached.sort();
    let mut lost_dirs = Vec::new();
    for (_, d) in detached {
        if t.visited.insert(d) {
            lost_dirs.push(d);
            walk(&mut fs, &mut c, &mut t, &bad, d)?;
        }
    }
    if fs.recs.get(ROOT_ID)?.parent != ROOT_ID
        && c.problem(true, "root directory's parent is not itself".into())
    {
        fs.recs.get_mut(ROOT_ID)?.parent = ROOT_ID;
    }

    // 7, 8: reachability and link counts.
    let ids: Vec<u64> = fs.recs.ids().filter(|i| !bad.contains(i)).collect();
    c.report.objects = ids.len() as u64;
    let mut lost = Vec::new();
    for &id in &ids {
        let r = fs.recs.get(id)?;
        let is_dir = r.is_dir();
        let nrefs = if id == ROOT_ID {
            1
        } else {
            t.refs.get(&id).copied().unwrap_or(0)
        };
        if nrefs == 0 && !lost_dirs.contains(&id) {
            if r.nlink == 0 {
                c.report.notes.push(format!(
                    "object {id}: orphan (unlinked while open); reclaimed on mount"
                ));
                if c.repair {
                    fs.destroy(id)?;
                }
            } else if c.problem(
                true,
                format!("object {id}: not reachable from the root; moving it to /lost+found"),
            ) {
                lost.push((id, is_dir));
            }
            continue;
        }
        if lost_dirs.contains(&id) {
            if c.problem(
                true,
                format!("directory {id}: not reachable from the root; moving it to /lost+found"),
            ) {
                lost.push((id, true));
            }
            continue;
        }
        let want = if is_dir {
            2 + t.subdirs.get(&id).copied().unwrap_or(0)
        } else {
            nrefs
        };
        if r.nlink != want
            && c.problem(
                true,
                format!("object {id}: link count {} should be {want}", r.nlink),
            )
        {
            fs.recs.get_mut(id)?.nlink = want;
        }
    }
    if !lost.is_empty() {
        let lf = match fs.lookup(ROOT_ID, b"lost+found") {
            Ok(a) => a.id,
            Err(Error::NotFound) => fs.mkdir(ROOT_ID, b"lost+found", 0o700, 0, 0)?.id,
            Err(e) => return Err(e),
        };
        for (id, is_dir) in lost {
            let m = fs.recs.get(id)?.mode;
            let name = format!("#{id}");
            fs.add_entry(lf, name.as_bytes(), id, ((m & mode::S_IFMT) >> 12) as u8)?;
            let r = fs.recs.get_mut(id)?;
            if is_dir {
                r.parent = lf;
                r.nlink = 2 + t.subdirs.get(&id).copied().unwrap_or(0);
                let p = fs.recs.get_mut(lf)?;
                p.nlink = p.nlink.saturating_add(1);
            } else {
                r.nlink = 1;
            }
        }
    }
    if c.repair && (!c.report.fixed.is_empty() || !c.report.notes.is_empty()) {
        fs.checkpoint()?;
    }
    Ok(c.report)
}

#[derive(Default)]
struct Tree {
    refs: BTreeMap<u64, u32>,
    subdirs: BTreeMap<u64, u32>,
    visited: BTreeSet<u64>,
}

/// Checks the directory tree below `top` (already in `t.visited`).
fn walk<D: BlockDevice>(
    fs: &mut Fs<D>,
    c: &mut Checker,
    t: &mut Tree,
    bad: &BTreeSet<u64>,
    top: u64,
) -> Result<()> {
    let mut queue = vec![top];
    while let Some(dir) = queue.pop() {
        c.report.dirs += 1;
        let entries = match fs.with_dir(dir, |d| d.entries()) {
            Ok(e) => e,
            Err(e) => {
                c.problem(false, format!("directory {dir}: {e}"));
                continue;
            }
        };
        let imp = {
            let r = fs.recs.get(dir)?;
            r.imp
        };
        let mut names = BTreeSet::new();
        let mut rebuild = false;
        for e in entries {
            let shown = String::from_utf8_lossy(&e.name).into_owned();
            let target = fs
                .recs
                .get(e.id)
                .ok()
                .filter(|_| !bad.contains(&e.id))
                .map(|r| (r.mode, r.is_dir(), r.parent));
            let Some((tmode, tdir, tparent)) = target else {
                if c.problem(
                    true,
                    format!(
                        "directory {dir}: entry {shown:?} points to free record {}; removing it",
                        e.id
                    ),
                ) {
                    fs.with_dir(dir, |d| d.remove(&e.name))?;
                }
                continue;
            };
            if !names.insert(e.name.clone()) {
                c.problem(
                    false,
                    format!("directory {dir}: name {shown:?} appears twice"),
                );
                continue;
            }
            let want = ((tmode & mode::S_IFMT) >> 12) as u8;
            if e.ftype != want
                && c.problem(
                    true,
                    format!(
                        "directory {dir}: entry {shown:?} has type {} instead of {want}",
                        e.ftype
                    ),
                )
            {
                fs.with_dir(dir, |d| {
                    d.remove(&e.name)?;
                    d.insert(&DirEntry {
                        ftype: want,
                        ..e.clone()
                    })
                })?;
            }
            if tdir {
                if !t.visited.insert(e.id) {
                    c.problem(
                        false,
                        format!(
                            "directory {} is linked more than once (at {shown:?} in {dir})",
                            e.id
                        ),
                    );
                    continue;
                }
                *t.subdirs.entry(dir).or_insert(0) += 1;
                if tparent != dir
                    && c.problem(
                        true,
                        format!(
                            "directory {}: parent is {tparent}, but it lives in {dir}",
                            e.id
                        ),
                    )
                {
                    fs.recs.get_mut(e.id)?.parent = dir;
                }
                queue.push(e.id);
            }
            *t.refs.entry(e.id).or_insert(0) += 1;
        }
        if imp == Imp::HashDir {
            // Every entry must be found where lookup looks.
            let all = fs.with_dir(dir, |d| d.entries()).unwrap_or_default();
            for e in &all {
                let found = fs.with_dir(dir, |d| d.lookup(&e.name)).ok().flatten();
                if found.is_none() {
                    rebuild |= c.problem(
                        true,
                        format!(
                            "hashed directory {dir}: entry {:?} is in the wrong bucket",
                            String::from_utf8_lossy(&e.name)
                        ),
                    );
                }
            }
            if rebuild {
                fs.with_dir(dir, |d| d.rebuild(Imp::HashDir, &all, 1))?;
            }
        }
    }
    Ok(())
}
