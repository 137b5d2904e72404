//! `pivotcheck explore`: stateright's web explorer over one scenario.

use std::path::PathBuf;

use anyhow::Result;

use crate::exit::{self, Exit};
use crate::explorer;

#[derive(clap::Args)]
#[command(after_help = "Example: pivotcheck explore scenarios/blockdev-modern.toml --port 3000")]
pub struct Args {
    /// The scenario file.
    scenario: PathBuf,
    /// The TCP port on 127.0.0.1.
    #[arg(long, default_value_t = 3000)]
    port: u16,
}

pub fn run(a: Args) -> Result<Exit> {
    let s = match trace::scenario::load(&a.scenario) {
        Ok(s) => s,
        Err(e) => return Ok(exit::bad_input(e)),
    };
    let port = a.port;
    if let Err(e) = explorer::port_available(port) {
        anyhow::bail!("cannot listen on 127.0.0.1:{port}: {e}");
    }
    eprintln!(
        "pivotcheck: exploring {} [{}] on http://127.0.0.1:{port}/ (Ctrl-C stops it)",
        s.name, s.variant
    );
    explorer::serve(model::PivotModel::new(s.config), port);
    Ok(Exit::Ok)
}
