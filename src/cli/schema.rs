//! `skyform schema`: print the manifest JSON Schema (or, with `--plan`, the plan file's).

use skyform::Result;

#[derive(clap::Args)]
pub struct Args {
    /// The schema of the plan file and `plan --format json` instead.
    #[arg(long)]
    plan: bool,
}

pub fn run(args: Args) -> Result<i32> {
    if args.plan {
        skyform::redact::to_stdout(&skyform::plan::plan_schema());
    } else {
        skyform::redact::to_stdout(&skyform::manifest::schema::manifest_schema());
    }
    Ok(0)
}
