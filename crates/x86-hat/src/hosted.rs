//! Page tables in heap memory, for tests: a table's "physical address" is
//! its address, and shootdowns are recorded.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use mm::CpuMask;

use crate::TablePlatform;

#[repr(C, align(4096))]
struct Table([AtomicU64; 512]);

/// A [`TablePlatform`] over heap pages.
pub struct HostTables {
    cpus: usize,
    live: AtomicUsize,
    shootdowns: Mutex<Vec<(CpuMask, u64, u64)>>,
}

/// The marker every kernel-half entry holds in hosted PML4s.
pub const KERNEL_ENTRY: u64 = 0x4b42_0000_0000_0001;

impl HostTables {
    /// A machine of `cpus` processors.
    pub fn new(cpus: usize) -> Self {
        HostTables {
            cpus,
            live: AtomicUsize::new(0),
            shootdowns: Mutex::new(Vec::new()),
        }
    }

    /// Tables allocated and not freed.
    pub fn live_tables(&self) -> usize {
        self.live.load(Ordering::Acquire)
    }

    /// Shootdowns so far: (processors, address, length).
    pub fn shootdowns(&self) -> Vec<(CpuMask, u64, u64)> {
        self.shootdowns.lock().unwrap().clone()
    }

    /// Forgets the recorded shootdowns.
    pub fn clear_shootdowns(&self) {
        self.shootdowns.lock().unwrap().clear();
    }
}

// SAFETY: tables are leaked boxes, valid until `free_table` rebuilds and
// drops the box; their address is their "physical address".
unsafe impl TablePlatform for HostTables {
    fn alloc_table(&self) -> Option<u64> {
        let t = Box::new(Table([const { AtomicU64::new(0) }; 512]));
        self.live.fetch_add(1, Ordering::AcqRel);
        Some(Box::into_raw(t) as u64)
    }

    fn free_table(&self, pa: u64) {
        self.live.fetch_sub(1, Ordering::AcqRel);
        // SAFETY: `pa` came from `alloc_table`'s `Box::into_raw` and is
        // freed once (the HAT's nodes free their table on drop).
        drop(unsafe { Box::from_raw(pa as *mut Table) });
    }

    fn table(&self, pa: u64) -> *const AtomicU64 {
        pa as *const AtomicU64
    }

    fn kernel_entry(&self, _index: usize) -> u64 {
        KERNEL_ENTRY
    }

    fn cpu_count(&self) -> usize {
        self.cpus
    }

    fn shootdown(&self, cpus: CpuMask, va: u64, len: u64) {
        self.shootdowns.lock().unwrap().push((cpus, va, len));
    }
}
