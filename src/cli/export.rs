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
    /// Only these kinds, comma-separated: agents, knowledge_base, webhooks, team, tags, contact_lists,
    /// segments, campaigns, account, voice.
    #[arg(long, value_name = "KINDS", value_delimiter = ',', value_parser = parse_kind)]
    kinds: Vec<Kind>,
    /// Overwrite files in a folder that is not empty.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    sandbox: super::SandboxFlags,
    #[command(flatten)]
    pacing: super::Pacing,
    #[command(flatten)]
    cache: super::Cache,
    #[command(flatten)]
    pub global: Global,
}

pub fn run(args: Args, global: &Global) -> Result<i32> {
    let mut connect_opts: ConnectOptions = args.sandbox.connect(&args.pacing, global);
    args.cache.apply(&mut connect_opts);
    let opts = ExportOptions { out: args.out.clone(), kinds: args.kinds, force: args.force };
    let report = super::runtime()?.block_on(skyform::ops::export::run(&connect_opts, &opts, &process_env))?;
    for s in &report.skipped {
        skyform::redact::to_stderr(&format!("skyform: {}\n", skyform::redact::escape_controls(s)));
    }
    if !global.quiet {
        let counts: Vec<String> = report
            .counts
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| match (skyform::resources::Kind::is_singleton(*k), n) {
                (true, _) => format!("the {}", k.singular()),
                (false, 1) => format!("1 {}", k.singular()),
                (false, n) => format!("{n} {}", k.plural()),
            })
            .collect();
        skyform::redact::to_stderr(&format!(
            "exported {} to {} ({} files); check it with: skyform plan{} {}\n",
            match counts.split_last() {
                None => "nothing".to_string(),
                Some((last, [])) => last.clone(),
                Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
            },
            args.out.display(),
            report.files.len(),
            args.sandbox.as_args(),
            super::shell_quote(&args.out.display().to_string())
        ));
    }
    Ok(0)
}
