//! `skyform completions SHELL` and `skyform man`: generated from the same clap definition as the parser, so
//! they can never list a flag that does not exist.

use skyform::{Error, ErrorKind, Result};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

pub fn run(args: Args) -> Result<i32> {
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut super::command(), "skyform", &mut out);
    skyform::redact::to_stdout(&String::from_utf8_lossy(&out));
    Ok(0)
}

#[derive(clap::Args)]
pub struct ManArgs {
    /// Write `skyform.1` and one page per command (`skyform-plan.1`, ...) into this folder, instead of
    /// printing `skyform.1`.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub fn man(args: ManArgs) -> Result<i32> {
    let cmd = super::command();
    let io = |e: std::io::Error| Error::new(ErrorKind::Io, format!("cannot write the man page: {e}"));
    match args.out {
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut out).map_err(io)?;
            skyform::redact::to_stdout(&String::from_utf8_lossy(&out));
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir).map_err(io)?;
            clap_mangen::generate_to(cmd, &dir).map_err(io)?;
        }
    }
    Ok(0)
}
