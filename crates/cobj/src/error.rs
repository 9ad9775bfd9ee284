//! The crate's error type.

use core::fmt;

use crate::root::TransferError;

/// Everything that can go wrong, with the reason in the variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// `Runtime::new`: the platform reports no processors.
    NoProcessors,
    /// `Runtime::new`: more processors than [`MAX_CPUS`](crate::MAX_CPUS).
    TooManyProcessors(usize),
    /// `Runtime::new`: the object table capacity is 0 or above 2^31.
    BadCapacity(usize),
    /// A processor number outside `0..cpu_count()`.
    BadProcessor(usize),
    /// The caller is not running as a processor of this runtime (a hosted
    /// thread that has not entered one).
    NotOnProcessor,
    /// Hosted: another thread holds this virtual processor.
    ProcessorTaken(usize),
    /// Hosted: this thread already runs as a virtual processor.
    AlreadyEntered,
    /// Every object id is in use.
    TableFull,
    /// The object has been destroyed.
    Destroyed,
    /// A hot swap of this object is in progress.
    Busy,
    /// The object is already monitored / not monitored.
    Monitor,
    /// A blocking operation (swap, synchronize) was called from inside a
    /// call on a clustered object; waiting for quiescence there would
    /// deadlock.
    InCall,
    /// The old Root exports no format the new Root imports.
    NoCommonFormat,
    /// State transfer failed; the old Root stays installed.
    Transfer(TransferError),
    /// The weak reference belongs to another runtime.
    WrongRuntime,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NoProcessors => f.write_str("the platform reports no processors"),
            Error::TooManyProcessors(n) => {
                write!(
                    f,
                    "{n} processors; at most {} are supported",
                    crate::MAX_CPUS
                )
            }
            Error::BadCapacity(n) => write!(f, "object table capacity {n} is out of range"),
            Error::BadProcessor(n) => write!(f, "processor {n} does not exist"),
            Error::NotOnProcessor => f.write_str("the caller is not running as a processor"),
            Error::ProcessorTaken(n) => {
                write!(f, "virtual processor {n} is held by another thread")
            }
            Error::AlreadyEntered => f.write_str("this thread already runs as a virtual processor"),
            Error::TableFull => f.write_str("the object table is full"),
            Error::Destroyed => f.write_str("the object has been destroyed"),
            Error::Busy => f.write_str("a hot swap of the object is in progress"),
            Error::Monitor => f.write_str("the object is already (or not) monitored"),
            Error::InCall => {
                f.write_str("cannot wait for quiescence inside a clustered-object call")
            }
            Error::NoCommonFormat => f.write_str("no state-transfer format in common"),
            Error::Transfer(e) => write!(f, "state transfer failed: {e}"),
            Error::WrongRuntime => f.write_str("the reference belongs to another runtime"),
        }
    }
}

impl core::error::Error for Error {}
