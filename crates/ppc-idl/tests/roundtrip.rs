//! Round trips of every argument kind through generated stubs, the
//! loopback transport and generated dispatch; plus the error paths.

use core::cell::{Cell, RefCell};
use ppc_idl::{
    interface, CallInfo, Dispatch, LoopbackTransport, Marshal, Message, ObjectHandle, PpcError,
    ProcessId, Rights, Transport, PPC_PAGE_SIZE,
};

#[derive(Marshal, Clone, Copy, Debug, PartialEq, Default)]
pub struct Point {
    x: i32,
    y: i32,
    tag: [u16; 3],
}

#[derive(Marshal, Debug, PartialEq)]
pub struct Pair(u8, bool);

pub const READ: u64 = 0b01;
pub const WRITE: u64 = 0b10;

#[interface]
pub trait Files {
    /// 0
    fn scalars(&self, a: u8, b: i16, c: u32, d: i64, e: bool, f: usize) -> i64;
    /// 1
    fn point(&self, p: Point, q: Pair) -> Point;
    /// 2
    #[ppc(rights = 0b01)]
    fn name_len(&self, #[ppc(in)] name: &str, data: &[u8]) -> (usize, usize);
    /// 3
    #[ppc(rights = 0b01)]
    fn read(&self, offset: u64, #[ppc(out)] buf: &mut [u8]) -> Option<usize>;
    /// 4
    #[ppc(rights = 0b11)]
    fn bump(&self, #[ppc(out)] counter: &mut u64, by: u64) -> Result<(), u32>;
    /// 5
    fn whoami(&self, #[ppc(caller)] caller: ProcessId, salt: u32) -> (u32, u32);
    /// 6
    #[ppc(async)]
    fn poke(&self, #[ppc(caller)] caller: ProcessId, a: u64, b: u64);
    /// Explicit number: stays 100 whatever is added above.
    #[ppc(id = 100)]
    fn version(&self) -> [u8; 4];
    /// 8 (declaration index, not 101)
    fn nothing(&self);
}

#[derive(Default)]
struct Server {
    pokes: RefCell<Vec<(ProcessId, u64, u64)>>,
    calls: Cell<u32>,
}

impl Files for Server {
    fn scalars(&self, a: u8, b: i16, c: u32, d: i64, e: bool, f: usize) -> i64 {
        a as i64 + b as i64 + c as i64 + d + e as i64 + f as i64
    }
    fn point(&self, p: Point, q: Pair) -> Point {
        Point {
            x: p.y + q.0 as i32,
            y: p.x * if q.1 { -1 } else { 1 },
            tag: [p.tag[2], p.tag[1], p.tag[0]],
        }
    }
    fn name_len(&self, name: &str, data: &[u8]) -> (usize, usize) {
        (name.chars().count(), data.iter().map(|&b| b as usize).sum())
    }
    fn read(&self, offset: u64, buf: &mut [u8]) -> Option<usize> {
        if offset > 1000 {
            return None;
        }
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (offset as usize + i) as u8;
        }
        Some(buf.len())
    }
    fn bump(&self, counter: &mut u64, by: u64) -> Result<(), u32> {
        *counter = counter.checked_add(by).ok_or(7u32)?;
        Ok(())
    }
    fn whoami(&self, caller: ProcessId, salt: u32) -> (u32, u32) {
        self.calls.set(self.calls.get() + 1);
        (caller.0, salt)
    }
    fn poke(&self, caller: ProcessId, a: u64, b: u64) {
        self.pokes.borrow_mut().push((caller, a, b));
    }
    fn version(&self) -> [u8; 4] {
        *b"K42r"
    }
    fn nothing(&self) {}
}

const SERVER: ProcessId = ProcessId(1);
const OWNER: ProcessId = ProcessId(10);
const READER: ProcessId = ProcessId(11);
const STRANGER: ProcessId = ProcessId(12);
const HANDLE: ObjectHandle = ObjectHandle::new(SERVER, 3, 1);
const GRANTS: [(ProcessId, Rights); 2] = [(OWNER, Rights(READ | WRITE)), (READER, Rights(READ))];

fn with_client(caller: ProcessId, f: impl FnOnce(FilesClient<'_>, &FilesServer<Server>)) {
    let server = FilesServer(Server::default());
    let t = LoopbackTransport::new(&server, HANDLE, &GRANTS, caller);
    f(FilesClient::new(&t, HANDLE), &server);
}

#[test]
fn scalars_round_trip_with_signs_and_bools() {
    with_client(OWNER, |c, _| {
        assert_eq!(
            c.scalars(200, -300, 70_000, -5_000_000_000, true, 9),
            Ok(200 - 300 + 70_000 - 5_000_000_000 + 1 + 9)
        );
        assert_eq!(c.scalars(0, 0, 0, 0, false, 0), Ok(0));
    });
}

#[test]
fn derived_structs_and_arrays_round_trip_spilling_into_the_page() {
    with_client(OWNER, |c, _| {
        let p = Point {
            x: 3,
            y: -4,
            tag: [1, 2, 3],
        };
        // 5 + 2 words > 8 registers? no: 7 words; the reply is 5. Both exercise
        // struct field order; the swap proves fields are not confused.
        assert_eq!(
            c.point(p, Pair(2, true)),
            Ok(Point {
                x: -2,
                y: -3,
                tag: [3, 2, 1]
            })
        );
        assert_eq!(c.version(), Ok(*b"K42r"));
    });
}

#[test]
fn strings_and_byte_buffers_go_through_the_page() {
    with_client(READER, |c, _| {
        assert_eq!(c.name_len("héllo", &[1, 2, 3]), Ok((5, 6)));
        let big = [1u8; 4000];
        assert_eq!(c.name_len("", &big), Ok((0, 4000)));
    });
}

#[test]
fn in_buffer_beyond_the_page_is_overflow() {
    with_client(OWNER, |c, _| {
        let too_big = vec![0u8; PPC_PAGE_SIZE + 1];
        assert_eq!(c.name_len("x", &too_big), Err(PpcError::Overflow));
        // Fits alone, not together with the name.
        let page = vec![0u8; PPC_PAGE_SIZE];
        assert_eq!(c.name_len("x", &page), Err(PpcError::Overflow));
    });
}

#[test]
fn out_buffer_is_filled_by_the_server_and_length_checked() {
    with_client(READER, |c, _| {
        let mut buf = [0u8; 10];
        assert_eq!(c.read(5, &mut buf), Ok(Some(10)));
        assert_eq!(buf, [5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
        assert_eq!(c.read(5000, &mut buf), Ok(None));
        let mut huge = vec![0u8; PPC_PAGE_SIZE + 1];
        assert_eq!(c.read(0, &mut huge), Err(PpcError::Overflow));
        let mut page = vec![0u8; PPC_PAGE_SIZE];
        assert_eq!(c.read(0, &mut page), Ok(Some(PPC_PAGE_SIZE)));
        assert_eq!(page[255], 255);
    });
}

#[test]
fn in_out_scalar_and_result() {
    with_client(OWNER, |c, _| {
        let mut n = 40;
        assert_eq!(c.bump(&mut n, 2), Ok(Ok(())));
        assert_eq!(n, 42);
        let mut m = u64::MAX;
        assert_eq!(c.bump(&mut m, 1), Ok(Err(7)));
        assert_eq!(m, u64::MAX);
    });
}

#[test]
fn missing_rights_are_refused_before_the_method_runs() {
    with_client(READER, |c, s| {
        let mut n = 1;
        assert_eq!(c.bump(&mut n, 1), Err(PpcError::NoRights));
        assert_eq!(n, 1);
        assert_eq!(s.0.calls.get(), 0);
    });
    // A process with no entry in the table holds nothing, even with the handle.
    with_client(STRANGER, |c, s| {
        assert_eq!(c.name_len("a", b""), Err(PpcError::NoRights));
        let mut buf = [0u8; 1];
        assert_eq!(c.read(0, &mut buf), Err(PpcError::NoRights));
        // Methods needing no rights still work.
        assert_eq!(c.whoami(9), Ok((STRANGER.0, 9)));
        assert_eq!(s.0.calls.get(), 1);
    });
}

#[test]
fn caller_id_comes_from_the_transport() {
    let server = FilesServer(Server::default());
    let t = LoopbackTransport::new(&server, HANDLE, &GRANTS, OWNER);
    let c = FilesClient::new(&t, HANDLE);
    assert_eq!(c.whoami(1), Ok((OWNER.0, 1)));
    let t2 = t.as_caller(READER);
    let c2 = FilesClient::new(&t2, HANDLE);
    assert_eq!(c2.whoami(2), Ok((READER.0, 2)));
}

#[test]
fn async_method_delivers_registers_only_and_has_no_reply() {
    with_client(READER, |c, s| {
        assert_eq!(c.poke(1, 2), Ok(()));
        assert_eq!(c.poke(3, u64::MAX), Ok(()));
        assert_eq!(
            *s.0.pokes.borrow(),
            vec![(READER, 1, 2), (READER, 3, u64::MAX)]
        );
    });
}

#[test]
fn method_numbers_are_stable() {
    assert_eq!(FilesClient::SCALARS, 0);
    assert_eq!(FilesClient::POKE, 6);
    assert_eq!(FilesClient::VERSION, 100);
    assert_eq!(FilesClient::NOTHING, 8);
    // The dispatch answers to exactly those numbers.
    let server = FilesServer(Server::default());
    let mut reply = Message::new();
    let info = |method| CallInfo {
        method,
        caller: OWNER,
        rights: Rights::ALL,
    };
    assert_eq!(
        server.dispatch(&info(100), &Message::new(), &mut reply),
        Ok(())
    );
    assert_eq!(
        &reply.regs[..4],
        &[b'K' as u64, b'4' as u64, b'2' as u64, b'r' as u64]
    );
    assert_eq!(
        server.dispatch(&info(8), &Message::new(), &mut reply),
        Ok(())
    );
}

#[test]
fn wrong_method_number_is_an_error() {
    let server = FilesServer(Server::default());
    let mut reply = Message::new();
    for m in [7, 9, 99, 101, u32::MAX] {
        let info = CallInfo {
            method: m,
            caller: OWNER,
            rights: Rights::ALL,
        };
        assert_eq!(
            server.dispatch(&info, &Message::new(), &mut reply),
            Err(PpcError::NoSuchMethod(m))
        );
    }
}

#[test]
fn bad_handle_and_malformed_requests_are_errors() {
    with_client(OWNER, |_, server| {
        let t = LoopbackTransport::new(server, HANDLE, &GRANTS, OWNER);
        let stale = ObjectHandle::new(SERVER, 3, 2);
        let c = FilesClient::new(&t, stale);
        assert_eq!(c.nothing(), Err(PpcError::BadHandle));
        // A hand-made request with a bool of 2 and a length beyond the page.
        let mut req = Message::new();
        req.regs[4] = 2;
        let mut reply = Message::new();
        assert_eq!(
            t.call(HANDLE, FilesClient::SCALARS, &req, &mut reply),
            Err(PpcError::Malformed)
        );
        let mut req = Message::new();
        req.regs[0] = PPC_PAGE_SIZE as u64 + 1;
        assert_eq!(
            t.call(HANDLE, FilesClient::NAME_LEN, &req, &mut reply),
            Err(PpcError::Malformed)
        );
    });
}

mod alias {
    //! The spelling, `#[ppc::interface]`, through a crate alias.
    use ppc_idl as ppc;
    use ppc_idl::{LoopbackTransport, ObjectHandle, ProcessId, Rights};

    #[ppc::interface]
    pub trait Echo {
        fn echo(&self, s: &str, #[ppc(out)] back: &mut [u8]) -> usize;
    }

    struct E;
    impl Echo for E {
        fn echo(&self, s: &str, back: &mut [u8]) -> usize {
            let n = s.len().min(back.len());
            back[..n].copy_from_slice(&s.as_bytes()[..n]);
            n
        }
    }

    #[test]
    fn str_in_and_buffer_out_in_one_call() {
        let server = EchoServer(E);
        let h = ObjectHandle::new(ProcessId(1), 0, 0);
        let grants = [(ProcessId(2), Rights::NONE)];
        let t = LoopbackTransport::new(&server, h, &grants, ProcessId(2));
        let c = EchoClient::new(&t, h);
        let mut back = [0u8; 5];
        assert_eq!(c.echo("hello world", &mut back), Ok(5));
        assert_eq!(&back, b"hello");
        assert_eq!(c.handle(), h);
    }
}
