//! `skyform validate [PATH...]`: load and check manifests offline.

use skyform::manifest::{self, process_env};
use skyform::Result;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Manifest files or folders (every *.yaml/*.yml below them). Default: the current folder.
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
}

pub fn run(args: Args) -> Result<i32> {
    let paths = if args.paths.is_empty() { vec![PathBuf::from(".")] } else { args.paths };
    match manifest::load(&paths, &process_env) {
        Ok(set) => {
            skyform::redact::to_stdout(&format!("ok: {}\n", set.summary()));
            Ok(0)
        }
        Err(problems) => {
            skyform::redact::to_stderr(&problems.render());
            Ok(1)
        }
    }
}
