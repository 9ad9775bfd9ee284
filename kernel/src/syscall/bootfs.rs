//! `boot_entry(i, buf, len)` and `boot_read(i, offset, buf, len)`: the
//! boot image's files, for the file server.
//!
//! The initramfs (`process::initramfs`, one or several cpio archives one
//! after another) stays where the boot loader put it; nothing copies it.
//! The file server (`ramfs`, `user/ramfs/src/boot.rs`) walks it once at
//! start with `boot_entry` and makes each entry a name of its tree whose
//! contents it reads here, on demand, with `boot_read` (a file is copied
//! into the server only when someone changes it). `exec` takes a boot
//! entry's index too (`exec.rs`), so a boot program is never copied
//! through the server page by page.
//!
//! Entries are numbered from 0 in archive order, the archives one after
//! another (a path may come twice: the later entry wins, as when Linux
//! unpacks an initramfs; a hard link stored without its data gets the
//! data of the entry holding it). The archive is public (any program may
//! exec any of its files), so any process may call these.
//!
//! - `boot_entry(i, buf, len)` writes entry `i`'s record into `buf`: the
//!   mode (`st_mode`: type and permission bits, u32), the name's length
//!   (u32), the size (u64: a file's bytes, a symbolic link's target
//!   length, 0 otherwise), then the name (as stored: no leading `/`, no
//!   NUL), all little-endian ([`RECORD`] bytes before the name). Returns
//!   the record's whole length; only the first `len` bytes are written, so
//!   a caller whose buffer was short sees a larger result and asks again.
//!   `ENOENT` past the last entry (and without an initramfs).
//! - `boot_read(i, offset, buf, len)` copies at most `len` (and at most
//!   [`READ_MAX`]) bytes of entry `i`'s data from `offset`: a file's
//!   contents or a symbolic link's target. Returns the count, 0 at or past
//!   the end. `ENOENT` for no such entry.
//!
//! `EFAULT` for a bad buffer.

use alloc::vec::Vec;

use spin::Once;

use super::{Context, Errno, SyscallResult};
use crate::arch::uaccess::copy_to_user;

/// Bytes of an entry record before the name.
pub const RECORD: usize = 16;
/// Most bytes one `boot_read` copies.
pub const READ_MAX: usize = 1 << 20;

/// The entries of the initramfs, in order, read once.
static ENTRIES: Once<Vec<cpio::Entry<'static>>> = Once::new();

/// The initramfs's entries (up to the first damaged byte; none without
/// an initramfs).
pub fn entries() -> &'static [cpio::Entry<'static>] {
    ENTRIES.call_once(|| {
        let Some(archive) = crate::process::initramfs() else {
            return Vec::new();
        };
        let mut v = Vec::new();
        for e in cpio::Archives::new(archive) {
            match e {
                Ok(e) => v.push(e),
                Err(e) => {
                    log::warn!("initramfs: {e}: the entries after it are left out");
                    break;
                }
            }
        }
        // Hard links: newc stores the data with the last of them.
        for i in 0..v.len() {
            let e = &v[i];
            if e.kind() == cpio::Kind::File && e.nlink > 1 && e.data.is_empty() {
                let (ino, dev) = (e.ino, e.dev);
                let holder = v[i + 1..].iter().find(|h| {
                    h.kind() == cpio::Kind::File
                        && h.ino == ino
                        && h.dev == dev
                        && !h.data.is_empty()
                });
                if let Some(data) = holder.map(|h| h.data) {
                    v[i].data = data;
                }
            }
        }
        v
    })
}

/// The contents of regular file `i` of the initramfs and its name in the
/// archive (`exec`'s boot image).
pub fn file(i: u64) -> Option<(&'static [u8], &'static str)> {
    let e = entries().get(usize::try_from(i).ok()?)?;
    (e.kind() == cpio::Kind::File).then_some((e.data, e.name))
}

fn entry(i: u64) -> Result<&'static cpio::Entry<'static>, Errno> {
    usize::try_from(i)
        .ok()
        .and_then(|i| entries().get(i))
        .ok_or(Errno::Enoent)
}

/// `boot_entry(i, buf, len)`.
pub fn sys_boot_entry(cx: &mut Context<'_>) -> SyscallResult {
    let [i, buf, len, ..] = cx.args;
    let e = entry(i)?;
    let name = e.name.as_bytes();
    let mut head = [0u8; RECORD];
    head[..4].copy_from_slice(&e.mode.to_le_bytes());
    head[4..8].copy_from_slice(&(name.len() as u32).to_le_bytes());
    head[8..].copy_from_slice(&(e.data.len() as u64).to_le_bytes());
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    copy_to_user(buf, &head[..len.min(RECORD)])?;
    if len > RECORD {
        let n = (len - RECORD).min(name.len());
        copy_to_user(buf.wrapping_add(RECORD as u64), &name[..n])?;
    }
    Ok((RECORD + name.len()) as u64)
}

/// `boot_read(i, offset, buf, len)`.
pub fn sys_boot_read(cx: &mut Context<'_>) -> SyscallResult {
    let [i, offset, buf, len, ..] = cx.args;
    let data = entry(i)?.data;
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(data.len());
    let len = usize::try_from(len).unwrap_or(usize::MAX).min(READ_MAX);
    let n = len.min(data.len() - start);
    copy_to_user(buf, &data[start..start + n])?;
    Ok(n as u64)
}

ktest::ktest! {
    /// The entries are the archive's, in order; the system library is
    /// among them with its bytes; a file's data is what `find` gives.
    fn bootfs_entries_are_the_initramfs() {
        let all = entries();
        assert!(!all.is_empty());
        let lib = all.iter().position(|e| e.name == "lib/k42-syslib").expect("the system library");
        let found = cpio::find(crate::process::initramfs().unwrap(), "/lib/k42-syslib").unwrap().unwrap();
        assert_eq!(file(lib as u64).map(|f| f.0.len()), Some(found.data.len()));
        let dir = all.iter().position(|e| e.kind() == cpio::Kind::Dir).expect("a directory");
        assert_eq!(file(dir as u64), None, "not a file");
        assert_eq!(file(all.len() as u64), None, "past the end");
    }
}
