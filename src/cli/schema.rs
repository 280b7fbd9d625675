//! `skyform schema`: print the manifest JSON Schema (or, with `--plan`, the plan file's).

use skyform::Result;

#[derive(clap::Args)]
pub struct Args {
    /// The schema of the plan file and `plan --format json` instead.
    #[arg(long, conflicts_with = "markdown")]
    plan: bool,
    /// The manifest reference in Markdown instead (docs/manifest-reference.md).
    #[arg(long)]
    markdown: bool,
}

pub fn run(args: Args) -> Result<i32> {
    if args.markdown {
        skyform::redact::to_stdout(&skyform::manifest::schema::manifest_reference());
    } else if args.plan {
        skyform::redact::to_stdout(&skyform::plan::plan_schema());
    } else {
        skyform::redact::to_stdout(&skyform::manifest::schema::manifest_schema());
    }
    Ok(0)
}
