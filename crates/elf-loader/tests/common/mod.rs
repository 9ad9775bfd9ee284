//! Shared test helpers: a sparse user address space implementing `Memory`,
//! and a reader for the initial stack.
#![allow(dead_code)]

use std::collections::BTreeMap;

use elf_loader::{Memory, MemoryError, Prot, Segment};

/// Pages of a toy address space, each with its protection.
#[derive(Default)]
pub struct Space {
    pub pages: BTreeMap<u64, (Box<[u8; 4096]>, Prot)>,
    pub protected: bool,
}

impl Space {
    pub fn read(&self, vaddr: u64, len: usize) -> Option<Vec<u8>> {
        (0..len as u64)
            .map(|i| {
                let a = vaddr + i;
                self.pages
                    .get(&(a & !4095))
                    .map(|(p, _)| p[(a & 4095) as usize])
            })
            .collect()
    }
    pub fn u64_at(&self, vaddr: u64) -> u64 {
        u64::from_le_bytes(self.read(vaddr, 8).unwrap().try_into().unwrap())
    }
}

impl Memory for Space {
    fn map(&mut self, s: &Segment) -> Result<(), MemoryError> {
        let mut page = s.page_start();
        while page < s.page_end() {
            if self
                .pages
                .insert(page, (Box::new([0; 4096]), Prot::default()))
                .is_some()
            {
                return Err(MemoryError::BadAddress(page)); // mapped twice
            }
            page += 4096;
        }
        Ok(())
    }
    fn write(&mut self, vaddr: u64, bytes: &[u8]) -> Result<(), MemoryError> {
        assert!(!self.protected, "write after protect");
        for (i, b) in bytes.iter().enumerate() {
            let a = vaddr + i as u64;
            let (page, _) = self
                .pages
                .get_mut(&(a & !4095))
                .ok_or(MemoryError::BadAddress(a))?;
            page[(a & 4095) as usize] = *b;
        }
        Ok(())
    }
    fn protect(&mut self, s: &Segment) -> Result<(), MemoryError> {
        self.protected = true;
        let mut page = s.page_start();
        while page < s.page_end() {
            self.pages
                .get_mut(&page)
                .ok_or(MemoryError::BadAddress(page))?
                .1 = s.prot;
            page += 4096;
        }
        Ok(())
    }
}

/// The initial stack, decoded from a buffer holding `top - buf.len() .. top`.
pub struct Decoded {
    pub argv: Vec<Vec<u8>>,
    pub envp: Vec<Vec<u8>>,
    pub auxv: Vec<(u64, u64)>,
}

pub fn cstr_at(buf: &[u8], bottom: u64, addr: u64) -> Vec<u8> {
    let at = (addr - bottom) as usize;
    let end = buf[at..].iter().position(|&b| b == 0).unwrap();
    buf[at..at + end].to_vec()
}

pub fn decode_stack(buf: &[u8], top: u64, rsp: u64) -> Decoded {
    let bottom = top - buf.len() as u64;
    let w = |a: u64| u64::from_le_bytes(buf[(a - bottom) as usize..][..8].try_into().unwrap());
    let argc = w(rsp);
    let mut at = rsp + 8;
    let mut argv = Vec::new();
    for _ in 0..argc {
        argv.push(cstr_at(buf, bottom, w(at)));
        at += 8;
    }
    assert_eq!(w(at), 0, "argv not NULL-terminated");
    at += 8;
    let mut envp = Vec::new();
    while w(at) != 0 {
        envp.push(cstr_at(buf, bottom, w(at)));
        at += 8;
    }
    at += 8;
    let mut auxv = Vec::new();
    loop {
        let (k, v) = (w(at), w(at + 8));
        auxv.push((k, v));
        at += 16;
        if k == 0 {
            break;
        }
    }
    Decoded { argv, envp, auxv }
}
