//! Any bytes: planning, relocating and building a stack must never panic.
#![no_main]

use elf_loader::{build_stack, LoadOptions, LoadPlan, StackParams};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(plan) = LoadPlan::new(data, &LoadOptions::default()) {
        let mut n = 0usize;
        plan.for_each_relocation(data, |_| {
            n += 1;
            Ok(())
        })
        .expect("a planned image's relocations walk");
        assert_eq!(n, plan.relocations);
        let mut stack = [0u8; 1024];
        let _ = build_stack(&mut stack, 0x7fff_0000_0000, &plan.aux, &StackParams::default());
    }
});
