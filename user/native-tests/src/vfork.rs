//! `vfork`: the kernel's `vfork_process(frame, pid_at, tid_at)` from a native
//! program (the kernel's `syscall::vfork` test runs it). The child starts
//! from a frame this program builds (its own function, its own stack) in
//! this program's memory; the parent is suspended until the child ends
//! or execs.

use crate::k42::{self, syscall2, syscall3, syscall6};
use crate::shm::{say, wait_child, PROCESS_ID};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

const VFORK_PROCESS: u64 = k42::NATIVE | 40;
const EXEC: u64 = k42::NATIVE | 22;

/// Written by the child, read by the parent.
static SHARED: AtomicU64 = AtomicU64::new(0);
/// Where the kernel writes the child's id.
static PID: AtomicU32 = AtomicU32::new(0);

/// The children's stack (one child at a time: the parent waits).
#[repr(C, align(16))]
struct Stack([u8; 16 * 1024]);
static mut STACK: Stack = Stack([0; 16 * 1024]);

/// The frame a child starts from: the save-area layout (r15 ... rax,
/// vector, error, rip, cs, rflags, rsp, ss).
fn frame(entry: extern "C" fn() -> !) -> [u64; 22] {
    let top = core::ptr::addr_of!(STACK) as u64 + core::mem::size_of::<Stack>() as u64;
    let mut f = [0u64; 22];
    f[17] = entry as usize as u64;
    f[19] = 0x202;
    // As after a `call`: the return address's slot below an aligned top.
    f[20] = top - 8;
    f
}

/// Stores 2 after a while (the parent must not have run meanwhile), then
/// exits 7 if the id at `PID` is its own, else 8.
extern "C" fn child_writes() -> ! {
    for _ in 0..100 {
        syscall2(k42::YIELD, 0, 0);
    }
    SHARED.store(2, Ordering::SeqCst);
    let me = syscall2(PROCESS_ID, 0, 0);
    k42::exit(if me == i64::from(PID.load(Ordering::SeqCst)) {
        7
    } else {
        8
    })
}

/// Replaces itself with `native-tests exit 9`.
extern "C" fn child_execs() -> ! {
    let args: [&[u8]; 3] = [b"native-tests\0", b"exit\0", b"9\0"];
    let argv = [
        args[0].as_ptr() as u64,
        args[1].as_ptr() as u64,
        args[2].as_ptr() as u64,
        0,
    ];
    let path = b"/bin/native-tests\0";
    let r = syscall6(
        EXEC,
        [path.as_ptr() as u64, argv.as_ptr() as u64, 0, 0, 0, 0],
    );
    k42::exit(100 + r.unsigned_abs())
}

/// The case: 0 if every check held.
pub fn run() -> u64 {
    let mut ok = true;
    SHARED.store(1, Ordering::SeqCst);
    let f = frame(child_writes);
    let pid = syscall3(VFORK_PROCESS, f.as_ptr() as u64, PID.as_ptr() as u64, 0).0;
    let saw = SHARED.load(Ordering::SeqCst);
    if pid <= 0 || i64::from(PID.load(Ordering::SeqCst)) != pid {
        say(format_args!("vfork: vfork_process={pid}\n"));
        return 1;
    }
    let status = wait_child(pid as u64);
    say(format_args!(
        "vfork: parent saw {saw} after the child's exit, status {status}\n"
    ));
    ok &= saw == 2 && status == 7;
    let f = frame(child_execs);
    let pid = syscall3(VFORK_PROCESS, f.as_ptr() as u64, 0, 0).0;
    let status = if pid > 0 { wait_child(pid as u64) } else { 255 };
    say(format_args!("vfork: exec'd child status {status}\n"));
    ok &= status == 9;
    let bad = syscall3(VFORK_PROCESS, 0x10, 0, 0).0;
    say(format_args!("vfork: bad frame {bad}\n"));
    ok &= bad == -14 && wait_child(0) == 255;
    u64::from(!ok)
}
