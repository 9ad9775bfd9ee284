//! The 16550 UARTs: COM1 is the kernel console and test log, COM2 the
//! trace stream.
//!
//! About forty lines, written here rather than taken from `uart_16550`,
//! whose API changed twice in 2026. Output spins on the transmit-holding
//! register; input is polled.

use x86_64::instructions::port::Port;

const COM1: u16 = 0x3f8;

/// A 16550 at an I/O base.
pub struct Uart {
    base: u16,
}

/// The console UART.
pub static COM1_UART: Uart = Uart { base: COM1 };

/// The second UART: the trace stream's raw bytes (`crate::trace`).
pub static COM2_UART: Uart = Uart { base: 0x2f8 };

impl Uart {
    fn port(&self, off: u16) -> Port<u8> {
        Port::new(self.base + off)
    }

    fn out(&self, off: u16, v: u8) {
        // SAFETY: ports base..base+7 belong to this UART; writes configure it.
        unsafe { self.port(off).write(v) }
    }

    fn inp(&self, off: u16) -> u8 {
        // SAFETY: reading UART registers has no side effect beyond the FIFO.
        unsafe { self.port(off).read() }
    }

    /// 115200 8N1, FIFOs on, interrupts off.
    pub fn init(&self) {
        self.out(1, 0x00); // IER: no interrupts
        self.out(3, 0x80); // LCR: DLAB
        self.out(0, 0x01); // divisor 1 = 115200 baud
        self.out(1, 0x00);
        self.out(3, 0x03); // 8N1
        self.out(2, 0xc7); // FIFO on, cleared, 14-byte threshold
        self.out(4, 0x0b); // DTR | RTS | OUT2
    }

    /// Sends one byte.
    pub fn put(&self, b: u8) {
        while self.inp(5) & 0x20 == 0 {
            core::hint::spin_loop();
        }
        self.out(0, b);
    }

    /// Sends bytes, turning `\n` into `\r\n`.
    pub fn write_bytes(&self, s: &[u8]) {
        for &b in s {
            if b == b'\n' {
                self.put(b'\r');
            }
            self.put(b);
        }
    }

    /// A received byte, if one is waiting.
    pub fn try_get(&self) -> Option<u8> {
        (self.inp(5) & 1 != 0).then(|| self.inp(0))
    }
}
