//! `pivotcheck diagnose`: a real incident's libvirtd log in, the crash window and the image
//! that holds the data out (the engine is the `diagnose` crate).

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::exit::{self, Exit};

#[derive(clap::Args)]
#[command(
    after_help = "Example: pivotcheck diagnose libvirtd.log --status-xml rq.xml --config-xml rq-config.xml --libvirt-version 9.0\n\nExit codes: 0 consistent, 1 not consistent, 2 bad input, 3 incomplete."
)]
pub struct Args {
    /// libvirtd's debug log (log_filters="1:qemu 1:libvirt"), from before the copy started.
    log: PathBuf,
    /// The domain's status XML at the end (/run/libvirt/qemu/NAME.xml).
    #[arg(long, value_name = "FILE")]
    status_xml: Option<PathBuf>,
    /// The domain's persistent XML (/etc/libvirt/qemu/NAME.xml); given, the domain is
    /// taken as persistent.
    #[arg(long, value_name = "FILE")]
    config_xml: Option<PathBuf>,
    /// The model preset libvirt is matched against.
    #[arg(long, conflicts_with = "libvirt_version")]
    preset: Option<String>,
    /// The libvirt version that wrote the log: 9.0 or 11.3 (their measured presets).
    #[arg(long)]
    libvirt_version: Option<String>,
    /// Print the answer as JSON (the contract in reports/README.md).
    #[arg(long)]
    json: bool,
    /// Write an HTML page with the behaviour found beside the log lines into this folder.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
    /// Stop the search after this many states (it is then incomplete, exit 3).
    #[arg(long, default_value_t = 2_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    max_states: u64,
    /// libvirtd is not running now: the log ends with its death, and no restart followed.
    #[arg(long)]
    libvirtd_down: bool,
    /// Print only the log lines diagnose reads (to trim a log without changing the answer).
    #[arg(long)]
    trim: bool,
}

fn read(p: &PathBuf, what: &str) -> Result<String, Exit> {
    std::fs::read_to_string(p)
        .map_err(|e| exit::bad_input(format!("cannot read the {what} {}: {e}", p.display())))
}

pub fn run(a: Args) -> Result<Exit> {
    let log = match read(&a.log, "log") {
        Ok(t) => t,
        Err(e) => return Ok(e),
    };
    if a.trim {
        let keep = match diagnose::log::relevant_lines(&log) {
            Ok(k) => k,
            Err(e) => return Ok(exit::bad_input(format!("{}: {e}", a.log.display()))),
        };
        let lines: Vec<&str> = log.split('\n').collect();
        let mut out = String::new();
        for k in keep {
            out.push_str(lines[k - 1]);
            out.push('\n');
        }
        print!("{out}");
        return Ok(Exit::Ok);
    }
    let preset = match (&a.preset, &a.libvirt_version) {
        (Some(p), _) => p.clone(),
        (None, Some(v)) => match v.as_str() {
            "9.0" => "libvirt-9.0".into(),
            "11.3" => "libvirt-11.3".into(),
            other => {
                return Ok(exit::bad_input(format!(
                    "--libvirt-version {other:?}: expected 9.0 or 11.3 (or --preset NAME)"
                )))
            }
        },
        (None, None) => "libvirt-9.0".into(),
    };
    let status = match a
        .status_xml
        .as_ref()
        .map(|p| read(p, "status XML"))
        .transpose()
    {
        Ok(s) => s,
        Err(e) => return Ok(e),
    };
    let config = match a
        .config_xml
        .as_ref()
        .map(|p| read(p, "persistent XML"))
        .transpose()
    {
        Ok(s) => s,
        Err(e) => return Ok(e),
    };
    let input = diagnose::Input {
        log: &log,
        status_xml: status.as_deref(),
        config_xml: config.as_deref(),
        preset: &preset,
        max_states: usize::try_from(a.max_states).unwrap_or(usize::MAX),
        libvirtd_up: !a.libvirtd_down,
    };
    let d = match diagnose::diagnose(&input) {
        Ok(d) => d,
        Err(e) => return Ok(exit::bad_input(format!("{}: {e}", a.log.display()))),
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&d)?);
    } else {
        print!("{}", diagnose::render::text(&d));
    }
    if let Some(dir) = &a.report {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let svg = match &d.config {
            Some(cfg) if !d.path.is_empty() => {
                reports::diagram::svg(cfg, &d.path, &d.path_states, None, "")
            }
            _ => String::new(),
        };
        let page = diagnose::render::html(&d, &log, &svg);
        let path = dir.join("index.html");
        let tmp = dir.join("index.html.tmp");
        std::fs::write(&tmp, page)?;
        std::fs::rename(&tmp, &path)?;
        if !a.json {
            println!("report written to {}", path.display());
        }
    }
    Ok(if !d.complete {
        Exit::Incomplete
    } else if d.consistent {
        Exit::Ok
    } else {
        Exit::Mismatch
    })
}
