//! The native call set: decoding validates every argument, encoding is its
//! exact inverse, and each call maps to the scheduler operation it should.

use proptest::prelude::*;
use sched::native::{
    nr, pack_params, CallContext, CallError, EntryPoint, Limits, ObjectHandle, Registers,
    TimerRequest, UserAddr, PAGE_SIZE, SELF, USER_TOP,
};
use sched::{
    Class, Config, DispatcherId, Error, HandoffMode, NativeCall, Outcome, Params, SchedOp, Smp,
    State, Weight,
};

const LIMITS: Limits = Limits { cpus: 4 };

fn regs(nr: u64, args: [u64; 6]) -> Registers {
    Registers { nr, args }
}

fn decode(nr: u64, args: [u64; 6]) -> Result<NativeCall, CallError> {
    NativeCall::decode(&regs(nr, args), LIMITS)
}

#[test]
fn valid_calls_decode() {
    assert_eq!(decode(nr::YIELD, [0; 6]), Ok(NativeCall::Yield));
    assert_eq!(
        decode(nr::SET_ENTRY_POINT, [3, 0x40_1000, 0, 0, 0, 0]),
        Ok(NativeCall::SetEntryPoint {
            entry: EntryPoint::PageFault,
            address: Some(UserAddr::new(0x40_1000).unwrap())
        })
    );
    assert_eq!(
        decode(nr::SET_ENTRY_POINT, [7, 0, 0, 0, 0, 0]),
        Ok(NativeCall::SetEntryPoint {
            entry: EntryPoint::SystemCall,
            address: None
        })
    );
    let p = Params::new(Class::SoftRealTime, Weight::new(4096).unwrap()).pinned();
    assert_eq!(
        decode(
            nr::CREATE_DISPATCHER,
            [3, pack_params(p), 0x1000, 0x7fff_ffff_e000, 0, 0]
        ),
        Ok(NativeCall::CreateDispatcher {
            cpu: 3,
            params: p,
            entry: UserAddr::new(0x1000).unwrap(),
            page: UserAddr::new(0x7fff_ffff_e000).unwrap(),
        })
    );
    assert_eq!(
        decode(nr::IPC_CALL, [(7 << 32) | 9, (4096 << 32) | 5, 1, 2, 3, 4]),
        Ok(NativeCall::IpcCall {
            handle: ObjectHandle { pid: 7, xhandle: 9 },
            method: 5,
            len: 4096,
            words: [1, 2, 3, 4]
        })
    );
    assert_eq!(
        decode(nr::TIMER, [2, 0, 0, 0, 0, 0]),
        Ok(NativeCall::Timer(TimerRequest::Cancel))
    );
}

#[test]
fn malformed_calls_are_errors() {
    let ts = pack_params(Params::default());
    let cases: &[(u64, [u64; 6], CallError)] = &[
        (nr::COUNT, [0; 6], CallError::UnknownCall(nr::COUNT)),
        (u64::MAX, [0; 6], CallError::UnknownCall(u64::MAX)),
        (
            nr::YIELD,
            [1, 0, 0, 0, 0, 0],
            CallError::Reserved { arg: 0 },
        ),
        (
            nr::BLOCK,
            [0, 0, 0, 0, 0, 1],
            CallError::Reserved { arg: 5 },
        ),
        (
            nr::SET_ENTRY_POINT,
            [8, 0x1000, 0, 0, 0, 0],
            CallError::BadEntryPoint(8),
        ),
        (
            nr::SET_ENTRY_POINT,
            [0, USER_TOP, 0, 0, 0, 0],
            CallError::BadAddress(USER_TOP),
        ),
        (
            nr::SET_ENTRY_POINT,
            [0, 0xffff_ffff_8000_0000, 0, 0, 0, 0],
            CallError::BadAddress(0xffff_ffff_8000_0000),
        ),
        (
            nr::IPC_CALL,
            [0, 4097 << 32, 0, 0, 0, 0],
            CallError::BadLength(4097),
        ),
        (
            nr::IPC_RETURN,
            [0, 4097, 0, 0, 0, 0],
            CallError::BadLength(4097),
        ),
        (nr::TIMER, [3, 0, 0, 0, 0, 0], CallError::BadTimer(3)),
        (nr::TIMER, [2, 5, 0, 0, 0, 0], CallError::BadTimer(2)),
        (nr::SOFT_INTERRUPT, [1, 0, 0, 0, 0, 0], CallError::NoBits),
        (
            nr::CREATE_DISPATCHER,
            [4, ts, 0x1000, 0x2000, 0, 0],
            CallError::BadCpu(4),
        ),
        (
            nr::CREATE_DISPATCHER,
            [0, ts, 0, 0x2000, 0, 0],
            CallError::BadAddress(0),
        ),
        (
            nr::CREATE_DISPATCHER,
            [0, ts, 0x1000, 0x2001, 0, 0],
            CallError::Misaligned(0x2001),
        ),
        (
            nr::CREATE_DISPATCHER,
            [0, ts, 0x1000, USER_TOP - PAGE_SIZE / 2, 0, 0],
            CallError::Misaligned(USER_TOP - PAGE_SIZE / 2),
        ),
        (
            nr::CREATE_DISPATCHER,
            [0, 6 | (1 << 8), 0x1000, 0x2000, 0, 0],
            CallError::Sched(Error::BadClass(6)),
        ),
        (
            nr::CREATE_DISPATCHER,
            [0, 3, 0x1000, 0x2000, 0, 0],
            CallError::Sched(Error::BadWeight(0)),
        ),
        (
            nr::CREATE_DISPATCHER,
            [0, 3 | (4097 << 8), 0x1000, 0x2000, 0, 0],
            CallError::Sched(Error::BadWeight(4097)),
        ),
        (
            nr::SET_SCHED_PARAMS,
            [SELF, ts | (1 << 40), 0, 0, 0, 0],
            CallError::Reserved { arg: 1 },
        ),
        (
            nr::SET_SCHED_PARAMS,
            [SELF, ts | (1 << 25), 0, 0, 0, 0],
            CallError::Reserved { arg: 1 },
        ),
        (
            nr::EXIT_DISPATCHER,
            [0, 1, 0, 0, 0, 0],
            CallError::Reserved { arg: 1 },
        ),
    ];
    for (n, args, want) in cases {
        assert_eq!(decode(*n, *args), Err(*want), "call {n} {args:x?}");
        assert!(want.code() < 0);
    }
    assert_eq!(CallError::UnknownCall(99).code(), -38);
    assert_eq!(CallError::BadAddress(0).code(), -14);
}

fn call() -> impl Strategy<Value = NativeCall> {
    let id = any::<u64>().prop_map(DispatcherId::from_raw);
    let addr = (1..USER_TOP).prop_map(|a| UserAddr::new(a).unwrap());
    let page = (1..USER_TOP / PAGE_SIZE).prop_map(|p| UserAddr::new(p * PAGE_SIZE).unwrap());
    let params = (0..6u64, 1..=4096u64, any::<bool>()).prop_map(|(c, w, p)| Params {
        class: Class::from_index(c).unwrap(),
        weight: Weight::new(w).unwrap(),
        pinned: p,
    });
    let words = any::<[u64; 4]>();
    prop_oneof![
        (0..8usize, prop::option::of(addr.clone())).prop_map(|(e, address)| {
            NativeCall::SetEntryPoint {
                entry: EntryPoint::ALL[e],
                address,
            }
        }),
        Just(NativeCall::Yield),
        Just(NativeCall::Block),
        id.clone().prop_map(|target| NativeCall::Handoff { target }),
        (any::<u64>(), any::<u32>(), 0..=4096u16, words).prop_map(|(h, method, len, words)| {
            NativeCall::IpcCall {
                handle: ObjectHandle {
                    pid: (h >> 32) as u32,
                    xhandle: h as u32,
                },
                method,
                len,
                words,
            }
        }),
        (any::<u64>(), 0..=4096u16, words).prop_map(|(status, len, words)| NativeCall::IpcReturn {
            status,
            len,
            words
        }),
        (id.clone(), words).prop_map(|(target, words)| NativeCall::AsyncSend { target, words }),
        prop_oneof![
            any::<u64>().prop_map(TimerRequest::At),
            any::<u64>().prop_map(TimerRequest::After),
            Just(TimerRequest::Cancel)
        ]
        .prop_map(NativeCall::Timer),
        (id.clone(), 1..=u64::MAX)
            .prop_map(|(target, bits)| NativeCall::SoftInterrupt { target, bits }),
        (0..4u32, params.clone(), addr, page).prop_map(|(cpu, params, entry, page)| {
            NativeCall::CreateDispatcher {
                cpu,
                params,
                entry,
                page,
            }
        }),
        any::<u64>().prop_map(|status| NativeCall::ExitDispatcher { status }),
        (
            prop::option::of(id.prop_filter("not SELF", |i| i.to_raw() != SELF)),
            params
        )
            .prop_map(|(target, params)| NativeCall::SetSchedParams { target, params }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn encode_then_decode_is_identity(c in call()) {
        prop_assert_eq!(NativeCall::decode(&c.encode(), LIMITS), Ok(c));
    }

    /// Arbitrary registers never panic the decoder, and whatever it accepts
    /// is the one canonical encoding of that call.
    #[test]
    fn decode_accepts_only_canonical_encodings(n in 0..nr::COUNT + 2, args in any::<[u64; 6]>(), small in any::<[u16; 6]>(), pick in any::<u8>()) {
        // Mix fully random words with small ones so that some calls pass.
        let mut a = args;
        for i in 0..6 {
            if pick & (1 << i) != 0 {
                a[i] = u64::from(small[i]) % 9;
            }
        }
        if let Ok(c) = NativeCall::decode(&regs(n, a), LIMITS) {
            prop_assert_eq!(c.encode(), regs(n, a));
        }
    }
}

struct Ctx {
    caller: DispatcherId,
    server: DispatcherId,
    client: Option<DispatcherId>,
}

impl CallContext for Ctx {
    fn caller(&self) -> DispatcherId {
        self.caller
    }
    fn resolve(&self, h: ObjectHandle) -> Result<DispatcherId, CallError> {
        if h.pid == 1 {
            Ok(self.server)
        } else {
            Err(CallError::Sched(Error::NoSuchDispatcher))
        }
    }
    fn ppc_client(&self) -> Option<DispatcherId> {
        self.client
    }
}

#[test]
fn calls_map_to_scheduler_operations() {
    let smp = Smp::new(2, 16, Config::default()).unwrap();
    let client = smp.create(0, Params::default()).unwrap();
    let server = smp
        .create(0, Params::new(Class::TimeSharing, Weight::MIN))
        .unwrap();
    let remote = smp
        .create(1, Params::new(Class::Background, Weight::MIN))
        .unwrap();
    smp.wake(client).unwrap();
    smp.schedule(0, 0).unwrap();
    let ctx = Ctx {
        caller: client,
        server,
        client: None,
    };

    // IPC call: hand the processor to the server; the client stays runnable.
    let call = NativeCall::IpcCall {
        handle: ObjectHandle { pid: 1, xhandle: 0 },
        method: 0,
        len: 64,
        words: [0; 4],
    };
    let op = call.sched_op(&ctx).unwrap();
    assert_eq!(
        op,
        SchedOp::Handoff {
            target: server,
            mode: HandoffMode::Stay
        }
    );
    let Outcome::Switch(Some(d)) = smp.perform(0, op, 10).unwrap() else {
        panic!()
    };
    assert_eq!(d.id, server);
    assert_eq!(smp.info(client).unwrap().1.state, State::Runnable);
    // A handle the kernel cannot resolve (no rights) is an error, not a switch.
    let bad = NativeCall::IpcCall {
        handle: ObjectHandle { pid: 2, xhandle: 0 },
        method: 0,
        len: 0,
        words: [0; 4],
    };
    assert_eq!(
        bad.sched_op(&ctx),
        Err(CallError::Sched(Error::NoSuchDispatcher))
    );

    // IPC return: back to the client; the server blocks.
    let ret = NativeCall::IpcReturn {
        status: 0,
        len: 0,
        words: [0; 4],
    };
    assert_eq!(ret.sched_op(&ctx), Err(CallError::NotInCall));
    let sctx = Ctx {
        caller: server,
        server,
        client: Some(client),
    };
    let op = ret.sched_op(&sctx).unwrap();
    let Outcome::Switch(Some(d)) = smp.perform(0, op, 20).unwrap() else {
        panic!()
    };
    assert_eq!(d.id, client);
    assert_eq!(smp.info(server).unwrap().1.state, State::Blocked);
    assert_eq!(smp.info(client).unwrap().1.runtime, 20);

    // Async send to another processor's idle dispatcher: wake it there and
    // tell the kernel to send an IPI.
    let send = NativeCall::AsyncSend {
        target: remote,
        words: [1, 2, 3, 4],
    };
    let Outcome::Woke(w) = smp.perform(0, send.sched_op(&ctx).unwrap(), 30).unwrap() else {
        panic!()
    };
    assert_eq!((w.cpu, w.wake.woke, w.wake.preempt), (1, true, true));

    // Set my own parameters; create; block; exit.
    let p = Params::new(Class::Background, Weight::new(10).unwrap());
    let set = NativeCall::SetSchedParams {
        target: None,
        params: p,
    };
    assert_eq!(
        set.sched_op(&ctx).unwrap(),
        SchedOp::SetParams {
            target: client,
            params: p
        }
    );
    smp.perform(0, set.sched_op(&ctx).unwrap(), 40).unwrap();
    assert_eq!(smp.info(client).unwrap().1.params, p);
    let create = NativeCall::CreateDispatcher {
        cpu: 1,
        params: Params::default(),
        entry: UserAddr::new(0x1000).unwrap(),
        page: UserAddr::new(0x2000).unwrap(),
    };
    let Outcome::Created(new) = smp.perform(0, create.sched_op(&ctx).unwrap(), 50).unwrap() else {
        panic!()
    };
    assert_eq!(smp.location(new), Some(1));
    assert_eq!(
        smp.perform(0, NativeCall::Block.sched_op(&ctx).unwrap(), 60)
            .unwrap(),
        Outcome::Switch(None)
    );
    assert_eq!(smp.info(client).unwrap().1.state, State::Blocked);
    assert_eq!(
        smp.perform(0, SchedOp::Exit, 70),
        Err(Error::NothingRunning)
    );
    smp.wake(client).unwrap();
    smp.schedule(0, 80).unwrap();
    let exit = NativeCall::ExitDispatcher { status: 0 };
    assert_eq!(
        smp.perform(0, exit.sched_op(&ctx).unwrap(), 90).unwrap(),
        Outcome::Switch(None)
    );
    assert_eq!(smp.info(client), Err(Error::NoSuchDispatcher));
    assert_eq!(
        smp.perform(
            0,
            NativeCall::Timer(TimerRequest::After(5))
                .sched_op(&ctx)
                .unwrap(),
            95
        )
        .unwrap(),
        Outcome::Continue
    );
    assert_eq!(smp.audit().unwrap(), 3);
}
