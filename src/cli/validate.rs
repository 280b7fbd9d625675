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
    let root = match args.paths.as_slice() {
        [one] if skyform::ops::accounts::is_accounts_folder(one) => Some(one.clone()),
        [] if skyform::ops::accounts::is_accounts_folder(std::path::Path::new(".")) => Some(".".into()),
        _ => None,
    };
    if let Some(root) = root {
        return run_accounts(&root, json);
    }
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

/// `validate ACCOUNTS_FOLDER`: every account, offline, each with its includes and vars.
fn run_accounts(root: &std::path::Path, json: bool) -> Result<i32> {
    let accounts = skyform::ops::accounts::select(root, &[])?;
    let loaded = skyform::ops::accounts::load_all(&accounts, &process_env);
    let code = skyform::ops::accounts::worst_exit_code(
        loaded.iter().map(|(_, r)| r.as_ref().map_or_else(|e| e.exit_code(), |_| 0)),
    );
    if json {
        let list: Vec<serde_json::Value> = loaded
            .iter()
            .map(|(a, r)| match r {
                Ok(set) => serde_json::json!({"name": a.name, "path": a.dir.display().to_string(), "ok": set.summary()}),
                Err(e) => serde_json::json!({"name": a.name, "path": a.dir.display().to_string(), "error": e.to_json()["error"]}),
            })
            .collect();
        let out = serde_json::json!({"accounts": list, "exit_code": code});
        skyform::redact::to_stdout(&format!("{}\n", serde_json::to_string_pretty(&out).unwrap_or_default()));
        return Ok(code);
    }
    for (a, r) in &loaded {
        let name = skyform::redact::escape_controls(&a.name);
        match r {
            Ok(set) => {
                if !set.warnings.is_empty() {
                    skyform::redact::to_stderr(&set.warnings.render_as("warning"));
                }
                skyform::redact::to_stdout(&format!("{name}: ok: {}\n", set.summary()));
            }
            Err(e) => {
                skyform::redact::to_stdout(&format!("{name}: {}\n", e));
                skyform::redact::to_stderr(&e.render());
            }
        }
    }
    Ok(code)
}
