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

    /// Called for every group of fields of every successor ([`Writer::group`]): inlined,
    /// with one check that the value fits its bits (up to a whole word) and one that the
    /// state fits its words.
    #[inline(always)]
    fn put(&mut self, value: u64, bits: u32) {
        assert!(
            bits <= 64 && (bits == 64 || value < (1 << bits)),
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

    /// Appends a group of fields, gathered first in one word ([`Word`]) whose offsets are
    /// constants once inlined: the running bit position is then advanced once per group,
    /// not once per field (which made packing a chain of dependent shifts). The stream of
    /// bits is the same as putting each field in turn. `bits` is the group's width, which
    /// [`Reader::group`] takes back.
    #[inline(always)]
    fn group(&mut self, bits: u32, fields: impl FnOnce(&mut Word)) {
        let mut g = Word { value: 0, bits: 0 };
        fields(&mut g);
        assert_eq!(
            g.bits, bits,
            "a group of fields has the width its reader takes"
        );
        self.put(g.value, bits);
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
    /// Reads a group of fields ([`Writer::group`]): `bits` of them at once, then each field
    /// from that one word.
    #[inline(always)]
    fn group<T>(&mut self, bits: u32, fields: impl FnOnce(&mut Word) -> T) -> T {
        let mut g = Word {
            value: self.get(bits),
            bits,
        };
        let t = fields(&mut g);
        assert_eq!(
            g.bits, 0,
            "a group of fields read as wide as it was written"
        );
        t
    }
}

impl Source for Reader<'_> {
    #[inline(always)]
    fn get(&mut self, bits: u32) -> u64 {
        let (word, offset) = ((self.bit / 64) as usize, self.bit % 64);
        let mut v = self.words[word] >> offset;
        if offset + bits > 64 {
            v |= self.words[word + 1] << (64 - offset);
        }
        self.bit += bits;
        if bits == 64 {
            v
        } else {
            v & ((1 << bits) - 1)
        }
    }
}

/// Fields written one after the other from the lowest bit up ([`Writer`], [`Word`]).
trait Sink {
    fn put(&mut self, value: u64, bits: u32);
    #[inline(always)]
    fn flag(&mut self, b: bool) {
        self.put(u64::from(b), 1);
    }
}

/// Fields read back in the order they were written ([`Reader`], [`Word`]).
trait Source {
    fn get(&mut self, bits: u32) -> u64;
    #[inline(always)]
    fn get_flag(&mut self) -> bool {
        self.get(1) == 1
    }
}

impl Sink for Writer {
    #[inline(always)]
    fn put(&mut self, value: u64, bits: u32) {
        Writer::put(self, value, bits);
    }
}

/// A group of fields in one word: written from the lowest bit up, read from the lowest
/// bit up (each read shifts the rest down). Wider than 64 bits fails (a shift overflows).
struct Word {
    value: u64,
    bits: u32,
}

impl Sink for Word {
    #[inline(always)]
    fn put(&mut self, value: u64, bits: u32) {
        assert!(value < (1 << bits), "{value} does not fit in {bits} bits");
        self.value |= value << self.bits;
        self.bits += bits;
    }
}

impl Source for Word {
    #[inline(always)]
    fn get(&mut self, bits: u32) -> u64 {
        let v = self.value & ((1 << bits) - 1);
        self.value >>= bits;
        self.bits -= bits;
        v
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

#[inline(always)]
fn put_command(w: &mut impl Sink, c: Option<Command>) {
    w.put(c.map_or(0, |c| 1 + index_of!(COMMANDS, c)), 4);
}
#[inline(always)]
fn get_command(r: &mut impl Source) -> Option<Command> {
    match r.get(4) {
        0 => None,
        n => Some(COMMANDS[n as usize - 1]),
    }
}

#[inline(always)]
fn put_view(w: &mut impl Sink, v: Option<JobView>) {
    w.flag(v.is_some());
    let v = v.unwrap_or(JobView {
        status: JobStatus::Running,
        error: false,
    });
    w.put(index_of!(STATUSES, v.status), 3);
    w.flag(v.error);
}
#[inline(always)]
fn get_view(r: &mut impl Source) -> Option<JobView> {
    let some = r.get_flag();
    let status = STATUSES[r.get(3) as usize];
    let error = r.get_flag();
    some.then_some(JobView { status, error })
}

#[inline(always)]
fn put_disk(w: &mut impl Sink, d: &DiskDef) {
    w.put(image(d.source), 1);
    w.put(d.mirror.map_or(0, |m| 1 + index_of!(MIRRORS, m)), 2);
    w.flag(d.paused_by_libvirt);
}
#[inline(always)]
fn get_disk(r: &mut impl Source) -> DiskDef {
    let source = to_image(r.get(1));
    let mirror = match r.get(2) {
        0 => None,
        n => Some(MIRRORS[n as usize - 1]),
    };
    DiskDef {
        source,
        mirror,
        paused_by_libvirt: r.get_flag(),
    }
}

#[inline(always)]
fn put_message(w: &mut impl Sink, m: &QmpMessage) {
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
#[inline(always)]
fn get_message(r: &mut impl Source) -> QmpMessage {
    if r.get_flag() {
        let tag = r.get(3);
        let error = r.get_flag();
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

/// Widths of the groups of fields `pack` writes and `unpack` reads whole ([`Writer::group`]):
/// the QEMU fields before the outbox (its length included), libvirtd's, the app's with the
/// ghost facts, fault counters and number of further disks, and a further disk's parts.
const QEMU_BITS: u32 = 37;
const LIBVIRTD_BITS: u32 = 42;
const APP_GHOST_BITS: u32 = 40;
const PARTS_BITS: u32 = 64;
const BITMAP_BITS: u32 = 2;

pub fn pack(s: &World) -> Packed {
    let mut w = Writer::new();
    let q = &s.qemu;
    w.group(QEMU_BITS, |w| {
        w.put(u64::from(s.storage.source), 4);
        w.put(u64::from(s.storage.target), 4);
        w.flag(q.alive);
        w.put(index_of!(RUN_STATES, q.run_state), 2);
        w.put(image(q.active), 1);
        put_job(w, &q.job);
        w.put(u64::from(q.dirty), 4);
        put_inflight(w, q.inflight);
        w.flag(q.synced);
        w.flag(q.monitor);
        put_command(w, q.inbox);
        w.put(q.outbox.len() as u64, 4);
    });
    for m in &q.outbox {
        // A message's width depends on its kind: gathered, then put whole.
        let mut g = Word { value: 0, bits: 0 };
        put_message(&mut g, m);
        w.put(g.value, g.bits);
    }
    let l = &s.libvirtd;
    let p = l.program.unwrap_or(Program {
        kind: ProgramKind::Pivot,
        pc: 0,
        disk: 0,
    });
    w.group(LIBVIRTD_BITS, |w| {
        w.flag(l.up);
        w.flag(l.program.is_some());
        w.put(index_of!(KINDS, p.kind), 2);
        w.put(u64::from(p.pc), 8);
        put_command(w, l.awaiting);
        w.put(index_of!(OUTCOMES, l.outcome), 3);
        put_view(w, l.job_seen);
        w.flag(l.job_vanished);
        w.flag(l.refreshed);
        w.flag(l.outcome_from_refresh);
        w.flag(l.shutdown_seen);
        put_disk(w, &l.live);
        w.put(index_of!(DOMAINS, l.domain), 2);
        w.flag(l.status.is_some());
        put_disk(w, &l.status.unwrap_or(NO_DISK));
        w.flag(l.status_unloadable);
        w.put(image(l.config_source), 1);
        w.flag(l.defined);
    });
    // Disks 1 and up: zero bits, and nothing else, for one disk.
    debug_assert_eq!(s.focus, 0, "a state between steps has disk 0 in its fields");
    w.group(APP_GHOST_BITS, |w| {
        put_app(w, &s.app);
        let g = &s.ghost;
        put_ghost_flags(w, g);
        for &kind in &FaultKind::ALL {
            w.put(u64::from(g.faults_used[kind]), 4);
        }
        w.put(s.others.len() as u64, 2);
    });
    if !s.others.is_empty() {
        let tags = 2 * q.outbox.len() as u32;
        w.group(2 + tags, |w| {
            w.put(u64::from(p.disk), 2);
            w.put(u64::from(q.outbox_disks), tags);
        });
        for d in &s.others {
            w.group(PARTS_BITS, |w| put_parts(w, d));
        }
    }
    // Last, so that states without a bitmap word pack (and fingerprint) as before: disk 0's
    // persistent-bitmap word (`persistent-bitmap` is refused with several disks, so the
    // other disks' words are always `None` and not packed).
    w.group(BITMAP_BITS, |w| {
        w.flag(s.storage.bitmap.is_some());
        w.put(image(s.storage.bitmap.unwrap_or(Image::Source)), 1);
    });
    Packed(w.finish())
}

#[inline(always)]
fn put_inflight(w: &mut impl Sink, inflight: Option<InflightCopy>) {
    w.flag(inflight.is_some());
    let c = inflight.unwrap_or(InflightCopy {
        block: 0,
        fresh: false,
    });
    w.put(u64::from(c.block), 2);
    w.flag(c.fresh);
}
#[inline(always)]
fn get_inflight(r: &mut impl Source) -> Option<InflightCopy> {
    let some = r.get_flag();
    let copy = InflightCopy {
        block: r.get(2) as u8,
        fresh: r.get_flag(),
    };
    some.then_some(copy)
}

#[inline(always)]
fn put_job(w: &mut impl Sink, job: &Option<Job>) {
    w.flag(job.is_some());
    let j = (*job).unwrap_or(Job {
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
#[inline(always)]
fn get_job(r: &mut impl Source) -> Option<Job> {
    let some = r.get_flag();
    let job = Job {
        status: STATUSES[r.get(3) as usize],
        should_complete: r.get_flag(),
        error: r.get_flag(),
        soft_cancel: r.get_flag(),
    };
    some.then_some(job)
}

const NO_DISK: DiskDef = DiskDef {
    source: Image::Source,
    mirror: None,
    paused_by_libvirt: false,
};

#[inline(always)]
fn put_app(w: &mut impl Sink, app: &App) {
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
#[inline(always)]
fn get_app(r: &mut impl Source) -> App {
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

#[inline(always)]
fn put_ghost_flags(w: &mut impl Sink, g: &Ghost) {
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
#[inline(always)]
fn get_ghost_flags(r: &mut impl Source) -> Ghost {
    let mut flags = [false; 8];
    for f in &mut flags {
        *f = r.get_flag();
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
#[inline(always)]
fn put_parts(w: &mut impl Sink, d: &DiskParts) {
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
#[inline(always)]
fn get_parts(r: &mut impl Source) -> DiskParts {
    let storage = Storage {
        source: r.get(4) as u8,
        target: r.get(4) as u8,
        bitmap: None,
    };
    let active = to_image(r.get(1));
    let job = get_job(r);
    let dirty = r.get(4) as u8;
    let inflight = get_inflight(r);
    let synced = r.get_flag();
    let outcome = OUTCOMES[r.get(3) as usize];
    let job_seen = get_view(r);
    let job_vanished = r.get_flag();
    let refreshed = r.get_flag();
    let outcome_from_refresh = r.get_flag();
    let live = get_disk(r);
    let has_status = r.get_flag();
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
    let (mut storage, mut qemu, n) = r.group(QEMU_BITS, |g| {
        let storage = Storage {
            source: g.get(4) as u8,
            target: g.get(4) as u8,
            bitmap: None,
        };
        let qemu = Qemu {
            alive: g.get_flag(),
            run_state: RUN_STATES[g.get(2) as usize],
            active: to_image(g.get(1)),
            job: get_job(g),
            dirty: g.get(4) as u8,
            inflight: get_inflight(g),
            synced: g.get_flag(),
            monitor: g.get_flag(),
            inbox: get_command(g),
            outbox: crate::state::CopyVec::new(),
            outbox_disks: 0,
        };
        (storage, qemu, g.get(4) as usize)
    });
    for _ in 0..n {
        qemu.outbox.push(get_message(&mut r));
    }
    let (mut libvirtd, mut program) = r.group(LIBVIRTD_BITS, |g| {
        let up = g.get_flag();
        let has_program = g.get_flag();
        let program = Program {
            kind: KINDS[g.get(2) as usize],
            pc: g.get(8) as u8,
            disk: 0,
        };
        let libvirtd = Libvirtd {
            up,
            program: has_program.then_some(program),
            awaiting: get_command(g),
            outcome: OUTCOMES[g.get(3) as usize],
            job_seen: get_view(g),
            job_vanished: g.get_flag(),
            refreshed: g.get_flag(),
            outcome_from_refresh: g.get_flag(),
            shutdown_seen: g.get_flag(),
            live: get_disk(g),
            domain: DOMAINS[g.get(2) as usize],
            status: {
                let has_status = g.get_flag();
                let status = get_disk(g);
                has_status.then_some(status)
            },
            status_unloadable: g.get_flag(),
            config_source: to_image(g.get(1)),
            defined: g.get_flag(),
        };
        (libvirtd, program)
    });
    let (app, ghost, n_others) = r.group(APP_GHOST_BITS, |g| {
        let app = get_app(g);
        let mut ghost = get_ghost_flags(g);
        for &kind in &FaultKind::ALL {
            ghost.faults_used[kind] = g.get(4) as u8;
        }
        (app, ghost, g.get(2))
    });
    let mut others = Others::new();
    if n_others > 0 {
        let tags = 2 * qemu.outbox.len() as u32;
        r.group(2 + tags, |g| {
            program.disk = g.get(2) as u8;
            qemu.outbox_disks = g.get(tags) as u32;
        });
        for _ in 0..n_others {
            others.push(r.group(PARTS_BITS, get_parts));
        }
    }
    libvirtd.program = libvirtd.program.map(|_| program);
    storage.bitmap = r.group(BITMAP_BITS, |g| {
        let some = g.get_flag();
        let image = to_image(g.get(1));
        some.then_some(image)
    });
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
