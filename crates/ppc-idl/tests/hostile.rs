//! Bad input from either side: a lying server, async messages that do not
//! fit registers, and a property test of the whole marshalling path.

use ppc_idl::{
    interface, CallInfo, Dispatch, LoopbackTransport, Message, ObjectHandle, PpcError, ProcessId,
    Rights, PPC_PAGE_SIZE, PPC_REGS,
};
use proptest::prelude::*;

#[interface]
pub trait Store {
    fn put(
        &self,
        key: u64,
        signed: i32,
        flag: bool,
        name: &str,
        data: &[u8],
    ) -> (u64, usize, usize);
    fn get(&self, #[ppc(out)] buf: &mut [u8]) -> u32;
    #[ppc(async)]
    fn note(&self, words: [u64; 8]);
    #[ppc(async)]
    fn too_much(&self, words: [u64; 9]);
    #[ppc(async)]
    fn text(&self, s: &str);
}

struct Honest;
impl Store for Honest {
    fn put(
        &self,
        key: u64,
        signed: i32,
        flag: bool,
        name: &str,
        data: &[u8],
    ) -> (u64, usize, usize) {
        let k = key ^ (signed as i64 as u64) ^ flag as u64;
        (k, name.len(), data.iter().map(|&b| b as usize).sum())
    }
    fn get(&self, buf: &mut [u8]) -> u32 {
        buf.fill(1);
        buf.len() as u32
    }
    fn note(&self, _words: [u64; 8]) {}
    fn too_much(&self, _words: [u64; 9]) {}
    fn text(&self, _s: &str) {}
}

/// A server that replies with an out buffer of the wrong length, or garbage.
struct Liar {
    len: u64,
}
impl Dispatch for Liar {
    fn dispatch(&self, _: &CallInfo, _: &Message, reply: &mut Message) -> Result<(), PpcError> {
        reply.regs[0] = 3; // the u32 result
        reply.regs[1] = self.len; // the out buffer's length word
        Ok(())
    }
}

const H: ObjectHandle = ObjectHandle::new(ProcessId(1), 0, 0);
const GRANTS: [(ProcessId, Rights); 1] = [(ProcessId(2), Rights::ALL)];

#[test]
fn a_lying_reply_is_malformed_and_leaves_the_buffer_alone() {
    for len in [3, 5, PPC_PAGE_SIZE as u64 + 1, u64::MAX] {
        let liar = Liar { len };
        let t = LoopbackTransport::new(&liar, H, &GRANTS, ProcessId(2));
        let c = StoreClient::new(&t, H);
        let mut buf = [9u8; 4];
        assert_eq!(c.get(&mut buf), Err(PpcError::Malformed), "len {len}");
        assert_eq!(buf, [9; 4]);
    }
}

#[test]
fn async_messages_must_fit_the_registers() {
    let s = StoreServer(Honest);
    let t = LoopbackTransport::new(&s, H, &GRANTS, ProcessId(2));
    let c = StoreClient::new(&t, H);
    assert_eq!(PPC_REGS, 8);
    assert_eq!(c.note([1; 8]), Ok(()));
    assert_eq!(c.too_much([1; 9]), Err(PpcError::Overflow));
    assert_eq!(c.text("hi"), Err(PpcError::Overflow));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn put_round_trips(
        key in any::<u64>(),
        signed in any::<i32>(),
        flag in any::<bool>(),
        name in ".{0,40}",
        data in proptest::collection::vec(any::<u8>(), 3900..4300),
    ) {
        let s = StoreServer(Honest);
        let t = LoopbackTransport::new(&s, H, &GRANTS, ProcessId(2));
        let c = StoreClient::new(&t, H);
        let want = Honest.put(key, signed, flag, &name, &data);
        let got = c.put(key, signed, flag, &name, &data);
        // Five words fit the registers; the page holds both byte strings.
        if name.len() + data.len() <= PPC_PAGE_SIZE {
            prop_assert_eq!(got, Ok(want));
        } else {
            prop_assert_eq!(got, Err(PpcError::Overflow));
        }
    }

    #[test]
    fn random_requests_never_panic_the_dispatch(
        method in 0u32..6,
        regs in proptest::array::uniform8(any::<u64>()),
        page_fill in any::<u8>(),
    ) {
        let s = StoreServer(Honest);
        let mut req = Message::new();
        req.regs = regs;
        req.page = [page_fill; PPC_PAGE_SIZE];
        let mut reply = Message::new();
        let info = CallInfo { method, caller: ProcessId(2), rights: Rights::ALL };
        // Any outcome but a panic is fine; unknown numbers are refused.
        let r = s.dispatch(&info, &req, &mut reply);
        if method == 5 {
            prop_assert_eq!(r, Err(PpcError::NoSuchMethod(5)));
        }
    }
}
