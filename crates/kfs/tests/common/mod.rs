//! Helpers shared by the integration tests.
#![allow(dead_code)]

use kfs::{mode, BlockDevice, Fs};
use std::collections::BTreeMap;

/// What a path holds, as the tests compare it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// Regular file: permission bits, links, contents.
    File(u32, u32, Vec<u8>),
    /// Directory: permission bits, links.
    Dir(u32, u32),
    /// Symlink target.
    Link(Vec<u8>),
}

/// Every path below the root and what it holds.
pub fn snapshot<D: BlockDevice>(fs: &mut Fs<D>) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    let mut stack = vec![(String::new(), fs.root())];
    while let Some((path, dir)) = stack.pop() {
        for e in fs.readdir(dir).expect("readdir") {
            let p = format!("{path}/{}", String::from_utf8_lossy(&e.name));
            let a = fs.getattr(e.id).expect("getattr");
            let node = match a.mode & mode::S_IFMT {
                mode::S_IFDIR => {
                    stack.push((p.clone(), e.id));
                    Node::Dir(a.mode & 0o7777, a.nlink)
                }
                mode::S_IFLNK => Node::Link(fs.readlink(e.id).expect("readlink")),
                _ => Node::File(
                    a.mode & 0o7777,
                    a.nlink,
                    fs.read(e.id, 0, a.size as usize).expect("read"),
                ),
            };
            out.insert(p, node);
        }
    }
    out
}
