//! `pivotcheck capture`: real libvirtd's procedures as a scenario file (the engine is
//! `diagnose::capture`; the runs are `pivotcheck live --record`'s).

use std::path::{Path, PathBuf};

use crate::exit::{self, Exit};

#[derive(clap::Args)]
#[command(
    after_help = "Example: pivotcheck capture --libvirt 11.3 -o libvirt-11.3.toml\nExample: pivotcheck capture --from-recording diagnose/corpus --libvirt 9.0\n\nExit codes: 0 captured, 2 bad input (a QMP command or status change no step expresses, a recording without a needed crash point) or the live runs failed."
)]
pub struct Args {
    /// The libvirt to drive (`9.0`, `11.3` or the path of an unpacked install, as for
    /// `pivotcheck live`); with --from-recording, the version folder to read.
    #[arg(long, default_value = "9.0")]
    libvirt: String,
    /// Write the scenario file here instead of stdout.
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Derive the scenario from a recording of `pivotcheck live --record DIR` (DIR or
    /// DIR/<version>) instead of running libvirtd.
    #[arg(long, value_name = "DIR")]
    from_recording: Option<PathBuf>,
    /// Keep the recording of the live runs in this folder (default: a temporary one,
    /// removed afterwards).
    #[arg(long, value_name = "DIR", conflicts_with = "from_recording")]
    record: Option<PathBuf>,
    /// libvirt's /var/cache between runs (as `pivotcheck live --cache`).
    #[arg(long)]
    cache: Option<PathBuf>,
}

/// The crash points the capture reads, from the live matrix of `libvirt`: the control,
/// the crash before each pivot command and at the job-complete reply (transient, without
/// a power-off), and the double crashes in that reconnect's concluded path.
pub fn needed(libvirt: live::matrix::Libvirt) -> Vec<String> {
    live::matrix::all(libvirt)
        .into_iter()
        .map(|s| s.name)
        .filter(|n| {
            n == "control.persistent"
                || n == "job-complete.reply.transient"
                || (n.ends_with(".before.transient") && !n.contains('+'))
                || (n.starts_with("job-complete.reply+reconnect.") && n.ends_with(".transient"))
        })
        .collect()
}

pub fn run(a: Args) -> anyhow::Result<Exit> {
    let install = match live::install::Install::parse(&a.libvirt) {
        Ok(i) => i,
        Err(e) => return Ok(exit::bad_input(format!("{e:#}"))),
    };
    let version = install.libvirt.name();
    let temp;
    let dir: &Path = match (&a.from_recording, &a.record) {
        (Some(d), _) => d,
        (None, Some(d)) => d,
        (None, None) => {
            temp = std::env::temp_dir().join(format!(
                "pivotcheck-capture-{}",
                std::env::var(live::INNER_ENV)
                    .map(|_| std::os::unix::process::parent_id())
                    .unwrap_or_else(|_| std::process::id())
            ));
            &temp
        }
    };
    if a.from_recording.is_none() {
        let code = live::cli(live::Args {
            only: vec![],
            exact: needed(install.libvirt),
            all: false,
            list: false,
            json: None,
            cache: a.cache.clone(),
            scenario_timeout: 60,
            libvirt: a.libvirt.clone(),
            record: Some(dir.to_path_buf()),
        });
        if std::env::var_os(live::INNER_ENV).is_none() {
            // The child (the same command line, under live's subreaper) did the capture.
            if a.record.is_none() {
                let _ = std::fs::remove_dir_all(dir);
            }
            return Ok(match code {
                0 => Exit::Ok,
                1 => Exit::Mismatch,
                2 => Exit::BadInput,
                _ => Exit::Incomplete,
            });
        }
        if code == live::EXIT_BAD_INPUT {
            return Ok(exit::bad_input(
                "capture: the live runs failed (above); nothing captured",
            ));
        }
        if code == live::EXIT_DISAGREE {
            eprintln!(
                "pivotcheck capture: libvirt {version} disagrees with its preset somewhere \
                 (above); capturing what it did"
            );
        }
    }
    let c = match diagnose::capture::from_recording(dir, version) {
        Ok(c) => c,
        Err(e) => return Ok(exit::bad_input(format!("capture: {e}"))),
    };
    let text = diagnose::capture::scenario_toml(&c);
    if let Some(p) = model::presets::preset(&c.preset) {
        let d = diagnose::capture::diff(&c.procedures, &p);
        if d.is_empty() {
            eprintln!(
                "pivotcheck capture: the procedures are the preset `{}`'s",
                c.preset
            );
        } else {
            eprintln!(
                "pivotcheck capture: the procedures differ from the preset `{}`:\n{d}",
                c.preset
            );
        }
    }
    match &a.output {
        Some(p) => std::fs::write(p, text)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", p.display()))?,
        None => print!("{text}"),
    }
    Ok(Exit::Ok)
}
