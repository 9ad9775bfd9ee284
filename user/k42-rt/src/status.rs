//! The status word of a PPC: what the server's `ipc_return` puts in the
//! caller's `rax`. Zero is success; a positive value is a `ppc-idl`
//! [`PpcError`] raised by the server's generated dispatch (no rights, no
//! such method, a malformed message); a negative value is the kernel's
//! `-errno` (a bad handle, a server not serving yet).

use ppc_idl::PpcError;

/// The status a server returns for a dispatch result.
pub fn encode(r: Result<(), PpcError>) -> u64 {
    match r {
        Ok(()) => 0,
        Err(PpcError::NoRights) => 1,
        Err(PpcError::NoSuchMethod(m)) => 2 | (u64::from(m) << 8),
        Err(PpcError::Overflow) => 3,
        Err(PpcError::Malformed) => 4,
        Err(PpcError::BadHandle) => 5,
        Err(PpcError::Transport) => 6,
    }
}

/// A status as the client sees it: kernel errors (`-EBADF`, `-ESRCH`)
/// become [`PpcError::BadHandle`] (the object or its server is gone),
/// other kernel errors [`PpcError::Transport`].
pub fn decode(status: i64) -> Result<(), PpcError> {
    match status {
        0 => Ok(()),
        -9 | -3 => Err(PpcError::BadHandle),
        s if s < 0 => Err(PpcError::Transport),
        1 => Err(PpcError::NoRights),
        s if s & 0xff == 2 => Err(PpcError::NoSuchMethod((s >> 8) as u32)),
        3 => Err(PpcError::Overflow),
        4 => Err(PpcError::Malformed),
        5 => Err(PpcError::BadHandle),
        _ => Err(PpcError::Transport),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_round_trips() {
        for e in [
            PpcError::NoRights,
            PpcError::NoSuchMethod(0),
            PpcError::NoSuchMethod(77),
            PpcError::Overflow,
            PpcError::Malformed,
            PpcError::BadHandle,
            PpcError::Transport,
        ] {
            assert_eq!(decode(encode(Err(e)) as i64), Err(e), "{e:?}");
        }
        assert_eq!(decode(encode(Ok(())) as i64), Ok(()));
    }

    #[test]
    fn kernel_errors_are_bad_handles_or_transport_failures() {
        assert_eq!(decode(-9), Err(PpcError::BadHandle));
        assert_eq!(decode(-3), Err(PpcError::BadHandle));
        assert_eq!(decode(-16), Err(PpcError::Transport));
        assert_eq!(decode(99), Err(PpcError::Transport));
    }
}
