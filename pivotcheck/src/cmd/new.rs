//! `pivotcheck new`: a scenario file that starts from a preset, for a user to edit.

use std::path::PathBuf;

use anyhow::{Context, Result};
use sim::scaffold;

use crate::exit::{self, Exit};

#[derive(clap::Args)]
#[command(
    after_help = "Example: pivotcheck new my-order --from write-ahead --faults libvirtd_crash,guest_poweroff\n\
                  Several disks: pivotcheck new two-disks --from write-ahead --disks 2 --order concurrent"
)]
pub struct Args {
    /// The scenario's name; the file is NAME.toml in --dir.
    name: String,
    /// The preset to start from (`pivotcheck explain --list` lists them).
    #[arg(long)]
    from: String,
    /// Faults to enable, comma-separated: libvirtd_crash, guest_poweroff, qemu_crash,
    /// host_crash, app_crash, each optionally `=N` (a bound 0..8); `none` for no fault. Default:
    /// libvirtd crashes and guest power-off, as in the default suite.
    #[arg(long, value_delimiter = ',')]
    faults: Option<Vec<String>>,
    /// Disks copied and pivoted together, 1 to 3 (`disks` in the file).
    #[arg(long, default_value_t = 1)]
    disks: u8,
    /// With several disks, the order in which the app asks for their pivots: one after
    /// the other, or a worker per disk (`[app] order` in the file).
    #[arg(long, value_enum, default_value_t = Order::Sequential)]
    order: Order,
    /// Folder to write the file into.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Replace an existing file.
    #[arg(long)]
    force: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Order {
    Sequential,
    Concurrent,
}

pub fn run(a: Args) -> Result<Exit> {
    let order = match a.order {
        Order::Sequential => model::AppOrder::Sequential,
        Order::Concurrent => model::AppOrder::Concurrent,
    };
    let faults = match &a.faults {
        Some(v) => scaffold::parse_faults(v),
        None => Ok(scaffold::default_faults()),
    };
    let text =
        match faults.and_then(|f| scaffold::new_scenario(&a.name, &a.from, f, a.disks, order)) {
            Ok(t) => t,
            Err(e) => return Ok(exit::bad_input(e)),
        };
    if !a.dir.is_dir() {
        return Ok(exit::bad_input(format!(
            "--dir {}: expected an existing folder",
            a.dir.display()
        )));
    }
    let path = a.dir.join(format!("{}.toml", a.name));
    if path.exists() && !a.force {
        return Ok(exit::bad_input(format!(
            "{} exists: expected a new file name (or --force to replace it)",
            path.display()
        )));
    }
    reports::output::write_atomic(&path, &text)
        .with_context(|| format!("cannot write {}", path.display()))?;
    println!(
        "wrote {}; edit a step list, then run: pivotcheck check {}",
        path.display(),
        path.display()
    );
    Ok(Exit::Ok)
}
