//! The line protocol between the kernel's test runner and the host harness.
//!
//! Every line starts with [`PREFIX`]; anything else in the serial log (boot
//! banner, kernel log, exception reports) is ignored by the parser but kept
//! by the harness for failure messages.
//!
//! ```text
//! ktest: begin 31 from 0
//! ktest: run 0 kernel::mm::frames::alloc_free
//! ktest: pass 0 1234us
//! ktest: run 1 kernel::arch::idt::page_fault_is_reported
//! ktest: fail 1 assertion failed: report.contains("#PF")
//! ktest: end
//! ```
//!
//! A `run` with no `pass`/`fail` after it means the kernel panicked (the
//! panic handler writes a `fail` line when it can) or hung in that test.

/// The prefix of every protocol line.
pub const PREFIX: &str = "ktest: ";

/// Kernel command-line word that makes the kernel run its tests.
pub const CMDLINE_RUN: &str = "ktest";
/// Kernel command-line key: index of the first test to run.
pub const CMDLINE_START: &str = "ktest.start";
/// Kernel command-line key: run only the tests whose name contains this.
pub const CMDLINE_ONLY: &str = "ktest.only";

/// `isa-debug-exit` value written when every test passed.
pub const EXIT_PASS: u8 = 0x10;
/// `isa-debug-exit` value written when a test failed but the run finished.
pub const EXIT_FAIL: u8 = 0x11;
/// `isa-debug-exit` value written by the panic handler.
pub const EXIT_PANIC: u8 = 0x12;

/// QEMU's exit status for an `isa-debug-exit` write of `v`.
pub const fn qemu_status(v: u8) -> i32 {
    ((v as i32) << 1) | 1
}

#[cfg(feature = "host")]
pub use host::*;

#[cfg(feature = "host")]
mod host {
    use super::PREFIX;
    use alloc::string::{String, ToString};
    use alloc::vec::Vec;

    /// What became of one test in a log.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum Outcome {
        /// It passed, taking this many microseconds.
        Pass {
            /// Guest time the test took.
            micros: u64,
        },
        /// It failed with this message.
        Fail(String),
        /// It started and the log ended before it finished: a hang or a
        /// panic that could not report.
        Unfinished,
    }

    /// One test's line of the report.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct TestResult {
        /// Index in link order.
        pub index: usize,
        /// Full test name.
        pub name: String,
        /// Its outcome.
        pub outcome: Outcome,
    }

    /// A parsed log of one kernel boot.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct Log {
        /// Number of tests registered in the image, from `begin`.
        pub total: Option<usize>,
        /// The tests this boot started, in order.
        pub results: Vec<TestResult>,
        /// Whether the runner reached `end`.
        pub finished: bool,
    }

    impl Log {
        /// Index of the test to boot from next, if this boot stopped early:
        /// the one after the last test started.
        pub fn resume_from(&self) -> Option<usize> {
            if self.finished {
                return None;
            }
            self.results.last().map(|r| r.index + 1)
        }
    }

    /// Parses a serial log. Lines without [`PREFIX`] are skipped; so are
    /// malformed protocol lines, which can come from interleaved output.
    pub fn parse(log: &str) -> Log {
        let mut out = Log::default();
        for line in log.lines() {
            let line = line.trim_end_matches('\r');
            let Some(pos) = line.find(PREFIX) else {
                continue;
            };
            let rest = &line[pos + PREFIX.len()..];
            let (word, args) = rest.split_once(' ').unwrap_or((rest, ""));
            match word {
                "begin" => {
                    out.total = args.split(' ').next().and_then(|n| n.parse().ok());
                }
                "run" => {
                    let Some((idx, name)) = args.split_once(' ') else {
                        continue;
                    };
                    let Ok(index) = idx.parse() else { continue };
                    out.results.push(TestResult {
                        index,
                        name: name.to_string(),
                        outcome: Outcome::Unfinished,
                    });
                }
                "pass" | "fail" => {
                    let (idx, msg) = args.split_once(' ').unwrap_or((args, ""));
                    let Ok(index) = idx.parse::<usize>() else {
                        continue;
                    };
                    let Some(r) = out.results.last_mut() else {
                        continue;
                    };
                    if r.index != index || r.outcome != Outcome::Unfinished {
                        continue;
                    }
                    r.outcome = if word == "pass" {
                        let micros = msg.trim_end_matches("us").parse().unwrap_or(0);
                        Outcome::Pass { micros }
                    } else {
                        Outcome::Fail(msg.to_string())
                    };
                }
                "end" => out.finished = true,
                _ => {}
            }
        }
        out
    }
}

#[cfg(all(test, feature = "host"))]
mod tests {
    use super::*;

    const LOG: &str = "\
K42-rs booting
ktest: begin 3 from 0
ktest: run 0 a::one
ktest: pass 0 12us
noise in between
ktest: run 1 a::two
ktest: fail 1 assertion failed: x == 2
ktest: run 2 a::three
";

    #[test]
    fn parses_pass_fail_and_unfinished() {
        let log = parse(LOG);
        assert_eq!(log.total, Some(3));
        assert_eq!(log.results.len(), 3);
        assert_eq!(log.results[0].outcome, Outcome::Pass { micros: 12 });
        assert_eq!(
            log.results[1].outcome,
            Outcome::Fail("assertion failed: x == 2".into())
        );
        assert_eq!(log.results[2].outcome, Outcome::Unfinished);
        assert!(!log.finished);
        assert_eq!(log.resume_from(), Some(3));
    }

    #[test]
    fn finished_log_does_not_resume() {
        let log = parse("ktest: begin 1 from 0\nktest: run 0 x\nktest: pass 0 1us\nktest: end\n");
        assert!(log.finished);
        assert_eq!(log.resume_from(), None);
    }

    #[test]
    fn stray_result_lines_are_ignored() {
        // A pass for a test that never started, and a second verdict for
        // one that already has one, must not change anything.
        let log =
            parse("ktest: pass 4 1us\nktest: run 0 x\nktest: pass 0 1us\nktest: fail 0 late\n");
        assert_eq!(log.results.len(), 1);
        assert_eq!(log.results[0].outcome, Outcome::Pass { micros: 1 });
    }

    #[test]
    fn prefix_may_follow_other_output_on_the_line() {
        let log = parse("\x1b[0mktest: run 0 y\r\nktest: pass 0 5us\r\n");
        assert_eq!(log.results[0].outcome, Outcome::Pass { micros: 5 });
    }

    #[test]
    fn exit_status_matches_qemu() {
        assert_eq!(qemu_status(EXIT_PASS), 33);
        assert_eq!(qemu_status(EXIT_FAIL), 35);
    }
}
