//! `skyform export`: write the live account as manifests.

use super::plan::parse_kind;
use super::Global;
use skyform::export::ExportOptions;
use skyform::ops::connect::ConnectOptions;
use skyform::resources::Kind;
use skyform::vars::process_env;
use skyform::Result;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The folder to write (refused when not empty, unless --force).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Only these kinds, comma-separated: agents,knowledge_base,webhooks,team,campaigns.
    #[arg(long, value_name = "KINDS", value_delimiter = ',', value_parser = parse_kind)]
    kinds: Vec<Kind>,
    /// Overwrite files in a folder that is not empty.
    #[arg(long)]
    force: bool,
    /// Export an in-process sandbox's account instead: a seed file, or a folder with sandbox.json.
    #[arg(long, value_name = "SEED")]
    sandbox: Option<PathBuf>,
    #[command(flatten)]
    pacing: super::Pacing,
}

pub fn run(args: Args, global: &Global) -> Result<i32> {
    let seed = args.sandbox.map(|p| if p.is_dir() { p.join("sandbox.json") } else { p });
    let connect_opts = ConnectOptions { sandbox: seed, ..args.pacing.connect(global) };
    let opts = ExportOptions { out: args.out.clone(), kinds: args.kinds, force: args.force };
    let report = super::runtime()?.block_on(skyform::ops::export::run(&connect_opts, &opts, &process_env))?;
    for s in &report.skipped {
        skyform::redact::to_stderr(&format!("skyform: {}\n", skyform::redact::escape_controls(s)));
    }
    if !global.quiet {
        let counts: Vec<String> = report.counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
        skyform::redact::to_stderr(&format!(
            "exported {} to {} ({} files); check it with: skyform plan {}\n",
            counts.join(", "),
            args.out.display(),
            report.files.len(),
            args.out.display()
        ));
    }
    Ok(0)
}
