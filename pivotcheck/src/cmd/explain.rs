//! `pivotcheck explain`: what the model means by a word, from the strings the code uses.

use anyhow::Result;
use sim::scaffold;

use crate::exit::{self, Exit};

#[derive(clap::Args)]
#[command(after_help = "Example: pivotcheck explain save-status")]
pub struct Args {
    /// A step (`job-dismiss`), property (`no-lost-writes`), preset (`write-ahead`) or
    /// fault (`libvirtd_crash`).
    #[arg(required_unless_present = "list")]
    term: Option<String>,
    /// List every term by kind.
    #[arg(long)]
    list: bool,
}

pub fn run(a: Args) -> Result<Exit> {
    if a.list {
        print!("{}", scaffold::terms());
        return Ok(Exit::Ok);
    }
    match scaffold::explain(a.term.as_deref().unwrap_or_default()) {
        Ok(text) => {
            print!("{text}");
            Ok(Exit::Ok)
        }
        Err(e) => Ok(exit::bad_input(e)),
    }
}
