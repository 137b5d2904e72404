//! Which libvirt the live suite drives, and the model preset it is checked against.
//!
//! Two versions live on one machine: the system's libvirt 9.0 (Debian bookworm, installed
//! by dpkg) and libvirt 11.3 (bookworm-backports) unpacked by `.ci/install-libvirt-11.3.sh`
//! into a private prefix that dpkg does not know. A prefix install runs in libvirtd's mount
//! namespace only (`harness::Libvirtd::start`): its `usr/share/libvirt` (CPU map, schemas),
//! `usr/lib/libvirt` (helpers) and `usr/lib/<triplet>/libvirt` (driver modules) are bound
//! over the system's, because libvirt 11.3 compiles those paths in; its shared libraries
//! come first through `LD_LIBRARY_PATH`. libvirt 11.3's `libvirt.so` also honours
//! `LIBVIRT_DRIVER_DIR`, `LIBVIRT_STORAGE_FILE_DIR` and `LIBVIRT_LOCK_MANAGER_PLUGIN_DIR`
//! (their names are in its binary), but not for the CPU map or the helpers, so the bind
//! mounts are what makes the prefix complete. The system's files stay untouched.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::matrix::Libvirt;

/// Where `.ci/install-libvirt-11.3.sh` unpacks libvirt 11.3 unless told otherwise.
pub const DEFAULT_PREFIX_11_3: &str = "/opt/libvirt-11.3";
/// Overrides [`DEFAULT_PREFIX_11_3`].
pub const PREFIX_11_3_ENV: &str = "PIVOTCHECK_LIBVIRT_11_3";

const LIB_TRIPLET: &str = "usr/lib/x86_64-linux-gnu";

/// One libvirt install the suite can drive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Install {
    /// The libvirt it is (its commands and preset).
    pub libvirt: Libvirt,
    /// `None`: the system's libvirtd on PATH. `Some`: a folder holding unpacked Debian
    /// packages (`usr/sbin/libvirtd`, `usr/lib/...`, `usr/share/libvirt`).
    pub prefix: Option<PathBuf>,
}

fn known() -> String {
    Libvirt::ALL
        .iter()
        .map(|v| v.name())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Install {
    /// Parses `--libvirt`: a known version (`9.0`, `11.3`) or the path of an unpacked
    /// install, whose version is then asked of its libvirtd. A version needs no install
    /// (for `--list`); a path must hold a libvirtd of a known version.
    pub fn parse(arg: &str) -> Result<Install> {
        if let Some(libvirt) = Libvirt::parse(arg) {
            let prefix = match libvirt {
                Libvirt::V9_0 => None,
                Libvirt::V11_3 => Some(
                    std::env::var_os(PREFIX_11_3_ENV)
                        .map(PathBuf::from)
                        .unwrap_or_else(|| PathBuf::from(DEFAULT_PREFIX_11_3)),
                ),
            };
            return Ok(Install { libvirt, prefix });
        }
        if !arg.contains('/') {
            bail!(
                "--libvirt {arg:?}: expected a libvirt version ({}) or the path of an unpacked \
                 install (a folder with usr/sbin/libvirtd)",
                known()
            );
        }
        let prefix = PathBuf::from(arg);
        let version = prefix_version(&prefix)?;
        let Some(libvirt) = Libvirt::parse(&version) else {
            bail!(
                "--libvirt {arg}: its libvirtd is libvirt {version}, which has no preset; \
                 known versions: {}",
                known()
            );
        };
        Ok(Install {
            libvirt,
            prefix: Some(prefix),
        })
    }

    /// The libvirtd binary, as seen inside libvirtd's namespace and outside.
    pub fn libvirtd(&self) -> PathBuf {
        match &self.prefix {
            None => PathBuf::from("libvirtd"),
            Some(p) => p.join("usr/sbin/libvirtd"),
        }
    }

    /// Bind mounts (source, mount point) made inside libvirtd's fresh mount namespace, so
    /// that the prefix's data, helpers and modules are the ones libvirtd finds at its
    /// compiled-in paths.
    pub fn namespace_mounts(&self) -> Vec<(PathBuf, &'static str)> {
        let Some(p) = &self.prefix else {
            return vec![];
        };
        vec![
            (p.join("usr/share/libvirt"), "/usr/share/libvirt"),
            (p.join("usr/lib/libvirt"), "/usr/lib/libvirt"),
            (
                p.join(LIB_TRIPLET).join("libvirt"),
                "/usr/lib/x86_64-linux-gnu/libvirt",
            ),
        ]
    }

    /// `LD_LIBRARY_PATH` for the prefix's `libvirt.so` and friends.
    pub fn library_path(&self) -> Option<PathBuf> {
        self.prefix.as_ref().map(|p| p.join(LIB_TRIPLET))
    }

    /// What is missing for running this install, as readable lines.
    pub fn missing(&self) -> Vec<String> {
        let Some(p) = &self.prefix else {
            return match system_version() {
                Ok(v) if v == self.libvirt.name() => vec![],
                Ok(v) => vec![format!(
                    "the system's libvirtd is libvirt {v}, not {} (Debian bookworm's \
                     libvirt-daemon)",
                    self.libvirt.name()
                )],
                Err(e) => vec![format!("{e:#}")],
            };
        };
        if !p.join("usr/sbin/libvirtd").is_file() {
            return vec![format!(
                "libvirt {} not unpacked in {} (.ci/install-libvirt-11.3.sh unpacks it; \
                 ${PREFIX_11_3_ENV} names another folder)",
                self.libvirt.name(),
                p.display()
            )];
        }
        match prefix_version(p) {
            Ok(v) if v == self.libvirt.name() => vec![],
            Ok(v) => vec![format!(
                "{} holds libvirt {v}, not {}",
                p.display(),
                self.libvirt.name()
            )],
            Err(e) => vec![format!("{e:#}")],
        }
    }
}

/// `major.minor` from `libvirtd (libvirt) 11.3.0`.
fn parse_version(out: &str) -> Option<String> {
    let v = out.split_whitespace().last()?;
    let mut it = v.split('.');
    let (major, minor) = (it.next()?, it.next()?);
    if major.parse::<u32>().is_err() || minor.parse::<u32>().is_err() {
        return None;
    }
    Some(format!("{major}.{minor}"))
}

fn ask_version(cmd: &mut Command, what: &str) -> Result<String> {
    let o = crate::harness::run(cmd.arg("--version"), Duration::from_secs(10))
        .with_context(|| format!("cannot run {what}"))?;
    if !o.ok {
        bail!("{what} --version failed: {}", o.stderr.trim());
    }
    parse_version(&o.stdout)
        .with_context(|| format!("{what} --version printed {:?}", o.stdout.trim()))
}

fn system_version() -> Result<String> {
    ask_version(&mut Command::new("libvirtd"), "the system's libvirtd")
}

fn prefix_version(prefix: &Path) -> Result<String> {
    let bin = prefix.join("usr/sbin/libvirtd");
    if !bin.is_file() {
        bail!(
            "{}: no usr/sbin/libvirtd there (expected a folder of unpacked libvirt packages)",
            prefix.display()
        );
    }
    ask_version(
        Command::new(&bin).env("LD_LIBRARY_PATH", prefix.join(LIB_TRIPLET)),
        &bin.display().to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_name_their_presets() {
        let i = Install::parse("9.0").unwrap();
        assert_eq!((i.libvirt.preset(), i.prefix), ("libvirt-9.0", None));
        let i = Install::parse("11.3").unwrap();
        assert_eq!(i.libvirt.preset(), "libvirt-11.3");
        assert!(i.prefix.is_some());
        assert!(!i.namespace_mounts().is_empty());
    }

    #[test]
    fn unknown_versions_and_bad_paths_are_errors_that_say_what_was_expected() {
        let e = format!("{:#}", Install::parse("10.0").unwrap_err());
        assert!(e.contains("9.0, 11.3") && e.contains("unpacked"), "{e}");
        let e = format!("{:#}", Install::parse("/nonexistent/prefix").unwrap_err());
        assert!(e.contains("no usr/sbin/libvirtd"), "{e}");
    }

    #[test]
    fn version_lines_parse_to_major_minor() {
        assert_eq!(
            parse_version("libvirtd (libvirt) 11.3.0\n").as_deref(),
            Some("11.3")
        );
        assert_eq!(
            parse_version("libvirtd (libvirt) 9.0.0").as_deref(),
            Some("9.0")
        );
        assert_eq!(parse_version("libvirtd (libvirt) x.y"), None);
    }
}
