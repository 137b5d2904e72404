//! A state packed into 48 bytes, for the search's frontier and its exact visited set, and
//! the state's fingerprint, computed over the packed words.
//!
//! A one-disk `World` takes about 100 bytes in memory, most of it padding and enum tags;
//! its information fits in about 220 bits, the first four words. Disks 1 and 2 (issue 16)
//! follow it: about 60 bits each, their events' disk tags and the procedure's disk, which
//! with three disks and a full outbox (one reply, thirteen events) comes to about 340
//! bits. A one-disk state leaves the last two words zero, and its fingerprint reads only
//! its first four words. The search keeps whole levels of states waiting to be expanded,
//! so packing them is what keeps its memory per state small. `unpack(pack(w)) == w` for
//! every state (a test checks it over random walks of every scenario), so packed states
//! compare equal exactly when the states do.

use crate::action::FaultKind;
use crate::config::{Command, Image};
use crate::state::*;

/// Words of a packed state. Everything that handles packed states (packing, the
/// fingerprint, the search's tables) follows this constant, so a field that needs more
/// bits grows it here and nowhere else.
pub const WORDS: usize = 6;

/// The words a one-disk state can fill; the fingerprint of a state whose other words are
/// zero reads only these (one-disk searches hash no more than before disks existed).
const ONE_DISK_WORDS: usize = 4;

/// A `World` in `WORDS` words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Packed(pub [u64; WORDS]);

/// Odd multipliers of the fingerprint's mixing (from MurmurHash3's 64-bit finalizer); any
/// odd constant keeps each step a bijection, these also spread every input bit.
const MIX_A: u64 = 0xff51_afd7_ed55_8ccd;
const MIX_B: u64 = 0xc4ce_b9fe_1a85_ec53;

impl Packed {
    /// The 64-bit fingerprint the search stores instead of the state.
    ///
    /// The collision argument (the birthday bound n²/2⁶⁵ that `check --stats` prints)
    /// treats fingerprints as uniformly random, which asks of the function that every
    /// bit of the state reach every bit of the result. Each word is xored into the running
    /// value, which then goes through multiply, xor-shift, multiply, xor-shift: each step
    /// is a bijection of 64 bits, so two states that differ only in the last word they
    /// differ in never collide, and a difference in an earlier word is spread over all 64
    /// bits before the next word comes in. One multiply and one shift by 32 were not enough:
    /// a multiply carries a difference only upwards, so a difference in a word's top bits
    /// stayed in a few bits, which a difference in the next word's bits cancelled (24
    /// colliding pairs among the 430,553 states of two disks, write-ahead, concurrent app,
    /// found by the liveness search's cross-check). MurmurHash3's finalizer ends it, so the high bits
    /// (which pick a slot in the search's table) depend on every input bit. Zero marks an
    /// empty slot there, so a zero result becomes 1: that merges two of 2⁶⁴ values, which
    /// the bound does not notice.
    ///
    /// Fixed constants: the same state has the same fingerprint in every run, on every
    /// machine (the search's numbering never depends on it, only which states it stores).
    #[inline]
    pub fn fingerprint(&self) -> u64 {
        let mut h: u64 = 0x243f_6a88_85a3_08d3;
        let len = if self.0[ONE_DISK_WORDS..].iter().all(|&w| w == 0) {
            ONE_DISK_WORDS
        } else {
            WORDS
        };
        for &word in &self.0[..len] {
            h = (h ^ word).wrapping_mul(MIX_A);
            h ^= h >> 33;
            h = h.wrapping_mul(MIX_B);
            h ^= h >> 29;
        }
        h ^= h >> 33;
        h = h.wrapping_mul(MIX_A);
        h ^= h >> 33;
        h = h.wrapping_mul(MIX_B);
        h ^= h >> 33;
        h.max(1)
    }
}

/// Fills the words from the lowest bit up; the word being filled stays in a register.
struct Writer {
    words: [u64; WORDS],
    /// Words completed.
    word: usize,
    /// The word being filled, and how many of its bits are.
    acc: u64,
    filled: u32,
}

impl Writer {
    fn new() -> Writer {
        Writer {
            words: [0; WORDS],
            word: 0,
            acc: 0,
            filled: 0,
        }
    }

    /// Called for every field of every successor: inlined, with one check that the value
    /// fits its bits and one that the state fits its words.
    #[inline(always)]
    fn put(&mut self, value: u64, bits: u32) {
        assert!(
            bits < 64 && value < (1 << bits),
            "{value} does not fit in {bits} bits"
        );
        self.acc |= value << self.filled;
        self.filled += bits;
        if self.filled >= 64 {
            self.filled -= 64;
            self.store();
            // The bits of `value` that did not fit (none when it ended the word exactly).
            self.acc = if self.filled == 0 {
                0
            } else {
                value >> (bits - self.filled)
            };
        }
    }

    #[inline(always)]
    fn store(&mut self) {
        assert!(self.word < WORDS, "a packed state has {} bits", 64 * WORDS);
        self.words[self.word] = self.acc;
        self.word += 1;
    }

    #[inline(always)]
    fn flag(&mut self, b: bool) {
        self.put(u64::from(b), 1);
    }

    fn finish(mut self) -> [u64; WORDS] {
        if self.filled > 0 {
            self.store();
        }
        self.words
    }
}

struct Reader<'a> {
    words: &'a [u64; WORDS],
    bit: u32,
}

impl Reader<'_> {
    #[inline(always)]
    fn get(&mut self, bits: u32) -> u64 {
        let (word, offset) = ((self.bit / 64) as usize, self.bit % 64);
        let mut v = self.words[word] >> offset;
        if offset + bits > 64 {
            v |= self.words[word + 1] << (64 - offset);
        }
        self.bit += bits;
        v & ((1 << bits) - 1)
    }
    #[inline(always)]
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

/// Bits of the app's place in its own procedure: a procedure has at most
/// [`crate::config::MAX_APP_STEPS`] steps, and `pc` runs to one past the last.
const APP_PC_BITS: u32 = 3;
const _: () = assert!(crate::config::MAX_APP_STEPS < (1 << APP_PC_BITS));

/// A variant's index in its packing table: its discriminant, since every table lists its
/// enum's variants in their declared order (checked at compile time below), so packing
/// searches no table.
macro_rules! index_of {
    ($table:expr, $v:expr) => {
        $v as u64
    };
}

/// Each table lists its enum's variants in declared order: the discriminant is the index.
macro_rules! in_declared_order {
    ($($table:expr),*) => {
        $(const _: () = {
            let mut i = 0;
            while i < $table.len() {
                assert!($table[i] as usize == i, "a packing table out of declared order");
                i += 1;
            }
        };)*
    };
}
in_declared_order!(COMMANDS, STATUSES, RUN_STATES, MIRRORS, OUTCOMES, KINDS, DOMAINS);

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
    w.put(c.map_or(0, |c| 1 + index_of!(COMMANDS, c)), 4);
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
    w.put(index_of!(STATUSES, v.status), 3);
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
    w.put(d.mirror.map_or(0, |m| 1 + index_of!(MIRRORS, m)), 2);
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
                    w.put(index_of!(RUN_STATES, s), 2);
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
    let mut w = Writer::new();
    w.put(u64::from(s.storage.source), 4);
    w.put(u64::from(s.storage.target), 4);
    let q = &s.qemu;
    w.flag(q.alive);
    w.put(index_of!(RUN_STATES, q.run_state), 2);
    w.put(image(q.active), 1);
    put_job(&mut w, &q.job);
    w.put(u64::from(q.dirty), 4);
    put_inflight(&mut w, q.inflight);
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
        disk: 0,
    });
    w.put(index_of!(KINDS, p.kind), 2);
    w.put(u64::from(p.pc), 8);
    put_command(&mut w, l.awaiting);
    w.put(index_of!(OUTCOMES, l.outcome), 3);
    put_view(&mut w, l.job_seen);
    w.flag(l.job_vanished);
    w.flag(l.refreshed);
    w.flag(l.outcome_from_refresh);
    w.flag(l.shutdown_seen);
    put_disk(&mut w, &l.live);
    w.put(index_of!(DOMAINS, l.domain), 2);
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
    w.flag(l.defined);
    put_app(&mut w, &s.app);
    let g = &s.ghost;
    put_ghost_flags(&mut w, g);
    for &kind in &FaultKind::ALL {
        w.put(u64::from(g.faults_used[kind]), 4);
    }
    // Disks 1 and up: zero bits, and nothing else, for one disk.
    debug_assert_eq!(s.focus, 0, "a state between steps has disk 0 in its fields");
    w.put(s.others.len() as u64, 2);
    if !s.others.is_empty() {
        w.put(u64::from(p.disk), 2);
        w.put(
            u64::from(s.qemu.outbox_disks),
            2 * s.qemu.outbox.len() as u32,
        );
        for d in &s.others {
            put_parts(&mut w, d);
        }
    }
    // Last, so that states without a bitmap word pack (and fingerprint) as before: disk 0's
    // persistent-bitmap word (`persistent-bitmap` is refused with several disks, so the
    // other disks' words are always `None` and not packed).
    w.flag(s.storage.bitmap.is_some());
    w.put(image(s.storage.bitmap.unwrap_or(Image::Source)), 1);
    Packed(w.finish())
}

fn put_inflight(w: &mut Writer, inflight: Option<InflightCopy>) {
    w.flag(inflight.is_some());
    let c = inflight.unwrap_or(InflightCopy {
        block: 0,
        fresh: false,
    });
    w.put(u64::from(c.block), 2);
    w.flag(c.fresh);
}
fn get_inflight(r: &mut Reader) -> Option<InflightCopy> {
    let some = r.flag();
    let copy = InflightCopy {
        block: r.get(2) as u8,
        fresh: r.flag(),
    };
    some.then_some(copy)
}

fn put_job(w: &mut Writer, job: &Option<Job>) {
    w.flag(job.is_some());
    let j = job.clone().unwrap_or(Job {
        status: JobStatus::Running,
        should_complete: false,
        error: false,
        soft_cancel: false,
    });
    w.put(index_of!(STATUSES, j.status), 3);
    w.flag(j.should_complete);
    w.flag(j.error);
    w.flag(j.soft_cancel);
}
fn get_job(r: &mut Reader) -> Option<Job> {
    let some = r.flag();
    let job = Job {
        status: STATUSES[r.get(3) as usize],
        should_complete: r.flag(),
        error: r.flag(),
        soft_cancel: r.flag(),
    };
    some.then_some(job)
}

const NO_DISK: DiskDef = DiskDef {
    source: Image::Source,
    mirror: None,
    paused_by_libvirt: false,
};

fn put_app(w: &mut Writer, app: &App) {
    let (p, img) = match app.phase {
        AppPhase::Idle => (0, Image::Source),
        AppPhase::Waiting => (1, Image::Source),
        AppPhase::Recovering => (2, Image::Source),
        AppPhase::Settled(i) => (3, i),
        AppPhase::Abandoned => (4, Image::Source),
    };
    w.put(p, 3);
    w.put(image(img), 1);
    w.put(u64::from(app.pc), APP_PC_BITS);
    w.put(image(app.record), 1);
}
fn get_app(r: &mut Reader) -> App {
    let phase = match (r.get(3), to_image(r.get(1))) {
        (0, _) => AppPhase::Idle,
        (1, _) => AppPhase::Waiting,
        (2, _) => AppPhase::Recovering,
        (3, i) => AppPhase::Settled(i),
        _ => AppPhase::Abandoned,
    };
    let pc = r.get(APP_PC_BITS) as u8;
    let record = to_image(r.get(1));
    App { phase, pc, record }
}

fn put_ghost_flags(w: &mut Writer, g: &Ghost) {
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
}
fn get_ghost_flags(r: &mut Reader) -> Ghost {
    let mut flags = [false; 8];
    for f in &mut flags {
        *f = r.flag();
    }
    Ghost {
        pivot_sent: flags[0],
        amnesia: flags[1],
        answer_lie: flags[2],
        evidence_destroyed_early: flags[3],
        crash_in_pivot_window: flags[4],
        poweroff_while_down: flags[5],
        recovered_by_query_block: flags[6],
        answered_pivoted: flags[7],
        switches: r.get(2) as u8,
        faults_used: crate::config::PerFault::default(),
    }
}

/// One further disk's own parts (`DiskParts`).
fn put_parts(w: &mut Writer, d: &DiskParts) {
    w.put(u64::from(d.storage.source), 4);
    w.put(u64::from(d.storage.target), 4);
    w.put(image(d.active), 1);
    put_job(w, &d.job);
    w.put(u64::from(d.dirty), 4);
    put_inflight(w, d.inflight);
    w.flag(d.synced);
    w.put(index_of!(OUTCOMES, d.outcome), 3);
    put_view(w, d.job_seen);
    w.flag(d.job_vanished);
    w.flag(d.refreshed);
    w.flag(d.outcome_from_refresh);
    put_disk(w, &d.live);
    w.flag(d.status.is_some());
    put_disk(w, &d.status.unwrap_or(NO_DISK));
    w.put(image(d.config_source), 1);
    put_app(w, &d.app);
    put_ghost_flags(w, &d.ghost);
}
fn get_parts(r: &mut Reader) -> DiskParts {
    let storage = Storage {
        source: r.get(4) as u8,
        target: r.get(4) as u8,
        bitmap: None,
    };
    let active = to_image(r.get(1));
    let job = get_job(r);
    let dirty = r.get(4) as u8;
    let inflight = get_inflight(r);
    let synced = r.flag();
    let outcome = OUTCOMES[r.get(3) as usize];
    let job_seen = get_view(r);
    let job_vanished = r.flag();
    let refreshed = r.flag();
    let outcome_from_refresh = r.flag();
    let live = get_disk(r);
    let has_status = r.flag();
    let status = get_disk(r);
    let config_source = to_image(r.get(1));
    let app = get_app(r);
    let ghost = get_ghost_flags(r);
    DiskParts {
        storage,
        active,
        job,
        dirty,
        inflight,
        synced,
        outcome,
        job_seen,
        job_vanished,
        refreshed,
        outcome_from_refresh,
        live,
        status: has_status.then_some(status),
        config_source,
        app,
        ghost,
    }
}

pub fn unpack(p: &Packed) -> World {
    let mut r = Reader {
        words: &p.0,
        bit: 0,
    };
    let mut storage = Storage {
        source: r.get(4) as u8,
        target: r.get(4) as u8,
        bitmap: None,
    };
    let alive = r.flag();
    let run_state = RUN_STATES[r.get(2) as usize];
    let active = to_image(r.get(1));
    let job = get_job(&mut r);
    let dirty = r.get(4) as u8;
    let inflight = get_inflight(&mut r);
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
        job,
        dirty,
        inflight,
        synced,
        monitor,
        inbox,
        outbox,
        outbox_disks: 0,
    };
    let up = r.flag();
    let has_program = r.flag();
    let mut program = Program {
        kind: KINDS[r.get(2) as usize],
        pc: r.get(8) as u8,
        disk: 0,
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
    let defined = r.flag();
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
        defined,
    };
    let app = get_app(&mut r);
    let mut ghost = get_ghost_flags(&mut r);
    for &kind in &FaultKind::ALL {
        ghost.faults_used[kind] = r.get(4) as u8;
    }
    let mut qemu = qemu;
    let mut others = Others::new();
    let n_others = r.get(2);
    if n_others > 0 {
        program.disk = r.get(2) as u8;
        qemu.outbox_disks = r.get(2 * qemu.outbox.len() as u32) as u32;
        for _ in 0..n_others {
            others.push(get_parts(&mut r));
        }
    }
    let mut libvirtd = libvirtd;
    libvirtd.program = libvirtd.program.map(|_| program);
    if r.flag() {
        storage.bitmap = Some(to_image(r.get(1)));
    }
    World {
        storage,
        qemu,
        libvirtd,
        app,
        ghost,
        others,
        focus: 0,
    }
}
