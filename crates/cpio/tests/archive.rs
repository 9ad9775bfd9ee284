//! Reader and writer: round trips, every malformation the reader must
//! name, and property tests that random or damaged bytes never panic.

use cpio::{find, Archives, Error, ErrorKind, Header, Kind, Reader, Writer};
use proptest::prelude::*;

fn entries(archive: &[u8]) -> Result<Vec<cpio::Entry<'_>>, Error> {
    Reader::new(archive).collect()
}

fn sample() -> Vec<u8> {
    let mut w = Writer::new();
    w.mtime = 1_700_000_000;
    w.dir("bin", 0o755).unwrap();
    w.file("bin/busybox", 0o755, b"\x7fELF....").unwrap();
    w.symlink("bin/sh", "busybox").unwrap();
    w.file("init", 0o700, b"#!/bin/sh\n").unwrap();
    w.finish()
}

#[test]
fn fields_round_trip() {
    let a = sample();
    assert_eq!(a.len() % 4, 0, "archive is 4-aligned");
    let e = entries(&a).unwrap();
    assert_eq!(e.len(), 4);
    assert_eq!(e[0].name, "bin");
    assert_eq!(e[0].kind(), Kind::Dir);
    assert_eq!(e[0].mode, 0o040755);
    assert_eq!(e[0].nlink, 2);
    assert_eq!(e[1].kind(), Kind::File);
    assert_eq!(e[1].permissions(), 0o755);
    assert_eq!(e[1].data, b"\x7fELF....");
    assert_eq!(e[1].mtime, 1_700_000_000);
    assert_eq!(e[2].kind(), Kind::Symlink);
    assert_eq!(e[2].mode, 0o120777);
    assert_eq!(e[2].data, b"busybox");
    assert_eq!(e[3].permissions(), 0o700);
    // Inode numbers are distinct; offsets are where the headers are.
    let mut inos: Vec<_> = e.iter().map(|e| e.ino).collect();
    inos.dedup();
    assert_eq!(inos.len(), 4);
    for x in &e {
        assert_eq!(&a[x.offset..x.offset + 6], b"070701");
        assert_eq!(x.offset % 4, 0);
    }
    // The trailer is the last thing, and the reader says where it ends.
    let mut r = Reader::new(&a);
    assert_eq!(r.by_ref().count(), 4);
    assert_eq!(r.end(), Some(a.len()));
    assert!(a.windows(10).any(|w| w == b"TRAILER!!!"));
}

#[test]
fn header_bytes_are_newc() {
    let mut w = Writer::new();
    w.file("a", 0o644, b"xyz").unwrap();
    let a = w.finish();
    let h = std::str::from_utf8(&a[..110]).unwrap();
    assert_eq!(
        h,
        "070701\
         00000001\
         000081a4\
         00000000\
         00000000\
         00000001\
         00000000\
         00000003\
         00000000\
         00000000\
         00000000\
         00000000\
         00000002\
         00000000"
    );
    // 110 + "a\0" = 112 (aligned), then "xyz" + 1 pad.
    assert_eq!(&a[110..112], b"a\0");
    assert_eq!(&a[112..116], b"xyz\0");
    assert_eq!(&a[116..122], b"070701");
}

#[test]
fn find_normalizes_and_later_entries_win() {
    let mut w = Writer::new();
    w.file("./etc/motd", 0o644, b"old").unwrap();
    w.file("etc/motd", 0o644, b"new").unwrap();
    w.dir("etc/", 0o755).unwrap();
    let a = w.finish();
    assert_eq!(find(&a, "/etc/motd").unwrap().unwrap().data, b"new");
    assert_eq!(find(&a, "etc").unwrap().unwrap().kind(), Kind::Dir);
    assert!(find(&a, "/etc/passwd").unwrap().is_none());
}

#[test]
fn find_gives_hard_links_their_data() {
    let mut w = Writer::new();
    let h = Header {
        mode: 0o100755,
        nlink: 2,
        ino: 77,
        ..Header::default()
    };
    w.entry("bin/ls", h, b"").unwrap();
    w.entry("bin/dir", h, b"code").unwrap();
    let a = w.finish();
    assert_eq!(find(&a, "bin/ls").unwrap().unwrap().data, b"code");
    assert_eq!(find(&a, "bin/dir").unwrap().unwrap().data, b"code");
}

#[test]
fn find_reports_damage_after_the_match() {
    let mut a = sample();
    let n = a.len();
    a.truncate(n - 8);
    let err = find(&a, "bin").unwrap_err();
    assert!(matches!(
        err.kind,
        ErrorKind::TruncatedName | ErrorKind::TruncatedHeader
    ));
}

#[test]
fn writer_refuses_bad_names() {
    let mut w = Writer::new();
    w.file("x", 0o644, b"1").unwrap();
    for bad in ["", "a\0b", "TRAILER!!!"] {
        let e = w.file(bad, 0o644, b"").unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadName);
        assert_eq!(e.offset, 116);
    }
}

/// Overwrites `len` bytes at `at` in a copy of `a`.
fn patched(a: &[u8], at: usize, with: &[u8]) -> Vec<u8> {
    let mut b = a.to_vec();
    b[at..at + with.len()].copy_from_slice(with);
    b
}

fn first_error(a: &[u8]) -> Error {
    entries(a).expect_err("archive should be refused")
}

#[test]
fn malformations_are_named_with_their_offset() {
    let a = sample();
    let second = entries(&a).unwrap()[1].offset;

    let e = first_error(&patched(&a, second, b"070707"));
    assert_eq!((e.kind, e.offset), (ErrorKind::BadMagic, second));

    // mode field of the second entry: offset 6 + 8.
    let e = first_error(&patched(&a, second + 14, b"0000z1ed"));
    assert_eq!(e.kind, ErrorKind::BadHex { field: "mode" });
    assert_eq!(e.offset, second + 14);

    let e = first_error(&a[..second + 50]);
    assert_eq!((e.kind, e.offset), (ErrorKind::TruncatedHeader, second));

    // namesize far too large.
    let e = first_error(&patched(&a, second + 94, b"0000ffff"));
    assert_eq!((e.kind, e.offset), (ErrorKind::TruncatedName, second + 110));

    // namesize 1 (only the NUL) and 0.
    for z in [&b"00000001"[..], b"00000000"] {
        let e = first_error(&patched(&a, second + 94, z));
        assert_eq!((e.kind, e.offset), (ErrorKind::EmptyName, second));
    }

    // Name's NUL overwritten ("bin/busybox" is 11 bytes + NUL).
    let e = first_error(&patched(&a, second + 110 + 11, b"X"));
    assert_eq!(
        (e.kind, e.offset),
        (ErrorKind::NameNotTerminated, second + 110)
    );

    // A NUL inside the name.
    let e = first_error(&patched(&a, second + 113, b"\0"));
    assert_eq!(e.kind, ErrorKind::NameNotTerminated);

    // Not UTF-8.
    let e = first_error(&patched(&a, second + 110, b"\xff"));
    assert_eq!((e.kind, e.offset), (ErrorKind::NameNotUtf8, second + 110));

    // filesize past the end.
    let e = first_error(&patched(&a, second + 54, b"7fffffff"));
    assert!(matches!(
        e.kind,
        ErrorKind::TruncatedData {
            size: 0x7fff_ffff,
            ..
        }
    ));
    assert_eq!(e.offset, second + 124, "data starts after 110 + 12 + pad");

    // No trailer: the archive just stops after a whole entry.
    let third = entries(&a).unwrap()[2].offset;
    let e = first_error(&a[..third]);
    assert_eq!((e.kind, e.offset), (ErrorKind::MissingTrailer, third));
    assert_eq!(first_error(b"").kind, ErrorKind::MissingTrailer);

    // The message names the offset.
    let msg = first_error(&a[..third]).to_string();
    assert!(msg.contains(&format!("{third:#x}")), "{msg}");
}

#[test]
fn crc_entries_are_checked() {
    let mut w = Writer::new();
    w.file("f", 0o644, b"\x01\x02\x03").unwrap();
    let mut a = w.finish();
    a[5] = b'2'; // 070702
    a[102..110].copy_from_slice(b"00000006");
    assert_eq!(entries(&a).unwrap()[0].data, b"\x01\x02\x03");
    a[102..110].copy_from_slice(b"00000007");
    assert_eq!(
        first_error(&a).kind,
        ErrorKind::BadChecksum {
            stored: 7,
            computed: 6
        }
    );
}

#[test]
fn reader_stops_after_first_error() {
    let a = sample();
    let bad = patched(&a, 0, b"xxxxxx");
    let mut r = Reader::new(&bad);
    assert!(r.next().unwrap().is_err());
    assert!(r.next().is_none());
    assert_eq!(r.end(), None);
}

#[test]
fn concatenated_archives_with_zero_padding() {
    let mut first = Writer::new();
    first.dir("kernel", 0o755).unwrap();
    first.file("kernel/microcode.bin", 0o644, b"ucode").unwrap();
    first.file("init", 0o755, b"old").unwrap();
    let mut a = first.finish();
    a.extend_from_slice(&[0; 512]);
    let second_at = a.len();
    let mut second = Writer::new();
    second.file("init", 0o755, b"new").unwrap();
    a.extend_from_slice(&second.finish());
    a.extend_from_slice(&[0; 12]);

    let all: Vec<_> = Archives::new(&a).collect::<Result<_, _>>().unwrap();
    let names: Vec<_> = all.iter().map(|e| e.name).collect();
    assert_eq!(names, ["kernel", "kernel/microcode.bin", "init", "init"]);
    assert_eq!(
        all[3].offset, second_at,
        "offsets count from the first byte"
    );
    assert_eq!(find(&a, "/init").unwrap().unwrap().data, b"new");
    // A plain Reader stops at the first trailer.
    assert_eq!(Reader::new(&a).count(), 3);

    // Damage in the second archive is reported with its absolute offset.
    let mut bad = a.clone();
    bad[second_at..second_at + 6].copy_from_slice(b"123456");
    let err = Archives::new(&bad).find_map(Result::err).unwrap();
    assert_eq!((err.kind, err.offset), (ErrorKind::BadMagic, second_at));
    assert!(find(&bad, "init").is_err());
}

#[test]
fn compressed_archives_are_named() {
    for (magic, format) in [
        (&b"\x1f\x8b\x08\x00"[..], "gzip"),
        (b"\x28\xb5\x2f\xfd\x00", "zstd"),
        (b"\xfd7zXZ\x00\x00", "xz"),
        (b"BZh91AY", "bzip2"),
    ] {
        let e = first_error(magic);
        assert_eq!(e.kind, ErrorKind::Compressed { format });
        assert_eq!(e.offset, 0);
        assert!(e.to_string().contains(format));
    }
}

#[derive(Debug, Clone)]
enum Spec {
    File(String, u32, Vec<u8>),
    Dir(String, u32),
    Link(String, String),
}

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9._/-]{1,40}".prop_filter("not the trailer", |s| s != "TRAILER!!!")
}

fn spec() -> impl Strategy<Value = Spec> {
    prop_oneof![
        (
            name(),
            0u32..0o7777,
            prop::collection::vec(any::<u8>(), 0..300)
        )
            .prop_map(|(n, m, d)| Spec::File(n, m, d)),
        (name(), 0u32..0o7777).prop_map(|(n, m)| Spec::Dir(n, m)),
        (name(), "[ -~]{1,60}").prop_map(|(n, t)| Spec::Link(n, t)),
    ]
}

fn build(specs: &[Spec], mtime: u32) -> Vec<u8> {
    let mut w = Writer::new();
    w.mtime = mtime;
    for s in specs {
        match s {
            Spec::File(n, m, d) => w.file(n, *m, d),
            Spec::Dir(n, m) => w.dir(n, *m),
            Spec::Link(n, t) => w.symlink(n, t),
        }
        .unwrap();
    }
    w.finish()
}

fn cases() -> u32 {
    std::env::var("CPIO_PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn round_trip(specs in prop::collection::vec(spec(), 0..12), mtime in any::<u32>()) {
        let a = build(&specs, mtime);
        prop_assert_eq!(a.len() % 4, 0);
        let got = entries(&a).unwrap();
        prop_assert_eq!(got.len(), specs.len());
        for (s, e) in specs.iter().zip(&got) {
            prop_assert_eq!(e.mtime, mtime);
            match s {
                Spec::File(n, m, d) => {
                    prop_assert_eq!(e.name, n.as_str());
                    prop_assert_eq!(e.kind(), Kind::File);
                    prop_assert_eq!(e.permissions(), *m);
                    prop_assert_eq!(e.data, &d[..]);
                }
                Spec::Dir(n, m) => {
                    prop_assert_eq!(e.name, n.as_str());
                    prop_assert_eq!(e.kind(), Kind::Dir);
                    prop_assert_eq!(e.permissions(), *m);
                    prop_assert!(e.data.is_empty());
                }
                Spec::Link(n, t) => {
                    prop_assert_eq!(e.name, n.as_str());
                    prop_assert_eq!(e.kind(), Kind::Symlink);
                    prop_assert_eq!(e.data, t.as_bytes());
                }
            }
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        for e in Reader::new(&bytes) {
            let _ = e;
        }
        for e in Archives::new(&bytes) {
            let _ = e;
        }
        let _ = find(&bytes, "init");
    }

    #[test]
    fn damaged_archives_never_panic_and_stay_in_bounds(
        specs in prop::collection::vec(spec(), 1..6),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        hexy in any::<bool>(),
    ) {
        let mut a = build(&specs, 0);
        for (at, b) in &edits {
            let i = at.index(a.len());
            // Half the time keep edits hexadecimal so they reach past the
            // header checks into the size arithmetic.
            a[i] = if hexy { b"0123456789abcdef"[(*b & 15) as usize] } else { *b };
        }
        let cut = cut.index(a.len() + 1);
        let a = &a[..cut];
        for e in Reader::new(a) {
            match e {
                Ok(e) => {
                    prop_assert!(e.offset + 110 <= a.len());
                    let d = e.data.as_ptr() as usize - a.as_ptr() as usize;
                    prop_assert!(d + e.data.len() <= a.len());
                }
                Err(err) => prop_assert!(err.offset <= a.len(), "{}", err),
            }
        }
        for e in Archives::new(a) {
            if let Err(err) = e {
                prop_assert!(err.offset <= a.len(), "{}", err);
            }
        }
        let _ = find(a, "bin");
    }
}
