//! Property test: random sequences of create, write, read, seek, hold,
//! close, unlink, rename and link give the same contents and offsets as a
//! plain model (names → file ids → bytes; descriptions → file id, offset,
//! references), and the byte count always matches the files still alive
//! (named or open). 64 cases by default; set `PROPTEST_CASES` for more.

use std::collections::BTreeMap;

use k42_interfaces::flags::{O_CREAT, O_RDWR, O_TRUNC};
use k42_interfaces::{FileSystem, AT_CURRENT, SEEK_SET};
use k42_rt::Errno;
use proptest::prelude::*;
use ramfs::Ramfs;

const NAMES: [&str; 4] = ["/a", "/b", "/d/c", "/d/e"];

#[derive(Clone, Debug)]
enum Op {
    Create {
        name: usize,
        trunc: bool,
    },
    Write {
        fd: usize,
        at: Option<u64>,
        len: usize,
        byte: u8,
    },
    Read {
        fd: usize,
        at: Option<u64>,
        len: usize,
    },
    Seek {
        fd: usize,
        to: u64,
    },
    Hold {
        fd: usize,
    },
    Close {
        fd: usize,
    },
    Unlink {
        name: usize,
    },
    Rename {
        from: usize,
        to: usize,
    },
    Link {
        from: usize,
        to: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let at = proptest::option::of(0..3000u64);
    prop_oneof![
        (0..4usize, any::<bool>()).prop_map(|(name, trunc)| Op::Create { name, trunc }),
        (0..4usize, at.clone(), 0..700usize, any::<u8>())
            .prop_map(|(fd, at, len, byte)| Op::Write { fd, at, len, byte }),
        (0..4usize, at, 0..1500usize).prop_map(|(fd, at, len)| Op::Read { fd, at, len }),
        (0..4usize, 0..4000u64).prop_map(|(fd, to)| Op::Seek { fd, to }),
        (0..4usize).prop_map(|fd| Op::Hold { fd }),
        (0..4usize).prop_map(|fd| Op::Close { fd }),
        (0..4usize).prop_map(|name| Op::Unlink { name }),
        (0..4usize, 0..4usize).prop_map(|(from, to)| Op::Rename { from, to }),
        (0..4usize, 0..4usize).prop_map(|(from, to)| Op::Link { from, to }),
    ]
}

struct Desc {
    file: usize,
    offset: u64,
    refs: u32,
}

#[derive(Default)]
struct Model {
    names: BTreeMap<usize, usize>,
    files: BTreeMap<usize, Vec<u8>>,
    descs: BTreeMap<u64, Desc>,
    next: usize,
}

impl Model {
    fn alive_bytes(&self) -> usize {
        self.files
            .iter()
            .filter(|(id, _)| {
                self.names.values().any(|n| n == *id) || self.descs.values().any(|d| d.file == **id)
            })
            .map(|(_, d)| d.len())
            .sum()
    }

    /// The k-th open description, in order.
    fn nth(&self, k: usize) -> Option<u64> {
        self.descs.keys().nth(k % self.descs.len().max(1)).copied()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64),
    ))]

    #[test]
    fn ramfs_matches_a_model(ops in proptest::collection::vec(op(), 1..60)) {
        let fs = Ramfs::new(1 << 20, || 0);
        fs.mkdir("/d", 0o755).unwrap();
        let mut m = Model::default();
        for op in ops {
            match op {
                Op::Create { name, trunc } => {
                    let flags = O_CREAT | O_RDWR | if trunc { O_TRUNC } else { 0 };
                    let fd = fs.create(NAMES[name], flags, 0o644).unwrap();
                    let id = *m.names.entry(name).or_insert_with(|| { m.next += 1; m.next });
                    let data = m.files.entry(id).or_default();
                    if trunc {
                        data.clear();
                    }
                    let new = Desc { file: id, offset: 0, refs: 1 };
                    prop_assert!(m.descs.insert(fd, new).is_none(), "{:#x} reused while open", fd);
                }
                Op::Write { fd, at, len, byte } => {
                    let Some(fd) = m.nth(fd) else { continue };
                    let buf = vec![byte; len];
                    prop_assert_eq!(fs.write(fd, at.unwrap_or(AT_CURRENT), &buf), Ok(len as u32));
                    let d = m.descs.get_mut(&fd).unwrap();
                    let start = at.unwrap_or(d.offset) as usize;
                    let data = m.files.get_mut(&d.file).unwrap();
                    if len > 0 {
                        let end = start + len;
                        if data.len() < end {
                            data.resize(end, 0);
                        }
                        data[start..end].fill(byte);
                        if at.is_none() {
                            d.offset = end as u64;
                        }
                    }
                }
                Op::Read { fd, at, len } => {
                    let Some(fd) = m.nth(fd) else { continue };
                    let mut buf = vec![0u8; len];
                    let n = fs.read(fd, at.unwrap_or(AT_CURRENT), &mut buf).unwrap() as usize;
                    let d = m.descs.get_mut(&fd).unwrap();
                    let data = &m.files[&d.file];
                    let start = (at.unwrap_or(d.offset) as usize).min(data.len());
                    let want = &data[start..(start + len).min(data.len())];
                    prop_assert_eq!(&buf[..n], want);
                    if at.is_none() {
                        d.offset += n as u64;
                    }
                }
                Op::Seek { fd, to } => {
                    let Some(fd) = m.nth(fd) else { continue };
                    prop_assert_eq!(fs.seek(fd, to as i64, SEEK_SET), Ok(to));
                    m.descs.get_mut(&fd).unwrap().offset = to;
                }
                Op::Hold { fd } => {
                    let Some(fd) = m.nth(fd) else { continue };
                    prop_assert_eq!(fs.hold(fd), Ok(()));
                    m.descs.get_mut(&fd).unwrap().refs += 1;
                }
                Op::Close { fd } => {
                    let Some(fd) = m.nth(fd) else { continue };
                    prop_assert_eq!(fs.close(fd), Ok(()));
                    let d = m.descs.get_mut(&fd).unwrap();
                    d.refs -= 1;
                    if d.refs == 0 {
                        m.descs.remove(&fd);
                        let mut b = [0u8; 1];
                        prop_assert_eq!(fs.read(fd, 0, &mut b), Err(Errno::EBADF));
                    }
                }
                Op::Unlink { name } => {
                    let want = if m.names.remove(&name).is_some() { Ok(()) } else { Err(Errno::ENOENT) };
                    prop_assert_eq!(fs.unlink(NAMES[name]), want);
                }
                Op::Rename { from, to } => {
                    let got = fs.rename(NAMES[from], NAMES[to]);
                    match m.names.get(&from).copied() {
                        None => prop_assert_eq!(got, Err(Errno::ENOENT)),
                        Some(id) => {
                            prop_assert_eq!(got, Ok(()));
                            // Two names of one file: nothing happens.
                            if m.names.get(&to) != Some(&id) {
                                m.names.remove(&from);
                                m.names.insert(to, id);
                            }
                        }
                    }
                }
                Op::Link { from, to } => {
                    let got = fs.link(NAMES[from], NAMES[to]);
                    match (m.names.get(&from).copied(), m.names.contains_key(&to)) {
                        (None, _) => prop_assert_eq!(got, Err(Errno::ENOENT)),
                        (Some(_), true) => prop_assert_eq!(got, Err(Errno::EEXIST)),
                        (Some(id), false) => {
                            prop_assert_eq!(got, Ok(()));
                            m.names.insert(to, id);
                        }
                    }
                }
            }
            prop_assert_eq!(fs.bytes(), m.alive_bytes());
            prop_assert_eq!(fs.open_files(), m.descs.len());
        }
        for (name, id) in &m.names {
            let st = fs.stat(NAMES[*name]).unwrap();
            let links = m.names.values().filter(|i| *i == id).count() as u32;
            prop_assert_eq!((st.size, st.nlink), (m.files[id].len() as u64, links));
        }
        for (fd, d) in &m.descs {
            prop_assert_eq!(fs.seek(*fd, 0, k42_interfaces::SEEK_CUR), Ok(d.offset));
        }
    }
}
