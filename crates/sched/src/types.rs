//! The scheduler's vocabulary: time, priority classes, weights, dispatcher
//! names and errors.

use core::fmt;

/// A point in time or a duration, in nanoseconds of the kernel's monotonic
/// clock (the kernel converts from the TSC). All processors must read the
/// same clock: [`Smp`](crate::Smp) compares times across processors only
/// when a dispatcher migrates, and then through virtual time, but a
/// dispatcher's accounting uses the times its processor passes in.
pub type Time = u64;

/// One microsecond.
pub const MICROSECOND: Time = 1_000;
/// One millisecond.
pub const MILLISECOND: Time = 1_000_000;
/// One second.
pub const SECOND: Time = 1_000_000_000;

/// K42's fixed priority classes, highest first. A runnable dispatcher of a
/// higher class always runs before any dispatcher of a lower class; within a
/// class the processor is shared in proportion to the dispatchers' weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Class {
    /// Kernel daemons (K42's kernel process ran its threads here).
    Kernel = 0,
    /// Gang-scheduled parallel applications.
    Gang = 1,
    /// Soft real time: gets what it asks for however many time-sharing
    /// applications run.
    SoftRealTime = 2,
    /// Ordinary interactive and batch programs.
    TimeSharing = 3,
    /// Background work: takes no time from any time-sharing dispatcher.
    Background = 4,
    /// Runs only when nothing else can.
    Idle = 5,
}

impl Class {
    /// Number of classes.
    pub const COUNT: usize = 6;
    /// All classes, highest priority first.
    pub const ALL: [Class; Class::COUNT] = [
        Class::Kernel,
        Class::Gang,
        Class::SoftRealTime,
        Class::TimeSharing,
        Class::Background,
        Class::Idle,
    ];

    /// The class with number `n` (0 = kernel ... 5 = idle).
    pub fn from_index(n: u64) -> Result<Class, Error> {
        usize::try_from(n)
            .ok()
            .and_then(|i| Class::ALL.get(i).copied())
            .ok_or(Error::BadClass(n))
    }

    /// This class's number (0 = kernel ... 5 = idle).
    pub fn index(self) -> usize {
        self as usize
    }
}

/// A proportional-share weight, 1..=4096. Within its class a dispatcher of
/// weight `w` gets `w / (sum of the runnable weights)` of the processor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Weight(u16);

impl Weight {
    /// The smallest weight.
    pub const MIN: Weight = Weight(1);
    /// The largest weight; also the scale of virtual time (a dispatcher of
    /// weight 4096 advances its virtual time by one per nanosecond run).
    pub const MAX: Weight = Weight(4096);
    /// A reasonable default for time-sharing dispatchers.
    pub const DEFAULT: Weight = Weight(256);

    /// Checks `w` is in 1..=4096.
    pub fn new(w: u64) -> Result<Weight, Error> {
        if (1..=4096).contains(&w) {
            Ok(Weight(w as u16))
        } else {
            Err(Error::BadWeight(w))
        }
    }

    /// The weight as a number.
    pub fn get(self) -> u32 {
        u32::from(self.0)
    }

    /// Virtual-time "drag" in 16.16 fixed point: running `d` nanoseconds
    /// advances virtual time by `d * drag >> 16`, i.e. `d * 4096 / w`.
    /// K42 kept `drag = MAX_WEIGHT / weight` as an integer; the fraction
    /// here keeps weights like 3000 and 4096 apart.
    pub(crate) fn drag(self) -> u64 {
        (4096u64 << 16) / u64::from(self.0)
    }
}

impl Default for Weight {
    fn default() -> Self {
        Weight::DEFAULT
    }
}

/// How a dispatcher is scheduled: its class, its weight within the class,
/// and whether load balancing may move it to another processor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Params {
    /// Priority class.
    pub class: Class,
    /// Weight within the class.
    pub weight: Weight,
    /// A pinned dispatcher never leaves its processor (K42's dispatchers
    /// were bound to one; pinning is the default for a process's
    /// per-processor dispatchers).
    pub pinned: bool,
}

impl Params {
    /// Unpinned parameters of the given class and weight.
    pub fn new(class: Class, weight: Weight) -> Params {
        Params {
            class,
            weight,
            pinned: false,
        }
    }

    /// The same parameters, pinned.
    pub fn pinned(self) -> Params {
        Params {
            pinned: true,
            ..self
        }
    }
}

impl Default for Params {
    fn default() -> Self {
        Params::new(Class::TimeSharing, Weight::DEFAULT)
    }
}

/// A dispatcher's name: an index and a generation, so that a name that
/// outlives its dispatcher is refused instead of reaching the index's next
/// owner. [`Smp`](crate::Smp) hands these out; a bare
/// [`Scheduler`](crate::Scheduler) just stores whatever the kernel gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DispatcherId {
    /// Index in the kernel's (or [`Smp`](crate::Smp)'s) table.
    pub index: u32,
    /// Generation of that index.
    pub generation: u32,
}

impl DispatcherId {
    /// A name from its parts.
    pub const fn new(index: u32, generation: u32) -> DispatcherId {
        DispatcherId { index, generation }
    }

    /// The name as one register-sized word (generation in the high half),
    /// as native calls carry it.
    pub const fn to_raw(self) -> u64 {
        ((self.generation as u64) << 32) | self.index as u64
    }

    /// The inverse of [`to_raw`](Self::to_raw).
    pub const fn from_raw(raw: u64) -> DispatcherId {
        DispatcherId {
            index: raw as u32,
            generation: (raw >> 32) as u32,
        }
    }
}

impl fmt::Display for DispatcherId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "d{}.{}", self.index, self.generation)
    }
}

/// A processor number, `0..cpu_count`.
pub type CpuId = usize;

/// Why a scheduler operation was refused. Nothing in the crate panics on
/// bad input; it answers with one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A weight outside 1..=4096.
    BadWeight(u64),
    /// A class number outside 0..=5.
    BadClass(u64),
    /// A [`Config`](crate::Config) that makes no sense (zero period, minimum
    /// slice longer than the period, a period so long it overflows).
    BadConfig,
    /// No such dispatcher (never created, exited, or a stale handle).
    NoSuchDispatcher,
    /// No such processor.
    NoSuchCpu(CpuId),
    /// The operation needs a running dispatcher and the processor is idle.
    NothingRunning,
    /// A dispatcher cannot hand its processor to itself.
    SelfHandoff,
    /// The dispatcher is running, so it cannot be moved.
    Running,
    /// The dispatcher is pinned to its processor.
    Pinned,
    /// The dispatcher lives on another processor (handoff is same-processor
    /// only, as PPC is).
    WrongCpu {
        /// Where it is.
        on: CpuId,
    },
    /// The dispatcher table is full.
    TooManyDispatchers,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BadWeight(w) => write!(f, "weight {w} is outside 1..=4096"),
            Error::BadClass(c) => write!(f, "class {c} is outside 0..=5"),
            Error::BadConfig => f.write_str("invalid scheduler configuration"),
            Error::NoSuchDispatcher => f.write_str("no such dispatcher"),
            Error::NoSuchCpu(c) => write!(f, "no processor {c}"),
            Error::NothingRunning => f.write_str("no dispatcher is running"),
            Error::SelfHandoff => f.write_str("a dispatcher cannot hand off to itself"),
            Error::Running => f.write_str("the dispatcher is running"),
            Error::Pinned => f.write_str("the dispatcher is pinned"),
            Error::WrongCpu { on } => write!(f, "the dispatcher is on processor {on}"),
            Error::TooManyDispatchers => f.write_str("the dispatcher table is full"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}
