//! `skyform rotate KIND/NAME`: rotate one secret and deliver the new one, under the lease.

use super::apply::{Cd, Terminal};
use super::Global;
use skyform::ops::rotate::{run as rotate, RotateRequest};
use skyform::plan::Target;
use skyform::vars::process_env;
use skyform::Result;
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    /// The object whose secret to rotate, e.g. `webhooks/CRM sync`.
    #[arg(value_name = "KIND/NAME", value_parser = Target::parse)]
    target: Target,
    /// Do not ask for confirmation (needed when stdin is not a terminal).
    #[arg(long)]
    auto_approve: bool,
    #[command(flatten)]
    cd: Cd,
    #[command(flatten)]
    sandbox: super::SandboxFlags,
    #[command(flatten)]
    pacing: super::Pacing,
    #[command(flatten)]
    settle: super::Settle,
    #[command(flatten)]
    pub global: Global,
}

pub fn run(args: Args, global: &Global) -> Result<i32> {
    let runtime = super::runtime()?;
    let cancel = super::cancel_on_signals(&runtime, global.quiet);
    let mut connect = args.sandbox.connect(&args.pacing, global);
    args.settle.apply(&mut connect);
    connect.cancel = cancel;
    let request = RotateRequest {
        target: args.target,
        connect,
        apply: args.cd.apply_options(false),
        lock_timeout: Duration::from_secs(args.cd.lock_timeout),
    };
    let term = Terminal { global: global.clone(), auto_approve: args.auto_approve, verb: "Rotate" };
    let rotated = runtime.block_on(rotate(&request, &process_env, &term));
    term.finish(rotated)
}
