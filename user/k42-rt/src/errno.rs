//! Linux error numbers: what native calls and servers return.
//!
//! The Linux system library maps them 1:1, so a K42-rs server's error is
//! already the `errno` a Linux program sees.

use ppc_idl::PpcError;

/// A Linux error number (positive; the kernel returns it negated in `rax`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, ppc_idl::Marshal)]
pub struct Errno(pub u32);

macro_rules! errnos {
    ($($name:ident = $v:literal, $text:literal;)*) => {
        impl Errno {
            $(
                #[doc = $text]
                pub const $name: Errno = Errno($v);
            )*

            /// The symbolic name (`"ENOENT"`), or `None` for a number
            /// this table does not know.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($v => Some(stringify!($name)),)*
                    _ => None,
                }
            }
        }
    };
}

errnos! {
    EPERM = 1, "Operation not permitted.";
    ENOENT = 2, "No such file or directory (or name).";
    ESRCH = 3, "No such process.";
    EIO = 5, "Input/output error (a PPC that could not be delivered).";
    ENXIO = 6, "No such device (a FIFO opened for writing without a reader, `O_NONBLOCK`).";
    E2BIG = 7, "Arguments too long (do not fit registers + PPC page).";
    EBADF = 9, "Bad handle.";
    EAGAIN = 11, "Try again.";
    ENOMEM = 12, "Out of memory.";
    EACCES = 13, "Permission denied (the caller lacks a right).";
    EFAULT = 14, "Bad address.";
    EBUSY = 16, "Busy.";
    EEXIST = 17, "Already exists.";
    ENODEV = 19, "No such device (a file that cannot be mapped).";
    ENOTDIR = 20, "Not a directory.";
    EISDIR = 21, "Is a directory.";
    EINVAL = 22, "Invalid argument.";
    ENFILE = 23, "Too many open files in the system (a server's table is full).";
    EMFILE = 24, "Too many open files.";
    EFBIG = 27, "File too large.";
    ENOSPC = 28, "No space left.";
    ESPIPE = 29, "Illegal seek (a pipe).";
    EMLINK = 31, "Too many links.";
    EPIPE = 32, "Broken pipe (no reader left).";
    ENAMETOOLONG = 36, "Name too long.";
    ENOSYS = 38, "No such call (or method).";
    ENOTEMPTY = 39, "Directory not empty.";
    ELOOP = 40, "Too many symbolic links (or `O_NOFOLLOW` met one).";
    EINPROGRESS = 115, "In progress (a released PPC, its reply comes later).";
    EBADMSG = 74, "Malformed message.";
    EOVERFLOW = 75, "Value too large (an offset beyond `i64::MAX`).";
}

impl Errno {
    /// From a raw system-call result (`-errno` in `rax`): `Ok` for a
    /// non-negative value.
    pub const fn from_ret(ret: i64) -> Result<u64, Errno> {
        if ret < 0 && ret >= -4095 {
            Err(Errno((-ret) as u32))
        } else {
            Ok(ret as u64)
        }
    }
}

impl core::fmt::Debug for Errno {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "Errno({})", self.0),
        }
    }
}

impl core::fmt::Display for Errno {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self, f)
    }
}

/// A failed PPC as the errno a Linux program would see: no rights is
/// `EACCES`, a bad handle `EBADF`, an unknown method `ENOSYS`, arguments
/// too large `E2BIG`, a malformed message `EBADMSG`, an undeliverable
/// call `EIO`.
impl From<PpcError> for Errno {
    fn from(e: PpcError) -> Self {
        match e {
            PpcError::NoRights => Errno::EACCES,
            PpcError::BadHandle => Errno::EBADF,
            PpcError::NoSuchMethod(_) => Errno::ENOSYS,
            PpcError::Overflow => Errno::E2BIG,
            PpcError::Malformed => Errno::EBADMSG,
            PpcError::Transport => Errno::EIO,
        }
    }
}

/// Flattens a PPC whose method itself returns `Result<T, Errno>`.
pub fn flatten<T>(r: Result<Result<T, Errno>, PpcError>) -> Result<T, Errno> {
    r.map_err(Errno::from).and_then(|x| x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_results_split_into_values_and_errnos() {
        assert_eq!(Errno::from_ret(5), Ok(5));
        assert_eq!(Errno::from_ret(0), Ok(0));
        assert_eq!(Errno::from_ret(-9), Err(Errno::EBADF));
        // A huge unsigned value (a kernel handle with the top bit set is
        // not negative in this sense beyond -4095).
        assert_eq!(Errno::from_ret(-5000), Ok((-5000i64) as u64));
    }

    #[test]
    fn ppc_errors_map_to_linux_errnos() {
        assert_eq!(Errno::from(PpcError::NoRights), Errno::EACCES);
        assert_eq!(Errno::from(PpcError::BadHandle), Errno::EBADF);
        assert_eq!(Errno::from(PpcError::NoSuchMethod(3)), Errno::ENOSYS);
        assert_eq!(flatten::<u8>(Ok(Err(Errno::ENOENT))), Err(Errno::ENOENT));
        assert_eq!(flatten(Ok(Ok(7u8))), Ok(7));
        assert_eq!(flatten::<u8>(Err(PpcError::Overflow)), Err(Errno::E2BIG));
    }

    #[test]
    fn names_print() {
        assert_eq!(std::format!("{:?}", Errno::EACCES), "EACCES");
        assert_eq!(std::format!("{:?}", Errno(999)), "Errno(999)");
    }
}
