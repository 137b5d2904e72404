use std::fs::File;
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::{Qmp, QmpError};

/// How long [`QemuProcess::spawn`] waits for QEMU to create its QMP socket.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(2);
/// How long to wait for QEMU to exit after it closed the socket during the handshake.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// A guest-less QEMU (`-machine none`) with one source image attached as the named
/// BlockBackend `drive0` (node `src`) and a QMP socket in `run_dir`.
///
/// `drive0` has no device, so the mirror's `mirror_top` filter sits between it and `src`
/// and HMP `qemu-io drive0 ...` writes behave like guest writes. QEMU prints that
/// `qemu-io` output on its stdout, so stdout and stderr go to `run_dir/qemu.log`, line
/// buffered through `stdbuf -oL` so that the text is in the file by the time the HMP reply
/// arrives.
///
/// Dropping the value SIGKILLs and reaps QEMU if it is still running, so a failing test
/// leaves no process behind. Only this child is ever signalled.
pub struct QemuProcess {
    child: Child,
    status: Option<ExitStatus>,
    socket: PathBuf,
    log: PathBuf,
}

impl QemuProcess {
    /// The QEMU binary, looked up in `PATH`.
    pub const BINARY: &'static str = "qemu-system-x86_64";

    /// Starts QEMU and waits until its QMP socket exists.
    ///
    /// `run_dir` must exist; it receives `qmp.sock` and `qemu.log`. Keep it short: a unix
    /// socket path is limited to 107 bytes. `source_image` must be qcow2. `extra_args`
    /// are appended to the command line (e.g. more `-blockdev`s).
    pub fn spawn(
        run_dir: impl AsRef<Path>,
        source_image: impl AsRef<Path>,
        extra_args: &[&str],
    ) -> Result<QemuProcess, QmpError> {
        let run_dir = run_dir.as_ref();
        let socket = run_dir.join("qmp.sock");
        let log = run_dir.join("qemu.log");
        match std::fs::remove_file(&socket) {
            Err(e) if e.kind() != ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
        let log_file = File::create(&log)?;

        let mut cmd = Command::new("stdbuf");
        cmd.args(["-oL", Self::BINARY])
            .args([
                "-nodefaults",
                "-nographic",
                "-display",
                "none",
                "-machine",
                "none",
            ])
            .arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", opt_escape(&socket)))
            .arg("-drive")
            .arg(format!(
                "if=none,id=drive0,file={},format=qcow2,node-name=src",
                opt_escape(source_image.as_ref())
            ))
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file);
        let child = cmd
            .spawn()
            .map_err(|e| QmpError::Process(format!("cannot run stdbuf {}: {e}", Self::BINARY)))?;
        let mut qemu = QemuProcess {
            child,
            status: None,
            socket,
            log,
        };

        let deadline = Instant::now() + STARTUP_TIMEOUT;
        while !qemu.socket.exists() {
            if qemu.try_wait()?.is_some() {
                return Err(qemu.exited_error());
            }
            if Instant::now() >= deadline {
                // Returning drops `qemu`, which kills and reaps it.
                return Err(QmpError::Process(format!(
                    "no QMP socket after {STARTUP_TIMEOUT:?}; output:\n{}",
                    qemu.read_log_from(0)?
                )));
            }
            std::thread::sleep(POLL);
        }
        Ok(qemu)
    }

    /// Opens a QMP connection (QEMU accepts one client at a time; reconnecting after a
    /// close is fine and is how a libvirtd restart is simulated).
    ///
    /// QEMU creates its QMP socket before it opens `-drive` images, so a bad image or
    /// option only shows here: QEMU exits and leaves a stale socket that refuses
    /// connections. This watches the child while connecting and then returns
    /// [`QmpError::Process`] with QEMU's output at once instead of retrying until
    /// `timeout`.
    pub fn connect(&mut self, timeout: Duration) -> Result<Qmp, QmpError> {
        let deadline = Instant::now() + timeout;
        let stream = loop {
            match UnixStream::connect(&self.socket) {
                Ok(s) => break s,
                Err(e)
                    if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::ConnectionRefused) =>
                {
                    if self.try_wait()?.is_some() {
                        return Err(self.exited_error());
                    }
                    if Instant::now() >= deadline {
                        return Err(QmpError::Timeout);
                    }
                    std::thread::sleep(POLL);
                }
                Err(e) => return Err(e.into()),
            }
        };
        let left = deadline.saturating_duration_since(Instant::now());
        match Qmp::from_stream(stream, left) {
            Ok(mut q) => {
                q.set_command_timeout(timeout);
                Ok(q)
            }
            // QEMU may have accepted us just before dying; its exit follows the close.
            Err(QmpError::Disconnected) if self.wait_timeout(EXIT_GRACE)?.is_some() => {
                Err(self.exited_error())
            }
            Err(e) => Err(e),
        }
    }

    fn exited_error(&self) -> QmpError {
        let status = self.status.map(|s| s.to_string()).unwrap_or_default();
        let log = self
            .read_log_from(0)
            .unwrap_or_else(|e| format!("(no log: {e})"));
        QmpError::Process(format!("QEMU exited ({status}); output:\n{log}"))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn socket_path(&self) -> &Path {
        &self.socket
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Current size of the log, to pass to [`QemuProcess::read_log_from`] later.
    pub fn log_len(&self) -> Result<u64, QmpError> {
        Ok(std::fs::metadata(&self.log)?.len())
    }

    /// The log text from byte `offset` on (lossy UTF-8).
    pub fn read_log_from(&self, offset: u64) -> Result<String, QmpError> {
        let mut f = File::open(&self.log)?;
        f.seek(SeekFrom::Start(offset))?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }

    /// Runs HMP `qemu-io <target> "<command>"` and returns what it printed: the HMP reply
    /// (errors such as a permission conflict) followed by the new lines of QEMU's stdout
    /// (e.g. `wrote 4096/4096 bytes at offset 4096` or `Pattern verification failed`).
    ///
    /// `target` is a BlockBackend name like `drive0` (guest-like I/O through the mirror
    /// filter) or a node name (I/O below the filter). `command` must not contain `"`.
    pub fn qemu_io(&self, qmp: &mut Qmp, target: &str, command: &str) -> Result<String, QmpError> {
        if command.contains('"') {
            return Err(QmpError::Protocol(format!(
                "qemu-io command must not contain '\"': {command}"
            )));
        }
        let before = self.log_len()?;
        let reply = qmp.hmp(&format!("qemu-io {target} \"{command}\""))?;
        Ok(reply + &self.read_log_from(before)?)
    }

    /// Asks QEMU to shut down as on a host signal (`SHUTDOWN` with `reason: host-signal`,
    /// forced cancel of running jobs). Uses the `kill` command because std has no SIGTERM.
    pub fn sigterm(&mut self) -> Result<(), QmpError> {
        if self.try_wait()?.is_some() {
            // Reaped already: the pid may belong to someone else now.
            return Ok(());
        }
        let out = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .output()?;
        if !out.status.success() {
            return Err(QmpError::Process(format!(
                "kill -TERM {} failed: {}",
                self.pid(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(())
    }

    /// Kills QEMU without giving it a chance to flush anything (a host crash stand-in).
    pub fn sigkill(&mut self) -> Result<(), QmpError> {
        if self.try_wait()?.is_some() {
            return Ok(());
        }
        self.child.kill()?;
        Ok(())
    }

    /// Waits for QEMU to exit and reaps it.
    pub fn wait(&mut self) -> Result<ExitStatus, QmpError> {
        if let Some(s) = self.status {
            return Ok(s);
        }
        let s = self.child.wait()?;
        self.status = Some(s);
        Ok(s)
    }

    /// Like [`QemuProcess::wait`] but gives up after `timeout` with `Ok(None)`, so a test
    /// that expects QEMU to exit cannot hang.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<ExitStatus>, QmpError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.try_wait()? {
                return Ok(Some(s));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(POLL);
        }
    }

    /// The exit status if QEMU has exited (reaping it), without blocking.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>, QmpError> {
        if self.status.is_none() {
            self.status = self.child.try_wait()?;
        }
        Ok(self.status)
    }
}

impl Drop for QemuProcess {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// QEMU option values end at a comma; a literal comma is written twice.
fn opt_escape(p: &Path) -> String {
    p.to_string_lossy().replace(',', ",,")
}
