//! Random operation sequences against an in-memory model of POSIX semantics.
//!
//! Every operation's outcome (value or error) must match the model; the
//! whole tree is compared after remounts and at the end, and fsck must find
//! the image clean. Cases: `KFS_PROPTEST_CASES` (default 48).

mod common;

use common::{snapshot, Node};
use kfs::{fsck, mkfs, mode, Error, Fs, Imp, MemDevice, MkfsOptions, Options, SetAttr};
use proptest::prelude::*;
use std::collections::BTreeMap;

const NAMES: [&str; 6] = ["a", "b", "c", "dd", "eee", "a-much-longer-name-that-fills-directory-blocks-faster-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"];

#[derive(Debug, Clone)]
enum Op {
    Create(usize, usize),
    Mkdir(usize, usize),
    Symlink(usize, usize, usize),
    Write(usize, u64, usize, u8),
    Truncate(usize, u64),
    Unlink(usize, usize),
    Rmdir(usize, usize),
    Rename(usize, usize, usize, usize),
    Link(usize, usize, usize),
    Chmod(usize, u32),
    SetImp(usize, bool),
    Fsync,
    Remount,
}

fn op() -> impl Strategy<Value = Op> {
    let n = 0..NAMES.len();
    prop_oneof![
        3 => (any::<usize>(), n.clone()).prop_map(|(d, n)| Op::Create(d, n)),
        2 => (any::<usize>(), n.clone()).prop_map(|(d, n)| Op::Mkdir(d, n)),
        1 => (any::<usize>(), n.clone(), n.clone()).prop_map(|(d, n, t)| Op::Symlink(d, n, t)),
        4 => (any::<usize>(), prop_oneof![0..9000u64, 40_000..70_000u64, Just(3 << 20)], 0..9000usize, any::<u8>())
            .prop_map(|(f, o, l, b)| Op::Write(f, o, l, b)),
        2 => (any::<usize>(), prop_oneof![0..20_000u64, Just(5 << 20)]).prop_map(|(f, s)| Op::Truncate(f, s)),
        2 => (any::<usize>(), n.clone()).prop_map(|(d, n)| Op::Unlink(d, n)),
        1 => (any::<usize>(), n.clone()).prop_map(|(d, n)| Op::Rmdir(d, n)),
        2 => (any::<usize>(), n.clone(), any::<usize>(), n.clone()).prop_map(|(a, b, c, d)| Op::Rename(a, b, c, d)),
        1 => (any::<usize>(), any::<usize>(), n.clone()).prop_map(|(f, d, n)| Op::Link(f, d, n)),
        1 => (any::<usize>(), 0..0o7777u32).prop_map(|(f, m)| Op::Chmod(f, m)),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(f, b)| Op::SetImp(f, b)),
        1 => Just(Op::Fsync),
        1 => Just(Op::Remount),
    ]
}

#[derive(Debug, Clone)]
enum Kind {
    File(Vec<u8>),
    Dir(BTreeMap<Vec<u8>, u64>, u64),
    Link(Vec<u8>),
}

#[derive(Debug, Clone)]
struct Ino {
    kind: Kind,
    perm: u32,
    nlink: u32,
}

struct Model {
    inos: BTreeMap<u64, Ino>,
}

impl Model {
    fn dirs(&self) -> Vec<u64> {
        self.inos
            .iter()
            .filter(|(_, i)| matches!(i.kind, Kind::Dir(..)))
            .map(|(k, _)| *k)
            .collect()
    }
    fn files(&self) -> Vec<u64> {
        self.inos
            .iter()
            .filter(|(_, i)| matches!(i.kind, Kind::File(_)))
            .map(|(k, _)| *k)
            .collect()
    }
    fn entries(&self, d: u64) -> &BTreeMap<Vec<u8>, u64> {
        match &self.inos[&d].kind {
            Kind::Dir(e, _) => e,
            _ => unreachable!(),
        }
    }
    fn entries_mut(&mut self, d: u64) -> &mut BTreeMap<Vec<u8>, u64> {
        match &mut self.inos.get_mut(&d).unwrap().kind {
            Kind::Dir(e, _) => e,
            _ => unreachable!(),
        }
    }
    fn is_dir(&self, i: u64) -> bool {
        matches!(self.inos[&i].kind, Kind::Dir(..))
    }
    fn parent(&self, i: u64) -> u64 {
        match self.inos[&i].kind {
            Kind::Dir(_, p) => p,
            _ => unreachable!(),
        }
    }
    fn drop_link(&mut self, i: u64) {
        let ino = self.inos.get_mut(&i).unwrap();
        ino.nlink -= 1;
        if matches!(ino.kind, Kind::Dir(..)) || ino.nlink == 0 {
            self.inos.remove(&i);
        }
    }
    fn snapshot(&self) -> BTreeMap<String, Node> {
        let mut out = BTreeMap::new();
        let mut stack = vec![(String::new(), kfs::ROOT_ID)];
        while let Some((path, d)) = stack.pop() {
            for (name, id) in self.entries(d) {
                let p = format!("{path}/{}", String::from_utf8_lossy(name));
                let ino = &self.inos[id];
                let node = match &ino.kind {
                    Kind::Dir(e, _) => {
                        stack.push((p.clone(), *id));
                        let sub = e.values().filter(|c| self.is_dir(**c)).count() as u32;
                        Node::Dir(ino.perm, 2 + sub)
                    }
                    Kind::File(data) => Node::File(ino.perm, ino.nlink, data.clone()),
                    Kind::Link(t) => Node::Link(t.clone()),
                };
                out.insert(p, node);
            }
        }
        out
    }
}

fn pick(v: &[u64], i: usize) -> Option<u64> {
    (!v.is_empty()).then(|| v[i % v.len()])
}

fn opts(small: bool) -> Options {
    let mut o = Options::deterministic();
    if small {
        // Tiny caches and an eager hash policy exercise write-back, eviction and hot swap.
        o.cache_blocks = 32;
        o.dirty_blocks = 4;
        o.dir_hash_threshold = 1;
        o.extent_threshold = 4;
    }
    o
}

fn run(ops: Vec<Op>, small: bool) -> Result<(), TestCaseError> {
    let dev = mkfs(MemDevice::new(4096), &MkfsOptions::default()).unwrap();
    let mut fs = Fs::mount(dev, opts(small)).unwrap();
    let mut m = Model {
        inos: BTreeMap::new(),
    };
    m.inos.insert(
        kfs::ROOT_ID,
        Ino {
            kind: Kind::Dir(BTreeMap::new(), kfs::ROOT_ID),
            perm: 0o755,
            nlink: 2,
        },
    );
    for op in ops {
        match op {
            Op::Create(d, n) | Op::Mkdir(d, n) | Op::Symlink(d, n, _) => {
                let dir = pick(&m.dirs(), d).unwrap();
                let name = NAMES[n].as_bytes();
                let got = match op {
                    Op::Create(..) => fs.create(dir, name, 0o644, 0, 0, 0),
                    Op::Mkdir(..) => fs.mkdir(dir, name, 0o755, 0, 0),
                    Op::Symlink(_, _, t) => fs.symlink(dir, name, NAMES[t].as_bytes(), 0, 0),
                    _ => unreachable!(),
                };
                if m.entries(dir).contains_key(name) {
                    prop_assert_eq!(got.err(), Some(Error::Exists));
                } else {
                    let a = got.unwrap();
                    let kind = match op {
                        Op::Create(..) => Kind::File(vec![]),
                        Op::Mkdir(..) => Kind::Dir(BTreeMap::new(), dir),
                        Op::Symlink(_, _, t) => Kind::Link(NAMES[t].as_bytes().to_vec()),
                        _ => unreachable!(),
                    };
                    let perm = match op {
                        Op::Create(..) => 0o644,
                        Op::Mkdir(..) => 0o755,
                        _ => 0o777,
                    };
                    prop_assert!(!m.inos.contains_key(&a.id), "id {} reused while live", a.id);
                    m.inos.insert(
                        a.id,
                        Ino {
                            kind,
                            perm,
                            nlink: 1,
                        },
                    );
                    m.entries_mut(dir).insert(name.to_vec(), a.id);
                }
            }
            Op::Write(f, off, len, b) => {
                let Some(id) = pick(&m.files(), f) else {
                    continue;
                };
                let data = vec![b; len];
                prop_assert_eq!(fs.write(id, off, &data).unwrap(), len);
                if let Kind::File(v) = &mut m.inos.get_mut(&id).unwrap().kind {
                    if len > 0 {
                        let end = off as usize + len;
                        if v.len() < end {
                            v.resize(end, 0);
                        }
                        v[off as usize..end].copy_from_slice(&data);
                    }
                }
            }
            Op::Truncate(f, size) => {
                let Some(id) = pick(&m.files(), f) else {
                    continue;
                };
                let a = fs
                    .setattr(
                        id,
                        &SetAttr {
                            size: Some(size),
                            ..Default::default()
                        },
                    )
                    .unwrap();
                prop_assert_eq!(a.size, size);
                if let Kind::File(v) = &mut m.inos.get_mut(&id).unwrap().kind {
                    v.resize(size as usize, 0);
                }
            }
            Op::Unlink(d, n) | Op::Rmdir(d, n) => {
                let dir = pick(&m.dirs(), d).unwrap();
                let name = NAMES[n].as_bytes();
                let is_rmdir = matches!(op, Op::Rmdir(..));
                let got = if is_rmdir {
                    fs.rmdir(dir, name)
                } else {
                    fs.unlink(dir, name)
                };
                match m.entries(dir).get(name).copied() {
                    None => prop_assert_eq!(got, Err(Error::NotFound)),
                    Some(t) if !is_rmdir && m.is_dir(t) => prop_assert_eq!(got, Err(Error::IsDir)),
                    Some(t) if is_rmdir && !m.is_dir(t) => prop_assert_eq!(got, Err(Error::NotDir)),
                    Some(t) if is_rmdir && !m.entries(t).is_empty() => {
                        prop_assert_eq!(got, Err(Error::NotEmpty))
                    }
                    Some(t) => {
                        prop_assert_eq!(got, Ok(()));
                        m.entries_mut(dir).remove(name);
                        m.drop_link(t);
                    }
                }
            }
            Op::Rename(d1, n1, d2, n2) => {
                let dirs = m.dirs();
                let (p1, p2) = (pick(&dirs, d1).unwrap(), pick(&dirs, d2).unwrap());
                let (a, b) = (NAMES[n1].as_bytes(), NAMES[n2].as_bytes());
                let got = fs.rename(p1, a, p2, b, false);
                let Some(src) = m.entries(p1).get(a).copied() else {
                    prop_assert_eq!(got, Err(Error::NotFound));
                    continue;
                };
                let src_dir = m.is_dir(src);
                if src_dir {
                    // Is src an ancestor of (or equal to) p2?
                    let mut x = p2;
                    let mut inside = false;
                    loop {
                        if x == src {
                            inside = true;
                            break;
                        }
                        if x == kfs::ROOT_ID {
                            break;
                        }
                        x = m.parent(x);
                    }
                    if inside {
                        prop_assert_eq!(got, Err(Error::Invalid));
                        continue;
                    }
                }
                let tgt = m.entries(p2).get(b).copied();
                if let Some(t) = tgt {
                    if t == src {
                        prop_assert_eq!(got, Ok(()));
                        continue;
                    }
                    let t_dir = m.is_dir(t);
                    let want = match (src_dir, t_dir) {
                        (true, false) => Some(Error::NotDir),
                        (false, true) => Some(Error::IsDir),
                        (true, true) if !m.entries(t).is_empty() => Some(Error::NotEmpty),
                        _ => None,
                    };
                    if let Some(e) = want {
                        prop_assert_eq!(got, Err(e));
                        continue;
                    }
                }
                prop_assert_eq!(got, Ok(()));
                m.entries_mut(p1).remove(a);
                if let Some(t) = tgt {
                    m.entries_mut(p2).remove(b);
                    m.drop_link(t);
                }
                m.entries_mut(p2).insert(b.to_vec(), src);
                if let Kind::Dir(_, p) = &mut m.inos.get_mut(&src).unwrap().kind {
                    *p = p2;
                }
            }
            Op::Link(f, d, n) => {
                let Some(id) = pick(&m.files(), f) else {
                    continue;
                };
                let dir = pick(&m.dirs(), d).unwrap();
                let name = NAMES[n].as_bytes();
                let got = fs.link(id, dir, name);
                if m.entries(dir).contains_key(name) {
                    prop_assert_eq!(got.err(), Some(Error::Exists));
                } else {
                    prop_assert_eq!(got.unwrap().nlink, m.inos[&id].nlink + 1);
                    m.inos.get_mut(&id).unwrap().nlink += 1;
                    m.entries_mut(dir).insert(name.to_vec(), id);
                }
            }
            Op::Chmod(f, perm) => {
                let all: Vec<u64> = m
                    .inos
                    .keys()
                    .copied()
                    .filter(|i| !matches!(m.inos[i].kind, Kind::Link(_)))
                    .collect();
                let id = pick(&all, f).unwrap();
                let a = fs
                    .setattr(
                        id,
                        &SetAttr {
                            mode: Some(perm),
                            ..Default::default()
                        },
                    )
                    .unwrap();
                prop_assert_eq!(a.mode & 0o7777, perm);
                m.inos.get_mut(&id).unwrap().perm = perm;
            }
            Op::SetImp(f, alt) => {
                let all: Vec<u64> = m
                    .inos
                    .keys()
                    .copied()
                    .filter(|i| !matches!(m.inos[i].kind, Kind::Link(_)))
                    .collect();
                let id = pick(&all, f).unwrap();
                let imp = match (m.is_dir(id), alt) {
                    (true, false) => Imp::LinearDir,
                    (true, true) => Imp::HashDir,
                    (false, false) => Imp::SmallFile,
                    (false, true) => Imp::ExtentFile,
                };
                fs.set_imp(id, imp).unwrap();
                prop_assert_eq!(fs.imp(id).unwrap(), imp);
            }
            Op::Fsync => fs.fsync().unwrap(),
            Op::Remount => {
                let dev = fs.unmount().unwrap();
                fs = Fs::mount(dev, opts(small)).unwrap();
                prop_assert_eq!(snapshot(&mut fs), m.snapshot());
            }
        }
    }
    prop_assert_eq!(snapshot(&mut fs), m.snapshot());
    let mut dev = fs.unmount().unwrap();
    let rep = fsck(&mut dev, false).unwrap();
    prop_assert!(rep.is_clean(), "fsck: {:?}", rep);
    let mut fs = Fs::mount(dev, opts(small)).unwrap();
    prop_assert_eq!(snapshot(&mut fs), m.snapshot());
    Ok(())
}

fn cases() -> u32 {
    std::env::var("KFS_PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(48)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn random_operations_match_the_model(ops in prop::collection::vec(op(), 1..80)) {
        run(ops, false)?;
    }

    #[test]
    fn random_operations_match_the_model_with_tiny_caches(ops in prop::collection::vec(op(), 1..80)) {
        run(ops, true)?;
    }
}

#[test]
fn many_files_in_one_directory_switch_it_to_hashed_and_survive_remount() {
    let dev = mkfs(MemDevice::new(8192), &MkfsOptions::default()).unwrap();
    let mut fs = Fs::mount(dev, Options::deterministic()).unwrap();
    let d = fs.mkdir(fs.root(), b"big", 0o755, 0, 0).unwrap().id;
    for i in 0..3000 {
        fs.create(d, format!("file-{i:05}").as_bytes(), 0o644, 0, 0, 0)
            .unwrap();
    }
    assert_eq!(
        fs.imp(d).unwrap(),
        Imp::HashDir,
        "the adaptive policy should have swapped the directory"
    );
    for i in (0..3000).step_by(3) {
        fs.unlink(d, format!("file-{i:05}").as_bytes()).unwrap();
    }
    let dev = fs.unmount().unwrap();
    let mut fs = Fs::mount(dev, Options::deterministic()).unwrap();
    assert_eq!(fs.readdir(d).unwrap().len(), 2000);
    assert!(fs.lookup(d, b"file-00001").is_ok());
    assert_eq!(fs.lookup(d, b"file-00003").err(), Some(Error::NotFound));
    // Swap back to linear on the live directory: nothing is lost.
    fs.set_imp(d, Imp::LinearDir).unwrap();
    assert_eq!(fs.readdir(d).unwrap().len(), 2000);
    assert!(fs.lookup(d, b"file-02999").is_ok());
    let mut dev = fs.unmount().unwrap();
    assert!(fsck(&mut dev, false).unwrap().is_clean());
}

#[test]
fn large_sparse_file_reads_zeros_in_holes_and_costs_few_blocks() {
    let dev = mkfs(MemDevice::new(2048), &MkfsOptions::default()).unwrap();
    let mut fs = Fs::mount(dev, Options::deterministic()).unwrap();
    let f = fs.create(fs.root(), b"sparse", 0o644, 0, 0, 0).unwrap().id;
    let far = 300u64 << 30; // 300 GiB: needs the triple-indirect tree
    fs.write(f, far, b"end").unwrap();
    fs.write(f, 0, b"start").unwrap();
    let a = fs.getattr(f).unwrap();
    assert_eq!(a.size, far + 3);
    assert_eq!(fs.read(f, far - 2, 5).unwrap(), b"\0\0end");
    assert_eq!(fs.read(f, 1 << 30, 4).unwrap(), vec![0; 4]);
    let dev = fs.unmount().unwrap();
    let mut fs = Fs::mount(dev, Options::deterministic()).unwrap();
    assert_eq!(fs.read(f, far, 3).unwrap(), b"end");
    assert!(
        fs.getattr(f).unwrap().blocks <= 8 * 8,
        "a sparse file must not allocate its holes"
    );
    fs.set_imp(f, Imp::ExtentFile).unwrap();
    fs.fsync().unwrap();
    assert_eq!(fs.read(f, 0, 5).unwrap(), b"start");
    assert_eq!(
        fs.write(f, kfs::MAX_FILE_SIZE, b"x").err(),
        Some(Error::TooBig)
    );
}

#[test]
fn unlinked_open_file_lives_until_release_and_is_reclaimed_after_a_crash() {
    let dev = mkfs(MemDevice::new(1024), &MkfsOptions::default()).unwrap();
    let mut fs = Fs::mount(dev, Options::deterministic()).unwrap();
    let f = fs.create(fs.root(), b"tmp", 0o600, 0, 0, 0).unwrap().id;
    let fh = fs.open(f, false).unwrap();
    fs.write_fh(fh, 0, &[7; 10_000]).unwrap();
    fs.unlink(fs.root(), b"tmp").unwrap();
    assert_eq!(fs.read_fh(fh, 9_990, 100).unwrap(), vec![7; 10]);
    fs.fsync().unwrap();
    let free_before = fs.statfs().bfree;
    // Crash with the orphan in the checkpoint.
    let mut dev = fs.into_device();
    let rep = fsck(&mut dev, false).unwrap();
    assert!(
        rep.is_clean() && rep.notes.iter().any(|n| n.contains("orphan")),
        "{rep:?}"
    );
    let fs = Fs::mount(dev, Options::deterministic()).unwrap();
    assert!(
        fs.getattr(f).is_err(),
        "the orphan must be reclaimed at mount"
    );
    assert!(fs.statfs().bfree > free_before);
    let _ = mode::S_IFREG;
}

#[test]
fn extent_layout_needs_no_indirect_blocks_for_a_contiguous_file() {
    let mut o = Options::deterministic();
    o.extent_threshold = 0; // no automatic swap: compare both layouts
    let dev = mkfs(MemDevice::new(20_000), &MkfsOptions::default()).unwrap();
    let mut fs = Fs::mount(dev, o.clone()).unwrap();
    let f = fs.create(fs.root(), b"f", 0o644, 0, 0, 0).unwrap().id;
    let chunk = vec![3u8; 1 << 20];
    for k in 0..64u64 {
        fs.write(f, k << 20, &chunk).unwrap();
    }
    fs.fsync().unwrap();
    let data_sectors = 64 * 256 * 8;
    // 16,384 blocks: 12 direct, 512 under the single-indirect block, the
    // rest under a double-indirect root with 31 leaves: 33 metadata blocks.
    assert_eq!(fs.getattr(f).unwrap().blocks, data_sectors + 33 * 8);
    fs.set_imp(f, Imp::ExtentFile).unwrap();
    fs.fsync().unwrap();
    assert_eq!(
        fs.getattr(f).unwrap().blocks,
        data_sectors,
        "a contiguous file fits in inline extents"
    );
    let dev = fs.unmount().unwrap();
    let mut fs = Fs::mount(dev, o).unwrap();
    assert_eq!(fs.read(f, (64 << 20) - 2, 2).unwrap(), vec![3, 3]);
}

#[test]
fn colliding_names_make_a_hashed_directory_fall_back_to_linear() {
    // 300 names that all land in bucket 0 of any table up to 1,024 buckets.
    let names: Vec<String> = (0..)
        .map(|i| format!("c{i}"))
        .filter(|n| kfs::dir::fnv1a(n.as_bytes()) & 1023 == 0)
        .take(300)
        .collect();
    let dev = mkfs(MemDevice::new(4096), &MkfsOptions::default()).unwrap();
    let mut fs = Fs::mount(dev, Options::deterministic()).unwrap();
    let d = fs.mkdir(fs.root(), b"d", 0o755, 0, 0).unwrap().id;
    fs.set_imp(d, Imp::HashDir).unwrap();
    for n in &names {
        fs.create(d, n.as_bytes(), 0o644, 0, 0, 0).unwrap();
    }
    assert_eq!(
        fs.imp(d).unwrap(),
        Imp::LinearDir,
        "hashing cannot separate these names"
    );
    assert!(
        fs.getattr(d).unwrap().size <= 8 * 4096,
        "the table must not grow without bound"
    );
    let dev = fs.unmount().unwrap();
    let mut fs = Fs::mount(dev, Options::deterministic()).unwrap();
    assert_eq!(fs.readdir(d).unwrap().len(), 300);
    assert!(fs.lookup(d, names[299].as_bytes()).is_ok());
    let mut dev = fs.unmount().unwrap();
    assert!(fsck(&mut dev, false).unwrap().is_clean());
}

#[test]
fn filling_the_device_from_many_files_fails_writes_not_fsync() {
    let dev = mkfs(MemDevice::new(600), &MkfsOptions::default()).unwrap();
    let mut fs = Fs::mount(dev, Options::deterministic()).unwrap();
    let files: Vec<u64> = (0..4)
        .map(|i| {
            fs.create(fs.root(), format!("f{i}").as_bytes(), 0o644, 0, 0, 0)
                .unwrap()
                .id
        })
        .collect();
    let mut accepted = [0u64; 4];
    let chunk = vec![0xA5u8; 64 << 10];
    'fill: for round in 0.. {
        for (k, &f) in files.iter().enumerate() {
            match fs.write(f, accepted[k], &chunk) {
                Ok(n) => accepted[k] += n as u64,
                Err(Error::NoSpace) => break 'fill,
                Err(e) => panic!("round {round}: {e}"),
            }
        }
        if round % 3 == 2 {
            fs.fsync().unwrap();
        }
    }
    fs.fsync()
        .expect("a checkpoint must always fit in the space writes left");
    // Overwriting in place is copy-on-write: also refused cleanly, never at fsync.
    let _ = fs.write(files[0], 0, &chunk);
    fs.fsync().unwrap();
    let mut dev = fs.unmount().unwrap();
    assert!(fsck(&mut dev, false).unwrap().is_clean());
    let mut fs = Fs::mount(dev, Options::deterministic()).unwrap();
    for (k, &f) in files.iter().enumerate() {
        assert_eq!(fs.getattr(f).unwrap().size, accepted[k]);
        assert!(fs
            .read(f, 0, accepted[k] as usize)
            .unwrap()
            .iter()
            .all(|&b| b == 0xA5));
    }
}
