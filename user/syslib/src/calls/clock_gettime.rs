//! `clock_gettime(clock, tp)`: the kernel's clock (the native `clock()`,
//! nanoseconds since boot from the TSC it calibrated at boot). On a kernel
//! without that call the library scales the TSC itself, by the frequency
//! the processor reports (CPUID leaves 0x15 and 0x16, see `main.rs`) or
//! else [`NOMINAL_HZ`]. The `REALTIME` clocks add the Unix time of the
//! clock's zero, which the kernel read from the RTC at boot and hands every
//! Linux program (aux entry `AT_K42_EPOCH`). The CPU-time clocks are
//! elapsed time too (one thread per process so far). Unknown clocks are
//! `EINVAL`.

use crate::{Ctx, Errno, Native, SysResult};
use linux_raw_sys::general as g;

/// Assumed TSC frequency when nobody says.
pub const NOMINAL_HZ: u64 = 1_000_000_000;

/// The library's clock: the TSC at start-up and its frequency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    /// TSC at start-up.
    pub start: u64,
    /// TSC ticks per second.
    pub hz: u64,
}

impl Clock {
    /// Starts the clock now.
    pub fn new(native: &mut dyn Native) -> Self {
        Clock {
            start: native.cycles(),
            hz: native.cycles_hz().filter(|&h| h > 0).unwrap_or(NOMINAL_HZ),
        }
    }

    /// Nanoseconds: since boot from the kernel's clock, else since the
    /// library started.
    pub fn now_ns(&self, native: &dyn Native) -> u64 {
        if let Some(ns) = native.clock_ns() {
            return ns;
        }
        let t = native.cycles().wrapping_sub(self.start);
        (u128::from(t) * 1_000_000_000 / u128::from(self.hz)) as u64
    }
}

/// Now, in nanoseconds (see the module docs).
pub fn now(ctx: &Ctx<'_>) -> u64 {
    ctx.st.clock.now_ns(ctx.native)
}

/// The wall-clock time, in nanoseconds since the Unix epoch.
pub fn realtime(ctx: &Ctx<'_>) -> u64 {
    ctx.st.epoch_ns.saturating_add(now(ctx))
}

/// Whether `clock` is one the library knows (`EINVAL` otherwise), and
/// whether it is a wall clock.
pub fn check(clock: u64) -> Result<bool, Errno> {
    match clock as i32 {
        c if c < 0 => Err(Errno::EINVAL),
        c => match c as u32 {
            g::CLOCK_REALTIME
            | g::CLOCK_REALTIME_COARSE
            | g::CLOCK_REALTIME_ALARM
            | g::CLOCK_TAI => Ok(true),
            g::CLOCK_MONOTONIC
            | g::CLOCK_PROCESS_CPUTIME_ID
            | g::CLOCK_THREAD_CPUTIME_ID
            | g::CLOCK_MONOTONIC_RAW
            | g::CLOCK_MONOTONIC_COARSE
            | g::CLOCK_BOOTTIME
            | g::CLOCK_BOOTTIME_ALARM => Ok(false),
            _ => Err(Errno::EINVAL),
        },
    }
}

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, a: [u64; 6]) -> SysResult {
    let tp = a[1];
    let wall = check(a[0])?;
    let ns = if wall { realtime(ctx) } else { now(ctx) };
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&(ns / 1_000_000_000).to_le_bytes());
    b[8..].copy_from_slice(&(ns % 1_000_000_000).to_le_bytes());
    ctx.write_user(tp, &b)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::general as g;

    fn read(l: &mut crate::Syslib<crate::mock::MockNative>, clock: u32, at: u64) -> (u64, u64) {
        assert_eq!(call(l, g::__NR_clock_gettime, &[clock.into(), at]), 0);
        let b = l.native.peek(at, 16);
        (
            u64::from_le_bytes(b[..8].try_into().unwrap()),
            u64::from_le_bytes(b[8..].try_into().unwrap()),
        )
    }

    #[test]
    fn scales_the_tsc() {
        let mut l = lib();
        let m = scratch(&mut l, 1);
        // 2 GHz; 3.5 s of cycles later.
        l.native.tsc.set(l.state.clock.start + 7_000_000_000);
        assert_eq!(read(&mut l, g::CLOCK_MONOTONIC, m), (3, 500_000_000));
        l.native.tick = 2_000;
        let a = read(&mut l, g::CLOCK_REALTIME, m);
        let b = read(&mut l, g::CLOCK_REALTIME, m);
        assert_eq!(b.1 - a.1, 1_000, "1 µs per 2000 cycles");
    }

    #[test]
    fn the_kernel_clock_comes_first() {
        let mut l = lib();
        let m = scratch(&mut l, 1);
        l.native.kernel_clock = Some(12_000_000_345);
        assert_eq!(read(&mut l, g::CLOCK_BOOTTIME, m), (12, 345));
    }

    #[test]
    fn without_a_frequency_it_assumes_the_nominal_one() {
        let mut n = crate::mock::MockNative::new();
        n.hz = None;
        let c = super::Clock::new(&mut n);
        assert_eq!(c.hz, super::NOMINAL_HZ);
    }

    #[test]
    fn refusals() {
        let mut l = lib();
        let m = scratch(&mut l, 1);
        assert_eq!(
            call(&mut l, g::__NR_clock_gettime, &[99, m]),
            err(Errno::EINVAL)
        );
        assert_eq!(
            call(&mut l, g::__NR_clock_gettime, &[u64::MAX, m]),
            err(Errno::EINVAL)
        );
        assert_eq!(
            call(&mut l, g::__NR_clock_gettime, &[1, 0x10]),
            err(Errno::EFAULT)
        );
    }
}
