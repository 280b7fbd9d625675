//! `skyform doctor`: check, read-only, what skyform assumes about the API against a real account.

use super::Global;
use skyform::ops::connect::ConnectOptions;
use skyform::vars::process_env;
use skyform::Result;

#[derive(clap::Args)]
pub struct Args {
    /// `human` (a table) or `json`.
    #[arg(long, value_enum, default_value = "human")]
    format: super::ErrorFormat,
    #[command(flatten)]
    sandbox: super::SandboxFlags,
    #[command(flatten)]
    pacing: super::Pacing,
    #[command(flatten)]
    pub global: Global,
}

pub fn run(args: Args, global: &Global) -> Result<i32> {
    let json = args.format == super::ErrorFormat::Json;
    let connect_opts: ConnectOptions = args.sandbox.connect(&args.pacing, global);
    let report = match super::runtime()?.block_on(skyform::ops::doctor::run(&connect_opts, &process_env)) {
        Ok(r) => r,
        Err(e) => {
            super::report(&e, json);
            return Ok(e.exit_code());
        }
    };
    if json {
        skyform::redact::to_stdout(&format!("{}\n", serde_json::to_string_pretty(&report).unwrap_or_default()));
    } else {
        skyform::redact::to_stdout(&report.render());
    }
    Ok(report.exit_code())
}
