#![allow(dead_code)]
//! Shared setup: a leaked hosted runtime (the memory objects hold
//! `'static` handles, as the kernel's static runtime gives them).

use std::sync::Arc;

use cobj::hosted::Hosted;
use cobj::{Config, Runtime};
use mm::{AddressSpace, Frames, Mm, NullDispatcher, SimFrames, SoftHat};

pub type Rt = &'static Runtime<Hosted>;
pub type Space = AddressSpace<Hosted, SoftHat>;

pub struct Machine {
    pub rt: Rt,
    pub frames: Arc<SimFrames>,
    pub mm: Mm<Hosted>,
    pub ncpus: usize,
}

pub fn machine(ncpus: usize, nframes: usize) -> Machine {
    let rt: Rt = Box::leak(Box::new(
        Runtime::new(Hosted::new(ncpus).unwrap(), Config::default()).unwrap(),
    ));
    let frames = Arc::new(SimFrames::new(nframes));
    let mm = Mm::new(rt, frames.clone()).unwrap();
    Machine {
        rt,
        frames,
        mm,
        ncpus,
    }
}

impl Machine {
    pub fn space(&self, replicated: bool) -> Space {
        self.mm
            .create_space(
                Arc::new(SoftHat::new(self.ncpus)),
                Arc::new(NullDispatcher),
                replicated,
            )
            .unwrap()
    }
    /// Free frames: at the source or in the root PM's per-processor
    /// caches (read on this thread's processor, or on processor 0 from a
    /// thread of its own).
    pub fn frames_free(&self) -> usize {
        let cached = self.mm.frames_cached().unwrap_or_else(|_| {
            std::thread::scope(|t| {
                t.spawn(|| {
                    let _c = self.rt.enter(0).unwrap();
                    self.mm.frames_cached().unwrap()
                })
                .join()
                .unwrap()
            })
        });
        self.frames.free_count() + cached
    }
    pub fn hat(&self) -> Arc<SoftHat> {
        Arc::new(SoftHat::new(self.ncpus))
    }
}

pub fn page(byte: u8) -> Vec<u8> {
    vec![byte; mm::PAGE_SIZE]
}
