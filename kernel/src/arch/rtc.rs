//! The CMOS real-time clock: the wall-clock time, read once at boot.
//!
//! The MC146818-compatible RTC (ports 0x70/0x71) keeps the date and time
//! (QEMU: the host's, in UTC by default). [`read_unix`] waits until no
//! update is in progress, reads the fields twice until two readings
//! agree, and converts BCD and 12-hour forms as status register B says.
//! The kernel's clock stays the TSC; [`crate::time::set_epoch`] ties the
//! two together once.

use x86_64::instructions::port::Port;

const INDEX: u16 = 0x70;
const DATA: u16 = 0x71;

fn read_reg(reg: u8) -> u8 {
    let mut index = Port::<u8>::new(INDEX);
    let mut data = Port::<u8>::new(DATA);
    // SAFETY: the CMOS index/data ports are the RTC's; selecting a
    // register and reading it has no other effect (bit 7 of the index,
    // NMI disable, stays clear as at boot).
    unsafe {
        index.write(reg & 0x7f);
        data.read()
    }
}

/// The RTC fields: seconds, minutes, hours, day, month, year, century.
type Fields = [u8; 7];

fn fields() -> Fields {
    // Wait for "update in progress" (status A, bit 7) to clear.
    for _ in 0..100_000 {
        if read_reg(0x0a) & 0x80 == 0 {
            break;
        }
        core::hint::spin_loop();
    }
    [
        read_reg(0x00),
        read_reg(0x02),
        read_reg(0x04),
        read_reg(0x07),
        read_reg(0x08),
        read_reg(0x09),
        read_reg(0x32),
    ]
}

/// Days from 1970-01-01 to `y-m-d` (proleptic Gregorian).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Seconds since the Unix epoch of the RTC's fields, given status B; `None`
/// if they make no sense (no RTC, or garbage).
fn to_unix(f: Fields, status_b: u8) -> Option<u64> {
    let bcd = status_b & 0x04 == 0;
    let h24 = status_b & 0x02 != 0;
    let dec = |v: u8| if bcd { (v & 0x0f) + (v >> 4) * 10 } else { v };
    let (sec, min) = (dec(f[0]), dec(f[1]));
    let pm = f[2] & 0x80 != 0;
    let mut hour = dec(f[2] & 0x7f);
    if !h24 {
        hour = match (hour, pm) {
            (12, false) => 0,
            (12, true) => 12,
            (h, true) => h + 12,
            (h, false) => h,
        };
    }
    let (day, month) = (dec(f[3]), dec(f[4]));
    let century = match dec(f[6]) {
        c @ 19..=21 => u32::from(c),
        _ => 20,
    };
    let year = century * 100 + u32::from(dec(f[5]));
    if sec > 59 || min > 59 || hour > 23 || !(1..=31).contains(&day) || !(1..=12).contains(&month) {
        return None;
    }
    let days = days_from_civil(i64::from(year), u32::from(month), u32::from(day));
    let secs = days * 86_400 + i64::from(hour) * 3600 + i64::from(min) * 60 + i64::from(sec);
    u64::try_from(secs).ok()
}

/// The wall-clock time in seconds since the Unix epoch, or `None`.
pub fn read_unix() -> Option<u64> {
    let mut last = fields();
    for _ in 0..5 {
        let now = fields();
        if now == last {
            return to_unix(now, read_reg(0x0b));
        }
        last = now;
    }
    None
}

ktest::ktest! {
    /// The calendar arithmetic, and the RTC says a time after 2020.
    fn rtc_reads_a_plausible_date() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        // 2026-11-30 12:34:56 in BCD, 24-hour mode.
        let f = [0x56, 0x34, 0x12, 0x30, 0x11, 0x26, 0x20];
        assert_eq!(to_unix(f, 0x02), Some(1_796_042_096));
        // The same at 12:34:56 PM in 12-hour binary mode.
        assert_eq!(to_unix([56, 34, 0x80 | 12, 30, 11, 26, 20], 0x04), Some(1_796_042_096));
        assert_eq!(to_unix([0x99, 0, 0, 1, 1, 0x26, 0x20], 0x02), None);
        let now = read_unix().expect("QEMU has an RTC");
        assert!(now > 1_577_836_800, "after 2020: {now}");
    }
}
