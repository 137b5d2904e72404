//! A state packed into 32 bytes, for the search's frontier and its exact visited set.
//!
//! A `World` takes 80 bytes in memory, most of it padding and enum tags; its information
//! fits in about 210 bits. The search keeps whole levels of states waiting to be expanded,
//! so packing them is what keeps its memory per state small. `unpack(pack(w)) == w` for
//! every state (a test checks it over random walks of every scenario), so packed states
//! compare equal exactly when the states do.

use crate::action::FaultKind;
use crate::config::{Command, Image};
use crate::state::*;

/// A `World` in four words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Packed(pub [u64; 4]);

struct Writer {
    words: [u64; 4],
    bit: u32,
}

impl Writer {
    fn put(&mut self, value: u64, bits: u32) {
        assert!(
            bits < 64 && value < (1 << bits),
            "{value} does not fit in {bits} bits"
        );
        assert!(self.bit + bits <= 256, "a packed state has 256 bits");
        let (word, offset) = ((self.bit / 64) as usize, self.bit % 64);
        self.words[word] |= value << offset;
        if offset + bits > 64 {
            self.words[word + 1] |= value >> (64 - offset);
        }
        self.bit += bits;
    }
    fn flag(&mut self, b: bool) {
        self.put(u64::from(b), 1);
    }
}

struct Reader<'a> {
    words: &'a [u64; 4],
    bit: u32,
}

impl Reader<'_> {
    fn get(&mut self, bits: u32) -> u64 {
        let (word, offset) = ((self.bit / 64) as usize, self.bit % 64);
        let mut v = self.words[word] >> offset;
        if offset + bits > 64 {
            v |= self.words[word + 1] << (64 - offset);
        }
        self.bit += bits;
        v & ((1 << bits) - 1)
    }
    fn flag(&mut self) -> bool {
        self.get(1) == 1
    }
}

/// Every command plus "none" fits the 4 bits `put_command` gives it.
const COMMANDS: [Command; 13] = Command::ALL;
const _: () = assert!(COMMANDS.len() < 16);
const STATUSES: [JobStatus; 5] = [
    JobStatus::Running,
    JobStatus::Ready,
    JobStatus::Waiting,
    JobStatus::Pending,
    JobStatus::Concluded,
];
const RUN_STATES: [RunState; 3] = [RunState::Running, RunState::Paused, RunState::Shutdown];
const MIRRORS: [MirrorState; 3] = [
    MirrorState::Copying,
    MirrorState::Ready,
    MirrorState::Pivoting,
];
const OUTCOMES: [Outcome; 6] = [
    Outcome::None,
    Outcome::Accepted,
    Outcome::Pivoted,
    Outcome::Failed,
    Outcome::Unknown,
    Outcome::Concluded,
];
const KINDS: [ProgramKind; 3] = [
    ProgramKind::Pivot,
    ProgramKind::Reconnect,
    ProgramKind::Concluded,
];
const DOMAINS: [Domain; 3] = [Domain::Active, Domain::Inactive, Domain::Gone];

fn index_of<T: PartialEq + std::fmt::Debug>(all: &[T], v: &T) -> u64 {
    all.iter()
        .position(|x| x == v)
        .unwrap_or_else(|| panic!("{v:?} is missing from the packing table")) as u64
}

fn image(i: Image) -> u64 {
    u64::from(i == Image::Target)
}
fn to_image(v: u64) -> Image {
    if v == 1 {
        Image::Target
    } else {
        Image::Source
    }
}

fn put_command(w: &mut Writer, c: Option<Command>) {
    w.put(c.map_or(0, |c| 1 + index_of(&COMMANDS, &c)), 4);
}
fn get_command(r: &mut Reader) -> Option<Command> {
    match r.get(4) {
        0 => None,
        n => Some(COMMANDS[n as usize - 1]),
    }
}

fn put_view(w: &mut Writer, v: Option<JobView>) {
    w.flag(v.is_some());
    let v = v.unwrap_or(JobView {
        status: JobStatus::Running,
        error: false,
    });
    w.put(index_of(&STATUSES, &v.status), 3);
    w.flag(v.error);
}
fn get_view(r: &mut Reader) -> Option<JobView> {
    let some = r.flag();
    let status = STATUSES[r.get(3) as usize];
    let error = r.flag();
    some.then_some(JobView { status, error })
}

fn put_disk(w: &mut Writer, d: &DiskDef) {
    w.put(image(d.source), 1);
    w.put(d.mirror.map_or(0, |m| 1 + index_of(&MIRRORS, &m)), 2);
    w.flag(d.paused_by_libvirt);
}
fn get_disk(r: &mut Reader) -> DiskDef {
    let source = to_image(r.get(1));
    let mirror = match r.get(2) {
        0 => None,
        n => Some(MIRRORS[n as usize - 1]),
    };
    DiskDef {
        source,
        mirror,
        paused_by_libvirt: r.flag(),
    }
}

fn put_message(w: &mut Writer, m: &QmpMessage) {
    match *m {
        QmpMessage::Reply(c, reply) => {
            w.flag(false);
            put_command(w, Some(c));
            match reply {
                Reply::Ok => w.put(0, 3),
                Reply::Error => w.put(1, 3),
                Reply::Jobs(v) => {
                    w.put(2, 3);
                    put_view(w, v);
                }
                Reply::Block(i) => {
                    w.put(3, 3);
                    w.put(image(i), 1);
                }
                Reply::Status(s) => {
                    w.put(4, 3);
                    w.put(index_of(&RUN_STATES, &s), 2);
                }
            }
        }
        QmpMessage::Event(e) => {
            w.flag(true);
            let (tag, error) = match e {
                Event::Stop => (0, false),
                Event::Resume => (1, false),
                Event::Shutdown => (2, false),
                Event::Ready => (3, false),
                Event::Pending => (4, false),
                Event::Concluded { error } => (5, error),
            };
            w.put(tag, 3);
            w.flag(error);
        }
    }
}
fn get_message(r: &mut Reader) -> QmpMessage {
    if r.flag() {
        let tag = r.get(3);
        let error = r.flag();
        QmpMessage::Event(match tag {
            0 => Event::Stop,
            1 => Event::Resume,
            2 => Event::Shutdown,
            3 => Event::Ready,
            4 => Event::Pending,
            _ => Event::Concluded { error },
        })
    } else {
        let c = get_command(r).expect("a reply names its command");
        let reply = match r.get(3) {
            0 => Reply::Ok,
            1 => Reply::Error,
            2 => Reply::Jobs(get_view(r)),
            3 => Reply::Block(to_image(r.get(1))),
            _ => Reply::Status(RUN_STATES[r.get(2) as usize]),
        };
        QmpMessage::Reply(c, reply)
    }
}

pub fn pack(s: &World) -> Packed {
    let mut w = Writer {
        words: [0; 4],
        bit: 0,
    };
    w.put(u64::from(s.storage.source), 4);
    w.put(u64::from(s.storage.target), 4);
    let q = &s.qemu;
    w.flag(q.alive);
    w.put(index_of(&RUN_STATES, &q.run_state), 2);
    w.put(image(q.active), 1);
    w.flag(q.job.is_some());
    let job = q.job.clone().unwrap_or(Job {
        status: JobStatus::Running,
        should_complete: false,
        error: false,
        soft_cancel: false,
    });
    w.put(index_of(&STATUSES, &job.status), 3);
    w.flag(job.should_complete);
    w.flag(job.error);
    w.flag(job.soft_cancel);
    w.put(u64::from(q.dirty), 4);
    w.flag(q.inflight.is_some());
    let c = q.inflight.unwrap_or(InflightCopy {
        block: 0,
        fresh: false,
    });
    w.put(u64::from(c.block), 2);
    w.flag(c.fresh);
    w.flag(q.synced);
    w.flag(q.monitor);
    put_command(&mut w, q.inbox);
    w.put(q.outbox.len() as u64, 4);
    for m in &q.outbox {
        put_message(&mut w, m);
    }
    let l = &s.libvirtd;
    w.flag(l.up);
    w.flag(l.program.is_some());
    let p = l.program.unwrap_or(Program {
        kind: ProgramKind::Pivot,
        pc: 0,
    });
    w.put(index_of(&KINDS, &p.kind), 2);
    w.put(u64::from(p.pc), 8);
    put_command(&mut w, l.awaiting);
    w.put(index_of(&OUTCOMES, &l.outcome), 3);
    put_view(&mut w, l.job_seen);
    w.flag(l.job_vanished);
    w.flag(l.refreshed);
    w.flag(l.outcome_from_refresh);
    w.flag(l.shutdown_seen);
    put_disk(&mut w, &l.live);
    w.put(index_of(&DOMAINS, &l.domain), 2);
    w.flag(l.status.is_some());
    put_disk(
        &mut w,
        &l.status.unwrap_or(DiskDef {
            source: Image::Source,
            mirror: None,
            paused_by_libvirt: false,
        }),
    );
    w.flag(l.status_unloadable);
    w.put(image(l.config_source), 1);
    let (phase, img) = match s.app.phase {
        AppPhase::Idle => (0, Image::Source),
        AppPhase::Waiting => (1, Image::Source),
        AppPhase::Recovering => (2, Image::Source),
        AppPhase::Settled(i) => (3, i),
    };
    w.put(phase, 2);
    w.put(image(img), 1);
    let g = &s.ghost;
    for b in [
        g.pivot_sent,
        g.amnesia,
        g.answer_lie,
        g.evidence_destroyed_early,
        g.crash_in_pivot_window,
        g.poweroff_while_down,
        g.recovered_by_query_block,
        g.answered_pivoted,
    ] {
        w.flag(b);
    }
    w.put(u64::from(g.switches), 2);
    for &kind in &FaultKind::ALL {
        w.put(u64::from(g.faults_used[kind]), 4);
    }
    Packed(w.words)
}

pub fn unpack(p: &Packed) -> World {
    let mut r = Reader {
        words: &p.0,
        bit: 0,
    };
    let storage = Storage {
        source: r.get(4) as u8,
        target: r.get(4) as u8,
    };
    let alive = r.flag();
    let run_state = RUN_STATES[r.get(2) as usize];
    let active = to_image(r.get(1));
    let has_job = r.flag();
    let job = Job {
        status: STATUSES[r.get(3) as usize],
        should_complete: r.flag(),
        error: r.flag(),
        soft_cancel: r.flag(),
    };
    let dirty = r.get(4) as u8;
    let has_copy = r.flag();
    let copy = InflightCopy {
        block: r.get(2) as u8,
        fresh: r.flag(),
    };
    let synced = r.flag();
    let monitor = r.flag();
    let inbox = get_command(&mut r);
    let n = r.get(4) as usize;
    let mut outbox = arrayvec::ArrayVec::new();
    for _ in 0..n {
        outbox.push(get_message(&mut r));
    }
    let qemu = Qemu {
        alive,
        run_state,
        active,
        job: has_job.then_some(job),
        dirty,
        inflight: has_copy.then_some(copy),
        synced,
        monitor,
        inbox,
        outbox,
    };
    let up = r.flag();
    let has_program = r.flag();
    let program = Program {
        kind: KINDS[r.get(2) as usize],
        pc: r.get(8) as u8,
    };
    let awaiting = get_command(&mut r);
    let outcome = OUTCOMES[r.get(3) as usize];
    let job_seen = get_view(&mut r);
    let job_vanished = r.flag();
    let refreshed = r.flag();
    let outcome_from_refresh = r.flag();
    let shutdown_seen = r.flag();
    let live = get_disk(&mut r);
    let domain = DOMAINS[r.get(2) as usize];
    let has_status = r.flag();
    let status = get_disk(&mut r);
    let status_unloadable = r.flag();
    let config_source = to_image(r.get(1));
    let libvirtd = Libvirtd {
        up,
        program: has_program.then_some(program),
        awaiting,
        outcome,
        job_seen,
        job_vanished,
        refreshed,
        outcome_from_refresh,
        shutdown_seen,
        live,
        domain,
        status: has_status.then_some(status),
        status_unloadable,
        config_source,
    };
    let phase = match (r.get(2), to_image(r.get(1))) {
        (0, _) => AppPhase::Idle,
        (1, _) => AppPhase::Waiting,
        (2, _) => AppPhase::Recovering,
        (_, i) => AppPhase::Settled(i),
    };
    let mut flags = [false; 8];
    for f in &mut flags {
        *f = r.flag();
    }
    let switches = r.get(2) as u8;
    let mut faults_used = crate::config::PerFault::default();
    for &kind in &FaultKind::ALL {
        faults_used[kind] = r.get(4) as u8;
    }
    let ghost = Ghost {
        pivot_sent: flags[0],
        amnesia: flags[1],
        answer_lie: flags[2],
        evidence_destroyed_early: flags[3],
        crash_in_pivot_window: flags[4],
        poweroff_while_down: flags[5],
        recovered_by_query_block: flags[6],
        answered_pivoted: flags[7],
        switches,
        faults_used,
    };
    World {
        storage,
        qemu,
        libvirtd,
        app: App { phase },
        ghost,
    }
}
