//! The record of the native call `machine(buf, len)`
//! (`kernel/src/syscall/machine.rs`, whose layout this mirrors): six
//! little-endian u64 words, in the order of [`Machine`]'s fields. The
//! kernel writes at most `len` bytes and returns the record's size;
//! `sys::machine` (target only) makes the call.

/// Bytes of the record.
pub const RECORD: usize = 48;

/// The machine: its processors and memory, when the kernel was asked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Machine {
    /// Processors online.
    pub processors: u64,
    /// Bit `k`: processor `k` is online.
    pub online_mask: u64,
    /// Physical frames the kernel manages.
    pub total_frames: u64,
    /// Those free (a snapshot).
    pub free_frames: u64,
    /// Bytes per frame.
    pub page_size: u64,
    /// The processor the caller ran on.
    pub cpu: u64,
}

impl Machine {
    /// The record from its bytes (words past the end of `bytes` are 0).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let word = |i: usize| {
            let mut w = [0u8; 8];
            if let Some(b) = bytes.get(i * 8..i * 8 + 8) {
                w.copy_from_slice(b);
            }
            u64::from_le_bytes(w)
        };
        Machine {
            processors: word(0),
            online_mask: word(1),
            total_frames: word(2),
            free_frames: word(3),
            page_size: word(4),
            cpu: word(5),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_in_order_short_records_are_zero_filled() {
        let mut b = [0u8; RECORD];
        for (i, w) in b.chunks_exact_mut(8).enumerate() {
            w.copy_from_slice(&(i as u64 + 1).to_le_bytes());
        }
        let m = Machine::from_bytes(&b);
        assert_eq!(
            [
                m.processors,
                m.online_mask,
                m.total_frames,
                m.free_frames,
                m.page_size,
                m.cpu
            ],
            [1, 2, 3, 4, 5, 6]
        );
        let short = Machine::from_bytes(&b[..12]);
        assert_eq!((short.processors, short.online_mask), (1, 0));
    }
}
