//! Host tools for KFS: `mkfs.kfs`, `fsck.kfs`, `kfs-fuse`, `kfs-dump` and
//! the `kfs-bench` runner. This library holds what they share: size
//! parsing, mount-option parsing and the FUSE adapter ([`fuse::KfsFuse`]).
//!
//! # Setup
//!
//! Build with `cargo build --release -p kfs-tools`. Mounting needs
//! `/dev/fuse` and `fusermount3` (Debian package `fuse3`); the benchmark also
//! needs `fuse2fs`, `e2fsprogs` and `tar`. Cargo cannot name a binary
//! `mkfs.kfs`, so the checker and formatter are `mkfs-kfs` and `fsck-kfs`;
//! link them as `mkfs.kfs` / `fsck.kfs` for `mkfs -t kfs` and `fsck -t kfs`.
//!
//! # Usage
//!
//! ```text
//! mkfs-kfs -L data -s 1G disk.img          # create a 1 GiB image and format it
//! kfs-fuse disk.img /mnt                   # mount in the background
//! kfs-fuse -f -o ro,commit=0 disk.img /mnt # foreground, read-only
//! getfattr -n user.kfs.impl /mnt/dir       # which implementation serves it
//! setfattr -n user.kfs.impl -v hashed /mnt/dir   # hot swap a live directory
//! fusermount3 -u /mnt                      # clean unmount: final checkpoint
//! fsck-kfs -y disk.img                     # check and repair (exit 0/1/4/8/16)
//! kfs-dump -r -t disk.img                  # superblock, RecordMap, tree
//! ```
//!
//! `fuser` was picked because it speaks the FUSE protocol in Rust and, with
//! default features off, mounts through `fusermount3` (Debian's `fuse3`
//! package), so building needs no libfuse headers.

#![deny(unsafe_code)]

pub mod fuse;

/// Parses a size such as `4096`, `64K`, `512M`, `1G` (binary units).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mul) = match s.chars().last() {
        Some('k' | 'K') => (&s[..s.len() - 1], 1u64 << 10),
        Some('m' | 'M') => (&s[..s.len() - 1], 1 << 20),
        Some('g' | 'G') => (&s[..s.len() - 1], 1 << 30),
        Some('t' | 'T') => (&s[..s.len() - 1], 1 << 40),
        _ => (s, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mul))
        .ok_or_else(|| format!("bad size {s:?}"))
}

/// Mount options understood by `kfs-fuse -o`.
#[derive(Debug, Clone, Default)]
pub struct MountOpts {
    /// Read-only mount.
    pub read_only: bool,
    /// `allow_other`.
    pub allow_other: bool,
    /// `default_permissions` (let the kernel check modes).
    pub default_permissions: bool,
    /// `fsname=`.
    pub fsname: Option<String>,
    /// Seconds between automatic checkpoints (`commit=`; 0: only on
    /// fsync and unmount). Default 5, like ext4.
    pub commit: Option<u64>,
    /// KFS policy knobs.
    pub kfs: Vec<(String, u64)>,
}

/// Parses a comma-separated `-o` list (may be given several times).
pub fn parse_mount_opts(list: &[String]) -> Result<MountOpts, String> {
    let mut o = MountOpts::default();
    for item in list
        .iter()
        .flat_map(|s| s.split(','))
        .filter(|s| !s.is_empty())
    {
        let (k, v) = item
            .split_once('=')
            .map_or((item, None), |(k, v)| (k, Some(v)));
        match (k, v) {
            ("ro", None) => o.read_only = true,
            ("rw", None) => o.read_only = false,
            ("allow_other", None) => o.allow_other = true,
            ("default_permissions", None) => o.default_permissions = true,
            ("fsname", Some(v)) => o.fsname = Some(v.to_string()),
            ("commit", Some(v)) => {
                o.commit = Some(
                    v.parse()
                        .map_err(|_| format!("option commit: {v:?} is not a number"))?,
                )
            }
            (
                "dir_hash_threshold" | "extent_threshold" | "cache_blocks" | "dirty_blocks",
                Some(v),
            ) => {
                let n = v
                    .parse()
                    .map_err(|_| format!("option {k}: {v:?} is not a number"))?;
                o.kfs.push((k.to_string(), n));
            }
            _ => return Err(format!("unknown mount option {item:?}")),
        }
    }
    Ok(o)
}

impl MountOpts {
    /// The KFS options these mount options ask for.
    pub fn kfs_options(&self) -> kfs::Options {
        let mut o = kfs::Options {
            read_only: self.read_only,
            ..kfs::Options::default()
        };
        for (k, v) in &self.kfs {
            match k.as_str() {
                "dir_hash_threshold" => o.dir_hash_threshold = *v,
                "extent_threshold" => o.extent_threshold = *v,
                "cache_blocks" => o.cache_blocks = *v as usize,
                "dirty_blocks" => o.dirty_blocks = *v as usize,
                _ => {}
            }
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_options_parse_and_bad_ones_are_refused() {
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("12Q").is_err());
        assert!(parse_size("99999999999T").is_err());
        let o = parse_mount_opts(&["ro,fsname=x,commit=0".into(), "dir_hash_threshold=0".into()])
            .unwrap();
        assert_eq!(o.commit, Some(0));
        assert!(o.read_only);
        assert_eq!(o.fsname.as_deref(), Some("x"));
        assert_eq!(o.kfs_options().dir_hash_threshold, 0);
        assert!(parse_mount_opts(&["bogus".into()]).is_err());
        assert!(parse_mount_opts(&["cache_blocks=lots".into()]).is_err());
    }
}
