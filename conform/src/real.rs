//! The real system: one guest-less QEMU 10 (`-machine none`) with a source image on the
//! named BlockBackend `drive0`, a blockdev-mirror job `mirror0` to a target node `tgt`,
//! and two QMP connections:
//!
//! - **libvirtd's** (`qmp.sock`), which the replay closes and reopens as the model's
//!   libvirtd crashes and restarts, and on which the model's commands are sent. Its
//!   events are compared with the events the model queues for libvirtd.
//! - **the observer's** (`observer.sock`), the harness's own eyes and hands: queries after
//!   each step, guest writes (HMP `qemu-io drive0`), `quit`, holding the job. It never
//!   disconnects, so QEMU can be watched while "libvirtd" is down. QEMU broadcasts events
//!   to every monitor; the observer's copies are ignored.

use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::time::{Duration, Instant};

use model::state::{JobStatus, JobView, Reply, RunState};
use model::{Command, Image};
use qmp::{QemuProcess, Qmp, QmpError};
use serde_json::{json, Value};

/// Guest block `b` is the 4 KiB at `b * BLOCK_STRIDE`: each block in its own 64 KiB
/// mirror chunk, so a copy of one block never carries another.
pub const BLOCK_STRIDE: u64 = 64 * 1024;
pub const BLOCK_LEN: u64 = 4096;
/// Image size: small, so that the initial copy takes milliseconds.
pub const IMAGE_SIZE: &str = "1M";
/// The pattern the source holds before the copy starts: the "initial contents".
pub const INITIAL_PATTERN: u8 = 0x11;
const JOB: &str = "mirror0";
/// Timeout for one QMP command, a connect, or a process exit.
pub const QMP_TIMEOUT: Duration = Duration::from_secs(10);

/// What the observer sees of QEMU at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    pub run_state: String,
    /// The mirror job's status as the model names it, and whether it carries an error.
    pub job: Option<(String, bool)>,
    /// The image behind the node `drive0` uses (`src` or `tgt`); `None` for any other node.
    pub active: Option<Image>,
}

/// Errors of the harness itself (QEMU would not start, a tool failed): not a verdict
/// about the model.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("{0}")]
    Qmp(#[from] QmpError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Tool(String),
}

pub struct Real {
    dir: PathBuf,
    // Declared before `proc`: connections close before QEMU is killed on drop.
    observer: Option<Qmp>,
    libvirtd: Option<Qmp>,
    proc: QemuProcess,
    /// The harness paused the job (`block-job-pause`) to hold back background copies
    /// the model has not made yet. A held job reports `standby` for the model's `ready`.
    pub held: bool,
    /// The pattern of the latest acknowledged write of each block.
    pub patterns: Vec<u8>,
    next_pattern: u8,
}

fn tool(bin: &str, args: &[&str]) -> Result<(bool, String), HarnessError> {
    let out = Process::new(bin)
        .args(args)
        .output()
        .map_err(|e| HarnessError::Tool(format!("cannot run {bin}: {e}")))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((out.status.success(), text))
}

pub fn image_path(dir: &Path, image: Image) -> PathBuf {
    dir.join(match image {
        Image::Source => "src.qcow2",
        Image::Target => "tgt.qcow2",
    })
}

/// Whether `image` holds `pattern` in block `b`, read offline (`qemu-io -r -U`).
pub fn holds(dir: &Path, image: Image, b: u8, pattern: u8) -> Result<bool, HarnessError> {
    let path = image_path(dir, image);
    let cmd = format!(
        "read -P 0x{pattern:02x} {} {BLOCK_LEN}",
        b as u64 * BLOCK_STRIDE
    );
    let (ok, out) = tool(
        "qemu-io",
        &[
            "-f",
            "qcow2",
            "-r",
            "-U",
            "-c",
            &cmd,
            &path.to_string_lossy(),
        ],
    )?;
    if out.contains("Pattern verification failed") {
        return Ok(false);
    }
    if !ok || !out.contains("read ") {
        return Err(HarnessError::Tool(format!(
            "qemu-io {cmd} on {}: {out}",
            path.display()
        )));
    }
    Ok(true)
}

/// `qemu-img compare`: whether source and target have identical contents.
pub fn identical(dir: &Path) -> Result<bool, HarnessError> {
    let (s, t) = (
        image_path(dir, Image::Source),
        image_path(dir, Image::Target),
    );
    let out = Process::new("qemu-img")
        .args(["compare", "-U", "-f", "qcow2", "-F", "qcow2"])
        .arg(&s)
        .arg(&t)
        .output()
        .map_err(|e| HarnessError::Tool(format!("cannot run qemu-img: {e}")))?;
    match out.status.code() {
        Some(0) => Ok(true),
        Some(1) => Ok(false),
        _ => Err(HarnessError::Tool(format!(
            "qemu-img compare failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ))),
    }
}

/// Waits until QEMU reports `running` on libvirtd's connection, then discards what that
/// connection heard while QEMU was starting.
///
/// QEMU announces its own start (`vm_start`: RESUME) and can dispatch QMP commands from
/// nested event loops before that, so now and then (seen once in CI) libvirtd's freshly
/// negotiated connection received the start-up RESUME. The model's initial state has
/// nothing on libvirtd's connection. QEMU writes an event to a monitor before any later
/// reply, so once a `query-status` reply says `running`, every start-up event has
/// already arrived and is taken here.
fn settle_startup(libvirtd: &mut Qmp) -> Result<(), HarnessError> {
    let running = poll(QMP_TIMEOUT, || {
        let status = libvirtd.execute("query-status", Value::Null)?;
        Ok((status.get("status").and_then(Value::as_str) == Some("running")).then_some(()))
    })?;
    if running.is_none() {
        return Err(HarnessError::Tool(
            "QEMU did not reach the running state after start-up".into(),
        ));
    }
    libvirtd.events()?;
    libvirtd.take_history();
    Ok(())
}

fn job_args(extra: Value) -> Value {
    let mut v = json!({ "device": JOB });
    if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
        o.extend(e);
    }
    v
}

impl Real {
    /// Makes the images, starts QEMU and the mirror job: the model's initial state (a
    /// running copy to an empty target, libvirtd connected).
    pub fn start(
        dir: &Path,
        write_blocking: bool,
        no_shutdown: bool,
        auto_finalize: bool,
        auto_dismiss: bool,
        blocks: u8,
    ) -> Result<Real, HarnessError> {
        std::fs::create_dir_all(dir)?;
        let src = image_path(dir, Image::Source);
        let tgt = image_path(dir, Image::Target);
        for img in [&src, &tgt] {
            let (ok, out) = tool(
                "qemu-img",
                &[
                    "create",
                    "-q",
                    "-f",
                    "qcow2",
                    &img.to_string_lossy(),
                    IMAGE_SIZE,
                ],
            )?;
            if !ok {
                return Err(HarnessError::Tool(format!("qemu-img create: {out}")));
            }
        }
        let fill = format!("write -P 0x{INITIAL_PATTERN:02x} 0 {IMAGE_SIZE}");
        let (ok, out) = tool(
            "qemu-io",
            &["-f", "qcow2", "-c", &fill, &src.to_string_lossy()],
        )?;
        if !ok {
            return Err(HarnessError::Tool(format!("qemu-io {fill}: {out}")));
        }

        let obs_sock = dir.join("observer.sock");
        let qmp_arg = format!("unix:{},server=on,wait=off", obs_sock.display());
        let mut extra = vec!["-qmp", qmp_arg.as_str()];
        if no_shutdown {
            extra.push("-no-shutdown");
        }
        let mut proc = QemuProcess::spawn(dir, &src, &extra)?;
        let mut libvirtd = proc.connect(QMP_TIMEOUT)?;
        // Before the job exists, so that only start-up events are discarded.
        settle_startup(&mut libvirtd)?;
        let mut observer = Qmp::connect(&obs_sock, QMP_TIMEOUT)?;
        observer.execute(
            "blockdev-add",
            json!({"node-name": "tgt-file", "driver": "file", "filename": tgt}),
        )?;
        observer.execute(
            "blockdev-add",
            json!({"node-name": "tgt", "driver": "qcow2", "file": "tgt-file"}),
        )?;
        observer.execute(
            "blockdev-mirror",
            json!({
                "job-id": JOB, "device": "drive0", "target": "tgt", "sync": "full",
                "copy-mode": if write_blocking { "write-blocking" } else { "background" },
                "auto-finalize": auto_finalize, "auto-dismiss": auto_dismiss,
            }),
        )?;
        Ok(Real {
            dir: dir.to_path_buf(),
            observer: Some(observer),
            libvirtd: Some(libvirtd),
            proc,
            held: false,
            patterns: vec![INITIAL_PATTERN; blocks as usize],
            next_pattern: 0x20,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn observer(&mut self) -> Result<&mut Qmp, HarnessError> {
        self.observer
            .as_mut()
            .ok_or_else(|| HarnessError::Tool("the observer connection is closed".into()))
    }

    /// The guest writes block `b` through `drive0` (above the mirror filter, like guest
    /// I/O) with a fresh pattern, which becomes the block's latest acknowledged write.
    pub fn guest_write(&mut self, b: u8) -> Result<(), HarnessError> {
        let pattern = self.next_pattern;
        self.next_pattern = if pattern >= 0xf0 { 0x20 } else { pattern + 1 };
        let cmd = format!(
            "write -P 0x{pattern:02x} {} {BLOCK_LEN}",
            b as u64 * BLOCK_STRIDE
        );
        let mut obs = self.observer.take().expect("observer open");
        let out = self.proc.qemu_io(&mut obs, "drive0", &cmd);
        self.observer = Some(obs);
        let out = out?;
        if !out.contains("wrote ") {
            return Err(HarnessError::Tool(format!("qemu-io drive0 {cmd}: {out}")));
        }
        self.patterns[b as usize] = pattern;
        Ok(())
    }

    /// Whether the target node holds the latest write of block `b`, read through QEMU.
    /// The read drains the node, which also lets a resumed job's copy land.
    pub fn target_holds_now(&mut self, b: u8) -> Result<bool, HarnessError> {
        let cmd = format!(
            "read -P 0x{:02x} {} {BLOCK_LEN}",
            self.patterns[b as usize],
            b as u64 * BLOCK_STRIDE
        );
        let mut obs = self.observer.take().expect("observer open");
        let out = self.proc.qemu_io(&mut obs, "tgt", &cmd);
        self.observer = Some(obs);
        let out = out?;
        Ok(out.contains("read ") && !out.contains("Pattern verification failed"))
    }

    pub fn hold(&mut self) -> Result<(), HarnessError> {
        self.observer()?
            .execute("block-job-pause", job_args(Value::Null))?;
        self.held = true;
        Ok(())
    }

    pub fn release(&mut self) -> Result<(), HarnessError> {
        self.held = false;
        match self
            .observer()?
            .execute("block-job-resume", job_args(Value::Null))
        {
            // The job may be gone already (cancelled by an exit, dismissed).
            Ok(_) | Err(QmpError::Command { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Sends the model's command on libvirtd's connection; returns the QMP id.
    pub fn send(&mut self, cmd: Command) -> Result<u64, HarnessError> {
        let (name, args) = match cmd {
            Command::Stop => ("stop", Value::Null),
            Command::Cont => ("cont", Value::Null),
            Command::JobComplete => ("block-job-complete", job_args(Value::Null)),
            Command::JobCancel => ("block-job-cancel", job_args(Value::Null)),
            Command::JobFinalize => ("job-finalize", json!({ "id": JOB })),
            Command::JobDismiss => ("job-dismiss", json!({ "id": JOB })),
            Command::QueryJobs => ("query-jobs", Value::Null),
            Command::QueryBlockJobs => ("query-block-jobs", Value::Null),
            Command::QueryBlock => ("query-block", Value::Null),
            Command::QueryStatus => ("query-status", Value::Null),
            Command::DriveReopen | Command::BlockdevDel | Command::BlockdevDelMirror => {
                return Err(HarnessError::Tool(format!(
                    "{} cannot be replayed (see conform/README.md)",
                    cmd.qmp_name()
                )))
            }
        };
        let lv = self
            .libvirtd
            .as_mut()
            .ok_or_else(|| HarnessError::Tool("libvirtd's connection is closed".into()))?;
        Ok(lv.send_command(name, args)?)
    }

    /// Reads the reply to `id` and says what it means in the model's words.
    pub fn reply(&mut self, id: u64, cmd: Command) -> Result<Reply, HarnessError> {
        let held = self.held;
        let lv = self
            .libvirtd
            .as_mut()
            .ok_or_else(|| HarnessError::Tool("libvirtd's connection is closed".into()))?;
        let r = match lv.wait_reply_to(id, QMP_TIMEOUT) {
            Ok(v) => v,
            Err(QmpError::Command { .. }) => return Ok(Reply::Error),
            Err(e) => return Err(e.into()),
        };
        Ok(match cmd {
            Command::QueryJobs | Command::QueryBlockJobs => {
                let key = if cmd == Command::QueryJobs {
                    "id"
                } else {
                    "device"
                };
                Reply::Jobs(job_of(&r, key, held).map(|(status, error)| JobView {
                    status: status_from_name(&status).unwrap_or(JobStatus::Running),
                    error,
                }))
            }
            Command::QueryBlock => Reply::Block(if active_of(&r) == Some(Image::Target) {
                Image::Target
            } else {
                Image::Source
            }),
            Command::QueryStatus => Reply::Status(
                match r.get("status").and_then(Value::as_str).unwrap_or("") {
                    "paused" => RunState::Paused,
                    "shutdown" => RunState::Shutdown,
                    _ => RunState::Running,
                },
            ),
            _ => Reply::Ok,
        })
    }

    /// Drops libvirtd's connection: a libvirtd crash. Unread replies and events are lost.
    pub fn disconnect(&mut self) {
        self.libvirtd = None;
    }

    /// A restarted libvirtd reconnects. QEMU does not replay past events to it.
    pub fn reconnect(&mut self) -> Result<(), HarnessError> {
        self.libvirtd = Some(self.proc.connect(QMP_TIMEOUT)?);
        Ok(())
    }

    pub fn libvirtd_connected(&self) -> bool {
        self.libvirtd.is_some()
    }

    /// New events on libvirtd's connection (empty when it is closed).
    pub fn libvirtd_events(&mut self) -> Result<Vec<qmp::Event>, HarnessError> {
        match self.libvirtd.as_mut() {
            Some(lv) => Ok(lv.events()?),
            None => Ok(Vec::new()),
        }
    }

    /// `quit`: QEMU exits cleanly, as on a guest power-off without `-no-shutdown`.
    pub fn quit(&mut self) -> Result<(), HarnessError> {
        match self.observer()?.execute("quit", Value::Null) {
            Ok(_) | Err(QmpError::Disconnected) => {}
            Err(e) => return Err(e.into()),
        }
        self.observer = None;
        self.wait_exit()
    }

    pub fn sigterm(&mut self) -> Result<(), HarnessError> {
        self.proc.sigterm()?;
        self.observer = None;
        self.wait_exit()
    }

    pub fn sigkill(&mut self) -> Result<(), HarnessError> {
        self.proc.sigkill()?;
        self.observer = None;
        self.wait_exit()
    }

    fn wait_exit(&mut self) -> Result<(), HarnessError> {
        match self.proc.wait_timeout(QMP_TIMEOUT)? {
            Some(_) => Ok(()),
            None => Err(HarnessError::Tool(format!(
                "QEMU did not exit within {QMP_TIMEOUT:?}"
            ))),
        }
    }

    /// Whether QEMU still runs (reaps it if it exited).
    pub fn alive(&mut self) -> Result<bool, HarnessError> {
        Ok(self.proc.try_wait()?.is_none())
    }

    /// `cont` on the observer's connection (the app's `virDomainResume`).
    pub fn cont(&mut self) -> Result<(), HarnessError> {
        self.observer()?.execute("cont", Value::Null)?;
        Ok(())
    }

    pub fn observe(&mut self) -> Result<Observation, HarnessError> {
        let held = self.held;
        let obs = self.observer()?;
        let status = obs.execute("query-status", Value::Null)?;
        let jobs = obs.execute("query-jobs", Value::Null)?;
        let block = obs.execute("query-block", Value::Null)?;
        Ok(Observation {
            run_state: status
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_string(),
            job: job_of(&jobs, "id", held),
            active: active_of(&block),
        })
    }
}

/// The status of job `mirror0` in a `query-jobs` (`key` = `id`) or `query-block-jobs`
/// (`key` = `device`) reply, named as the model names it: QEMU's `created` is the model's
/// `running` (the job has started copying as far as anyone can tell), and `standby` of a
/// job the harness holds is the model's `ready`.
fn job_of(reply: &Value, key: &str, held: bool) -> Option<(String, bool)> {
    let job = reply
        .as_array()?
        .iter()
        .find(|j| j.get(key).and_then(Value::as_str) == Some(JOB))?;
    let status = job.get("status").and_then(Value::as_str).unwrap_or("?");
    let status = match status {
        "created" => "running",
        "standby" if held => "ready",
        s => s,
    };
    Some((status.to_string(), job.get("error").is_some()))
}

/// The image behind `drive0` in a `query-block` reply, by its node name (`src`, `tgt`);
/// `None` when the reply names another node or none.
fn active_of(reply: &Value) -> Option<Image> {
    let node = reply
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|b| b.get("device").and_then(Value::as_str) == Some("drive0"))
        })
        .and_then(|b| b.pointer("/inserted/node-name"))
        .and_then(Value::as_str)?;
    match node {
        "src" => Some(Image::Source),
        "tgt" => Some(Image::Target),
        _ => None,
    }
}

pub fn status_from_name(s: &str) -> Option<JobStatus> {
    Some(match s {
        "running" => JobStatus::Running,
        "ready" => JobStatus::Ready,
        "waiting" => JobStatus::Waiting,
        "pending" => JobStatus::Pending,
        "concluded" => JobStatus::Concluded,
        _ => return None,
    })
}

/// Polls `f` every 2 ms until it returns `Some`, or gives `None` after `timeout`.
pub fn poll<T>(
    timeout: Duration,
    mut f: impl FnMut() -> Result<Option<T>, HarnessError>,
) -> Result<Option<T>, HarnessError> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f()? {
            return Ok(Some(v));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `query-block` names the node; the observation holds the model's image, and a node
    /// that is neither image is no image at all.
    #[test]
    fn the_active_node_becomes_an_image() {
        let reply = |node: &str| {
            json!([
                {"device": "other", "inserted": {"node-name": "tgt"}},
                {"device": "drive0", "inserted": {"node-name": node}}
            ])
        };
        assert_eq!(active_of(&reply("src")), Some(Image::Source));
        assert_eq!(active_of(&reply("tgt")), Some(Image::Target));
        assert_eq!(active_of(&reply("mirror-top")), None);
        assert_eq!(active_of(&json!([{"device": "drive0"}])), None);
    }
}
