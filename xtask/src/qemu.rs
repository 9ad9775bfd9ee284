//! Running QEMU: the machine every K42-rs boot uses, output streaming,
//! timeouts that name the last line, and exit-status decoding.
//!
//! The machine: `-machine q35` (PCIe MMIO config space for virtio later),
//! `-cpu max`, multi-threaded TCG, COM1 on stdio, `isa-debug-exit` at
//! port 0xf4 (a write of `v` ends QEMU with status `(v << 1) | 1`), and
//! `-no-reboot`, so a triple fault ends the run instead of looping.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How QEMU's serial console is connected.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Io {
    /// Our stdin feeds the guest; guest output is streamed to our stdout.
    Interactive,
    /// Guest output is captured; each line is handed to a callback.
    Captured,
}

/// One QEMU invocation.
pub struct Config {
    kernel: PathBuf,
    smp: u32,
    mem: String,
    /// Kernel command line.
    pub cmdline: String,
    /// More QEMU arguments.
    pub extra: Vec<String>,
    /// Wall-clock limit for the whole run.
    pub timeout: Option<Duration>,
    /// Limit on silence: no output for this long ends the run.
    pub idle_timeout: Option<Duration>,
}

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// QEMU exited with this status.
    Exited(i32),
    /// We stopped it after this long.
    TimedOut(Duration),
}

/// A finished run.
pub struct Output {
    /// How it ended.
    pub status: Status,
    /// Everything the guest printed.
    pub log: String,
}

impl Output {
    /// The last non-empty line printed, for error messages.
    pub fn last_line(&self) -> String {
        self.log
            .lines()
            .rev()
            .map(|l| l.trim())
            .find(|l| !l.is_empty())
            .map_or_else(|| "(no output at all)".to_string(), |l| format!("'{l}'"))
    }
}

/// The installed QEMU's version, e.g. "7.2.19".
pub fn version() -> String {
    Command::new("qemu-system-x86_64")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .nth(3)
                .map(str::to_string)
        })
        .unwrap_or_else(|| "?".into())
}

impl Config {
    /// A run of `kernel` with `smp` processors and `mem` memory.
    pub fn new(kernel: &Path, smp: u32, mem: &str) -> Self {
        Self {
            kernel: kernel.to_path_buf(),
            smp,
            mem: mem.to_string(),
            cmdline: String::new(),
            extra: Vec::new(),
            timeout: None,
            idle_timeout: None,
        }
    }

    /// The QEMU command line.
    pub fn command(&self) -> Command {
        let mut c = Command::new("qemu-system-x86_64");
        c.args([
            "-machine",
            "q35",
            "-cpu",
            "max",
            "-accel",
            "tcg,thread=multi",
        ])
        .args(["-smp", &self.smp.to_string(), "-m", &self.mem])
        .arg("-kernel")
        .arg(&self.kernel)
        .args(["-append", &self.cmdline]);
        // The initramfs `kernel_image::build` leaves beside the kernel.
        let initrd = self.kernel.with_file_name(crate::kernel_image::INITRAMFS);
        if initrd.exists() {
            c.arg("-initrd").arg(initrd);
        }
        c.args(["-display", "none", "-serial", "stdio", "-no-reboot"])
            .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=4"])
            .args(&self.extra);
        c
    }

    /// Runs QEMU to the end or to a timeout.
    pub fn run(&self, io: Io) -> Result<Output, String> {
        self.run_with(io, &mut |_| {})
    }

    /// Runs QEMU, calling `on_line` with every line the guest prints.
    pub fn run_with(&self, io: Io, on_line: &mut dyn FnMut(&str)) -> Result<Output, String> {
        let mut cmd = self.command();
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.stdin(if io == Io::Interactive {
            Stdio::inherit()
        } else {
            Stdio::null()
        });
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start qemu-system-x86_64: {e}"))?;
        let (tx, rx) = mpsc::channel::<Vec<u8>>();
        let mut stdout = child.stdout.take().expect("piped");
        let tx_out = tx.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 || tx_out.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        let stderr = child.stderr.take().expect("piped");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(format!("[qemu] {line}\n").into_bytes());
            }
        });

        let start = Instant::now();
        let mut last_output = Instant::now();
        let mut log = String::new();
        let mut pending = String::new();
        let stdout = std::io::stdout();
        loop {
            if let Some(t) = self.timeout {
                if start.elapsed() > t {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Ok(Output {
                        status: Status::TimedOut(start.elapsed()),
                        log,
                    });
                }
            }
            if let Some(t) = self.idle_timeout {
                if last_output.elapsed() > t {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Ok(Output {
                        status: Status::TimedOut(start.elapsed()),
                        log,
                    });
                }
            }
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(bytes) => {
                    last_output = Instant::now();
                    let text = String::from_utf8_lossy(&bytes).replace('\r', "");
                    if io == Io::Interactive {
                        let mut out = stdout.lock();
                        let _ = out.write_all(&bytes);
                        let _ = out.flush();
                    }
                    log.push_str(&text);
                    pending.push_str(&text);
                    while let Some(i) = pending.find('\n') {
                        let line: String = pending.drain(..=i).collect();
                        on_line(line.trim_end());
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
                        // Drain what is left.
                        std::thread::sleep(Duration::from_millis(20));
                        while let Ok(bytes) = rx.try_recv() {
                            let text = String::from_utf8_lossy(&bytes).replace('\r', "");
                            if io == Io::Interactive {
                                let _ = stdout.lock().write_all(&bytes);
                            }
                            log.push_str(&text);
                            pending.push_str(&text);
                        }
                        for line in pending.lines() {
                            on_line(line);
                        }
                        return Ok(Output {
                            status: Status::Exited(status.code().unwrap_or(-1)),
                            log,
                        });
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = child.wait().map_err(|e| e.to_string())?;
                    return Ok(Output {
                        status: Status::Exited(status.code().unwrap_or(-1)),
                        log,
                    });
                }
            }
        }
    }
}

/// `cargo xtask gdb`: QEMU waits for a debugger on :1234; gdb attaches with
/// the kernel's symbols.
pub fn gdb(cfg: &Config, kernel: &Path) -> Result<(), String> {
    let mut q = cfg.command();
    q.args(["-s", "-S"]);
    let log = crate::target_dir().join("k42/gdb-serial.log");
    let file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
    q.stdout(file).stdin(Stdio::null());
    let mut child = q.spawn().map_err(|e| format!("cannot start QEMU: {e}"))?;
    let gdb_cmd = format!(
        "gdb -ex 'set architecture i386:x86-64' -ex 'file {}' -ex 'target remote localhost:1234' -ex 'break kmain'",
        kernel.display()
    );
    crate::step(format!(
        "QEMU is halted at the first instruction, waiting on localhost:1234; serial output goes to {}",
        log.display()
    ));
    if which_gdb() {
        crate::step(format!("starting: {gdb_cmd}"));
        let _ = Command::new("sh").args(["-c", &gdb_cmd]).status();
        let _ = child.kill();
    } else {
        crate::step(format!(
            "gdb is not installed (apt-get install gdb). Attach with:\n    {gdb_cmd}\nPress Ctrl-C to stop QEMU."
        ));
        let _ = child.wait();
    }
    Ok(())
}

fn which_gdb() -> bool {
    Command::new("sh")
        .args(["-c", "command -v gdb >/dev/null"])
        .status()
        .is_ok_and(|s| s.success())
}
