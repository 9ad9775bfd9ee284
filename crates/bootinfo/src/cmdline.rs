//! The kernel command line: space-separated words, `key` or `key=value`.

/// A borrowed kernel command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cmdline<'a>(&'a str);

impl<'a> Cmdline<'a> {
    /// Wraps a command line.
    pub const fn new(s: &'a str) -> Self {
        Self(s)
    }

    /// The whole line.
    pub fn as_str(&self) -> &'a str {
        self.0
    }

    /// Iterates over `(key, value)`; a bare word has value `None`.
    pub fn words(&self) -> impl Iterator<Item = (&'a str, Option<&'a str>)> {
        self.0
            .split_ascii_whitespace()
            .map(|w| match w.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (w, None),
            })
    }

    /// The value of the last `key=value`, if any.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.words()
            .filter(|(k, _)| *k == key)
            .filter_map(|(_, v)| v)
            .last()
    }

    /// Whether `key` appears, bare or with a value.
    pub fn has(&self, key: &str) -> bool {
        self.words().any(|(k, _)| k == key)
    }

    /// The value of `key` parsed as a number (decimal or `0x` hex).
    pub fn get_u64(&self, key: &str) -> Option<u64> {
        let v = self.get(key)?;
        match v.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None => v.parse().ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_values_and_numbers() {
        let c = Cmdline::new("  ktest ktest.start=4 trace=0x3f trace=0x7 bad=x ");
        assert!(c.has("ktest"));
        assert!(c.has("bad"));
        assert!(!c.has("ktes"));
        assert_eq!(c.get("ktest"), None);
        assert_eq!(c.get_u64("ktest.start"), Some(4));
        assert_eq!(c.get_u64("trace"), Some(7), "last value wins");
        assert_eq!(c.get_u64("bad"), None);
    }
}
