//! Errors. Every failure is a value: a corrupt image yields [`Error::Corrupt`]
//! naming what is wrong, never a panic.

use alloc::string::String;
use core::fmt;

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The block device failed (its own message).
    Io(String),
    /// The image violates an invariant; the text names which one.
    Corrupt(String),
    /// No such file, directory or object.
    NotFound,
    /// The name already exists.
    Exists,
    /// A directory was expected.
    NotDir,
    /// A non-directory was expected.
    IsDir,
    /// The directory is not empty.
    NotEmpty,
    /// Out of blocks or object ids.
    NoSpace,
    /// A name longer than [`crate::MAX_NAME`] bytes.
    NameTooLong,
    /// An argument that makes no sense (bad name, rename into itself, ...).
    Invalid,
    /// The file would exceed [`crate::MAX_FILE_SIZE`].
    TooBig,
    /// Too many hard links.
    TooManyLinks,
    /// The operation is not allowed on this kind of object (e.g. hard link to a directory).
    NotPermitted,
    /// The file system was mounted read-only.
    ReadOnly,
}

impl Error {
    /// The Linux errno for this error, for the FUSE and system-call layers.
    pub fn errno(&self) -> i32 {
        match self {
            Error::Io(_) => 5,         // EIO
            Error::Corrupt(_) => 117,  // EUCLEAN
            Error::NotFound => 2,      // ENOENT
            Error::Exists => 17,       // EEXIST
            Error::NotDir => 20,       // ENOTDIR
            Error::IsDir => 21,        // EISDIR
            Error::NotEmpty => 39,     // ENOTEMPTY
            Error::NoSpace => 28,      // ENOSPC
            Error::NameTooLong => 36,  // ENAMETOOLONG
            Error::Invalid => 22,      // EINVAL
            Error::TooBig => 27,       // EFBIG
            Error::TooManyLinks => 31, // EMLINK
            Error::NotPermitted => 1,  // EPERM
            Error::ReadOnly => 30,     // EROFS
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(m) => write!(f, "I/O error: {m}"),
            Error::Corrupt(m) => write!(f, "corrupt image: {m}"),
            Error::NotFound => f.write_str("no such file or directory"),
            Error::Exists => f.write_str("file exists"),
            Error::NotDir => f.write_str("not a directory"),
            Error::IsDir => f.write_str("is a directory"),
            Error::NotEmpty => f.write_str("directory not empty"),
            Error::NoSpace => f.write_str("no space left on device"),
            Error::NameTooLong => f.write_str("file name too long"),
            Error::Invalid => f.write_str("invalid argument"),
            Error::TooBig => f.write_str("file too large"),
            Error::TooManyLinks => f.write_str("too many links"),
            Error::NotPermitted => f.write_str("operation not permitted"),
            Error::ReadOnly => f.write_str("read-only file system"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

/// Short-hand result.
pub type Result<T> = core::result::Result<T, Error>;

/// Builds an [`Error::Corrupt`] from format arguments.
macro_rules! corrupt {
    ($($arg:tt)*) => { $crate::error::Error::Corrupt(alloc::format!($($arg)*)) };
}
pub(crate) use corrupt;
