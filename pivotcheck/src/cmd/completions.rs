//! `pivotcheck completions SHELL` and `pivotcheck man`: generated from the command-line
//! definition itself (clap_complete, clap_mangen), so they cannot drift from the flags.

use std::io::Write;

use anyhow::Result;
use clap::CommandFactory;

use crate::exit::Exit;

#[derive(clap::Args)]
#[command(after_help = "Example: pivotcheck completions bash > /etc/bash_completion.d/pivotcheck")]
pub struct CompletionsArgs {
    /// The shell to complete for.
    shell: clap_complete::Shell,
}

#[derive(clap::Args)]
#[command(after_help = "Example: pivotcheck man > pivotcheck.1 && man ./pivotcheck.1")]
pub struct ManArgs {}

pub fn completions(a: CompletionsArgs) -> Result<Exit> {
    let mut cmd = crate::Cli::command();
    clap_complete::generate(a.shell, &mut cmd, "pivotcheck", &mut std::io::stdout());
    Ok(Exit::Ok)
}

pub fn man(_: ManArgs) -> Result<Exit> {
    let cmd = crate::Cli::command();
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut out)?;
    // One page: the top-level command, then each subcommand's section.
    for sub in cmd.get_subcommands() {
        clap_mangen::Man::new(sub.clone())
            .title(format!("pivotcheck-{}", sub.get_name()))
            .render(&mut out)?;
    }
    std::io::stdout().write_all(&out)?;
    Ok(Exit::Ok)
}
