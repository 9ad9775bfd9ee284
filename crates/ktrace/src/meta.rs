//! Event metadata: what the [`events!`](macro@crate::events) macro records about
//! each declared event, and its binary form in a trace file.
//!
//! # Binary form (the payload of a metadata record)
//!
//! All integers little-endian; `str` is a `u16` byte length and UTF-8 bytes.
//!
//! ```text
//! u32 event count
//! per event:
//!   u8 class   u8 layer   u16 minor
//!   str class name   str event name   str print format
//!   u8 field count
//!   per field: u8 kind (FieldKind code)   str field name
//! ```
use crate::field::FieldKind;
use crate::header::{Class, Layer};

/// One declared field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldDesc {
    /// Field name, as used in the print format.
    pub name: &'static str,
    /// Field type.
    pub kind: FieldKind,
}

/// One declared event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventDesc {
    /// Major class.
    pub class: Class,
    /// Class name (the module name in the declaration).
    pub class_name: &'static str,
    /// Layer that logs it.
    pub layer: Layer,
    /// Minor id within the class.
    pub minor: u16,
    /// Event name.
    pub name: &'static str,
    /// Fields, in order.
    pub fields: &'static [FieldDesc],
    /// Print format: text with `{field}` or `{field:x}` placeholders.
    pub format: &'static str,
}

/// Streams the binary form of `tables` to `out`, in pieces.
pub fn encode(tables: &[&[EventDesc]], out: &mut dyn FnMut(&[u8])) {
    let count: usize = tables.iter().map(|t| t.len()).sum();
    out(&(count as u32).to_le_bytes());
    let put_str = |out: &mut dyn FnMut(&[u8]), s: &str| {
        let bytes = &s.as_bytes()[..s.len().min(u16::MAX as usize)];
        out(&(bytes.len() as u16).to_le_bytes());
        out(bytes);
    };
    for e in tables.iter().flat_map(|t| t.iter()) {
        out(&[e.class.0, e.layer.0]);
        out(&e.minor.to_le_bytes());
        put_str(out, e.class_name);
        put_str(out, e.name);
        put_str(out, e.format);
        out(&[e.fields.len() as u8]);
        for f in e.fields {
            out(&[f.kind as u8]);
            put_str(out, f.name);
        }
    }
}

/// Length in bytes of the binary form of `tables`.
pub fn encoded_len(tables: &[&[EventDesc]]) -> usize {
    let mut n = 0;
    encode(tables, &mut |b| n += b.len());
    n
}

/// Does every `{name}` / `{name:spec}` placeholder in `format` name one of
/// `fields`, and is every `{` closed? A `const fn`, so [`events!`] rejects
/// a bad print format at compile time.
///
/// [`events!`]: macro@crate::events
pub const fn format_ok(format: &str, fields: &[&str]) -> bool {
    let f = format.as_bytes();
    let mut i = 0;
    while i < f.len() {
        if f[i] == b'{' {
            let start = i + 1;
            let mut end = start;
            while end < f.len() && f[end] != b'}' && f[end] != b':' {
                end += 1;
            }
            // Skip a `:spec`.
            let mut close = end;
            while close < f.len() && f[close] != b'}' {
                close += 1;
            }
            if close == f.len() {
                return false;
            }
            if !names_field(f, start, end, fields) {
                return false;
            }
            i = close;
        }
        i += 1;
    }
    true
}

const fn names_field(f: &[u8], start: usize, end: usize, fields: &[&str]) -> bool {
    let mut k = 0;
    while k < fields.len() {
        let name = fields[k].as_bytes();
        if name.len() == end - start {
            let mut j = 0;
            while j < name.len() && name[j] == f[start + j] {
                j += 1;
            }
            if j == name.len() {
                return true;
            }
        }
        k += 1;
    }
    false
}

/// Checks a set of tables: classes and minors in range, no event declared
/// twice, every format placeholder names a field. Returns the first problem.
pub fn validate(tables: &[&[EventDesc]]) -> Result<(), &'static str> {
    let all = || tables.iter().flat_map(|t| t.iter());
    for (i, e) in all().enumerate() {
        if e.class.0 >= 64 {
            return Err("class above 63");
        }
        if e.class == Class::CONTROL {
            return Err("class 0 is reserved for the log's own events");
        }
        if e.minor > crate::header::MAX_MINOR {
            return Err("minor id above 16383");
        }
        if all()
            .skip(i + 1)
            .any(|o| o.class == e.class && o.minor == e.minor)
        {
            return Err("two events with the same class and minor id");
        }
        let mut rest = e.format;
        while let Some(open) = rest.find('{') {
            let tail = &rest[open + 1..];
            let Some(close) = tail.find('}') else {
                return Err("unclosed `{` in a print format");
            };
            let name = tail[..close].split(':').next().unwrap_or("");
            if !e.fields.iter().any(|f| f.name == name) {
                return Err("print format names a field the event does not have");
            }
            rest = &tail[close + 1..];
        }
    }
    Ok(())
}
