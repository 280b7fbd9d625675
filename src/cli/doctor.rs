//! `skyform doctor`: check, read-only, what skyform assumes about the API against a real account.

use super::Global;
use skyform::ops::connect::ConnectOptions;
use skyform::vars::process_env;
use skyform::Result;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// `human` (a table) or `json`.
    #[arg(long, value_enum, default_value = "human")]
    format: super::ErrorFormat,
    /// Probe an in-process sandbox instead: a seed file, or a folder with sandbox.json (no account needed).
    #[arg(long, value_name = "SEED", num_args = 0..=1, default_missing_value = ".")]
    sandbox: Option<PathBuf>,
    #[command(flatten)]
    pacing: super::Pacing,
}

pub fn run(args: Args, global: &Global) -> Result<i32> {
    let json = args.format == super::ErrorFormat::Json;
    let seed = args.sandbox.map(|p| if p.is_dir() { p.join("sandbox.json") } else { p });
    let connect_opts = ConnectOptions { sandbox: seed, ..args.pacing.connect(global) };
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
