//! Walking an archive: [`Reader`] and [`find`].

use crate::{align4, Entry, Error, ErrorKind, Kind, HEADER_LEN, MAGIC_CRC, MAGIC_NEWC, TRAILER};

/// The newc header fields after the magic, in order.
const FIELDS: [&str; 13] = [
    "ino",
    "mode",
    "uid",
    "gid",
    "nlink",
    "mtime",
    "filesize",
    "devmajor",
    "devminor",
    "rdevmajor",
    "rdevminor",
    "namesize",
    "check",
];

/// An iterator over the entries of an archive, up to (not including) its
/// `TRAILER!!!` entry.
///
/// After the first error it yields nothing more: an archive is trusted up
/// to the first broken byte and not beyond.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Reading,
    /// The trailer was read; `pos` is just past it (padded).
    Done,
    Failed,
}

impl<'a> Reader<'a> {
    /// A reader of the archive in `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            pos: 0,
            state: State::Reading,
        }
    }

    /// The offset just past the trailer, once the iterator has returned
    /// `None` after a complete archive. Linux accepts several archives one
    /// after another (with zero padding between them); the rest of the
    /// bytes start here.
    pub fn end(&self) -> Option<usize> {
        (self.state == State::Done).then_some(self.pos)
    }

    /// A reader of the archive that starts `start` bytes into `bytes`
    /// (offsets stay relative to `bytes`).
    fn starting_at(bytes: &'a [u8], start: usize) -> Self {
        Self {
            bytes,
            pos: start,
            state: State::Reading,
        }
    }

    fn fail(&mut self, kind: ErrorKind, offset: usize) -> Option<Result<Entry<'a>, Error>> {
        self.state = State::Failed;
        Some(Err(Error { kind, offset }))
    }
}

impl<'a> Iterator for Reader<'a> {
    type Item = Result<Entry<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.state != State::Reading {
            return None;
        }
        let start = self.pos;
        let bytes = self.bytes;
        if start >= bytes.len() {
            return self.fail(ErrorKind::MissingTrailer, start);
        }
        if let Some(format) = compression(&bytes[start..]) {
            return self.fail(ErrorKind::Compressed { format }, start);
        }
        let Some(header) = bytes.get(start..start + HEADER_LEN) else {
            return self.fail(ErrorKind::TruncatedHeader, start);
        };
        let magic = &header[..6];
        let with_check = if magic == MAGIC_CRC {
            true
        } else if magic == MAGIC_NEWC {
            false
        } else {
            return self.fail(ErrorKind::BadMagic, start);
        };
        let mut v = [0u32; 13];
        for (i, field) in FIELDS.iter().enumerate() {
            let at = 6 + 8 * i;
            match parse_hex8(&header[at..at + 8]) {
                Some(x) => v[i] = x,
                None => return self.fail(ErrorKind::BadHex { field }, start + at),
            }
        }
        let [ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check] =
            v;

        // The name, with its NUL.
        let name_at = start + HEADER_LEN;
        let namesize = namesize as usize;
        if namesize <= 1 {
            return self.fail(ErrorKind::EmptyName, start);
        }
        let Some(raw_name) = name_at
            .checked_add(namesize)
            .and_then(|end| bytes.get(name_at..end))
        else {
            return self.fail(ErrorKind::TruncatedName, name_at);
        };
        let (nul, name) = raw_name.split_last().expect("namesize >= 2");
        if *nul != 0 || name.contains(&0) {
            return self.fail(ErrorKind::NameNotTerminated, name_at);
        }
        let Ok(name) = core::str::from_utf8(name) else {
            return self.fail(ErrorKind::NameNotUtf8, name_at);
        };

        // The data, 4-aligned after the name. The padding of a last,
        // empty entry may be missing; anything else must be there.
        let data_at = align4(name_at + namesize).expect("within a slice");
        let available = bytes.len().saturating_sub(data_at);
        let size = filesize as usize;
        if size > available {
            return self.fail(
                ErrorKind::TruncatedData {
                    size: filesize,
                    available,
                },
                data_at.min(bytes.len()),
            );
        }
        let data = &bytes[data_at.min(bytes.len())..][..size];
        if with_check {
            let computed = data.iter().fold(0u32, |s, &b| s.wrapping_add(b.into()));
            if computed != check {
                return self.fail(
                    ErrorKind::BadChecksum {
                        stored: check,
                        computed,
                    },
                    start,
                );
            }
        }
        self.pos = align4(data_at + size)
            .expect("within a slice")
            .min(bytes.len());
        if name == TRAILER {
            self.state = State::Done;
            return None;
        }
        Some(Ok(Entry {
            name,
            mode,
            uid,
            gid,
            nlink,
            mtime,
            ino,
            dev: (devmajor, devminor),
            rdev: (rdevmajor, rdevminor),
            data,
            offset: start,
        }))
    }
}

/// The compression format whose magic starts `bytes`, if any: what a
/// compressed initramfs looks like where a header should be.
fn compression(bytes: &[u8]) -> Option<&'static str> {
    const MAGICS: [(&[u8], &str); 6] = [
        (b"\x1f\x8b", "gzip"),
        (b"\x28\xb5\x2f\xfd", "zstd"),
        (b"\xfd7zXZ\x00", "xz"),
        (b"BZh", "bzip2"),
        (b"\x02\x21\x4c\x18", "lz4"),
        (b"\x89LZO", "lzo"),
    ];
    MAGICS
        .iter()
        .find(|(m, _)| bytes.starts_with(m))
        .map(|&(_, f)| f)
}

/// Every entry of every archive in `bytes`: Linux accepts several newc
/// archives one after another (an early-microcode archive before the
/// root file system, say), with zero bytes between them. Entries and
/// errors carry offsets from the start of `bytes`.
#[derive(Debug, Clone)]
pub struct Archives<'a> {
    bytes: &'a [u8],
    reader: Reader<'a>,
    done: bool,
}

impl<'a> Archives<'a> {
    /// The archives in `bytes` (at least one).
    pub fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            reader: Reader::new(bytes),
            done: false,
        }
    }
}

impl<'a> Iterator for Archives<'a> {
    type Item = Result<Entry<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            match self.reader.next() {
                Some(Ok(e)) => return Some(Ok(e)),
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(e));
                }
                None => {
                    // The reader stops for good only after an error (already
                    // returned) or after a trailer: skip the padding.
                    let Some(end) = self.reader.end() else {
                        self.done = true;
                        return None;
                    };
                    let next = self.bytes[end..]
                        .iter()
                        .position(|&b| b != 0)
                        .map(|i| end + i);
                    match next {
                        Some(at) => self.reader = Reader::starting_at(self.bytes, at),
                        None => {
                            self.done = true;
                            return None;
                        }
                    }
                }
            }
        }
    }
}

/// Eight hexadecimal digits (either case) as a number.
fn parse_hex8(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |acc, &d| {
        let v = (d as char).to_digit(16)?;
        Some(acc << 4 | v)
    })
}

/// `path` without leading `/` and `./` and without trailing `/`: the form in
/// which [`find`] compares names.
pub(crate) fn normalize(mut path: &str) -> &str {
    loop {
        if let Some(rest) = path.strip_prefix('/') {
            path = rest;
        } else if let Some(rest) = path.strip_prefix("./") {
            path = rest;
        } else {
            break;
        }
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() && !path.is_empty() {
        return "";
    }
    if trimmed == "." {
        return "";
    }
    trimmed
}

/// Looks `path` up in the archive (or the archives, one after another, as
/// in [`Archives`]): `"/init"`, `"./init"` and `"init"` are the same path.
///
/// The whole archive is checked, so a malformed archive is an error even if
/// the path comes before the damage. When a path occurs twice the later
/// entry wins, as when Linux unpacks an initramfs. A hard link stored
/// without its data (newc keeps the data with the last link) is given the
/// data of the entry that holds it.
pub fn find<'a>(archive: &'a [u8], path: &str) -> Result<Option<Entry<'a>>, Error> {
    let want = normalize(path);
    let mut found: Option<Entry<'a>> = None;
    for entry in Archives::new(archive) {
        let entry = entry?;
        if normalize(entry.name) == want {
            found = Some(entry);
        } else if let Some(f) = found.as_mut() {
            let is_its_data = f.kind() == Kind::File
                && f.nlink > 1
                && f.data.is_empty()
                && entry.kind() == Kind::File
                && entry.ino == f.ino
                && entry.dev == f.dev;
            if is_its_data {
                f.data = entry.data;
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn hex_fields() {
        assert_eq!(parse_hex8(b"0000001f"), Some(31));
        assert_eq!(parse_hex8(b"FFFFFFFF"), Some(u32::MAX));
        assert_eq!(parse_hex8(b"0000001g"), None);
        assert_eq!(parse_hex8(b"+0000001"), None);
    }

    #[test]
    fn normalized_paths() {
        assert_eq!(normalize("/init"), "init");
        assert_eq!(normalize("./bin/sh"), "bin/sh");
        assert_eq!(normalize(".//./bin/"), "bin");
        assert_eq!(normalize("/"), "");
        assert_eq!(normalize("."), "");
        assert_eq!(normalize("bin/./sh"), "bin/./sh");
    }
}
