//! Marshalling: the [`Marshal`] / [`Unmarshal`] traits and the register +
//! page cursors they write and read.

use crate::{Message, PpcError, PPC_PAGE_SIZE, PPC_REGS};

/// Writes words into the registers, then the page; bytes into the page.
pub struct Writer<'m> {
    msg: &'m mut Message,
    reg: usize,
    off: usize,
    page_allowed: bool,
}

impl<'m> Writer<'m> {
    pub(crate) fn new(msg: &'m mut Message, page_allowed: bool) -> Self {
        Writer {
            msg,
            reg: 0,
            off: 0,
            page_allowed,
        }
    }

    /// Appends one 64-bit word.
    pub fn put_word(&mut self, w: u64) -> Result<(), PpcError> {
        if self.reg < PPC_REGS {
            self.msg.regs[self.reg] = w;
            self.reg += 1;
            Ok(())
        } else {
            self.put_raw(&w.to_le_bytes())
        }
    }

    /// Appends a length word and the bytes.
    pub fn put_bytes(&mut self, b: &[u8]) -> Result<(), PpcError> {
        self.put_len(b.len())?;
        self.put_raw(b)
    }

    /// Appends a length word, refusing a length beyond the page.
    pub fn put_len(&mut self, len: usize) -> Result<(), PpcError> {
        if len > PPC_PAGE_SIZE {
            return Err(PpcError::Overflow);
        }
        self.put_word(len as u64)
    }

    fn put_raw(&mut self, b: &[u8]) -> Result<(), PpcError> {
        if !self.page_allowed {
            return Err(PpcError::Overflow);
        }
        let end = self.off.checked_add(b.len()).ok_or(PpcError::Overflow)?;
        let dst = self
            .msg
            .page
            .get_mut(self.off..end)
            .ok_or(PpcError::Overflow)?;
        dst.copy_from_slice(b);
        self.off = end;
        self.msg.page_len = self.msg.page_len.max(end);
        Ok(())
    }

    /// Bytes of the page used so far.
    pub fn page_used(&self) -> usize {
        self.off
    }
}

/// Reads what a [`Writer`] wrote, in the same order. Byte strings borrow the
/// message's page.
pub struct Reader<'m> {
    msg: &'m Message,
    reg: usize,
    off: usize,
}

impl<'m> Reader<'m> {
    pub(crate) fn new(msg: &'m Message) -> Self {
        Reader {
            msg,
            reg: 0,
            off: 0,
        }
    }

    /// Reads one 64-bit word.
    pub fn get_word(&mut self) -> Result<u64, PpcError> {
        if self.reg < PPC_REGS {
            let w = self.msg.regs[self.reg];
            self.reg += 1;
            Ok(w)
        } else {
            let b = self.get_raw(8)?;
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            Ok(u64::from_le_bytes(a))
        }
    }

    /// Reads a length word (at most a page).
    pub fn get_len(&mut self) -> Result<usize, PpcError> {
        let n = self.get_word()?;
        if n > PPC_PAGE_SIZE as u64 {
            return Err(PpcError::Malformed);
        }
        Ok(n as usize)
    }

    /// Reads a length word and that many bytes from the page.
    pub fn get_bytes(&mut self) -> Result<&'m [u8], PpcError> {
        let n = self.get_len()?;
        self.get_raw(n)
    }

    fn get_raw(&mut self, n: usize) -> Result<&'m [u8], PpcError> {
        let end = self.off.checked_add(n).ok_or(PpcError::Malformed)?;
        let b = self
            .msg
            .page
            .get(self.off..end)
            .ok_or(PpcError::Malformed)?;
        self.off = end;
        Ok(b)
    }
}

/// A type that can be sent across a PPC (written into a [`Message`]).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot cross a PPC boundary",
    label = "this type does not implement `ppc_idl::Marshal`",
    note = "PPC arguments must be integers, bool, arrays, tuples, Option/Result, &str, &[u8], or a `#[derive(ppc_idl::Marshal)]` struct"
)]
pub trait Marshal {
    /// Writes `self` into the message.
    fn marshal(&self, w: &mut Writer<'_>) -> Result<(), PpcError>;
}

/// A type that can be received from a PPC [`Message`]; `'m` is the message's
/// lifetime, so `&'m str` / `&'m [u8]` borrow the PPC page without copying.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot cross a PPC boundary",
    label = "this type does not implement `ppc_idl::Unmarshal`",
    note = "PPC arguments must be integers, bool, arrays, tuples, Option/Result, &str, &[u8], or a `#[derive(ppc_idl::Marshal)]` struct"
)]
pub trait Unmarshal<'m>: Sized {
    /// Reads a value from the message.
    fn unmarshal(r: &mut Reader<'m>) -> Result<Self, PpcError>;
}

macro_rules! ints {
    ($($t:ty),*) => {$(
        impl Marshal for $t {
            #[inline]
            fn marshal(&self, w: &mut Writer<'_>) -> Result<(), PpcError> {
                w.put_word(*self as i128 as u64)
            }
        }
        impl<'m> Unmarshal<'m> for $t {
            #[inline]
            fn unmarshal(r: &mut Reader<'m>) -> Result<Self, PpcError> {
                let w = r.get_word()?;
                // Sign-extended for signed types: round-trip through i64/u64.
                let v = if <$t>::MIN == 0 { w as i128 } else { w as i64 as i128 };
                <$t>::try_from(v).map_err(|_| PpcError::Malformed)
            }
        }
    )*};
}
ints!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

impl Marshal for bool {
    fn marshal(&self, w: &mut Writer<'_>) -> Result<(), PpcError> {
        w.put_word(*self as u64)
    }
}
impl<'m> Unmarshal<'m> for bool {
    fn unmarshal(r: &mut Reader<'m>) -> Result<Self, PpcError> {
        match r.get_word()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(PpcError::Malformed),
        }
    }
}

impl Marshal for () {
    fn marshal(&self, _w: &mut Writer<'_>) -> Result<(), PpcError> {
        Ok(())
    }
}
impl<'m> Unmarshal<'m> for () {
    fn unmarshal(_r: &mut Reader<'m>) -> Result<Self, PpcError> {
        Ok(())
    }
}

impl Marshal for crate::ProcessId {
    fn marshal(&self, w: &mut Writer<'_>) -> Result<(), PpcError> {
        self.0.marshal(w)
    }
}
impl<'m> Unmarshal<'m> for crate::ProcessId {
    fn unmarshal(r: &mut Reader<'m>) -> Result<Self, PpcError> {
        Ok(crate::ProcessId(u32::unmarshal(r)?))
    }
}

impl Marshal for crate::ObjectHandle {
    fn marshal(&self, w: &mut Writer<'_>) -> Result<(), PpcError> {
        (self.server, self.index, self.seq).marshal(w)
    }
}
impl<'m> Unmarshal<'m> for crate::ObjectHandle {
    fn unmarshal(r: &mut Reader<'m>) -> Result<Self, PpcError> {
        let (server, index, seq) = Unmarshal::unmarshal(r)?;
        Ok(crate::ObjectHandle { server, index, seq })
    }
}

impl Marshal for [u8] {
    fn marshal(&self, w: &mut Writer<'_>) -> Result<(), PpcError> {
        w.put_bytes(self)
    }
}
impl<'m> Unmarshal<'m> for &'m [u8] {
    fn unmarshal(r: &mut Reader<'m>) -> Result<Self, PpcError> {
        r.get_bytes()
    }
}

impl Marshal for str {
    fn marshal(&self, w: &mut Writer<'_>) -> Result<(), PpcError> {
        w.put_bytes(self.as_bytes())
    }
}
impl<'m> Unmarshal<'m> for &'m str {
    fn unmarshal(r: &mut Reader<'m>) -> Result<Self, PpcError> {
        core::str::from_utf8(r.get_bytes()?).map_err(|_| PpcError::Malformed)
    }
}

impl<T: Marshal + ?Sized> Marshal for &T {
    fn marshal(&self, w: &mut Writer<'_>) -> Result<(), PpcError> {
        (**self).marshal(w)
    }
}

/// Fixed-size arrays: element by element, one word each (use `&[u8]` for bulk bytes).
impl<T: Marshal, const N: usize> Marshal for [T; N] {
    fn marshal(&self, w: &mut Writer<'_>) -> Result<(), PpcError> {
        self.iter().try_for_each(|x| x.marshal(w))
    }
}
impl<'m, T: Unmarshal<'m> + Copy + Default, const N: usize> Unmarshal<'m> for [T; N] {
    fn unmarshal(r: &mut Reader<'m>) -> Result<Self, PpcError> {
        let mut a = [T::default(); N];
        for x in a.iter_mut() {
            *x = T::unmarshal(r)?;
        }
        Ok(a)
    }
}

impl<T: Marshal> Marshal for Option<T> {
    fn marshal(&self, w: &mut Writer<'_>) -> Result<(), PpcError> {
        match self {
            None => w.put_word(0),
            Some(v) => {
                w.put_word(1)?;
                v.marshal(w)
            }
        }
    }
}
impl<'m, T: Unmarshal<'m>> Unmarshal<'m> for Option<T> {
    fn unmarshal(r: &mut Reader<'m>) -> Result<Self, PpcError> {
        match r.get_word()? {
            0 => Ok(None),
            1 => Ok(Some(T::unmarshal(r)?)),
            _ => Err(PpcError::Malformed),
        }
    }
}

impl<T: Marshal, E: Marshal> Marshal for Result<T, E> {
    fn marshal(&self, w: &mut Writer<'_>) -> Result<(), PpcError> {
        match self {
            Ok(v) => {
                w.put_word(0)?;
                v.marshal(w)
            }
            Err(e) => {
                w.put_word(1)?;
                e.marshal(w)
            }
        }
    }
}
impl<'m, T: Unmarshal<'m>, E: Unmarshal<'m>> Unmarshal<'m> for Result<T, E> {
    fn unmarshal(r: &mut Reader<'m>) -> Result<Self, PpcError> {
        match r.get_word()? {
            0 => Ok(Ok(T::unmarshal(r)?)),
            1 => Ok(Err(E::unmarshal(r)?)),
            _ => Err(PpcError::Malformed),
        }
    }
}

macro_rules! tuples {
    ($(($($n:tt $t:ident),+)),*) => {$(
        impl<$($t: Marshal),+> Marshal for ($($t,)+) {
            fn marshal(&self, w: &mut Writer<'_>) -> Result<(), PpcError> {
                $(self.$n.marshal(w)?;)+
                Ok(())
            }
        }
        impl<'m, $($t: Unmarshal<'m>),+> Unmarshal<'m> for ($($t,)+) {
            fn unmarshal(r: &mut Reader<'m>) -> Result<Self, PpcError> {
                Ok(($($t::unmarshal(r)?,)+))
            }
        }
    )*};
}
tuples!((0 A), (0 A, 1 B), (0 A, 1 B, 2 C), (0 A, 1 B, 2 C, 3 D));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_spill_from_registers_into_the_page() {
        let mut m = Message::new();
        let mut w = m.writer();
        for i in 0..20u64 {
            w.put_word(i * 3).unwrap();
        }
        assert_eq!(w.page_used(), (20 - PPC_REGS) * 8);
        let mut r = m.reader();
        for i in 0..20u64 {
            assert_eq!(r.get_word(), Ok(i * 3));
        }
    }

    #[test]
    fn signed_values_round_trip_and_out_of_range_is_malformed() {
        let mut m = Message::new();
        let mut w = m.writer();
        (-5i8).marshal(&mut w).unwrap();
        i64::MIN.marshal(&mut w).unwrap();
        300u32.marshal(&mut w).unwrap();
        let mut r = m.reader();
        assert_eq!(i8::unmarshal(&mut r), Ok(-5));
        assert_eq!(i64::unmarshal(&mut r), Ok(i64::MIN));
        assert_eq!(u8::unmarshal(&mut r), Err(PpcError::Malformed));
    }

    #[test]
    fn bad_utf8_and_bad_bool_are_malformed() {
        let mut m = Message::new();
        let mut w = m.writer();
        [0xffu8, 0xfe][..].marshal(&mut w).unwrap();
        2u64.marshal(&mut w).unwrap();
        let mut r = m.reader();
        assert_eq!(<&str>::unmarshal(&mut r), Err(PpcError::Malformed));
        assert_eq!(bool::unmarshal(&mut r), Err(PpcError::Malformed));
    }

    #[test]
    fn a_lying_length_word_is_malformed_not_a_panic() {
        let mut m = Message::new();
        m.regs[0] = PPC_PAGE_SIZE as u64 + 1;
        m.regs[1] = PPC_PAGE_SIZE as u64;
        let mut r = m.reader();
        assert_eq!(r.get_bytes(), Err(PpcError::Malformed));
        let mut w = m.writer();
        w.put_word(0).unwrap();
        w.put_raw(&[1; 8]).unwrap();
        // Now a full page of bytes starting past offset 0 would not fit.
        assert_eq!(w.put_bytes(&[0; PPC_PAGE_SIZE]), Err(PpcError::Overflow));
    }

    #[test]
    fn async_writer_refuses_the_page() {
        let mut m = Message::new();
        let mut w = m.async_writer();
        for i in 0..PPC_REGS as u64 {
            w.put_word(i).unwrap();
        }
        assert_eq!(w.put_word(9), Err(PpcError::Overflow));
        let mut w = m.async_writer();
        assert_eq!(w.put_bytes(b"x"), Err(PpcError::Overflow));
    }
}
