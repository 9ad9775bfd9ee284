//! `pause()`: waits until a signal is to be acted on; `EINTR` after its
//! handler (a signal that ends the process ends it here).

use crate::signal::{self, ERESTARTNOHAND};
use crate::{Ctx, SysResult};

/// The handler.
pub fn call(ctx: &mut Ctx<'_>, _: [u64; 6]) -> SysResult {
    while !signal::wait(ctx) {}
    Err(ERESTARTNOHAND)
}

#[cfg(test)]
mod tests {
    use crate::mock::t::*;
    use crate::Errno;
    use linux_raw_sys::general as g;

    #[test]
    fn a_pending_signal_with_a_handler_ends_it_with_eintr() {
        let mut l = lib();
        l.state.actions[g::SIGUSR1 as usize - 1].handler = crate::mock::TEXT;
        // Ignored ones do not end the wait; the handled one does.
        assert_eq!(call(&mut l, g::__NR_kill, &[1, g::SIGCHLD.into()]), 0);
        assert_eq!(call(&mut l, g::__NR_kill, &[1, g::SIGUSR1.into()]), 0);
        assert_eq!(call(&mut l, g::__NR_pause, &[]), err(Errno(4)));
    }
}
