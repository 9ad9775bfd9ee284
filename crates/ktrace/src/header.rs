//! The event header word, layers and classes.
//!
//! Every event starts with one 64-bit header word (bit 0 is the least
//! significant):
//!
//! ```text
//!  63          50 49    44 43  40 39      32 31                        0
//! +--------------+--------+------+----------+---------------------------+
//! |  minor (14)  |major(6)|layer4| length(8)|   timestamp, low 32 bits  |
//! +--------------+--------+------+----------+---------------------------+
//! ```
//!
//! * `timestamp`: the low 32 bits of the processor's clock (the TSC in the
//!   kernel) read while reserving, so timestamps increase with the position
//!   in a processor's buffer. Readers rebuild the high bits from the
//!   block-start and heartbeat events, which carry all 64 bits.
//! * `length`: the event's size in 64-bit words, header included (1..=255).
//!   The filler event uses 0, meaning "the rest of this block".
//! * `layer`: who logged it (kernel, server, library, application).
//! * `major`: the event class; one bit of the 64-bit enable mask each.
//! * `minor`: the event within its class.

/// Largest event, in words, header included (the length field has 8 bits).
pub const MAX_EVENT_WORDS: usize = 255;
/// Largest minor id (14 bits).
pub const MAX_MINOR: u16 = (1 << 14) - 1;

/// The software layer that logged an event (4 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Layer(pub u8);

impl Layer {
    /// The kernel.
    pub const KERNEL: Layer = Layer(0);
    /// A user-level server (file system, name server, ...).
    pub const SERVER: Layer = Layer(1);
    /// A library linked into applications (the K42 system library).
    pub const LIBRARY: Layer = Layer(2);
    /// Application code.
    pub const APPLICATION: Layer = Layer(3);

    /// A readable name for the four predefined layers.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "kernel",
            1 => "server",
            2 => "library",
            3 => "app",
            _ => "layer?",
        }
    }
}

/// An event class (the "major id", 6 bits): the unit of enabling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Class(pub u8);

impl Class {
    /// The log's own events (filler, block start, heartbeat); always on.
    pub const CONTROL: Class = Class(0);
    /// Processor exceptions (faults, traps) other than page faults.
    pub const EXCEPTION: Class = Class(1);
    /// Hardware interrupts.
    pub const INTERRUPT: Class = Class(2);
    /// Dispatching, blocking and waking.
    pub const SCHEDULER: Class = Class(3);
    /// Page faults and their resolution.
    pub const PAGE_FAULT: Class = Class(4);
    /// Clustered objects: translation misses, hot swaps, garbage collection.
    pub const CLUSTERED_OBJECT: Class = Class(5);
    /// Locks: acquire, contended, release.
    pub const LOCK: Class = Class(6);
    /// System calls.
    pub const SYSCALL: Class = Class(7);
    /// Tests and benchmarks.
    pub const TEST: Class = Class(8);
    /// The first class free for servers, libraries and applications.
    pub const FIRST_USER: Class = Class(32);
    /// The number of classes (the width of the enable mask).
    pub const COUNT: usize = 64;

    /// This class's bit in the enable mask.
    #[inline(always)]
    pub const fn bit(self) -> u64 {
        1u64 << (self.0 & 63)
    }
}

/// Control-class minor ids: the log's own events.
pub mod control {
    /// Pads the rest of a block; its length field is 0.
    pub const FILLER: u16 = 0;
    /// First event of every block: full timestamp, block sequence number,
    /// processor id, events lost so far on this processor (5 words).
    pub const BLOCK_START: u16 = 1;
    /// Full 64-bit timestamp, so readers can follow the low 32 bits across
    /// wraps (2 words).
    pub const HEARTBEAT: u16 = 2;
    /// Size of the block-start event in words.
    pub const BLOCK_START_WORDS: usize = 5;
    /// Size of the heartbeat event in words.
    pub const HEARTBEAT_WORDS: usize = 2;
}

/// A decoded header word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Low 32 bits of the timestamp.
    pub ts_low: u32,
    /// Length in words, header included; 0 for a filler.
    pub len: u8,
    /// Layer (4 bits).
    pub layer: Layer,
    /// Major class (6 bits).
    pub class: Class,
    /// Minor id (14 bits).
    pub minor: u16,
}

impl Header {
    /// Packs a header word. Out-of-range layer, class and minor values are
    /// masked to their field widths.
    #[inline(always)]
    pub const fn encode(ts: u64, len: u8, layer: Layer, class: Class, minor: u16) -> u64 {
        (ts & 0xffff_ffff)
            | ((len as u64) << 32)
            | (((layer.0 & 0xf) as u64) << 40)
            | (((class.0 & 0x3f) as u64) << 44)
            | (((minor & MAX_MINOR) as u64) << 50)
    }

    /// Unpacks a header word.
    #[inline]
    pub const fn decode(word: u64) -> Header {
        Header {
            ts_low: word as u32,
            len: (word >> 32) as u8,
            layer: Layer(((word >> 40) & 0xf) as u8),
            class: Class(((word >> 44) & 0x3f) as u8),
            minor: (word >> 50) as u16,
        }
    }

    /// Packs this header.
    pub const fn to_word(self) -> u64 {
        Header::encode(
            self.ts_low as u64,
            self.len,
            self.layer,
            self.class,
            self.minor,
        )
    }

    /// True for the filler event.
    pub const fn is_filler(&self) -> bool {
        self.class.0 == Class::CONTROL.0 && self.minor == control::FILLER
    }
}
