//! One scenario on real libvirt and QEMU.

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::harness::Out;
use crate::harness::{
    attr, disk_xml, guest, pid_alive, virsh, virsh_ok, wait_for, Libvirtd, Qmp, Work, DOMAIN,
};
use crate::matrix::{Disturb, Spec, When};
use crate::observe::{opt, Holders, Observation, QemuView};

const SECTOR: u64 = 512;
const IMAGE_SIZE: usize = 1 << 20;

/// What the run saw besides the observation: the trigger's log of the pivot, the time.
pub struct RealRun {
    pub obs: Observation,
    /// The QMP commands libvirtd sent after the trigger was armed, in order.
    pub sent: Vec<String>,
    pub millis: u128,
}

fn domain_xml(work: &Work) -> String {
    format!(
        "<domain type='qemu'>\n  <name>{DOMAIN}</name>\n  <memory unit='MiB'>32</memory>\n  \
         <vcpu>1</vcpu>\n  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>\n  \
         <features><acpi/></features>\n  <devices>\n    \
         <emulator>/usr/bin/qemu-system-x86_64</emulator>\n    \
         <disk type='file' device='disk'>\n      <driver name='qemu' type='raw'/>\n      \
         <source file='{}'/>\n      <target dev='vda' bus='virtio'/>\n    </disk>\n    \
         <serial type='unix'>\n      <source mode='bind' path='{}'/>\n      <target port='0'/>\n    \
         </serial>\n    <memballoon model='none'/>\n  </devices>\n</domain>\n",
        work.path("src.raw").display(),
        work.path("serial.sock").display()
    )
}

/// The source image: the guest's boot sector, then a 0x11 fill.
fn make_source(work: &Work) -> Result<()> {
    let mut img = vec![0x11u8; IMAGE_SIZE];
    img[..512].copy_from_slice(&work.guest);
    fs::write(work.path("src.raw"), img)?;
    let _ = fs::remove_file(work.path("tgt.raw"));
    Ok(())
}

/// Whether `image` holds the guest's write of LBA `lba` (pattern 0xA0 + lba).
fn holds(image: &Path, lba: u8) -> Result<bool> {
    let mut f = match fs::File::open(image) {
        Ok(f) => f,
        Err(_) => return Ok(false),
    };
    f.seek(SeekFrom::Start(SECTOR * u64::from(lba)))?;
    let mut b = [0u8; 512];
    if f.read_exact(&mut b).is_err() {
        return Ok(false);
    }
    Ok(b.iter().all(|&x| x == 0xa0 + lba))
}

fn image_name(path: &str) -> String {
    if path.ends_with("/src.raw") {
        "src".into()
    } else if path.ends_with("/tgt.raw") || path.contains(NbdTarget::SOCKET) {
        "tgt".into()
    } else {
        path.into()
    }
}

/// QEMU's truth from `query-block` and `query-jobs` replies.
fn qemu_view(block: &Value, jobs: &Value) -> QemuView {
    let active = block.as_array().and_then(|devs| {
        devs.iter().find_map(|d| {
            d["inserted"]["image"]["filename"]
                .as_str()
                .or_else(|| d["inserted"]["file"].as_str())
                .map(image_name)
        })
    });
    let job = jobs
        .as_array()
        .map(|js| {
            js.first()
                .and_then(|j| j["status"].as_str())
                .unwrap_or("none")
                .to_string()
        })
        .or(Some("none".into()));
    QemuView {
        alive: true,
        active,
        job,
    }
}

/// The running QEMU's pid and monitor socket, from the status XML libvirtd wrote.
fn qemu_from_status(work: &Work) -> Option<(i32, std::path::PathBuf)> {
    let xml = fs::read_to_string(work.status_xml()).ok()?;
    let pid: i32 = attr(&xml, "domstatus", "pid")?.parse().ok()?;
    let mon = attr(&xml, "monitor", "path")?;
    Some((pid, work.outside(&mon)))
}

fn direct_view(mon: &Path) -> Result<QemuView> {
    let mut q = Qmp::connect(mon)?;
    let block = q.execute("query-block")?;
    let jobs = q.execute("query-jobs")?;
    Ok(qemu_view(&block, &jobs))
}

/// QEMU's truth once its job is not between two states: a job in `waiting`, `pending` or
/// `aborting` moves on by itself within milliseconds (auto-finalize), and the model's view
/// is taken after QEMU's own steps have run. A job still there after 5 s is a harness
/// error. (A job told to complete that still shows `ready` cannot be told apart from one
/// that stays `ready`, as a slow scenario's does.)
fn settled_view(mon: &Path) -> Result<QemuView> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let v = direct_view(mon)?;
        if !matches!(v.job.as_deref(), Some("waiting" | "pending" | "aborting")) {
            return Ok(v);
        }
        if Instant::now() > deadline {
            bail!(
                "QEMU's job stayed {} for 5 s (a harness error, not a verdict)",
                opt(&v.job)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn direct_status(mon: &Path) -> Result<String> {
    let mut q = Qmp::connect(mon)?;
    let s = q.execute("query-status")?;
    Ok(s["status"].as_str().unwrap_or("?").to_string())
}

fn hmp_json(work: &Work, cmd: &str) -> Result<Value> {
    let out = virsh_ok(
        work,
        &[
            "qemu-monitor-command",
            DOMAIN,
            &format!("{{\"execute\":\"{cmd}\"}}"),
        ],
    )?;
    let v: Value = serde_json::from_str(out.trim()).context("qemu-monitor-command output")?;
    Ok(v["return"].clone())
}

/// Returns once no libvirt handler holds the domain's job, so that a read of libvirt's view
/// that follows does not fall between two steps of a handler. libvirtd's `dumpxml` and
/// `domstate` only take the domain object's lock, which a handler drops whenever it talks
/// to QEMU; `domjobinfo` first takes the domain job (`virDomainObjBeginJob(vm,
/// VIR_JOB_QUERY)`: libvirt 9.0 `qemu_driver.c:12455`, 11.3 `:12178`) and sends nothing to
/// QEMU when no async job runs. The reconnect holds the job from before any API can look
/// the domain up (the helper locks the object before it starts the thread, which begins the
/// job: 9.0 `qemu_process.c:9200,8927`; 11.3 `:9852,9562`) through its job refresh and the
/// concluded-job handling inside it (9.0 `:9082`, `qemu_blockjob.c:543`; 11.3 `:9729`) to
/// `virDomainObjEndJob` (9.0 `:9143`; 11.3 `:9795`); the event handlers take it too
/// (`processJobStatusChangeEvent`, 9.0 `qemu_driver.c:3764-3775`; 11.3 `:3832-3843`).
/// A domain that is gone or not running has no handler left to wait for. libvirt gives up
/// waiting for the job after 30 s ("cannot acquire state change lock"): a harness error.
fn libvirt_settled(work: &Work) -> Result<()> {
    let o = crate::harness::run(
        std::process::Command::new("virsh").args(["-c", &work.uri(), "-q", "domjobinfo", DOMAIN]),
        Duration::from_secs(45),
    )
    .context("waiting for libvirt's domain job to be free (a harness error, not a verdict)")?;
    if !o.ok && o.stderr.contains("state change lock") {
        bail!(
            "libvirt's domain job stayed busy (a harness error, not a verdict): {}",
            o.stderr.trim()
        );
    }
    Ok(())
}

/// The commands sent while armed, from the trigger's log since `from` (a byte offset).
fn sent_since(work: &Work, from: u64) -> Vec<String> {
    let log = fs::read(work.qmp_log()).unwrap_or_default();
    let tail = String::from_utf8_lossy(&log[(from as usize).min(log.len())..]).to_string();
    tail.lines()
        .filter(|l| l.contains(" > #"))
        .filter_map(|l| {
            let v: Value = serde_json::from_str(&l[l.find('{')?..]).ok()?;
            Some(v["execute"].as_str()?.to_string())
        })
        .collect()
}

/// Kills a QEMU libvirt no longer manages (our scenario caused it) and removes the stale
/// status files it left. Returns whether one was found.
pub fn reap_lost_qemu(work: &Work, pid: Option<i32>) -> Result<bool> {
    let mut found = false;
    if let Some(pid) = pid.filter(|&p| pid_alive(p)) {
        found = true;
        // SAFETY: the PID is the QEMU this scenario's libvirtd started (from its status
        // XML), still alive, which libvirt has lost.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
        wait_for("the lost QEMU to exit", Duration::from_secs(10), || {
            (!pid_alive(pid)).then_some(())
        })?;
    }
    let _ = fs::remove_file(work.status_xml());
    let _ = fs::remove_file(work.path(&format!("run/libvirt/qemu/{DOMAIN}.pid")));
    if let Ok(rd) = fs::read_dir(work.path("varlib/libvirt/qemu")) {
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().to_string();
            if n.starts_with("domain-") && n.ends_with(&format!("-{DOMAIN}")) {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
    Ok(found)
}

/// Removes whatever an earlier (failed) scenario left: the domain, its definition, a QEMU
/// libvirt lost (by the PID in the status XML), stale status files.
pub fn clean_slate(work: &Work, daemon: &Option<Libvirtd>) -> Result<()> {
    let pid = qemu_from_status(work).map(|(p, _)| p);
    if daemon.is_some() {
        let _ = virsh(work, &["destroy", DOMAIN]);
        let _ = virsh(work, &["undefine", DOMAIN]);
    }
    reap_lost_qemu(work, pid)?;
    Ok(())
}

/// Restarts libvirtd armed to die at the `k`-th QMP command of its reconnect, waits for
/// that, and checks that it sent exactly the expected first `k` commands.
fn crash_reconnect(work: &Work, expected: &[&str], k: u8, when: When) -> Result<()> {
    let log_from = fs::metadata(work.qmp_log()).map(|m| m.len()).unwrap_or(0);
    fs::write(work.arm_file(), format!("{k} {}\n", when.name()))?;
    // The reconnect runs while libvirtd starts up: it may die before it answers virsh.
    if let Ok(mut d) = Libvirtd::start(work) {
        if !d.wait_dead(Duration::from_secs(10)) {
            let _ = fs::remove_file(work.arm_file());
            let _ = d.stop();
            bail!("the trigger did not kill the reconnecting libvirtd");
        }
    }
    let _ = fs::remove_file(work.arm_file());
    check_sent(
        &sent_since(work, log_from),
        expected,
        usize::from(k),
        "on reconnect",
    )
}

/// libvirtd sent exactly the first `upto` commands of `expected`: the trigger hit the
/// intended command.
fn check_sent(sent: &[String], expected: &[&str], upto: usize, when: &str) -> Result<()> {
    if sent.len() != upto || sent.iter().zip(expected).any(|(a, b)| a != b) {
        bail!("libvirtd sent {sent:?} {when}; expected the first {upto} of {expected:?}");
    }
    Ok(())
}

/// Waits for the trigger's "stop on reply" line after `log_from`, then checks that libvirtd
/// really stopped there ([`stopped_at_reply`]).
fn stop_at_reply(work: &Work, daemon_pid: i32, log_from: u64, what: &str) -> Result<()> {
    wait_for(
        &format!("libvirtd to stop at {what}"),
        Duration::from_secs(10),
        || {
            let log = fs::read(work.qmp_log()).ok()?;
            let tail = &log[(log_from as usize).min(log.len())..];
            String::from_utf8_lossy(tail)
                .contains("! stop on reply")
                .then_some(())
        },
    )?;
    stopped_at_reply(work, daemon_pid, log_from, what)
}

/// Waits until libvirtd is in the stopped state after the trigger's "stop on reply", and
/// fails (a harness race, not a verdict) if it sent anything after the stop line: the
/// trigger's `kill(self, SIGSTOP)` has let libvirtd go on for milliseconds (seen in a pause
/// scenario: `query-jobs`, `job-dismiss` and the rest of the pivot sent to a live QEMU
/// after the stop line, which made the scenario a plain pivot).
fn stopped_at_reply(work: &Work, daemon_pid: i32, log_from: u64, what: &str) -> Result<()> {
    wait_for("libvirtd to be stopped", Duration::from_secs(2), || {
        let stat = fs::read_to_string(format!("/proc/{daemon_pid}/stat")).ok()?;
        let state = stat.rsplit(')').next()?.split_whitespace().next()?;
        (state == "T" || state == "t").then_some(())
    })?;
    let log = fs::read(work.qmp_log())?;
    let tail = String::from_utf8_lossy(&log[(log_from as usize).min(log.len())..]);
    let after = tail.split("! stop on reply").nth(1).unwrap_or("");
    if after.contains(" > #") {
        bail!("libvirtd went on after the stop at {what} (a harness race, not a verdict)");
    }
    Ok(())
}

/// The pivot of a pause scenario: `virsh blockjob --pivot` runs while the trigger stops
/// libvirtd at the armed reply; meanwhile the job concludes, the guest writes (LBA 1) and
/// `disturb` strikes QEMU; then libvirtd resumes (SIGCONT) and answers. Returns virsh's
/// result and whether the guest's write was acknowledged.
fn paused_pivot(
    work: &Work,
    daemon_pid: i32,
    qemu_pid: i32,
    disturb: Disturb,
    log_from: u64,
) -> Result<(Out, bool)> {
    let serial = work.path("serial.sock");
    std::thread::scope(|s| {
        let pivot = s.spawn(|| virsh(work, &["blockjob", DOMAIN, "vda", "--pivot"]));
        let acted = (|| -> Result<bool> {
            stop_at_reply(work, daemon_pid, log_from, "the job-complete reply")?;
            // The converged job completes within milliseconds; give it half a second.
            std::thread::sleep(Duration::from_millis(500));
            let wrote = guest(&serial, b'1', b'a', Duration::from_secs(3))?;
            // The scenario needs the job concluded before the write and the disturbance
            // (libvirtd holds the monitor, so QEMU cannot be asked): a write on the target
            // only shows that QEMU had switched to it. Otherwise the half second was too
            // short, a harness error rather than an answer.
            let (src, tgt) = (work.path("src.raw"), work.path("tgt.raw"));
            if wrote && Holders::from_flags(holds(&src, 1)?, holds(&tgt, 1)?) != Holders::Target {
                bail!("QEMU had not completed the job before the guest's write while libvirtd was stopped (a harness error, not a verdict)");
            }
            match disturb {
                Disturb::PowerOff => {
                    guest(&serial, b'P', b'p', Duration::from_secs(3))?;
                    std::thread::sleep(Duration::from_millis(500));
                }
                Disturb::QemuCrash => {
                    // SAFETY: the QEMU this scenario's libvirtd started (status XML).
                    unsafe {
                        libc::kill(qemu_pid, libc::SIGKILL);
                    }
                    wait_for("QEMU to die", Duration::from_secs(10), || {
                        (!pid_alive(qemu_pid)).then_some(())
                    })?;
                }
            }
            Ok(wrote)
        })();
        // SAFETY: the libvirtd this harness started; it stopped itself (or is running).
        unsafe {
            libc::kill(daemon_pid, libc::SIGCONT);
        }
        let out = pivot
            .join()
            .map_err(|_| anyhow::anyhow!("the virsh thread panicked"))??;
        Ok((out, acted?))
    })
}

/// A slow scenario's copy target: `tgt.raw` served by `qemu-nbd` on a unix socket, so that
/// the harness can hold the copy's writes (SIGSTOP the server) and let them go (SIGCONT).
/// QEMU's mirror cannot be held by its speed once it is ready: `mirror_run` applies the
/// rate limit only while it is not ready (QEMU 10, `block/mirror.c`; measured: a chunk
/// dirtied after `block-job-set-speed 1` was copied at once). A held write keeps the job
/// from converging, so QEMU accepts `job-complete` and the job stays `ready`.
pub struct NbdTarget {
    child: std::process::Child,
}

impl NbdTarget {
    pub const SOCKET: &'static str = "tgt.sock";

    fn start(work: &Work) -> Result<NbdTarget> {
        fs::write(work.path("tgt.raw"), vec![0u8; IMAGE_SIZE])?;
        let sock = work.path(Self::SOCKET);
        let _ = fs::remove_file(&sock);
        let child = std::process::Command::new("qemu-nbd")
            .args(["-t", "-f", "raw", "--cache=writeback", "-k"])
            .arg(&sock)
            .arg(work.path("tgt.raw"))
            .stdin(std::process::Stdio::null())
            .spawn()
            .context("starting qemu-nbd")?;
        let t = NbdTarget { child };
        wait_for("qemu-nbd's socket", Duration::from_secs(10), || {
            sock.exists().then_some(())
        })?;
        Ok(t)
    }

    fn signal(&self, sig: libc::c_int) {
        // SAFETY: our own child, not yet reaped (reaped only in `drop`).
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
    }

    /// The disk XML `virsh blockcopy --xml` takes.
    fn disk_xml(work: &Work) -> String {
        format!(
            "<disk type='network' device='disk'>\n  <driver name='qemu' type='raw'/>\n  \
             <source protocol='nbd'>\n    <host transport='unix' socket='{}'/>\n  </source>\n\
             </disk>\n",
            work.path(Self::SOCKET).display()
        )
    }
}

impl Drop for NbdTarget {
    fn drop(&mut self) {
        self.signal(libc::SIGCONT);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The pivot of a slow scenario: the trigger stops libvirtd at the reply to the bitmap
/// `transaction` (a `transaction` drains all I/O, so the copy's writes must not be held
/// before it); the harness holds the NBD target, the guest writes LBA 3 so that the
/// mirror's copy of that chunk hangs, the trigger is re-armed to kill libvirtd at the reply
/// to its next command (`job-complete`), and libvirtd resumes.
fn slow_pivot(work: &Work, daemon_pid: i32, nbd: &NbdTarget, log_from: u64) -> Result<Out> {
    let serial = work.path("serial.sock");
    std::thread::scope(|s| {
        let pivot = s.spawn(|| virsh(work, &["blockjob", DOMAIN, "vda", "--pivot"]));
        let acted = (|| -> Result<()> {
            // libvirtd must really be stopped with the reply unread: once (1 run in about
            // 40) it sent job-complete in the same millisecond as the stop line, the job
            // concluded before the target was held, and a later drain hung on the held
            // target.
            stop_at_reply(work, daemon_pid, log_from, "the transaction reply")?;
            nbd.signal(libc::SIGSTOP);
            if !guest(&serial, b'3', b'c', Duration::from_secs(3))? {
                bail!("the guest did not acknowledge its write of LBA 3");
            }
            // The ready mirror looks at its dirty bitmap every 100 ms.
            std::thread::sleep(Duration::from_millis(500));
            fs::write(work.arm_file(), "1 reply\n")?;
            Ok(())
        })();
        // SAFETY: the libvirtd this harness started; it stopped itself (or is running).
        unsafe {
            libc::kill(daemon_pid, libc::SIGCONT);
        }
        let out = pivot
            .join()
            .map_err(|_| anyhow::anyhow!("the virsh thread panicked"))??;
        acted?;
        Ok(out)
    })
}

/// A slow scenario after the restart: once the reconnect is over (`blockjob --info` waits
/// for it), the NBD target resumes, the held write completes, the job converges, carries
/// out the `job-complete` it accepted before the crash and concludes under the restarted
/// libvirtd. Waits until QEMU has no job left and libvirt's live XML no mirror.
/// With `second`, the trigger is armed first and libvirtd dies at that point of its
/// concluded-job path ([`crate::matrix::CONCLUDED_AFTER_RESTART`]); the caller restarts it.
fn release(
    work: &Work,
    daemon: &mut Libvirtd,
    nbd: &NbdTarget,
    second: Option<(u8, When)>,
) -> Result<()> {
    let _ = virsh(work, &["blockjob", DOMAIN, "vda", "--info"])?;
    if let Some((k, when)) = second {
        let log_from = fs::metadata(work.qmp_log()).map(|m| m.len()).unwrap_or(0);
        fs::write(work.arm_file(), format!("{k} {}\n", when.name()))?;
        nbd.signal(libc::SIGCONT);
        let dead = daemon.wait_dead(Duration::from_secs(10));
        let _ = fs::remove_file(work.arm_file());
        if !dead {
            bail!("the trigger did not kill libvirtd in its concluded-job path");
        }
        return check_sent(
            &sent_since(work, log_from),
            crate::matrix::CONCLUDED_AFTER_RESTART,
            usize::from(k),
            "when the job concluded after the restart",
        );
    }
    nbd.signal(libc::SIGCONT);
    // Settled once QEMU has no job left: libvirt dismisses the concluded job inside its
    // handler, which holds the domain job until its status save, and `query-jobs` through
    // libvirt waits for that job (`qemuDomainQemuMonitorCommandWithFiles` begins a
    // VIR_JOB_QUERY: 9.0 `qemu_driver.c:13839`, 11.3 `:13553`). libvirt's view (the
    // mirror) is read later and compared, not waited for; no dismissal within the time is a
    // harness error, not a verdict.
    wait_for(
        "the job to conclude and libvirt to dismiss it",
        Duration::from_secs(20),
        || {
            let jobs = hmp_json(work, "query-jobs").ok()?;
            jobs.as_array().is_some_and(|a| a.is_empty()).then_some(())
        },
    )?;
    Ok(())
}

/// Runs one scenario. `daemon` is a running libvirtd with the trigger disarmed; on return
/// it is again a running, disarmed libvirtd (restarted if the trigger killed it).
pub fn run(work: &Work, daemon: &mut Option<Libvirtd>, spec: &Spec) -> Result<RealRun> {
    let t0 = Instant::now();
    let serial = work.path("serial.sock");
    let _ = fs::remove_file(work.arm_file());
    if daemon.is_none() {
        *daemon = Some(Libvirtd::start(work)?);
    }
    clean_slate(work, daemon)?;
    let mut rec = match &work.record {
        Some(root) => Some(crate::record::Recording::start(root, work, spec)?),
        None => None,
    };
    make_source(work)?;
    fs::write(work.path("dom.xml"), domain_xml(work))?;
    let dom_xml = work.path("dom.xml").display().to_string();
    if spec.persistent {
        virsh_ok(work, &["define", &dom_xml])?;
        virsh_ok(work, &["start", DOMAIN])?;
    } else {
        virsh_ok(work, &["create", &dom_xml])?;
    }
    let (qemu_pid, monitor) =
        qemu_from_status(work).context("no QEMU pid/monitor in the status XML")?;
    wait_for("the guest to boot", Duration::from_secs(20), || {
        guest(&serial, b'?', b'r', Duration::from_millis(300))
            .ok()
            .filter(|&ok| ok)
    })?;
    let nbd = if spec.slow {
        let t = NbdTarget::start(work)?;
        fs::write(work.path("tgt.xml"), NbdTarget::disk_xml(work))?;
        let xml = work.path("tgt.xml").display().to_string();
        virsh_ok(
            work,
            &[
                "blockcopy",
                DOMAIN,
                "vda",
                "--xml",
                &xml,
                "--transient-job",
                "--reuse-external",
            ],
        )?;
        Some(t)
    } else {
        virsh_ok(
            work,
            &[
                "blockcopy",
                DOMAIN,
                "vda",
                &work.path("tgt.raw").display().to_string(),
                "--format",
                "raw",
                "--transient-job",
            ],
        )?;
        None
    };
    wait_for("the copy to be ready", Duration::from_secs(20), || {
        let x = virsh_ok(work, &["dumpxml", DOMAIN]).ok()?;
        attr(disk_xml(&x)?, "mirror", "ready")
            .filter(|r| r == "yes")
            .map(|_| ())
    })?;

    // Arm and pivot.
    let log_from = fs::metadata(work.qmp_log()).map(|m| m.len()).unwrap_or(0);
    let arm = match (spec.crash, spec.pause) {
        (_, Some((k, _))) => format!("{k} pause\n"),
        (Some(_), None) if spec.slow => "1 pause\n".to_string(),
        (None, None) => "0 before\n".to_string(),
        (Some((k, w)), None) => format!("{k} {}\n", w.name()),
    };
    fs::write(work.arm_file(), arm)?;
    let mut paused_write = None;
    let pivot = match spec.pause {
        Some((_, disturb)) => {
            let pid = daemon.as_ref().expect("started above").pid() as i32;
            let (out, wrote) = paused_pivot(work, pid, qemu_pid, disturb, log_from)?;
            paused_write = Some(wrote);
            out
        }
        None => match &nbd {
            Some(t) => {
                let pid = daemon.as_ref().expect("started above").pid() as i32;
                slow_pivot(work, pid, t, log_from)?
            }
            None => virsh(work, &["blockjob", DOMAIN, "vda", "--pivot"])?,
        },
    };
    let mut obs = Observation::default();
    if spec.pause.is_some() {
        // "error": one of the two failures libvirt gives when the monitor's EOF is handled
        // before the pivot call moves on (`predict.rs`, the pause branch): "domain is not
        // running" (woke from its wait to a domain being destroyed) or "End of file from
        // qemu monitor" (`job-complete`'s reply was read, but the EOF's error was set
        // before the call took it). Any other error is shown with its message.
        let err = pivot.stderr.trim();
        obs.answer = Some(if pivot.ok {
            "0".into()
        } else if err.contains("domain is not running")
            || err.contains("End of file from qemu monitor")
        {
            "error".into()
        } else {
            format!("error: {err}")
        });
    }
    let crashed = spec.crash.is_some();
    if crashed {
        let d = daemon.as_mut().expect("started above");
        if !d.wait_dead(Duration::from_secs(10)) {
            bail!(
                "the trigger did not kill libvirtd (pivot: {})",
                pivot.stderr.trim()
            );
        }
        *daemon = None;
        if let Some(r) = rec.as_mut() {
            r.crashed(work)?;
        }
    } else if !pivot.ok && spec.pause.is_none() {
        bail!("the control pivot failed: {}", pivot.stderr.trim());
    }
    let _ = fs::remove_file(work.arm_file());
    let sent = sent_since(work, log_from);
    let expected: Vec<&str> = spec.libvirt.pivot_commands().iter().map(|c| c.0).collect();
    let upto = spec
        .crash
        .or(spec.pause.map(|(k, _)| (k, When::Reply)))
        .map(|(k, _)| usize::from(k))
        .unwrap_or(expected.len());
    // A resumed libvirtd may send more of the pivot: the armed prefix is what is checked.
    let sent_upto = if spec.pause.is_some() {
        &sent[..upto.min(sent.len())]
    } else {
        &sent[..]
    };
    check_sent(sent_upto, &expected, upto, "during the pivot")?;

    // While libvirtd is down: QEMU's truth, a guest write, maybe a power-off.
    let wrote_down;
    if crashed {
        obs.down = Some(settled_view(&monitor)?);
        wrote_down = guest(&serial, b'1', b'a', Duration::from_secs(3))?;
        if spec.poweroff {
            guest(&serial, b'P', b'p', Duration::from_secs(3))?;
            wait_for("QEMU to report shutdown", Duration::from_secs(10), || {
                (direct_status(&monitor).ok()? == "shutdown").then_some(())
            })?;
        }
        if let Some(d) = spec.double().filter(|_| !spec.slow) {
            crash_reconnect(work, d.reconnect, d.second.0, d.second.1)?;
            if let Some(r) = rec.as_mut() {
                r.crashed(work)?;
                r.down2 = Some(settled_view(&monitor)?);
            }
        }
        *daemon = Some(Libvirtd::start(work)?);
        if let Some(t) = &nbd {
            let d = daemon.as_mut().expect("started above");
            release(work, d, t, spec.second)?;
            if spec.second.is_some() {
                *daemon = None;
                if let Some(r) = rec.as_mut() {
                    r.crashed(work)?;
                    r.down2 = Some(settled_view(&monitor)?);
                }
                *daemon = Some(Libvirtd::start(work)?);
            }
        }
    } else if let Some(wrote) = paused_write {
        wrote_down = wrote;
    } else {
        wrote_down = guest(&serial, b'1', b'a', Duration::from_secs(3))?;
        if spec.poweroff {
            guest(&serial, b'P', b'p', Duration::from_secs(3))?;
            wait_for(
                "libvirt to stop the domain",
                Duration::from_secs(10),
                || {
                    let o = virsh(work, &["domstate", DOMAIN]).ok()?;
                    (!o.ok || o.stdout.trim() != "running").then_some(())
                },
            )?;
        }
    }

    // libvirt's view after the restart, once it has finished a shutdown it started: not
    // while it says "in shutdown", and not while it still says "running" for a QEMU that
    // is gone (the reconnect killed it and the monitor's EOF is not handled yet; seen once
    // under load at query-jobs.reply.persistent.poweroff: running, QEMU gone).
    // A state that lasts beyond the wait is libvirt's answer, compared with the model
    // like any other (a lasting "running" without QEMU would be a finding, not an error).
    // Each read follows a free domain job (`libvirt_settled`): seen once under load at
    // job-complete.reply.transient, `<mirror ready='yes'>` read while the reconnect was in
    // its concluded job's `job-dismiss`.
    let mut settle_error = None;
    let state = match wait_for(
        "libvirt to finish the shutdown",
        Duration::from_secs(10),
        || {
            if let Err(e) = libvirt_settled(work) {
                settle_error = Some(e);
                return Some(None);
            }
            let o = virsh(work, &["domstate", DOMAIN]).ok()?;
            let state = o.stdout.trim();
            let settling = state == "in shutdown" || (state == "running" && !pid_alive(qemu_pid));
            (!settling).then_some(Some(o))
        },
    ) {
        Ok(Some(o)) => o,
        Ok(None) => return Err(settle_error.expect("set with None")),
        Err(_) => {
            libvirt_settled(work)?;
            virsh(work, &["domstate", DOMAIN])?
        }
    };
    obs.domain = if state.ok {
        state.stdout.trim().to_string()
    } else {
        "unknown".into()
    };
    let managed_running = obs.domain == "running";
    if managed_running {
        let x = virsh_ok(work, &["dumpxml", DOMAIN])?;
        let disk = disk_xml(&x).context("no vda in the live XML")?;
        obs.live_source = attr(disk, "source", "file")
            .or_else(|| attr(disk, "host", "socket"))
            .map(|f| image_name(&f));
        obs.mirror = Some(if disk.contains("<mirror") {
            attr(disk, "mirror", "ready").unwrap_or_else(|| "no".into())
        } else {
            "none".into()
        });
    }
    if spec.persistent && state.ok {
        let x = virsh_ok(work, &["dumpxml", "--inactive", DOMAIN])?;
        obs.config_source = disk_xml(&x)
            .and_then(|d| attr(d, "source", "file"))
            .map(|f| image_name(&f));
    }
    if let Some(r) = rec.as_mut() {
        // After libvirt's view was read (a reconnect may still be finishing a pivot while
        // `domstate` already answers) and before the harness's own monitor queries, which
        // libvirt would log too.
        r.snapshot(work, spec.persistent)?;
    }
    // QEMU's truth: through libvirt if it manages QEMU, else on the freed monitor.
    let alive = pid_alive(qemu_pid);
    let mut running = false;
    if alive && managed_running {
        obs.qemu = qemu_view(
            &hmp_json(work, "query-block")?,
            &hmp_json(work, "query-jobs")?,
        );
        running = hmp_json(work, "query-status")?["status"] == "running";
    } else if alive {
        obs.qemu = settled_view(&monitor)?;
        running = direct_status(&monitor)? == "running";
    }
    let wrote_after = running && guest(&serial, b'2', b'b', Duration::from_secs(3))?;
    let src = work.path("src.raw");
    let tgt = work.path("tgt.raw");
    // A live mirror copies the write to the target in the background, as the model's
    // QEMU does before the comparison: give it up to 2 s.
    let job_live = matches!(obs.qemu.job.as_deref(), Some("running" | "ready"));
    if wrote_after && job_live && obs.qemu.active.as_deref() == Some("src") {
        let _ = wait_for(
            "the mirror to copy the write",
            Duration::from_secs(2),
            || holds(&tgt, 2).ok().filter(|&h| h).map(|_| ()),
        );
    }
    let held = |lba: u8, wrote: bool| -> Result<Holders> {
        Ok(if wrote {
            Holders::from_flags(holds(&src, lba)?, holds(&tgt, lba)?)
        } else {
            Holders::NotWritten
        })
    };
    obs.write_down = held(1, wrote_down)?;
    obs.write_after = held(2, wrote_after)?;

    if let Some(r) = rec {
        r.finish(spec, &obs)?;
    }
    // Clean up: stop and forget the domain, reap a QEMU libvirt lost.
    let _ = virsh(work, &["destroy", DOMAIN]);
    if spec.persistent {
        let _ = virsh(work, &["undefine", DOMAIN]);
    }
    reap_lost_qemu(work, Some(qemu_pid))?;
    drop(nbd);
    let _ = fs::remove_file(work.path("src.raw"));
    let _ = fs::remove_file(work.path("tgt.raw"));
    Ok(RealRun {
        obs,
        sent,
        millis: t0.elapsed().as_millis(),
    })
}
