//! The `ktrace` host tool: reads K42-rs trace files (see the `ktrace`
//! crate's `stream` module for the format) and turns them into text,
//! tables, Perfetto JSON or a self-contained HTML timeline.
//!
//! ```text
//! ktrace sample demo.ktrace            # a synthetic trace to play with
//! ktrace dump demo.ktrace --cpu 1 --class lock
//! ktrace stats demo.ktrace
//! ktrace locks demo.ktrace
//! ktrace intervals demo.ktrace                         # time per syscall, fault, ...
//! ktrace export --perfetto demo.ktrace -o demo.json   # open in ui.perfetto.dev
//! ktrace html demo.ktrace -o demo.html                 # open in any browser
//! ```
//!
//! Exit status: 0, or 2 when the file was damaged (every problem is printed
//! with its byte offset, and the output covers everything that could be
//! read), or 1 when nothing could be done (unreadable file).
//!
//! Dependencies: `clap` for the command line (the project's choice for host
//! tools), `serde_json` to write JSON with correct escaping (Perfetto
//! export, the data inside the HTML page). The page itself is hand-written
//! SVG and JavaScript with no external resources, so it opens offline.
//!
//! Every command works on a [`Trace`] decoded by `ktrace::decode`, which
//! reads past damage and lists it; the commands here are pure functions
//! from a trace to a string, so golden tests pin their output.
#![deny(unsafe_code)]
#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::fmt::Write as _;

use ktrace::decode::{Event, Trace};
use ktrace::Class;
use serde_json::{json, Value as Json};

pub mod html;
pub mod sample;

/// Time of `e` in nanoseconds since the trace's first event.
fn rel_ns(trace: &Trace, t0: u64, ts: u64) -> f64 {
    trace.ticks_to_ns(ts.saturating_sub(t0))
}

fn first_ts(trace: &Trace) -> u64 {
    trace.events.iter().map(|e| e.ts).min().unwrap_or(0)
}

/// Options for [`dump`].
#[derive(Clone, Debug, Default)]
pub struct DumpOptions {
    /// Only these processors (all if empty).
    pub cpus: Vec<u32>,
    /// Only these classes, by name (all if empty).
    pub classes: Vec<String>,
}

/// The human-readable dump: every event, merged across processors by time.
pub fn dump(trace: &Trace, opts: &DumpOptions) -> String {
    let mut out = String::new();
    let h = &trace.header;
    let _ = writeln!(
        out,
        "# {} processors, {} words per block, clock {}",
        h.cpus,
        h.block_words,
        match h.ticks_per_second {
            0 => "unknown (ticks shown as ns)".to_string(),
            t => format!("{:.3} GHz", t as f64 / 1e9),
        }
    );
    let _ = writeln!(
        out,
        "# {:>14}  {:>3}  {:<24} text",
        "time (us)", "cpu", "event"
    );
    let t0 = first_ts(trace);
    for e in trace.merged() {
        if !opts.cpus.is_empty() && !opts.cpus.contains(&e.cpu) {
            continue;
        }
        let class = trace.info(e).map(|i| i.class_name.as_str()).unwrap_or("");
        if !opts.classes.is_empty() && !opts.classes.iter().any(|c| c == class) {
            continue;
        }
        let _ = writeln!(
            out,
            "{:>16.3}  {:>3}  {:<24} {}",
            rel_ns(trace, t0, e.ts) / 1000.0,
            e.cpu,
            trace.name(e),
            trace.text(e)
        );
    }
    out
}

/// Events per class and per processor, blocks, lost blocks and events,
/// and, if the trace has dispatcher switches, per processor: switches,
/// dispatchers run, time running them and time idle.
pub fn stats(trace: &Trace) -> String {
    let mut out = String::new();
    let t0 = first_ts(trace);
    let t1 = trace.events.iter().map(|e| e.ts).max().unwrap_or(0);
    let _ = writeln!(
        out,
        "{} events in {} blocks over {:.3} us; {} decode errors",
        trace.events.len(),
        trace.blocks.len(),
        rel_ns(trace, t0, t1) / 1000.0,
        trace.errors.len()
    );
    // Events per class (rows) and processor (columns).
    let mut by_class: BTreeMap<u8, (String, BTreeMap<u32, u64>)> = BTreeMap::new();
    let mut per_cpu: BTreeMap<u32, u64> = BTreeMap::new();
    for e in &trace.events {
        let name = trace
            .info(e)
            .map(|i| i.class_name.clone())
            .unwrap_or_else(|| format!("class{}", e.class.0));
        *by_class
            .entry(e.class.0)
            .or_insert((name, BTreeMap::new()))
            .1
            .entry(e.cpu)
            .or_default() += 1;
        *per_cpu.entry(e.cpu).or_default() += 1;
    }
    let _ = write!(out, "\n{:<6} {:<12} {:>10}", "class", "name", "events");
    for cpu in per_cpu.keys() {
        let _ = write!(out, " {:>9}", format!("cpu {cpu}"));
    }
    out.push('\n');
    for (id, (name, counts)) in &by_class {
        let _ = write!(
            out,
            "{id:<6} {name:<12} {:>10}",
            counts.values().sum::<u64>()
        );
        for cpu in per_cpu.keys() {
            let _ = write!(out, " {:>9}", counts.get(cpu).copied().unwrap_or(0));
        }
        out.push('\n');
    }
    let blocks = trace.block_counts();
    let lost = trace.lost_events();
    let _ = writeln!(
        out,
        "\n{:<4} {:>10} {:>8} {:>12} {:>12}",
        "cpu", "events", "blocks", "lost blocks", "lost events"
    );
    let cpus: std::collections::BTreeSet<u32> =
        per_cpu.keys().chain(blocks.keys()).copied().collect();
    for cpu in cpus {
        let (present, missing) = blocks.get(&cpu).copied().unwrap_or((0, 0));
        let _ = writeln!(
            out,
            "{:<4} {:>10} {:>8} {:>12} {:>12}",
            cpu,
            per_cpu.get(&cpu).copied().unwrap_or(0),
            present,
            missing,
            lost.get(&cpu).copied().unwrap_or(0)
        );
    }
    scheduling_stats(trace, &mut out);
    out
}

/// Per processor, from the `sched` events: dispatcher switches, distinct
/// dispatchers run, time running one and time idle. Nothing if the trace
/// has no switches.
fn scheduling_stats(trace: &Trace, out: &mut String) {
    #[derive(Default)]
    struct Cpu {
        switches: u64,
        dispatchers: std::collections::BTreeSet<u64>,
        running_ns: f64,
        idle_ns: f64,
    }
    let mut cpus: BTreeMap<u32, Cpu> = BTreeMap::new();
    for e in &trace.events {
        if switch_target(trace, e).is_some() {
            cpus.entry(e.cpu).or_default().switches += 1;
        }
    }
    if cpus.is_empty() {
        return;
    }
    for m in marks(trace) {
        let (Some(d), Some(c)) = (m.dur_ns, cpus.get_mut(&m.cpu)) else {
            continue;
        };
        match m.lane {
            Lane::Dispatchers => {
                c.running_ns += d;
                c.dispatchers.extend(m.arg0);
            }
            Lane::Events if m.name == "sched.idle" => c.idle_ns += d,
            Lane::Events => {}
        }
    }
    let _ = writeln!(
        out,
        "\n{:<4} {:>10} {:>12} {:>14} {:>14}",
        "cpu", "switches", "dispatchers", "running (us)", "idle (us)"
    );
    for (cpu, c) in cpus {
        let _ = writeln!(
            out,
            "{:<4} {:>10} {:>12} {:>14.3} {:>14.3}",
            cpu,
            c.switches,
            c.dispatchers.len(),
            c.running_ns / 1000.0,
            c.idle_ns / 1000.0
        );
    }
}

/// Contention of one lock, as computed by [`lock_stats`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LockStats {
    /// The lock's address.
    pub lock: u64,
    /// Its name, if a `lock.name` event gave one.
    pub name: String,
    /// Acquisitions.
    pub acquisitions: u64,
    /// Acquisitions that had to wait.
    pub contended: u64,
    /// Total wait, contended to acquired, in ns.
    pub wait_ns: f64,
    /// Longest single wait, in ns.
    pub max_wait_ns: f64,
    /// Total hold time, acquired to released, in ns.
    pub hold_ns: f64,
}

fn lock_event<'t>(trace: &'t Trace, e: &Event) -> Option<(&'t str, u64)> {
    let info = trace.info(e)?;
    if info.class != Class::LOCK {
        return None;
    }
    Some((info.name.as_str(), e.values.first()?.as_u64()?))
}

/// Per-lock contention, sorted by total wait (longest first).
pub fn lock_stats(trace: &Trace) -> Vec<LockStats> {
    let mut locks: BTreeMap<u64, LockStats> = BTreeMap::new();
    // (cpu, lock) -> when waiting began / when acquired.
    let mut waiting: BTreeMap<(u32, u64), u64> = BTreeMap::new();
    let mut held: BTreeMap<(u32, u64), u64> = BTreeMap::new();
    for e in trace.merged() {
        let Some((what, lock)) = lock_event(trace, e) else {
            continue;
        };
        let s = locks.entry(lock).or_insert_with(|| LockStats {
            lock,
            ..LockStats::default()
        });
        match what {
            "contended" => {
                waiting.insert((e.cpu, lock), e.ts);
            }
            "acquire" => {
                s.acquisitions += 1;
                if let Some(t) = waiting.remove(&(e.cpu, lock)) {
                    let w = trace.ticks_to_ns(e.ts.saturating_sub(t));
                    s.contended += 1;
                    s.wait_ns += w;
                    s.max_wait_ns = s.max_wait_ns.max(w);
                }
                held.insert((e.cpu, lock), e.ts);
            }
            "release" => {
                if let Some(t) = held.remove(&(e.cpu, lock)) {
                    s.hold_ns += trace.ticks_to_ns(e.ts.saturating_sub(t));
                }
            }
            "name" => {
                if let Some(ktrace::decode::Value::Str(n)) = e.values.get(1) {
                    s.name = n.clone();
                }
            }
            _ => {}
        }
    }
    let mut v: Vec<LockStats> = locks.into_values().filter(|s| s.acquisitions > 0).collect();
    v.sort_by(|a, b| b.wait_ns.total_cmp(&a.wait_ns).then(a.lock.cmp(&b.lock)));
    v
}

/// The `locks` report.
pub fn locks(trace: &Trace) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<18} {:<16} {:>10} {:>10} {:>7} {:>14} {:>12} {:>14}",
        "lock", "name", "acquired", "contended", "%", "wait (us)", "max (us)", "held (us)"
    );
    for s in lock_stats(trace) {
        let _ = writeln!(
            out,
            "{:<18} {:<16} {:>10} {:>10} {:>6.1}% {:>14.3} {:>12.3} {:>14.3}",
            format!("{:#x}", s.lock),
            s.name,
            s.acquisitions,
            s.contended,
            100.0 * s.contended as f64 / s.acquisitions.max(1) as f64,
            s.wait_ns / 1000.0,
            s.max_wait_ns / 1000.0,
            s.hold_ns / 1000.0
        );
    }
    out
}

/// An interval built from an `enter`/`exit` pair, or a lone event.
#[derive(Clone, Debug, PartialEq)]
pub struct Mark {
    /// Processor.
    pub cpu: u32,
    /// Start, ns since the first event.
    pub start_ns: f64,
    /// Duration in ns; `None` for an instant.
    pub dur_ns: Option<f64>,
    /// `class.event`, or `class.what` for an interval.
    pub name: String,
    /// Class name.
    pub class: String,
    /// The (opening) event's text.
    pub text: String,
    /// The (opening) event's first field, if it is a number (the system
    /// call number, the vector, ...).
    pub arg0: Option<u64>,
    /// The (opening) event's fields by name, as JSON values (numbers above
    /// 2^53, which JavaScript cannot hold, as hex strings).
    pub args: Vec<(String, Json)>,
    /// Which lane of the processor's track it belongs on.
    pub lane: Lane,
}

/// The lanes of a processor's track.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Lane {
    /// Events and `enter`/`exit` slices (interrupts, system calls, ...).
    Events,
    /// Which dispatcher runs: slices from one `sched.switch` to the next.
    /// A switch can happen inside an interrupt's slice, so these would not
    /// nest properly with the others; they get a lane of their own.
    Dispatchers,
}

/// Readable names from `name` events: dispatchers (`sched.name`) and
/// system call numbers (`syscall.name`).
#[derive(Debug, Default)]
struct Names {
    dispatchers: BTreeMap<u64, String>,
    syscalls: BTreeMap<u64, String>,
}

impl Names {
    fn collect(trace: &Trace) -> Names {
        let mut names = Names::default();
        for e in &trace.events {
            let Some(info) = trace.info(e) else { continue };
            if info.name != "name" {
                continue;
            }
            let (Some(id), Some(ktrace::decode::Value::Str(n))) =
                (e.values.first().and_then(|v| v.as_u64()), e.values.get(1))
            else {
                continue;
            };
            match info.class {
                Class::SCHEDULER => names.dispatchers.insert(id, n.clone()),
                Class::SYSCALL => names.syscalls.insert(id, n.clone()),
                _ => None,
            };
        }
        names
    }

    /// `worker d3.0`, or `d3.0` without a name.
    fn dispatcher(&self, raw: u64) -> String {
        let id = ktrace::decode::dispatcher_name(raw);
        match self.dispatchers.get(&raw) {
            Some(n) => format!("{n} {id}"),
            None => id,
        }
    }

    /// `syscall yield`, or `syscall 3` without a name.
    fn syscall(&self, number: u64) -> String {
        match self.syscalls.get(&number) {
            Some(n) => format!("syscall {n}"),
            None => format!("syscall {number}"),
        }
    }
}

fn field_args(trace: &Trace, e: &Event) -> Vec<(String, Json)> {
    let Some(info) = trace.info(e) else {
        return Vec::new();
    };
    info.fields
        .iter()
        .zip(&e.values)
        .map(|((name, _), v)| {
            let j = match v {
                ktrace::decode::Value::U(n) if *n < 1 << 53 => Json::from(*n),
                ktrace::decode::Value::U(n) => Json::from(format!("{n:#x}")),
                ktrace::decode::Value::I(n) if n.unsigned_abs() < 1 << 53 => Json::from(*n),
                ktrace::decode::Value::I(n) => Json::from(n.to_string()),
                ktrace::decode::Value::Bool(b) => Json::from(*b),
                ktrace::decode::Value::Str(s) => Json::from(s.as_str()),
            };
            (name.clone(), j)
        })
        .collect()
}

/// Pairs `enter`/`exit` events per processor into intervals (properly
/// nested per class); everything else, including unmatched halves, is an
/// instant. System call slices are named after the call. Besides, each
/// `sched.switch` ends the running dispatcher's slice and starts the next
/// one's, in the [`Lane::Dispatchers`] lane; `sched.idle_enter` ends it
/// too (a slice still running at the end of the trace ends with the
/// processor's last event). Sorted by processor, lane, then start.
pub fn marks(trace: &Trace) -> Vec<Mark> {
    let t0 = first_ts(trace);
    let names = Names::collect(trace);
    let mut out: Vec<Mark> = Vec::new();
    let mut open: BTreeMap<(u32, u8, String), Vec<usize>> = BTreeMap::new();
    // Per processor: the running dispatcher's slice, and the last event.
    let mut running: BTreeMap<u32, usize> = BTreeMap::new();
    let mut last_ns: BTreeMap<u32, f64> = BTreeMap::new();
    for e in trace.merged() {
        last_ns.insert(e.cpu, rel_ns(trace, t0, e.ts));
        if is_idle_enter(trace, e) {
            // An idle processor runs no dispatcher; the next switch starts
            // the next run.
            if let Some(i) = running.remove(&e.cpu) {
                out[i].dur_ns = Some(rel_ns(trace, t0, e.ts) - out[i].start_ns);
            }
        }
        if let Some(to) = switch_target(trace, e) {
            let at = rel_ns(trace, t0, e.ts);
            if let Some(i) = running.remove(&e.cpu) {
                out[i].dur_ns = Some(at - out[i].start_ns);
            }
            if to != ktrace::events::IDLE {
                running.insert(e.cpu, out.len());
                out.push(Mark {
                    cpu: e.cpu,
                    start_ns: at,
                    dur_ns: Some(0.0),
                    name: names.dispatcher(to),
                    class: "sched".to_string(),
                    text: format!("{} runs", names.dispatcher(to)),
                    arg0: Some(to),
                    args: vec![(
                        "dispatcher".to_string(),
                        Json::from(ktrace::decode::dispatcher_name(to)),
                    )],
                    lane: Lane::Dispatchers,
                });
            }
        }
        let info = trace.info(e);
        let class = info
            .map(|i| i.class_name.clone())
            .unwrap_or_else(|| format!("class{}", e.class.0));
        let ev = info.map(|i| i.name.as_str()).unwrap_or("");
        let start_ns = rel_ns(trace, t0, e.ts);
        let prefix = |suffix: &str| -> Option<String> {
            if ev == suffix {
                Some(String::new())
            } else {
                ev.strip_suffix(&format!("_{suffix}")).map(str::to_string)
            }
        };
        if let Some(p) = prefix("enter") {
            open.entry((e.cpu, e.class.0, p.clone()))
                .or_default()
                .push(out.len());
            let arg0 = e.values.first().and_then(|v| v.as_u64());
            let name = match (p.is_empty(), e.class, arg0) {
                (true, Class::SYSCALL, Some(n)) => names.syscall(n),
                (true, ..) => class.clone(),
                (false, ..) => format!("{class}.{p}"),
            };
            out.push(Mark {
                cpu: e.cpu,
                start_ns,
                dur_ns: Some(0.0),
                name,
                class,
                text: trace.text(e),
                arg0,
                args: field_args(trace, e),
                lane: Lane::Events,
            });
            continue;
        }
        if let Some(p) = prefix("exit") {
            if let Some(i) = open.get_mut(&(e.cpu, e.class.0, p)).and_then(|s| s.pop()) {
                out[i].dur_ns = Some(start_ns - out[i].start_ns);
                continue;
            }
        }
        out.push(Mark {
            cpu: e.cpu,
            start_ns,
            dur_ns: None,
            name: trace.name(e),
            class,
            text: trace.text(e),
            arg0: e.values.first().and_then(|v| v.as_u64()),
            args: field_args(trace, e),
            lane: Lane::Events,
        });
    }
    // Intervals never closed become instants.
    for stack in open.values() {
        for &i in stack {
            out[i].dur_ns = None;
        }
    }
    // Dispatchers still running run until the processor's last event.
    for (cpu, i) in running {
        let end = last_ns.get(&cpu).copied().unwrap_or(out[i].start_ns);
        out[i].dur_ns = Some(end - out[i].start_ns);
    }
    out.sort_by(|a, b| {
        (a.cpu, a.lane, a.start_ns)
            .partial_cmp(&(b.cpu, b.lane, b.start_ns))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    out
}

/// Is `e` a `sched.idle_enter`?
fn is_idle_enter(trace: &Trace, e: &Event) -> bool {
    trace
        .info(e)
        .is_some_and(|i| i.class == Class::SCHEDULER && i.name == "idle_enter")
}

/// The dispatcher a `sched.switch` event switches to.
fn switch_target(trace: &Trace, e: &Event) -> Option<u64> {
    let info = trace.info(e)?;
    if info.class != Class::SCHEDULER || info.name != "switch" {
        return None;
    }
    e.values.get(1)?.as_u64()
}

/// Time spent in each kind of interval (`enter`/`exit` pairs): system
/// calls by name (or number), exceptions and interrupts by vector, page
/// faults, idle time, tests, and each dispatcher's running time. Sorted by
/// total time, longest first.
pub fn intervals(trace: &Trace) -> String {
    #[derive(Default)]
    struct Sum {
        count: u64,
        total: f64,
        max: f64,
    }
    let mut sums: BTreeMap<String, Sum> = BTreeMap::new();
    for m in marks(trace) {
        let Some(d) = m.dur_ns else { continue };
        let key = match (m.lane, m.class.as_str(), m.arg0) {
            (Lane::Dispatchers, ..) => format!("running {}", m.name),
            (_, "exception" | "interrupt", Some(v)) => format!("{} vector {v}", m.name),
            _ => m.name.clone(),
        };
        let s = sums.entry(key).or_default();
        s.count += 1;
        s.total += d;
        s.max = s.max.max(d);
    }
    let mut rows: Vec<(String, Sum)> = sums.into_iter().collect();
    rows.sort_by(|a, b| b.1.total.total_cmp(&a.1.total).then(a.0.cmp(&b.0)));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<24} {:>10} {:>14} {:>12} {:>12}",
        "interval", "count", "total (us)", "mean (us)", "max (us)"
    );
    for (key, s) in rows {
        let _ = writeln!(
            out,
            "{:<24} {:>10} {:>14.3} {:>12.3} {:>12.3}",
            key,
            s.count,
            s.total / 1000.0,
            s.total / 1000.0 / s.count as f64,
            s.max / 1000.0
        );
    }
    out
}

fn processors(trace: &Trace) -> Vec<u32> {
    let mut cpus: Vec<u32> = trace.blocks.iter().map(|b| b.cpu).collect();
    cpus.sort_unstable();
    cpus.dedup();
    cpus
}

fn round_us(ns: f64) -> f64 {
    ns.round() / 1000.0
}

/// A slice's duration for the JSON export, in microseconds of whole
/// nanoseconds: from the rounded start to the rounded end, so that a slice
/// that ends where the next begins (a dispatcher's run and the next one's)
/// does not overlap it once rounded.
fn slice_dur_us(start_ns: f64, dur_ns: f64) -> f64 {
    ((start_ns + dur_ns).round() - start_ns.round()) / 1000.0
}

/// Perfetto thread id of processor `n`'s dispatcher track: this plus `n`.
pub const DISPATCHER_TID: u32 = 1000;

/// Chrome trace-event JSON (opens in ui.perfetto.dev): one track per
/// processor, `enter`/`exit` pairs as slices, other events as instants;
/// under each processor that switched dispatchers, a track
/// `cpu N dispatchers` with a slice per dispatcher run.
pub fn perfetto(trace: &Trace) -> String {
    let mut events = vec![
        json!({"ph": "M", "name": "process_name", "pid": 1, "tid": 0,
        "args": {"name": "K42-rs"}}),
    ];
    let marks = marks(trace);
    let with_dispatchers: std::collections::BTreeSet<u32> = marks
        .iter()
        .filter(|m| m.lane == Lane::Dispatchers)
        .map(|m| m.cpu)
        .collect();
    for cpu in processors(trace) {
        events.push(
            json!({"ph": "M", "name": "thread_name", "pid": 1, "tid": cpu,
            "args": {"name": format!("cpu {cpu}")}}),
        );
        events.push(
            json!({"ph": "M", "name": "thread_sort_index", "pid": 1, "tid": cpu,
            "args": {"sort_index": 2 * cpu}}),
        );
        if with_dispatchers.contains(&cpu) {
            let tid = DISPATCHER_TID + cpu;
            events.push(
                json!({"ph": "M", "name": "thread_name", "pid": 1, "tid": tid,
                "args": {"name": format!("cpu {cpu} dispatchers")}}),
            );
            events.push(
                json!({"ph": "M", "name": "thread_sort_index", "pid": 1, "tid": tid,
                "args": {"sort_index": 2 * cpu + 1}}),
            );
        }
    }
    for m in marks {
        let tid = match m.lane {
            Lane::Events => m.cpu,
            Lane::Dispatchers => DISPATCHER_TID + m.cpu,
        };
        let mut args = serde_json::Map::new();
        args.insert("text".into(), Json::from(m.text.as_str()));
        for (k, v) in &m.args {
            args.insert(k.clone(), v.clone());
        }
        let mut e = json!({"name": m.name, "cat": m.class, "ts": round_us(m.start_ns),
            "pid": 1, "tid": tid, "args": args});
        let obj = e.as_object_mut().expect("a json object");
        match m.dur_ns {
            Some(d) => {
                obj.insert("ph".into(), Json::from("X"));
                obj.insert("dur".into(), Json::from(slice_dur_us(m.start_ns, d)));
            }
            None => {
                obj.insert("ph".into(), Json::from("i"));
                obj.insert("s".into(), Json::from("t"));
            }
        }
        events.push(e);
    }
    let doc = json!({"displayTimeUnit": "ns", "traceEvents": events});
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touching_slices_still_touch_after_rounding() {
        // Boundaries with fractions that round up: rounding start and
        // duration separately would end each slice 1 ns into the next.
        let bounds = [10.6, 21.2, 31.8, 42.4, 53.0];
        for w in bounds.windows(3) {
            let (a, b, c) = (w[0], w[1], w[2]);
            let end_a = round_us(a) + slice_dur_us(a, b - a);
            let start_b = round_us(b);
            assert!((end_a - start_b).abs() < 1e-9, "{end_a} vs {start_b}");
            assert!(slice_dur_us(b, c - b) >= 0.0);
        }
        // The naive way does overlap here, so the test can fail.
        assert!(round_us(10.6) + round_us(21.2 - 10.6) > round_us(21.2));
    }
}
