//! The machinery around real libvirtd and QEMU: prerequisites, building the trigger and
//! the guest from source, a libvirtd with its own directories, virsh, direct QMP on a
//! freed monitor socket, the guest's serial line, and process hygiene.
//!
//! Isolation: libvirtd runs in a private mount namespace (`unshare --mount`) in which
//! `/etc/libvirt`, `/run`, `/var/lib`, `/var/cache` and `/var/log` are bind mounts of
//! folders under the harness's temp dir, and `/etc/passwd` and `/etc/group` are copies that
//! add the `libvirt-qemu` user libvirt 9.0 insists on. Nothing outside the temp dir is
//! written; the QEMU processes libvirtd starts inherit the namespace.
//!
//! Processes: libvirtd is our child, killed only through its `Child` handle. QEMU processes
//! are double-forked by libvirtd; `pivotcheck live` runs the suite under a child-subreaper
//! parent (`lib.rs`), so orphaned QEMUs are reaped at once and any left at the end are
//! ours to kill, by PID. Every wait has a timeout.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

use crate::install::Install;

pub const DOMAIN: &str = "rq";
const TRIGGER_C: &str = include_str!("trigger.c");
const GUEST_ASM: &str = include_str!("guest.asm");

/// Tools the live suite needs, with the Debian package that has each.
pub const TOOLS: [(&str, &str); 8] = [
    ("libvirtd", "libvirt-daemon-driver-qemu"),
    ("virsh", "libvirt-clients"),
    ("qemu-system-x86_64", "qemu-system-x86 (bookworm-backports)"),
    // The slow scenarios' copy target (real::NbdTarget).
    ("qemu-nbd", "qemu-utils (bookworm-backports)"),
    ("nasm", "nasm"),
    ("cc", "gcc"),
    ("unshare", "util-linux"),
    ("mount", "mount"),
];

fn on_path(tool: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let extra = ["/usr/sbin", "/sbin"];
    std::env::split_paths(&path)
        .chain(extra.iter().map(PathBuf::from))
        .any(|d| d.join(tool).is_file())
}

/// What is missing for a live run against `install`, as readable lines; empty when
/// everything is there.
pub fn missing_prerequisites(install: &Install) -> Vec<String> {
    let mut out: Vec<String> = TOOLS
        .iter()
        .filter(|(t, _)| !on_path(t))
        .map(|(t, p)| format!("`{t}` not found (Debian package {p})"))
        .collect();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        out.push("not root: libvirtd's system instance and mount namespaces need root".into());
    }
    if !Path::new("/etc/libvirt").is_dir() {
        out.push("/etc/libvirt missing (installed by libvirt-clients)".into());
    }
    if out.is_empty() {
        out.extend(install.missing());
    }
    out
}

/// Output of a finished command.
pub struct Out {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` to completion, killing it (our own child, by its handle) after `timeout`.
pub fn run(cmd: &mut Command, timeout: Duration) -> Result<Out> {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {what}"))?;
    let mut so = child.stdout.take().expect("piped");
    let mut se = child.stderr.take().expect("piped");
    let t1 = thread::spawn(move || {
        let mut s = String::new();
        let _ = so.read_to_string(&mut s);
        s
    });
    let t2 = thread::spawn(move || {
        let mut s = String::new();
        let _ = se.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("timed out after {timeout:?}: {what}");
        }
        thread::sleep(Duration::from_millis(3));
    };
    Ok(Out {
        ok: status.success(),
        stdout: t1.join().unwrap_or_default(),
        stderr: t2.join().unwrap_or_default(),
    })
}

/// Polls `f` until it returns `Some`, or fails after `timeout` saying what it waited for.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Ok(v);
        }
        if Instant::now() > deadline {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// A process is alive and not a zombie.
pub fn pid_alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    if pid <= 0 || unsafe { libc::kill(pid, 0) } != 0 {
        return false;
    }
    match fs::read_to_string(format!("/proc/{pid}/status")) {
        Ok(s) => !s
            .lines()
            .any(|l| l.starts_with("State:") && l.contains('Z')),
        Err(_) => false,
    }
}

/// The harness's temp dir and everything built into it.
pub struct Work {
    pub dir: PathBuf,
    pub trigger: PathBuf,
    pub guest: Vec<u8>,
    /// Folder bound over `/var/cache` (capabilities cache), maybe shared between runs;
    /// one subfolder per libvirt version, so that versions do not invalidate each other's.
    pub cache: PathBuf,
    /// The libvirt this run drives.
    pub install: Install,
    /// `--record DIR`: each scenario's log, status and persistent XML and ground truth
    /// are saved under this folder (`record.rs`).
    pub record: Option<PathBuf>,
}

impl Work {
    pub fn create(cache: Option<PathBuf>, install: Install) -> Result<Work> {
        let dir = std::env::temp_dir().join(format!("pivotcheck-live-{}", std::process::id()));
        if dir.exists() {
            fs::remove_dir_all(&dir).ok();
        }
        for sub in ["etc", "run", "varlib", "cache", "log"] {
            fs::create_dir_all(dir.join(sub))?;
        }
        let cache = cache
            .unwrap_or_else(|| dir.join("cache"))
            .join(format!("libvirt-{}", install.libvirt.name()));
        fs::create_dir_all(&cache)?;
        fs::write(
            dir.join("etc/qemu.conf"),
            "# pivotcheck live: QEMU runs as root, unconfined, no cgroups, no virtlogd\n\
             user = \"root\"\ngroup = \"root\"\ndynamic_ownership = 0\nremember_owner = 0\n\
             security_driver = \"none\"\nnamespaces = []\ncgroup_controllers = []\n\
             stdio_handler = \"file\"\n",
        )?;
        let mut passwd = fs::read_to_string("/etc/passwd")?;
        if !passwd.lines().any(|l| l.starts_with("libvirt-qemu:")) {
            passwd
                .push_str("libvirt-qemu:x:64055:64055:pivotcheck:/nonexistent:/usr/sbin/nologin\n");
        }
        fs::write(dir.join("passwd"), passwd)?;
        let mut group = fs::read_to_string("/etc/group")?;
        if !group.lines().any(|l| l.starts_with("libvirt-qemu:")) {
            group.push_str("libvirt-qemu:x:64055:\n");
        }
        fs::write(dir.join("group"), group)?;

        // Build the trigger and the guest from source.
        fs::write(dir.join("trigger.c"), TRIGGER_C)?;
        let trigger = dir.join("trigger.so");
        let o = run(
            Command::new("cc")
                .args(["-shared", "-fPIC", "-O2", "-Wall", "-o"])
                .arg(&trigger)
                .arg(dir.join("trigger.c"))
                .arg("-ldl"),
            Duration::from_secs(60),
        )?;
        if !o.ok {
            bail!("building the crash trigger failed:\n{}", o.stderr);
        }
        fs::write(dir.join("guest.asm"), GUEST_ASM)?;
        let o = run(
            Command::new("nasm")
                .args(["-f", "bin", "-o"])
                .arg(dir.join("guest.bin"))
                .arg(dir.join("guest.asm")),
            Duration::from_secs(30),
        )?;
        if !o.ok {
            bail!("assembling the guest failed:\n{}", o.stderr);
        }
        let guest = fs::read(dir.join("guest.bin"))?;
        if guest.len() != 512 || guest[510..] != [0x55, 0xaa] {
            bail!("the guest is not a 512-byte boot sector");
        }
        Ok(Work {
            dir,
            trigger,
            guest,
            cache,
            install,
            record: None,
        })
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }
    /// A path libvirtd sees inside its namespace, as seen from outside.
    pub fn outside(&self, inside: &str) -> PathBuf {
        for (from, to) in [
            ("/var/lib/", "varlib/"),
            ("/run/", "run/"),
            ("/etc/libvirt/", "etc/"),
        ] {
            if let Some(rest) = inside.strip_prefix(from) {
                return self.dir.join(to).join(rest);
            }
        }
        PathBuf::from(inside)
    }
    pub fn uri(&self) -> String {
        format!(
            "qemu:///system?socket={}",
            self.path("run/libvirt/libvirt-sock").display()
        )
    }
    pub fn status_xml(&self) -> PathBuf {
        self.path(&format!("run/libvirt/qemu/{DOMAIN}.xml"))
    }
    pub fn arm_file(&self) -> PathBuf {
        self.path("arm")
    }
    pub fn qmp_log(&self) -> PathBuf {
        self.path("qmp.log")
    }
}

/// One libvirtd incarnation in its own mount namespace, with the trigger preloaded.
pub struct Libvirtd {
    child: Child,
}

impl Libvirtd {
    pub fn start(work: &Work) -> Result<Libvirtd> {
        let d = &work.dir;
        let mut script = String::from("set -e\n");
        let cache = work.cache.display().to_string();
        for (from, to) in [
            (d.join("etc").display().to_string(), "/etc/libvirt"),
            (d.join("run").display().to_string(), "/run"),
            (d.join("varlib").display().to_string(), "/var/lib"),
            (cache, "/var/cache"),
            (d.join("log").display().to_string(), "/var/log"),
            (d.join("passwd").display().to_string(), "/etc/passwd"),
            (d.join("group").display().to_string(), "/etc/group"),
        ] {
            script.push_str(&format!("mount --bind '{from}' '{to}'\n"));
        }
        for (from, to) in work.install.namespace_mounts() {
            script.push_str(&format!("mount --bind '{}' '{to}'\n", from.display()));
        }
        if let Some(lib) = work.install.library_path() {
            script.push_str(&format!("export LD_LIBRARY_PATH='{}'\n", lib.display()));
        }
        script.push_str(&format!(
            "LD_PRELOAD='{}' exec '{}'\n",
            work.trigger.display(),
            work.install.libvirtd().display()
        ));
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join("libvirtd.log"))?;
        let child = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "--", "sh", "-c"])
            .arg(script)
            .env("PVL_LOG", work.qmp_log())
            .env("PVL_ARM", work.arm_file())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("cannot start libvirtd")?;
        let mut l = Libvirtd { child };
        let uri = work.uri();
        let up = wait_for("libvirtd to answer", Duration::from_secs(60), || {
            if let Ok(Some(_)) = l.child.try_wait() {
                return Some(false);
            }
            let o = run(
                Command::new("virsh").args(["-c", &uri, "-q", "version"]),
                Duration::from_secs(10),
            )
            .ok()?;
            o.ok.then_some(true)
        })?;
        if !up {
            bail!(
                "libvirtd exited at start; see {}",
                d.join("libvirtd.log").display()
            );
        }
        Ok(l)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until libvirtd has died (the trigger killed it); `false` on timeout.
    pub fn wait_dead(&mut self, timeout: Duration) -> bool {
        wait_for("libvirtd to die", timeout, || {
            matches!(self.child.try_wait(), Ok(Some(_))).then_some(())
        })
        .is_ok()
    }

    pub fn is_dead(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Stops libvirtd: SIGTERM, then SIGKILL after 10 s; always by our own child's PID.
    pub fn stop(mut self) -> Result<()> {
        if self.is_dead() {
            return Ok(());
        }
        // SAFETY: the PID is our own live child (not yet waited for).
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        if !self.wait_dead(Duration::from_secs(10)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        Ok(())
    }
}

/// `virsh -c <our uri> -q ARGS`.
pub fn virsh(work: &Work, args: &[&str]) -> Result<Out> {
    run(
        Command::new("virsh")
            .args(["-c", &work.uri(), "-q"])
            .args(args),
        Duration::from_secs(30),
    )
}

/// Like [`virsh`], but a failure is an error.
pub fn virsh_ok(work: &Work, args: &[&str]) -> Result<String> {
    let o = virsh(work, args)?;
    if !o.ok {
        bail!("virsh {} failed: {}", args.join(" "), o.stderr.trim());
    }
    Ok(o.stdout)
}

/// QMP straight on QEMU's monitor socket: only possible while no libvirtd holds it.
pub struct Qmp {
    s: UnixStream,
    buf: Vec<u8>,
}

impl Qmp {
    pub fn connect(path: &Path) -> Result<Qmp> {
        let s = UnixStream::connect(path)
            .with_context(|| format!("cannot connect to {}", path.display()))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.set_write_timeout(Some(Duration::from_secs(5)))?;
        let mut q = Qmp { s, buf: Vec::new() };
        let greeting = q.message()?;
        if greeting.get("QMP").is_none() {
            bail!("no QMP greeting on {}", path.display());
        }
        q.execute("qmp_capabilities")?;
        Ok(q)
    }
    fn message(&mut self) -> Result<Value> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return serde_json::from_slice(&line).context("bad QMP message");
            }
            let mut chunk = [0u8; 4096];
            let n = self.s.read(&mut chunk).context("QMP read")?;
            if n == 0 {
                bail!("QMP connection closed");
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
    /// Runs a command; returns its `return` value (events are skipped).
    pub fn execute(&mut self, cmd: &str) -> Result<Value> {
        let req = serde_json::json!({ "execute": cmd });
        self.s.write_all(format!("{req}\n").as_bytes())?;
        loop {
            let m = self.message()?;
            if m.get("event").is_some() {
                continue;
            }
            if let Some(r) = m.get("return") {
                return Ok(r.clone());
            }
            return Err(anyhow!("QMP {cmd}: {m}"));
        }
    }
}

/// Sends one command byte to the guest over its serial socket and waits for `want`.
/// `Ok(false)` if the guest did not answer within `timeout`.
pub fn guest(serial: &Path, byte: u8, want: u8, timeout: Duration) -> Result<bool> {
    let mut s = UnixStream::connect(serial)
        .with_context(|| format!("cannot connect to the guest's serial {}", serial.display()))?;
    s.set_read_timeout(Some(Duration::from_millis(50)))?;
    s.write_all(&[byte])?;
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        let mut b = [0u8; 64];
        match s.read(&mut b) {
            Ok(0) => return Ok(false),
            Ok(n) => {
                seen.extend_from_slice(&b[..n]);
                if seen.contains(&want) {
                    return Ok(true);
                }
                if seen.contains(&b'E') {
                    return Ok(false);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(false)
}

/// The value of attribute `name` in the first element `<tag ...>` of `xml` at or after `from`.
pub fn attr(xml: &str, tag: &str, name: &str) -> Option<String> {
    let start = xml.find(&format!("<{tag} "))?;
    let end = start + xml[start..].find('>')?;
    let el = &xml[start..end];
    let key = format!("{name}='");
    let i = el.find(&key)? + key.len();
    let j = el[i..].find('\'')?;
    Some(el[i..i + j].to_string())
}

/// The part of a domain XML that describes the disk `vda`.
pub fn disk_xml(xml: &str) -> Option<&str> {
    let t = xml.find("<target dev='vda'")?;
    let start = xml[..t].rfind("<disk ")?;
    let end = t + xml[t..].find("</disk>")?;
    Some(&xml[start..end])
}
