//! Typed event fields and how they are laid out in words.
//!
//! Every scalar takes one 64-bit word (sign-extended for signed types, 0/1
//! for `bool`). A string takes a length word followed by its UTF-8 bytes,
//! packed little-endian eight to a word and zero-padded; strings longer than
//! [`MAX_STR_BYTES`] are cut there (at a byte, so a decoder may see a broken
//! last character and must decode leniently).
use crate::log::EventWriter;

/// Longest string stored in an event, in bytes.
pub const MAX_STR_BYTES: usize = 256;
/// Most fields an event may declare (so that the longest event, all
/// strings, fits the 255-word length field).
pub const MAX_FIELDS: usize = 7;

/// The type of an event field, as recorded in the trace metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FieldKind {
    /// `u8`
    U8 = 1,
    /// `u16`
    U16 = 2,
    /// `u32`
    U32 = 3,
    /// `u64` or `usize`
    U64 = 4,
    /// `i8`
    I8 = 5,
    /// `i16`
    I16 = 6,
    /// `i32`
    I32 = 7,
    /// `i64` or `isize`
    I64 = 8,
    /// `bool`
    Bool = 9,
    /// `&str`
    Str = 10,
}

impl FieldKind {
    /// The kind with code `code`, if any.
    pub fn from_code(code: u8) -> Option<FieldKind> {
        use FieldKind::*;
        Some(match code {
            1 => U8,
            2 => U16,
            3 => U32,
            4 => U64,
            5 => I8,
            6 => I16,
            7 => I32,
            8 => I64,
            9 => Bool,
            10 => Str,
            _ => return None,
        })
    }

    /// The Rust type name.
    pub fn name(self) -> &'static str {
        use FieldKind::*;
        match self {
            U8 => "u8",
            U16 => "u16",
            U32 => "u32",
            U64 => "u64",
            I8 => "i8",
            I16 => "i16",
            I32 => "i32",
            I64 => "i64",
            Bool => "bool",
            Str => "str",
        }
    }
}

/// A value that can be an event field.
pub trait Field {
    /// The kind recorded in the metadata.
    const KIND: FieldKind;
    /// Words this value takes in the event.
    fn words(&self) -> usize;
    /// Writes the value.
    fn write(&self, w: &mut EventWriter<'_>);
}

macro_rules! scalar_field {
    ($($ty:ty => $kind:ident as $wide:ty),* $(,)?) => {$(
        impl Field for $ty {
            const KIND: FieldKind = FieldKind::$kind;
            #[inline(always)]
            fn words(&self) -> usize {
                1
            }
            #[inline(always)]
            fn write(&self, w: &mut EventWriter<'_>) {
                w.put(*self as $wide as u64);
            }
        }
    )*};
}

scalar_field! {
    u8 => U8 as u64,
    u16 => U16 as u64,
    u32 => U32 as u64,
    u64 => U64 as u64,
    usize => U64 as u64,
    i8 => I8 as i64,
    i16 => I16 as i64,
    i32 => I32 as i64,
    i64 => I64 as i64,
    isize => I64 as i64,
}

impl Field for bool {
    const KIND: FieldKind = FieldKind::Bool;
    #[inline(always)]
    fn words(&self) -> usize {
        1
    }
    #[inline(always)]
    fn write(&self, w: &mut EventWriter<'_>) {
        w.put(*self as u64);
    }
}

impl Field for &str {
    const KIND: FieldKind = FieldKind::Str;
    #[inline]
    fn words(&self) -> usize {
        1 + self.len().min(MAX_STR_BYTES).div_ceil(8)
    }
    fn write(&self, w: &mut EventWriter<'_>) {
        let bytes = &self.as_bytes()[..self.len().min(MAX_STR_BYTES)];
        w.put(bytes.len() as u64);
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            w.put(u64::from_le_bytes(word));
        }
    }
}
