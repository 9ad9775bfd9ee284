//! A ready-made [`Platform`] for Linux: the dispatcher's "processor" is the
//! OS thread that calls [`Dispatcher::run`](crate::Dispatcher::run).

use std::cell::Cell;
use std::time::{Duration, Instant};

use crate::{Platform, SoftInterrupts, SOFT_TIMER};

/// Clock in nanoseconds since creation; the "kernel timer" is checked while
/// idle, and idling parks the OS thread for at most 50 µs at a time.
pub struct StdPlatform {
    epoch: Instant,
    timer: Cell<Option<u64>>,
}

impl Default for StdPlatform {
    fn default() -> Self {
        Self::new()
    }
}

impl StdPlatform {
    /// A platform whose clock starts now.
    pub fn new() -> Self {
        Self {
            epoch: Instant::now(),
            timer: Cell::new(None),
        }
    }
}

impl Platform for StdPlatform {
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn set_timer(&self, deadline: Option<u64>) {
        self.timer.set(deadline);
    }

    fn idle(&self, soft: &SoftInterrupts) {
        loop {
            if soft.is_pending() {
                return;
            }
            let now = self.now();
            let wait = match self.timer.get() {
                Some(d) if d <= now => {
                    self.timer.set(None);
                    soft.raise(SOFT_TIMER);
                    return;
                }
                Some(d) => (d - now).min(50_000),
                None => 50_000,
            };
            std::thread::park_timeout(Duration::from_nanos(wait));
        }
    }
}
