//! `skyform unlock ID`: break a stale lease by hand.

use super::Global;
use skyform::vars::process_env;
use skyform::Result;

#[derive(clap::Args)]
pub struct Args {
    /// The lease's lock tag id (`skyform plan` and a waiting apply name it).
    #[arg(value_name = "ID")]
    id: u64,
    #[command(flatten)]
    sandbox: super::SandboxFlags,
    #[command(flatten)]
    pacing: super::Pacing,
    #[command(flatten)]
    pub global: Global,
}

pub fn run(args: Args, global: &Global) -> Result<i32> {
    let connect = args.sandbox.connect(&args.pacing, global);
    let lock = super::runtime()?.block_on(skyform::ops::unlock::run(args.id, &connect, &process_env))?;
    skyform::redact::to_stdout(&format!("broke the lease of {}\n", lock.describe()));
    Ok(0)
}
