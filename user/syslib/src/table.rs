//! The declarative table of Linux system calls: number, name, handler
//! (one file per call under `calls/`), checked when the crate compiles
//! (no number twice, every number below [`MAX_NR`]).

use crate::{calls, Ctx, SysResult};
use linux_raw_sys::general as nr;

/// A handler: the six argument registers (`rdi, rsi, rdx, r10, r8, r9`).
pub type Handler = fn(&mut Ctx<'_>, [u64; 6]) -> SysResult;

/// One Linux system call the library implements.
pub struct Syscall {
    /// Its x86-64 number.
    pub nr: u32,
    /// Its name (the file under `calls/`), for logs and traces.
    pub name: &'static str,
    /// What does it.
    pub handler: Handler,
}

/// Numbers the index covers (x86-64 Linux has about 460).
pub const MAX_NR: usize = 512;

macro_rules! syscall_table {
    ($($nr:ident => $call:ident;)*) => {
        /// Every Linux call the library implements.
        pub static TABLE: &[Syscall] = &[
            $(Syscall { nr: nr::$nr, name: stringify!($call), handler: calls::$call::call },)*
        ];
    };
}

syscall_table! {
    __NR_read            => read;
    __NR_write           => write;
    __NR_writev          => writev;
    __NR_ioctl           => ioctl;
    __NR_mmap            => mmap;
    __NR_mprotect        => mprotect;
    __NR_munmap          => munmap;
    __NR_mremap          => mremap;
    __NR_madvise         => madvise;
    __NR_msync           => msync;
    __NR_brk             => brk;
    __NR_rt_sigaction    => rt_sigaction;
    __NR_rt_sigprocmask  => rt_sigprocmask;
    __NR_rt_sigreturn    => rt_sigreturn;
    __NR_rt_sigsuspend   => rt_sigsuspend;
    __NR_rt_sigpending   => rt_sigpending;
    __NR_rt_sigtimedwait => rt_sigtimedwait;
    __NR_rt_sigqueueinfo => rt_sigqueueinfo;
    __NR_sigaltstack     => sigaltstack;
    __NR_kill            => kill;
    __NR_tkill           => tkill;
    __NR_tgkill          => tgkill;
    __NR_pause           => pause;
    __NR_alarm           => alarm;
    __NR_setitimer       => setitimer;
    __NR_getitimer       => getitimer;
    __NR_setpgid         => setpgid;
    __NR_getpgid         => getpgid;
    __NR_getpgrp         => getpgrp;
    __NR_setsid          => setsid;
    __NR_getsid          => getsid;
    __NR_waitid          => waitid;
    __NR_getpid          => getpid;
    __NR_getppid         => getppid;
    __NR_gettid          => gettid;
    __NR_getuid          => getuid;
    __NR_geteuid         => geteuid;
    __NR_getgid          => getgid;
    __NR_getegid         => getegid;
    __NR_exit            => exit;
    __NR_clone           => clone;
    __NR_prctl           => prctl;
    __NR_rseq            => rseq;
    __NR_sendfile        => sendfile;
    __NR_sched_yield     => sched_yield;
    __NR_sched_setaffinity => sched_setaffinity;
    __NR_sched_getaffinity => sched_getaffinity;
    __NR_mount           => mount;
    __NR_time            => time;
    __NR_fork            => fork;
    __NR_vfork           => vfork;
    __NR_wait4           => wait4;
    __NR_futex           => futex;
    __NR_exit_group      => exit_group;
    __NR_execve          => execve;
    __NR_execveat        => execveat;
    __NR_uname           => uname;
    __NR_arch_prctl      => arch_prctl;
    __NR_set_tid_address => set_tid_address;
    __NR_clock_gettime   => clock_gettime;
    __NR_clock_getres    => clock_getres;
    __NR_clock_settime   => clock_settime;
    __NR_gettimeofday    => gettimeofday;
    __NR_prlimit64       => prlimit64;
    __NR_getrandom       => getrandom;
    __NR_access           => access;
    __NR_chdir            => chdir;
    __NR_chmod            => chmod;
    __NR_chown            => chown;
    __NR_close            => close;
    __NR_creat            => creat;
    __NR_dup              => dup;
    __NR_dup2             => dup2;
    __NR_dup3             => dup3;
    __NR_faccessat        => faccessat;
    __NR_faccessat2       => faccessat2;
    __NR_fchdir           => fchdir;
    __NR_fchmod           => fchmod;
    __NR_fchmodat         => fchmodat;
    __NR_fchown           => fchown;
    __NR_fchownat         => fchownat;
    __NR_fcntl            => fcntl;
    __NR_fdatasync        => fdatasync;
    __NR_fstat            => fstat;
    __NR_fsync            => fsync;
    __NR_ftruncate        => ftruncate;
    __NR_getcwd           => getcwd;
    __NR_getdents64       => getdents64;
    __NR_lchown           => lchown;
    __NR_link             => link;
    __NR_linkat           => linkat;
    __NR_lseek            => lseek;
    __NR_lstat            => lstat;
    __NR_mkdir            => mkdir;
    __NR_mkdirat          => mkdirat;
    __NR_mknod            => mknod;
    __NR_mknodat          => mknodat;
    __NR_pipe             => pipe;
    __NR_pipe2            => pipe2;
    __NR_poll             => poll;
    __NR_ppoll            => ppoll;
    __NR_select           => select;
    __NR_pselect6         => pselect6;
    __NR_newfstatat       => newfstatat;
    __NR_open             => open;
    __NR_openat           => openat;
    __NR_pread64          => pread64;
    __NR_pwrite64         => pwrite64;
    __NR_readlink         => readlink;
    __NR_readlinkat       => readlinkat;
    __NR_readv            => readv;
    __NR_rename           => rename;
    __NR_renameat         => renameat;
    __NR_renameat2        => renameat2;
    __NR_rmdir            => rmdir;
    __NR_stat             => stat;
    __NR_statx            => statx;
    __NR_symlink          => symlink;
    __NR_symlinkat        => symlinkat;
    __NR_sync             => sync;
    __NR_truncate         => truncate;
    __NR_umask            => umask;
    __NR_unlink           => unlink;
    __NR_unlinkat         => unlinkat;
    __NR_utimensat        => utimensat;
    __NR_sysinfo          => sysinfo;
    __NR_getgroups        => getgroups;
    __NR_set_robust_list  => set_robust_list;
    __NR_preadv           => preadv;
    __NR_pwritev          => pwritev;
    __NR_nanosleep        => nanosleep;
    __NR_clock_nanosleep  => clock_nanosleep;
}

/// Table index by number (`u16::MAX`: none), built at compile time.
static INDEX: [u16; MAX_NR] = index(TABLE);

const fn index(table: &[Syscall]) -> [u16; MAX_NR] {
    let mut ix = [u16::MAX; MAX_NR];
    let mut i = 0;
    while i < table.len() {
        let n = table[i].nr as usize;
        assert!(n < MAX_NR, "a system call number beyond MAX_NR");
        assert!(ix[n] == u16::MAX, "a system call number twice in TABLE");
        ix[n] = i as u16;
        i += 1;
    }
    ix
}

/// The call with number `nr`, if the library has it.
pub fn lookup(nr: u64) -> Option<&'static Syscall> {
    let i = *INDEX.get(usize::try_from(nr).ok()?)?;
    TABLE.get(usize::from(i))
}

/// The name of call `nr`, if the library has it.
pub fn name(nr: u64) -> Option<&'static str> {
    lookup(nr).map(|c| c.name)
}
