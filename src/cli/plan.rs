//! `skyform plan`: show what apply would change.

use super::Global;
use skyform::manifest::process_env;
use skyform::plan::run::{run as plan, PlanRequest};
use skyform::render::{render, Format};
use skyform::resources::Kind;
use skyform::{Error, ErrorKind, Result};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Manifest files or folders. Default: the current folder.
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// Also save the plan (JSON, with fingerprints, no secrets) for `skyform apply FILE`.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Exit 0 when there is nothing to change, 2 when there is, 1 on error.
    #[arg(long)]
    detailed_exitcode: bool,
    #[command(flatten)]
    scope: super::Scope,
    #[command(flatten)]
    sandbox: super::SandboxFlags,
    /// The secrets file apply writes; its recorded `rotate_secret` tokens decide rotations.
    #[arg(long, value_name = "FILE")]
    secrets_out: Option<PathBuf>,
    #[command(flatten)]
    pacing: super::Pacing,
}

pub fn parse_kind(s: &str) -> std::result::Result<Kind, String> {
    Kind::parse(s).ok_or_else(|| {
        let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        format!("unknown kind `{s}`: kinds are {}", kinds.join(", "))
    })
}

pub fn run(args: Args, global: &Global) -> Result<i32> {
    let request = PlanRequest {
        paths: args.paths,
        connect: args.sandbox.connect(&args.pacing, global),
        options: args.scope.options(),
        secrets_file: args.secrets_out,
    };
    let plan = super::runtime()?.block_on(plan(&request, &process_env))?;
    skyform::redact::to_stdout(&render(&plan, args.format, global.color_stdout()));
    if let Some(path) = &args.out {
        std::fs::write(path, skyform::redact::scrub(&skyform::render::json(&plan)).as_bytes())
            .map_err(|e| Error::new(ErrorKind::Io, format!("cannot write the plan to {}: {e}", path.display())))?;
        if !global.quiet {
            skyform::redact::to_stderr(&format!(
                "plan saved to {}; apply it with: skyform apply {}\n",
                path.display(),
                path.display()
            ));
        }
    }
    if !plan.blocked.is_empty() {
        return Err(Error::new(ErrorKind::Refused, plan.blocked.join("\n")).with_hint(
            "the plan was not blocked by mistake only if you meant those deletes: then pass --allow-deletes KIND",
        ));
    }
    Ok(if args.detailed_exitcode && plan.has_changes() { 2 } else { 0 })
}
