//! Reading trace files: records, blocks, events, print formats.
//!
//! The reader never gives up on a file: a bad header, a truncated or
//! corrupt record, or a malformed event is reported as a [`DecodeError`]
//! naming its byte offset, and reading goes on with the next record (found
//! by its magic) or the next block.
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::field::FieldKind;
use crate::header::{control, Class, Header, Layer};
use crate::stream::{
    Fnv, BLOCK_PREFIX_BYTES, FILE_MAGIC, HEADER_BYTES, KIND_BLOCK, KIND_METADATA, RECORD_BYTES,
    RECORD_MAGIC, VERSION,
};

/// A problem in a trace file, at a byte offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// Byte offset in the file.
    pub offset: u64,
    /// What is wrong there.
    pub message: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "at byte offset {} ({:#x}): {}",
            self.offset, self.offset, self.message
        )
    }
}

/// The file header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct FileHeader {
    /// Format version.
    pub version: u16,
    /// Flags (`stream::FLAG_WRAP`).
    pub flags: u32,
    /// Clock ticks per second; 0 if unknown (ticks are then shown as ns).
    pub ticks_per_second: u64,
    /// Processors.
    pub cpus: u32,
    /// Words per block.
    pub block_words: u32,
}

/// An event type, as read from the metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventInfo {
    /// Major class.
    pub class: Class,
    /// Layer.
    pub layer: Layer,
    /// Minor id.
    pub minor: u16,
    /// Class name.
    pub class_name: String,
    /// Event name.
    pub name: String,
    /// Print format.
    pub format: String,
    /// Fields: name and kind.
    pub fields: Vec<(String, FieldKind)>,
}

/// A decoded field value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// Any unsigned integer.
    U(u64),
    /// Any signed integer.
    I(i64),
    /// A boolean.
    Bool(bool),
    /// A string.
    Str(String),
}

impl Value {
    /// The value as an unsigned number, if it is a number.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::U(v) => Some(*v),
            Value::I(v) => Some(*v as u64),
            Value::Bool(b) => Some(*b as u64),
            Value::Str(_) => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::U(v) => write!(f, "{v}"),
            Value::I(v) => write!(f, "{v}"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::Str(s) => f.write_str(s),
        }
    }
}

/// One event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Processor that logged it.
    pub cpu: u32,
    /// Sequence number of its block.
    pub seq: u64,
    /// Full timestamp in clock ticks.
    pub ts: u64,
    /// Layer.
    pub layer: Layer,
    /// Major class.
    pub class: Class,
    /// Minor id.
    pub minor: u16,
    /// Byte offset of its header word in the file.
    pub offset: u64,
    /// Index into [`Trace::meta`], if the event type is declared there.
    pub info: Option<usize>,
    /// Field values (decoded per the metadata), or the raw payload words
    /// as `Value::U` for an undeclared event.
    pub values: Vec<Value>,
}

/// One block record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockInfo {
    /// Processor.
    pub cpu: u32,
    /// Sequence number.
    pub seq: u64,
    /// Byte offset of its record in the file.
    pub offset: u64,
    /// Events dropped on this processor before the block was opened
    /// (cumulative, from the block-start event).
    pub lost_events: u64,
}

/// A whole decoded trace.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    /// The file header (zeroes if it was unreadable).
    pub header: FileHeader,
    /// Declared event types.
    pub meta: Vec<EventInfo>,
    /// Events, in file order (per processor: time order).
    pub events: Vec<Event>,
    /// Block records, in file order.
    pub blocks: Vec<BlockInfo>,
    /// Everything that was wrong, in file order.
    pub errors: Vec<DecodeError>,
}

struct Cursor<'b> {
    bytes: &'b [u8],
    pos: usize,
}

impl<'b> Cursor<'b> {
    fn take(&mut self, n: usize) -> Option<&'b [u8]> {
        let s = self.bytes.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn str(&mut self) -> Option<String> {
        let n = self.u16()? as usize;
        Some(String::from_utf8_lossy(self.take(n)?).into_owned())
    }
}

fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn le_u64(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[..8]);
    u64::from_le_bytes(w)
}

/// Parses a metadata payload.
pub fn parse_metadata(payload: &[u8]) -> Result<Vec<EventInfo>, String> {
    let mut c = Cursor {
        bytes: payload,
        pos: 0,
    };
    let short = |what: &str, at: usize| format!("metadata ends inside {what} (payload byte {at})");
    let count = c.u32().ok_or_else(|| short("the event count", 0))?;
    let mut out = Vec::new();
    for _ in 0..count {
        let at = c.pos;
        let (Some(class), Some(layer), Some(minor)) = (c.u8(), c.u8(), c.u16()) else {
            return Err(short("an event", at));
        };
        let (Some(class_name), Some(name), Some(format), Some(n)) =
            (c.str(), c.str(), c.str(), c.u8())
        else {
            return Err(short("an event", at));
        };
        let mut fields = Vec::new();
        for _ in 0..n {
            let at = c.pos;
            let (Some(kind), Some(fname)) = (c.u8(), c.str()) else {
                return Err(short("a field", at));
            };
            let kind = FieldKind::from_code(kind)
                .ok_or_else(|| format!("unknown field kind {kind} (payload byte {at})"))?;
            fields.push((fname, kind));
        }
        out.push(EventInfo {
            class: Class(class),
            layer: Layer(layer),
            minor,
            class_name,
            name,
            format,
            fields,
        });
    }
    if c.pos != payload.len() {
        return Err(format!(
            "{} stray bytes after the metadata",
            payload.len() - c.pos
        ));
    }
    Ok(out)
}

impl Trace {
    /// Decodes a whole file. Never fails: see [`Trace::errors`].
    pub fn parse(bytes: &[u8]) -> Trace {
        let mut t = Trace::default();
        let mut index: BTreeMap<(u8, u16), usize> = BTreeMap::new();
        let mut pos = t.parse_header(bytes);
        while pos < bytes.len() {
            let rest = &bytes[pos..];
            if rest.len() < RECORD_BYTES || rest[..4] != RECORD_MAGIC {
                if rest.len() < RECORD_BYTES && rest.starts_with(&RECORD_MAGIC[..rest.len().min(4)])
                {
                    t.error(
                        pos,
                        format!(
                            "truncated record header: {} of {} bytes",
                            rest.len(),
                            RECORD_BYTES
                        ),
                    );
                    break;
                }
                let next = find_magic(bytes, pos + 1);
                t.error(
                    pos,
                    format!(
                        "no record here; skipping {} bytes to the next record",
                        next - pos
                    ),
                );
                pos = next;
                continue;
            }
            let kind = u16::from_le_bytes([rest[4], rest[5]]);
            let len = le_u32(&rest[8..12]) as usize;
            let sum = le_u32(&rest[12..16]);
            let Some(payload) = rest.get(RECORD_BYTES..RECORD_BYTES + len) else {
                t.error(
                    pos,
                    format!(
                        "truncated record: payload of {len} bytes, only {} left in the file",
                        rest.len() - RECORD_BYTES
                    ),
                );
                // A later record may still be complete (a lost byte run).
                pos = find_magic(bytes, pos + 1);
                continue;
            };
            let mut fnv = Fnv::new();
            fnv.update(payload);
            if fnv.finish() != sum {
                t.error(
                    pos,
                    format!("corrupt record (kind {kind}, {len} bytes): checksum mismatch"),
                );
                pos = find_magic(bytes, pos + 1);
                continue;
            }
            let payload_at = pos + RECORD_BYTES;
            match kind {
                KIND_METADATA => match parse_metadata(payload) {
                    Ok(infos) => {
                        for info in infos {
                            let key = (info.class.0, info.minor);
                            if let Some(&i) = index.get(&key) {
                                t.meta[i] = info;
                            } else {
                                index.insert(key, t.meta.len());
                                t.meta.push(info);
                            }
                        }
                    }
                    Err(m) => t.error(payload_at, m),
                },
                KIND_BLOCK => t.parse_block(payload, payload_at, pos, &index),
                other => t.error(pos, format!("unknown record kind {other}; skipped")),
            }
            pos += RECORD_BYTES + len;
        }
        t
    }

    fn error(&mut self, offset: usize, message: String) {
        self.errors.push(DecodeError {
            offset: offset as u64,
            message,
        });
    }

    /// Reads the file header; returns where records start.
    fn parse_header(&mut self, bytes: &[u8]) -> usize {
        if bytes.len() < HEADER_BYTES || bytes[..8] != FILE_MAGIC {
            let why = if bytes.len() < HEADER_BYTES
                && FILE_MAGIC.starts_with(&bytes[..bytes.len().min(8)])
            {
                format!(
                    "truncated file header: {} of {HEADER_BYTES} bytes",
                    bytes.len()
                )
            } else {
                "not a K42 trace: the file does not start with \"K42TRACE\"".to_string()
            };
            self.error(0, why);
            return find_magic(bytes, 0);
        }
        let version = u16::from_le_bytes([bytes[8], bytes[9]]);
        let header_len = u16::from_le_bytes([bytes[10], bytes[11]]) as usize;
        if version != VERSION {
            self.error(
                8,
                format!("format version {version}, this reader knows {VERSION}; trying anyway"),
            );
        }
        self.header = FileHeader {
            version,
            flags: le_u32(&bytes[12..16]),
            ticks_per_second: le_u64(&bytes[16..24]),
            cpus: le_u32(&bytes[24..28]),
            block_words: le_u32(&bytes[28..32]),
        };
        if header_len < HEADER_BYTES || header_len > bytes.len() {
            self.error(10, format!("bad header length {header_len}"));
            return HEADER_BYTES;
        }
        header_len
    }

    fn parse_block(
        &mut self,
        payload: &[u8],
        at: usize,
        record_at: usize,
        index: &BTreeMap<(u8, u16), usize>,
    ) {
        if payload.len() < BLOCK_PREFIX_BYTES {
            self.error(
                at,
                "block record shorter than its 16-byte prefix".to_string(),
            );
            return;
        }
        let cpu = le_u32(&payload[0..4]);
        let nwords = le_u32(&payload[4..8]) as usize;
        let seq = le_u64(&payload[8..16]);
        let body = &payload[BLOCK_PREFIX_BYTES..];
        if body.len() != nwords * 8 {
            self.error(
                at,
                format!("block says {nwords} words but carries {} bytes", body.len()),
            );
            return;
        }
        let words: Vec<u64> = body.chunks_exact(8).map(le_u64).collect();
        let word_at = |i: usize| at + BLOCK_PREFIX_BYTES + i * 8;
        // The block start: full timestamp, sequence, processor, lost events.
        let first = words.first().map(|&w| Header::decode(w));
        let Some(h) = first.filter(|h| {
            h.class == Class::CONTROL
                && h.minor == control::BLOCK_START
                && h.len as usize == control::BLOCK_START_WORDS
                && words.len() >= control::BLOCK_START_WORDS
        }) else {
            self.error(
                word_at(0),
                format!("block {seq} of cpu {cpu} does not begin with a block-start event"),
            );
            return;
        };
        let _ = h;
        let mut now = words[1];
        if words[2] != seq || words[3] != cpu as u64 {
            self.error(
                word_at(0),
                format!(
                    "block record says cpu {cpu} block {seq}, its block start says cpu {} block {}",
                    words[3], words[2]
                ),
            );
        }
        self.blocks.push(BlockInfo {
            cpu,
            seq,
            offset: record_at as u64,
            lost_events: words[4],
        });
        let mut i = control::BLOCK_START_WORDS;
        while i < words.len() {
            let h = Header::decode(words[i]);
            if h.is_filler() {
                break;
            }
            let len = h.len as usize;
            if len == 0 || i + len > words.len() {
                self.error(
                    word_at(i),
                    format!("event of {len} words does not fit block {seq} of cpu {cpu}; rest of block skipped"),
                );
                break;
            }
            // Follow the clock: the low 32 bits move by a signed step.
            let step = h.ts_low.wrapping_sub(now as u32) as i32 as i64;
            now = now.wrapping_add(step as u64);
            let payload = &words[i + 1..i + len];
            if h.class == Class::CONTROL {
                match h.minor {
                    control::HEARTBEAT if len == control::HEARTBEAT_WORDS => now = payload[0],
                    control::BLOCK_START => {}
                    _ => {}
                }
                i += len;
                continue;
            }
            let info = index.get(&(h.class.0, h.minor)).copied();
            let values = match info {
                Some(m) => match decode_fields(&self.meta[m].fields, payload) {
                    Ok(v) => v,
                    Err(e) => {
                        self.error(
                            word_at(i),
                            format!("{}.{}: {e}", self.meta[m].class_name, self.meta[m].name),
                        );
                        i += len;
                        continue;
                    }
                },
                None => payload.iter().map(|&w| Value::U(w)).collect(),
            };
            self.events.push(Event {
                cpu,
                seq,
                ts: now,
                layer: h.layer,
                class: h.class,
                minor: h.minor,
                offset: word_at(i) as u64,
                info,
                values,
            });
            i += len;
        }
    }

    /// The declared type of `e`.
    pub fn info(&self, e: &Event) -> Option<&EventInfo> {
        e.info.map(|i| &self.meta[i])
    }

    /// `class.event`, or `class<N>.<minor>` for an undeclared event.
    pub fn name(&self, e: &Event) -> String {
        match self.info(e) {
            Some(i) => format!("{}.{}", i.class_name, i.name),
            None => format!("class{}.{}", e.class.0, e.minor),
        }
    }

    /// The event printed through its format.
    pub fn text(&self, e: &Event) -> String {
        let Some(info) = self.info(e) else {
            let words: Vec<String> = e
                .values
                .iter()
                .map(|v| format!("{:#x}", v.as_u64().unwrap_or(0)))
                .collect();
            return format!("[{}]", words.join(" "));
        };
        format_event(info, &e.values)
    }

    /// Events of all processors merged by time (ties: processor, then
    /// file order).
    pub fn merged(&self) -> Vec<&Event> {
        let mut v: Vec<&Event> = self.events.iter().collect();
        v.sort_by_key(|e| (e.ts, e.cpu));
        v
    }

    /// Converts ticks to nanoseconds (ticks are nanoseconds when the clock
    /// rate is unknown).
    pub fn ticks_to_ns(&self, ticks: u64) -> f64 {
        match self.header.ticks_per_second {
            0 => ticks as f64,
            tps => ticks as f64 * 1e9 / tps as f64,
        }
    }

    /// Per processor: blocks present and blocks missing from the sequence.
    pub fn block_counts(&self) -> BTreeMap<u32, (u64, u64)> {
        let mut seqs: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
        for b in &self.blocks {
            seqs.entry(b.cpu).or_default().push(b.seq);
        }
        seqs.into_iter()
            .map(|(cpu, mut s)| {
                s.sort_unstable();
                s.dedup();
                let last = *s.last().unwrap_or(&0);
                let present = s.len() as u64;
                (cpu, (present, last + 1 - present))
            })
            .collect()
    }

    /// Per processor: events dropped because the buffer was full (the
    /// largest count any block start carried).
    pub fn lost_events(&self) -> BTreeMap<u32, u64> {
        let mut m = BTreeMap::new();
        for b in &self.blocks {
            let e = m.entry(b.cpu).or_insert(0);
            *e = (*e).max(b.lost_events);
        }
        m
    }
}

fn find_magic(bytes: &[u8], from: usize) -> usize {
    (from..bytes.len().saturating_sub(3))
        .find(|&i| bytes[i..i + 4] == RECORD_MAGIC)
        .unwrap_or(bytes.len())
}

/// Decodes field values from payload words.
pub fn decode_fields(
    fields: &[(String, FieldKind)],
    payload: &[u64],
) -> Result<Vec<Value>, String> {
    let mut out = Vec::with_capacity(fields.len());
    let mut i = 0;
    for (name, kind) in fields {
        let Some(&w) = payload.get(i) else {
            return Err(format!("payload ends before field `{name}`"));
        };
        i += 1;
        out.push(match kind {
            FieldKind::U8 | FieldKind::U16 | FieldKind::U32 | FieldKind::U64 => Value::U(w),
            FieldKind::I8 | FieldKind::I16 | FieldKind::I32 | FieldKind::I64 => Value::I(w as i64),
            FieldKind::Bool => Value::Bool(w != 0),
            FieldKind::Str => {
                let n = w as usize;
                let nwords = n.div_ceil(8);
                let Some(ws) = i.checked_add(nwords).and_then(|end| payload.get(i..end)) else {
                    return Err(format!("string `{name}` of {w} bytes runs past the event"));
                };
                i += nwords;
                let bytes: Vec<u8> = ws.iter().flat_map(|w| w.to_le_bytes()).take(n).collect();
                Value::Str(String::from_utf8_lossy(&bytes).into_owned())
            }
        });
    }
    if i != payload.len() {
        return Err(format!("{} stray payload words", payload.len() - i));
    }
    Ok(out)
}

/// A dispatcher id (`DispatcherId::to_raw()`) as `d<index>.<generation>`,
/// or `idle` for [`crate::events::IDLE`]: the `:d` print format.
pub fn dispatcher_name(raw: u64) -> String {
    if raw == crate::events::IDLE {
        return "idle".to_string();
    }
    format!("d{}.{}", raw as u32, raw >> 32)
}

/// Expands `{field}`, `{field:x}` (hex) and `{field:d}` (a dispatcher id,
/// see [`dispatcher_name`]) in an event's print format.
pub fn format_event(info: &EventInfo, values: &[Value]) -> String {
    let mut out = String::new();
    let mut rest = info.format.as_str();
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let tail = &rest[open + 1..];
        let Some(close) = tail.find('}') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let spec = &tail[..close];
        let (name, style) = match spec.split_once(':') {
            Some((n, f)) => (n, f),
            None => (spec, ""),
        };
        match info
            .fields
            .iter()
            .position(|(f, _)| f == name)
            .and_then(|p| values.get(p))
        {
            Some(v) if style == "x" && v.as_u64().is_some() => {
                out.push_str(&format!("{:#x}", v.as_u64().unwrap_or(0)))
            }
            Some(v) if style == "d" && v.as_u64().is_some() => {
                out.push_str(&dispatcher_name(v.as_u64().unwrap_or(0)))
            }
            Some(v) => out.push_str(&v.to_string()),
            None => {
                out.push('{');
                out.push_str(spec);
                out.push('}');
            }
        }
        rest = &tail[close + 1..];
    }
    out.push_str(rest);
    out
}
