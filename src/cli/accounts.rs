//! `skyform accounts [FOLDER]`: the accounts of an accounts folder, as a table or as a CI matrix.

use skyform::manifest::layout::discover;
use skyform::ops::accounts::{gitlab_matrix, matrix, select};
use skyform::{Error, ErrorKind, Result};
use std::path::PathBuf;

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Matrix {
    /// `{"include": [...]}` for `strategy.matrix: ${{ fromJSON(...) }}`.
    Github,
    /// `{"parallel": {"matrix": [{"ACCOUNT": [...]}]}}` for a generated child pipeline's job.
    Gitlab,
}

#[derive(clap::Args)]
pub struct Args {
    /// The accounts folder (a sub-folder per account). Default: the current folder.
    #[arg(value_name = "FOLDER", default_value = ".")]
    root: PathBuf,
    /// Print the accounts as a CI matrix (JSON on one line), one job per account, or per shard:
    /// `--matrix` (GitHub Actions) or `--matrix=gitlab`.
    #[arg(long, value_enum, value_name = "CI", num_args = 0..=1, require_equals = true, default_missing_value = "github")]
    matrix: Option<Matrix>,
    /// With --matrix github: N jobs, each with a comma-separated `accounts` list for `--accounts`.
    #[arg(long, value_name = "N", requires = "matrix")]
    shards: Option<usize>,
    /// Only these accounts (comma-separated).
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    accounts: Vec<String>,
}

pub fn run(args: Args) -> Result<i32> {
    if discover(&args.root).is_empty() {
        return Err(Error::new(ErrorKind::Usage, format!("{} is not an accounts folder", args.root.display()))
            .with_hint(
                "an accounts folder has a sub-folder per account, each with `settings: { api_key_env: NAME }`",
            ));
    }
    let accounts = select(&args.root, &args.accounts)?;
    match args.matrix {
        Some(Matrix::Github) => {
            let m = matrix(&args.root, &accounts, args.shards);
            skyform::redact::to_stdout(&format!("{}\n", serde_json::to_string(&m).unwrap_or_default()));
        }
        Some(Matrix::Gitlab) => {
            if args.shards.is_some() {
                return Err(Error::new(ErrorKind::Usage, "--shards is for --matrix github")
                    .with_hint("GitLab runs one job per ACCOUNT value"));
            }
            skyform::redact::to_stdout(&format!(
                "{}\n",
                serde_json::to_string(&gitlab_matrix(&accounts)).unwrap_or_default()
            ));
        }
        None => {
            let name_w = accounts.iter().map(|a| a.name.chars().count()).max().unwrap_or(0).max(7);
            let env_w = accounts.iter().map(|a| a.key_env.len()).max().unwrap_or(0).max(7);
            let mut out = format!("{:<name_w$}  {:<env_w$}  {:<7}  api url\n", "account", "key env", "key set");
            for a in &accounts {
                let set = std::env::var_os(&a.key_env).is_some_and(|v| !v.is_empty());
                out.push_str(&format!(
                    "{:<name_w$}  {:<env_w$}  {:<7}  {}\n",
                    skyform::redact::escape_controls(&a.name),
                    a.key_env,
                    if set { "yes" } else { "no" },
                    a.api_url.as_deref().unwrap_or("(default)")
                ));
            }
            skyform::redact::to_stdout(&out);
        }
    }
    Ok(0)
}
