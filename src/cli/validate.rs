//! `skyform validate [PATH...]`: load and check manifests offline.

use skyform::vars::process_env;
use skyform::Result;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Manifest files or folders (every *.yaml/*.yml below them). Default: the current folder.
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// `human` (problems with their lines, on stderr) or `json` (`{"error": ...}` or `{"ok": ...}` on stdout).
    #[arg(long, value_enum, default_value = "human")]
    format: super::ErrorFormat,
}

pub fn run(args: Args) -> Result<i32> {
    let json = args.format == super::ErrorFormat::Json;
    match skyform::ops::validate::validate(&args.paths, &process_env) {
        Ok(set) if json => {
            let counts: serde_json::Map<String, serde_json::Value> = skyform::resources::Kind::ALL
                .iter()
                .map(|k| (k.as_str().to_string(), set.declared.count(*k).into()))
                .collect();
            let ok =
                serde_json::json!({"ok": {"kinds": counts, "prompts": set.prompts.len(), "files": set.files.len()}});
            skyform::redact::to_stdout(&format!("{}\n", serde_json::to_string_pretty(&ok).unwrap_or_default()));
            Ok(0)
        }
        Ok(set) => {
            if !set.warnings.is_empty() {
                skyform::redact::to_stderr(&set.warnings.render_as("warning"));
            }
            skyform::redact::to_stdout(&format!("ok: {}\n", set.summary()));
            Ok(0)
        }
        Err(e) => {
            super::report(&e, json);
            Ok(e.exit_code())
        }
    }
}
