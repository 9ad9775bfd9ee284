//! Object handles as the kernel spells them: `pid << 32 | index << 16 |
//! seq` (16 bits each for the index and the sequence number).

use ppc_idl::{ObjectHandle, ProcessId};

/// A `ppc-idl` handle as the kernel's `u64`; `None` if the index or
/// sequence number do not fit the kernel's 16 bits.
pub fn to_raw(h: ObjectHandle) -> Option<u64> {
    if h.index > 0xffff || h.seq > 0xffff {
        return None;
    }
    Some((u64::from(h.server.0) << 32) | (u64::from(h.index) << 16) | u64::from(h.seq))
}

/// The kernel's `u64` handle as a `ppc-idl` one.
pub fn from_raw(raw: u64) -> ObjectHandle {
    ObjectHandle::new(
        ProcessId((raw >> 32) as u32),
        ((raw >> 16) & 0xffff) as u32,
        (raw & 0xffff) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_round_trip_and_wide_fields_are_refused() {
        let h = ObjectHandle::new(ProcessId(7), 3, 1);
        assert_eq!(to_raw(h), Some(0x7_0003_0001));
        assert_eq!(from_raw(0x7_0003_0001), h);
        assert_eq!(to_raw(ObjectHandle::new(ProcessId(7), 0x1_0000, 1)), None);
        assert_eq!(to_raw(ObjectHandle::new(ProcessId(7), 0, 0x1_0000)), None);
    }
}
