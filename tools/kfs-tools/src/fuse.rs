//! The FUSE adapter: KFS's inode-level API maps almost one to one onto
//! FUSE's low-level protocol (object id = inode number).

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo,
    KernelConfig, LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData,
    ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, ReplyXattr,
    Request, TimeOrNow, WriteFlags,
};
use kfs::{mode, Attr, BlockDevice, Error, Fs, Imp, SetAttr, Time};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const TTL: Duration = Duration::from_secs(1);
/// The extended attribute that shows and switches an element's implementation.
pub const IMPL_XATTR: &str = "user.kfs.impl";

/// An open directory's snapshot: (id, type, name) per entry.
type DirSnapshot = Vec<(u64, FileType, Vec<u8>)>;

/// A mounted KFS served over FUSE.
pub struct KfsFuse<D: BlockDevice> {
    fs: Arc<Mutex<Fs<D>>>,
    /// Open directories: a snapshot of the entries taken at opendir, so a
    /// reader sees every entry once even if a hashed directory regrows.
    dirs: Mutex<BTreeMap<u64, DirSnapshot>>,
}

fn errno(e: Error) -> Errno {
    if let Error::Corrupt(m) | Error::Io(m) = &e {
        eprintln!("kfs-fuse: {m}");
    }
    Errno::from_i32(e.errno())
}

fn to_system(t: Time) -> SystemTime {
    // Timestamps come from the image: out-of-range ones clamp, never panic.
    let d = Duration::new(t.sec.unsigned_abs(), 0);
    let base = if t.sec >= 0 {
        UNIX_EPOCH.checked_add(d)
    } else {
        UNIX_EPOCH.checked_sub(d)
    };
    base.and_then(|b| b.checked_add(Duration::from_nanos(t.nsec as u64)))
        .unwrap_or(UNIX_EPOCH)
}

fn from_system(t: SystemTime) -> Time {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => Time {
            sec: d.as_secs() as i64,
            nsec: d.subsec_nanos(),
        },
        Err(e) => {
            let d = e.duration();
            let (mut sec, mut nsec) = (-(d.as_secs() as i64), d.subsec_nanos());
            if nsec > 0 {
                sec -= 1;
                nsec = 1_000_000_000 - nsec;
            }
            Time { sec, nsec }
        }
    }
}

fn kind(m: u32) -> FileType {
    match m & mode::S_IFMT {
        mode::S_IFDIR => FileType::Directory,
        mode::S_IFLNK => FileType::Symlink,
        mode::S_IFCHR => FileType::CharDevice,
        mode::S_IFBLK => FileType::BlockDevice,
        mode::S_IFIFO => FileType::NamedPipe,
        mode::S_IFSOCK => FileType::Socket,
        _ => FileType::RegularFile,
    }
}

fn file_attr(a: &Attr) -> FileAttr {
    FileAttr {
        ino: INodeNo(a.id),
        size: a.size,
        blocks: a.blocks,
        atime: to_system(a.atime),
        mtime: to_system(a.mtime),
        ctime: to_system(a.ctime),
        crtime: to_system(a.ctime),
        kind: kind(a.mode),
        perm: (a.mode & 0o7777) as u16,
        nlink: a.nlink,
        uid: a.uid,
        gid: a.gid,
        rdev: a.rdev as u32,
        flags: 0,
        blksize: kfs::BLOCK_SIZE as u32,
    }
}

impl<D: BlockDevice> KfsFuse<D> {
    /// Wraps a mounted file system.
    pub fn new(fs: Fs<D>) -> Self {
        KfsFuse {
            fs: Arc::new(Mutex::new(fs)),
            dirs: Mutex::new(BTreeMap::new()),
        }
    }

    /// The file system, shared (the periodic-commit thread takes checkpoints).
    pub fn shared(&self) -> Arc<Mutex<Fs<D>>> {
        Arc::clone(&self.fs)
    }

    fn fs(&self) -> std::sync::MutexGuard<'_, Fs<D>> {
        self.fs.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn entry(&self, reply: ReplyEntry, r: kfs::Result<Attr>) {
        match r {
            Ok(a) => reply.entry(&TTL, &file_attr(&a), Generation(0)),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn empty(reply: ReplyEmpty, r: kfs::Result<()>) {
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(e)),
        }
    }
}

impl<D: BlockDevice + Send + Sync + 'static> Filesystem for KfsFuse<D> {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        let _ = config.set_max_write(1 << 20);
        Ok(())
    }

    fn destroy(&mut self) {
        // A clean unmount writes everything back.
        let mut fs = self.fs();
        if let Err(e) = fs.checkpoint() {
            if e != Error::ReadOnly {
                eprintln!("kfs-fuse: final checkpoint failed: {e}");
            }
        }
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let r = self.fs().lookup(parent.0, name.as_bytes());
        self.entry(reply, r)
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.fs().getattr(ino.0) {
            Ok(a) => reply.attr(&TTL, &file_attr(&a)),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let t = |x: Option<TimeOrNow>| {
            x.map(|x| match x {
                TimeOrNow::SpecificTime(s) => from_system(s),
                TimeOrNow::Now => from_system(SystemTime::now()),
            })
        };
        let s = SetAttr {
            mode,
            uid,
            gid,
            size,
            atime: t(atime),
            mtime: t(mtime),
        };
        match self.fs().setattr(ino.0, &s) {
            Ok(a) => reply.attr(&TTL, &file_attr(&a)),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        match self.fs().readlink(ino.0) {
            Ok(t) => reply.data(&t),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        rdev: u32,
        reply: ReplyEntry,
    ) {
        let r = self.fs().create(
            parent.0,
            name.as_bytes(),
            mode,
            req.uid(),
            req.gid(),
            rdev as u64,
        );
        self.entry(reply, r)
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        let r = self
            .fs()
            .mkdir(parent.0, name.as_bytes(), mode, req.uid(), req.gid());
        self.entry(reply, r)
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        Self::empty(reply, self.fs().unlink(parent.0, name.as_bytes()))
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        Self::empty(reply, self.fs().rmdir(parent.0, name.as_bytes()))
    }

    fn symlink(
        &self,
        req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        let r = self.fs().symlink(
            parent.0,
            link_name.as_bytes(),
            target.as_os_str().as_bytes(),
            req.uid(),
            req.gid(),
        );
        self.entry(reply, r)
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        if flags.contains(RenameFlags::RENAME_EXCHANGE)
            || flags.contains(RenameFlags::RENAME_WHITEOUT)
        {
            return reply.error(Errno::EINVAL);
        }
        let noreplace = flags.contains(RenameFlags::RENAME_NOREPLACE);
        Self::empty(
            reply,
            self.fs().rename(
                parent.0,
                name.as_bytes(),
                newparent.0,
                newname.as_bytes(),
                noreplace,
            ),
        )
    }

    fn link(
        &self,
        _req: &Request,
        ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        let r = self.fs().link(ino.0, newparent.0, newname.as_bytes());
        self.entry(reply, r)
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let append = flags.0 & 0o2000 != 0; // O_APPEND
        match self.fs().open(ino.0, append) {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::FOPEN_KEEP_CACHE),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        match self.fs().read_fh(fh.0, offset, size as usize) {
            Ok(d) => reply.data(&d),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        match self.fs().write_fh(fh.0, offset, data) {
            Ok(n) => reply.written(n as u32),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.ok() // close() is not a durability point; fsync() is.
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        Self::empty(reply, self.fs().release(fh.0))
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        Self::empty(reply, self.fs().fsync())
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let mut fs = self.fs();
        let snap = (|| {
            let parent = fs.lookup(ino.0, b"..")?.id;
            let mut v = vec![
                (ino.0, FileType::Directory, b".".to_vec()),
                (parent, FileType::Directory, b"..".to_vec()),
            ];
            for e in fs.readdir(ino.0)? {
                v.push((e.id, kind((e.ftype as u32) << 12), e.name));
            }
            let fh = fs.open(ino.0, false)?;
            Ok::<_, Error>((fh, v))
        })();
        match snap {
            Ok((fh, v)) => {
                self.dirs
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(fh, v);
                reply.opened(FileHandle(fh), FopenFlags::empty())
            }
            Err(e) => reply.error(errno(e)),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let dirs = self.dirs.lock().unwrap_or_else(|p| p.into_inner());
        let Some(v) = dirs.get(&fh.0) else {
            return reply.error(Errno::EBADF);
        };
        for (i, (id, k, name)) in v.iter().enumerate().skip(offset as usize) {
            if reply.add(INodeNo(*id), i as u64 + 1, *k, OsStr::from_bytes(name)) {
                break;
            }
        }
        reply.ok()
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        self.dirs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&fh.0);
        Self::empty(reply, self.fs().release(fh.0))
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        Self::empty(reply, self.fs().fsync())
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let s = self.fs().statfs();
        reply.statfs(
            s.blocks, s.bfree, s.bavail, s.files, s.ffree, s.bsize, s.namelen, s.bsize,
        )
    }

    fn setxattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        name: &OsStr,
        value: &[u8],
        _flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        if name.as_bytes() != IMPL_XATTR.as_bytes() {
            return reply.error(Errno::ENOTSUP);
        }
        let Some(imp) = std::str::from_utf8(value)
            .ok()
            .and_then(|s| Imp::from_name(s.trim()))
        else {
            return reply.error(Errno::EINVAL);
        };
        // KFS hot swap on a live element.
        Self::empty(reply, self.fs().set_imp(ino.0, imp))
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        if name.as_bytes() != IMPL_XATTR.as_bytes() {
            return reply.error(Errno::NO_XATTR);
        }
        match self.fs().imp(ino.0) {
            Ok(imp) => {
                let v = imp.name().as_bytes();
                if size == 0 {
                    reply.size(v.len() as u32)
                } else if (size as usize) < v.len() {
                    reply.error(Errno::ERANGE)
                } else {
                    reply.data(v)
                }
            }
            Err(e) => reply.error(errno(e)),
        }
    }

    fn listxattr(&self, _req: &Request, _ino: INodeNo, size: u32, reply: ReplyXattr) {
        let v = [IMPL_XATTR.as_bytes(), b"\0"].concat();
        if size == 0 {
            reply.size(v.len() as u32)
        } else if (size as usize) < v.len() {
            reply.error(Errno::ERANGE)
        } else {
            reply.data(&v)
        }
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let mut fs = self.fs();
        let r = fs
            .create(parent.0, name.as_bytes(), mode, req.uid(), req.gid(), 0)
            .and_then(|a| {
                let fh = fs.open(a.id, flags & 0o2000 != 0)?;
                Ok((a, fh))
            });
        match r {
            Ok((a, fh)) => reply.created(
                &TTL,
                &file_attr(&a),
                Generation(0),
                FileHandle(fh),
                FopenFlags::FOPEN_KEEP_CACHE,
            ),
            Err(e) => reply.error(errno(e)),
        }
    }
}
