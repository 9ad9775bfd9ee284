//! Property test: random sequences of create, write, read, close, unlink
//! and rename give the same contents as a plain model (names → file ids →
//! bytes, fds → file ids), and the byte count always matches the files
//! still alive (named or open). 64 cases by default; set
//! `PROPTEST_CASES` for more.

use std::collections::BTreeMap;

use k42_interfaces::flags::{O_CREAT, O_RDWR, O_TRUNC};
use k42_interfaces::FileSystem;
use k42_rt::Errno;
use ppc_idl::ProcessId;
use proptest::prelude::*;
use ramfs::Ramfs;

const NAMES: [&str; 4] = ["/a", "/b", "/d/c", "/d/e"];
const ME: ProcessId = ProcessId(1);

#[derive(Clone, Debug)]
enum Op {
    Create {
        name: usize,
        trunc: bool,
    },
    Write {
        fd: usize,
        offset: u64,
        len: usize,
        byte: u8,
    },
    Read {
        fd: usize,
        offset: u64,
        len: usize,
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
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..4usize, any::<bool>()).prop_map(|(name, trunc)| Op::Create { name, trunc }),
        (0..4usize, 0..3000u64, 0..700usize, any::<u8>()).prop_map(|(fd, offset, len, byte)| {
            Op::Write {
                fd,
                offset,
                len,
                byte,
            }
        }),
        (0..4usize, 0..4000u64, 0..1500usize).prop_map(|(fd, offset, len)| Op::Read {
            fd,
            offset,
            len
        }),
        (0..4usize).prop_map(|fd| Op::Close { fd }),
        (0..4usize).prop_map(|name| Op::Unlink { name }),
        (0..4usize, 0..4usize).prop_map(|(from, to)| Op::Rename { from, to }),
    ]
}

#[derive(Default)]
struct Model {
    names: BTreeMap<usize, usize>,
    files: BTreeMap<usize, Vec<u8>>,
    fds: BTreeMap<u32, usize>,
    next: usize,
}

impl Model {
    fn alive_bytes(&self) -> usize {
        self.files
            .iter()
            .filter(|(id, _)| {
                self.names.values().any(|n| n == *id) || self.fds.values().any(|f| f == *id)
            })
            .map(|(_, d)| d.len())
            .sum()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn ramfs_matches_a_model(ops in proptest::collection::vec(op(), 1..60)) {
        let fs = Ramfs::new(1 << 20);
        fs.mkdir("/d", 0o755).unwrap();
        let mut m = Model::default();
        for op in ops {
            // The k-th open fd, in order (fds are small numbers).
            let nth_fd = |m: &Model, k: usize| m.fds.keys().nth(k % m.fds.len().max(1)).copied();
            match op {
                Op::Create { name, trunc } => {
                    let flags = O_CREAT | O_RDWR | if trunc { O_TRUNC } else { 0 };
                    let fd = fs.create(ME, NAMES[name], flags, 0o644).unwrap();
                    let id = *m.names.entry(name).or_insert_with(|| { m.next += 1; m.next });
                    let data = m.files.entry(id).or_default();
                    if trunc {
                        data.clear();
                    }
                    prop_assert!(m.fds.insert(fd, id).is_none(), "fd {} reused while open", fd);
                }
                Op::Write { fd, offset, len, byte } => {
                    let Some(fd) = nth_fd(&m, fd) else { continue };
                    let buf = vec![byte; len];
                    prop_assert_eq!(fs.write(ME, fd, offset, &buf), Ok(len as u32));
                    let data = m.files.get_mut(&m.fds[&fd]).unwrap();
                    let end = offset as usize + len;
                    if len > 0 {
                        if data.len() < end {
                            data.resize(end, 0);
                        }
                        data[offset as usize..end].fill(byte);
                    }
                }
                Op::Read { fd, offset, len } => {
                    let Some(fd) = nth_fd(&m, fd) else { continue };
                    let mut buf = vec![0u8; len];
                    let n = fs.read(ME, fd, offset, &mut buf).unwrap() as usize;
                    let data = &m.files[&m.fds[&fd]];
                    let start = (offset as usize).min(data.len());
                    let want = &data[start..(start + len).min(data.len())];
                    prop_assert_eq!(&buf[..n], want);
                }
                Op::Close { fd } => {
                    let Some(fd) = nth_fd(&m, fd) else { continue };
                    prop_assert_eq!(fs.close(ME, fd), Ok(()));
                    m.fds.remove(&fd);
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
                            m.names.remove(&from);
                            m.names.insert(to, id);
                        }
                    }
                }
            }
            prop_assert_eq!(fs.bytes(), m.alive_bytes());
            prop_assert_eq!(fs.open_files(), m.fds.len());
        }
        for (name, id) in &m.names {
            prop_assert_eq!(fs.stat(NAMES[*name]).map(|s| s.size), Ok(m.files[id].len() as u64));
        }
    }
}
