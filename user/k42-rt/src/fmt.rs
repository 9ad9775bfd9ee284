//! Formatting without a heap: a writer that fills a buffer and hands it to
//! a sink whenever it is full (the console call takes at most a page).

/// A `core::fmt::Write` that buffers `N` bytes and flushes them to `sink`.
pub struct Chunked<F: FnMut(&[u8]), const N: usize> {
    buf: [u8; N],
    len: usize,
    sink: F,
}

impl<F: FnMut(&[u8]), const N: usize> Chunked<F, N> {
    /// An empty buffer in front of `sink`.
    pub fn new(sink: F) -> Self {
        Chunked {
            buf: [0; N],
            len: 0,
            sink,
        }
    }

    /// Hands what is buffered to the sink.
    pub fn flush(&mut self) {
        if self.len > 0 {
            (self.sink)(&self.buf[..self.len]);
            self.len = 0;
        }
    }
}

impl<F: FnMut(&[u8]), const N: usize> core::fmt::Write for Chunked<F, N> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for &b in s.as_bytes() {
            if self.len == N {
                self.flush();
            }
            self.buf[self.len] = b;
            self.len += 1;
        }
        Ok(())
    }
}

impl<F: FnMut(&[u8]), const N: usize> Drop for Chunked<F, N> {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Formats `args` into `buf`, truncating; returns the bytes written.
pub fn format_into<'b>(buf: &'b mut [u8], args: core::fmt::Arguments<'_>) -> &'b [u8] {
    struct Into<'a>(&'a mut [u8], usize);
    impl core::fmt::Write for Into<'_> {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let room = self.0.len() - self.1;
            let n = s.len().min(room);
            self.0[self.1..self.1 + n].copy_from_slice(&s.as_bytes()[..n]);
            self.1 += n;
            Ok(())
        }
    }
    let mut w = Into(buf, 0);
    let _ = core::fmt::Write::write_fmt(&mut w, args);
    let n = w.1;
    &buf[..n]
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;

    #[test]
    fn long_output_is_flushed_in_chunks_not_truncated() {
        let mut out = std::vec::Vec::new();
        {
            let mut w = Chunked::<_, 8>::new(|b: &[u8]| out.push(b.to_vec()));
            let s = "0123456789abcdefXYZ";
            write!(w, "{s}").unwrap();
        }
        assert_eq!(out.len(), 3);
        assert_eq!(out.concat(), b"0123456789abcdefXYZ");
    }

    #[test]
    fn format_into_truncates() {
        let mut b = [0u8; 4];
        assert_eq!(format_into(&mut b, format_args!("{}", 123456)), b"1234");
    }
}
