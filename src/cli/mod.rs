//! The command line: one file per command, each parsing its arguments into options and calling the library.

mod accounts;
mod apply;
mod completions;
mod doctor;
mod export;
mod plan;
mod rotate;
mod sandbox;
mod schema;
mod unlock;
mod validate;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use std::io::IsTerminal;

#[derive(Parser)]
#[command(
    name = "skyform",
    version = VERSION,
    about = "Manage a SkyLight Chat account as code: plan and apply YAML manifests."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// `0.1.0 (commit 1a2b3c4d5e6f)`: the commit the binary was built from (build.rs).
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("SKYFORM_GIT_COMMIT"), ")");

/// The whole command-line definition, for completions and man pages.
pub fn command() -> clap::Command {
    Cli::command()
}

/// Flags of the commands that talk to the API (plan, apply, export, rotate, unlock, doctor); the offline
/// commands do not list them.
#[derive(Args, Clone)]
pub struct Global {
    /// The API base URL (default: $SKYLIGHT_API_URL, else the public API). The key comes from $SKYLIGHT_API_KEY.
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,
    /// Colour in human output; `auto` colours a terminal unless NO_COLOR is set.
    #[arg(long, value_enum, default_value = "auto")]
    pub color: Color,
    /// Show retries, throttling and other details on stderr.
    #[arg(short, long)]
    pub verbose: bool,
    /// Print only results and errors.
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,
}

/// How errors are printed by commands without a `--format` of their own.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ErrorFormat {
    Human,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Color {
    /// Colour a terminal, unless NO_COLOR is set.
    Auto,
    Always,
    Never,
}

impl Global {
    /// Whether to colour stdout.
    pub fn color_stdout(&self) -> bool {
        match self.color {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal(),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Load and check manifests offline: YAML, schema, references, ${VAR} variables, files. No network.
    Validate(validate::Args),
    /// Read the live account and show, field by field, what apply would change.
    Plan(plan::Args),
    /// Make the account match the manifests (or apply a saved plan), then verify it converged.
    Apply(apply::Args),
    /// Write the live account as manifests (how a team adopts skyform).
    Export(export::Args),
    /// Print the manifest JSON Schema (checked in as schemas/manifest.schema.json).
    Schema(schema::Args),
    /// Rotate one object's secret (a webhook's signing secret) and deliver the new one to the secrets sink.
    Rotate(rotate::Args),
    /// Check, read-only, what skyform assumes about the API against the account (before the first apply).
    Doctor(doctor::Args),
    /// Break a stale apply lease by hand (the lock tag of a run that died).
    Unlock(unlock::Args),
    /// Serve the SkyLight API emulator on loopback, for trying manifests offline and for tests.
    Sandbox(sandbox::Args),
    /// List the accounts of an accounts folder, or print them as a CI matrix (--matrix).
    Accounts(accounts::Args),
    /// Print a shell completion script: `skyform completions bash > /etc/bash_completion.d/skyform`.
    Completions(completions::Args),
    /// Print the man page (roff), or write every command's page with --out DIR.
    Man(completions::ManArgs),
}

/// Parses, runs, prints any error, and returns the exit code.
pub fn run() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Usage errors exit 1, not clap's 2: 2 means "changes present" for `plan --detailed-exitcode`.
            return if e.use_stderr() { 1 } else { 0 };
        }
    };
    let result = match cli.command {
        Command::Validate(args) => validate::run(args),
        Command::Plan(args) => {
            let global = args.global.clone();
            plan::run(args, &global)
        }
        Command::Apply(args) => {
            let global = args.global.clone();
            apply::run(args, &global)
        }
        Command::Export(args) => {
            let global = args.global.clone();
            export::run(args, &global)
        }
        Command::Rotate(args) => {
            let global = args.global.clone();
            rotate::run(args, &global)
        }
        Command::Unlock(args) => {
            let global = args.global.clone();
            unlock::run(args, &global)
        }
        Command::Doctor(args) => {
            let global = args.global.clone();
            doctor::run(args, &global)
        }
        Command::Schema(args) => schema::run(args),
        Command::Sandbox(args) => sandbox::run(args),
        Command::Accounts(args) => accounts::run(args),
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => completions::man(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            report(&e, false);
            e.exit_code()
        }
    }
}

/// Prints an error: for a person on stderr, or with `json`, as `{"error": {...}}` on stdout (where a
/// pipeline reading `--format json` looks).
pub fn report(e: &skyform::Error, json: bool) {
    // A hint with flags to add becomes this whole command line with them: runnable as printed.
    let mut e = e.clone();
    if !e.suggest.is_empty() {
        let words: Vec<&str> = e.suggest.iter().map(String::as_str).collect();
        let command = skyform::redact::skyform_command(&words, &connection_args());
        e.hint = Some(match e.hint.take() {
            Some(h) => format!("{h}:\n        {command}"),
            None => command,
        });
    }
    if !e.rerun.is_empty() {
        let flags: Vec<&str> = e.rerun.iter().map(String::as_str).collect();
        let command = rerun_with(&flags);
        e.hint = Some(match e.hint.take() {
            Some(h) => format!("{h}:\n        {command}"),
            None => command,
        });
    }
    if json {
        skyform::redact::to_stdout(&format!("{}\n", serde_json::to_string_pretty(&e.to_json()).unwrap_or_default()));
    } else {
        skyform::redact::to_stderr(&e.render());
    }
}

/// How hard commands that talk to the API may use it (plan, apply, export).
#[derive(Args, Clone)]
pub struct Pacing {
    /// The key's requests per minute, until the API's first answer says.
    #[arg(long, default_value_t = 120)]
    pub rate_limit: u32,
    /// The share of the rate limit skyform may use; the rest stays free for other integrations.
    #[arg(long, default_value_t = 0.8)]
    pub rate_share: f64,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4)]
    pub parallelism: usize,
    /// Seconds one request may take before it is given up (and retried, if that is safe).
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub request_timeout: u64,
    /// Seconds the whole run may take: waits for rate limits (429) are capped at it, nothing is sent after it.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    pub timeout: u64,
}

/// How long a write can still land (apply, rotate: the commands that write and then look for what they sent).
#[derive(Args, Clone)]
pub struct Settle {
    /// Seconds after it was sent that a request can still land on the server (assumed; at least
    /// --request-timeout): a write whose answer was lost is looked for only then, and the lease lasts three.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub settle: u64,
}

impl Settle {
    pub fn apply(&self, c: &mut skyform::ops::connect::ConnectOptions) {
        c.settle = std::time::Duration::from_secs(self.settle.max(1)).max(c.request_timeout);
    }
}

/// The detail cache (plan, apply, export: the commands that read bodies the lists lack).
#[derive(Args, Clone)]
pub struct Cache {
    /// Where bodies the lists lack (knowledge contents, campaign messages) are cached, so a plan reads
    /// list pages only (default: the user's cache folder, e.g. ~/.cache/skyform).
    #[arg(long, value_name = "DIR", env = "SKYFORM_CACHE_DIR")]
    pub cache_dir: Option<std::path::PathBuf>,
    /// Do not cache bodies: read every one (wins over --cache-dir and SKYFORM_CACHE_DIR).
    #[arg(long)]
    pub no_cache: bool,
    /// Read every body again, ignoring the cache (and store what is read).
    #[arg(long)]
    pub refresh: bool,
}

impl Cache {
    pub fn apply(&self, c: &mut skyform::ops::connect::ConnectOptions) {
        c.cache_dir =
            if self.no_cache { None } else { self.cache_dir.clone().or_else(skyform::ops::connect::default_cache_dir) };
        c.cache_refresh = self.refresh;
    }
}

impl Pacing {
    /// Connection options from these flags and the global ones.
    pub fn connect(&self, global: &Global) -> skyform::ops::connect::ConnectOptions {
        skyform::ops::connect::ConnectOptions {
            api_url: global.api_url.clone(),
            rate_limit: self.rate_limit,
            rate_share: self.rate_share,
            parallelism: self.parallelism,
            verbose: global.verbose,
            request_timeout: std::time::Duration::from_secs(self.request_timeout.max(1)),
            timeout: Some(std::time::Duration::from_secs(self.timeout.max(1))),
            ..Default::default()
        }
    }
}

/// `--sandbox`, the same on every command that talks to the API: an in-process sandbox instead of it.
#[derive(Args, Clone)]
pub struct SandboxFlags {
    /// Talk to an in-process sandbox instead of the API: no account, no key, nothing leaves this machine.
    #[arg(long)]
    pub sandbox: bool,
    /// With --sandbox: the account it starts as (a JSON seed file, or a folder with sandbox.json). Default:
    /// for plan and apply the manifests' folder's sandbox.json; otherwise, or without one, an empty account.
    #[arg(long, value_name = "FILE", requires = "sandbox")]
    pub seed: Option<std::path::PathBuf>,
    /// With --sandbox: load the sandbox's account from and save it to this file, so `apply --sandbox` and a
    /// later `plan --sandbox` see the same account.
    #[arg(long, value_name = "FILE", requires = "sandbox")]
    pub sandbox_state: Option<std::path::PathBuf>,
}

impl SandboxFlags {
    /// Connection options for these flags, the pacing flags and the global ones.
    pub fn connect(&self, pacing: &Pacing, global: &Global) -> skyform::ops::connect::ConnectOptions {
        let seed = self.seed.as_ref().map(|p| if p.is_dir() { p.join("sandbox.json") } else { p.clone() });
        skyform::ops::connect::ConnectOptions {
            // Without --seed the engine finds the seed from the manifest paths (an empty path here).
            sandbox: self.sandbox.then(|| seed.unwrap_or_default()),
            sandbox_state: self.sandbox_state.clone(),
            seed_required: self.seed.is_some(),
            notice: !global.quiet,
            ..pacing.connect(global)
        }
    }

    /// These flags as they were given, for a hint that must run in the same mode: ` --sandbox --seed X`.
    pub fn as_args(&self) -> String {
        let mut out = String::new();
        if self.sandbox {
            out.push_str(" --sandbox");
        }
        if let Some(seed) = &self.seed {
            out.push_str(&format!(" --seed {}", shell_quote(&seed.display().to_string())));
        }
        if let Some(state) = &self.sandbox_state {
            out.push_str(&format!(" --sandbox-state {}", shell_quote(&state.display().to_string())));
        }
        out
    }
}

pub use skyform::redact::shell_quote;

/// The flags of this command line that choose where requests go (`--api-url`, `--sandbox`, `--seed`,
/// `--sandbox-state`), to repeat in a command a hint suggests, so it reaches the same account.
pub fn connection_args() -> Vec<String> {
    let args: Vec<String> = std::env::args_os().skip(1).map(|a| a.to_string_lossy().into_owned()).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--sandbox" {
            out.push(a.clone());
        } else if ["--api-url", "--seed", "--sandbox-state"].contains(&a.as_str()) {
            if let Some(v) = args.get(i + 1) {
                out.extend([a.clone(), v.clone()]);
                i += 1;
            }
        } else if ["--api-url=", "--seed=", "--sandbox-state="].iter().any(|p| a.starts_with(p)) {
            out.push(a.clone());
        }
        i += 1;
    }
    out
}

/// This very command line with `extra` flags added: a hint that reruns it in the same mode.
pub fn rerun_with(extra: &[&str]) -> String {
    let mut words: Vec<String> = vec!["skyform".into()];
    words.extend(std::env::args_os().skip(1).map(|a| shell_quote(&a.to_string_lossy())));
    words.extend(extra.iter().map(|a| shell_quote(a)));
    words.join(" ")
}

/// Narrowing a run over an accounts folder (plan, apply).
#[derive(Args, Clone)]
pub struct AccountsFlags {
    /// With an accounts folder: only these accounts (its sub-folders' names, comma-separated).
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    pub accounts: Vec<String>,
    /// With an accounts folder: at most this many accounts at once (each paced by its own key's budget).
    #[arg(long, value_name = "N", default_value_t = skyform::ops::accounts::DEFAULT_JOBS)]
    pub jobs: usize,
}

impl AccountsFlags {
    /// The accounts folder of a run, if it is one: one path that is an accounts folder. `--accounts`
    /// without one is a usage error.
    pub fn root(&self, paths: &[std::path::PathBuf]) -> skyform::Result<Option<std::path::PathBuf>> {
        let root = match paths {
            [one] if skyform::ops::accounts::is_accounts_folder(one) => Some(one.clone()),
            [] if skyform::ops::accounts::is_accounts_folder(std::path::Path::new(".")) => Some(".".into()),
            _ => None,
        };
        if root.is_none() && !self.accounts.is_empty() {
            return Err(skyform::Error::new(skyform::ErrorKind::Usage, "--accounts needs an accounts folder")
                .with_hint(
                "pass the folder that holds one sub-folder per account, e.g. `skyform plan accounts/ --accounts acme`",
            ));
        }
        Ok(root)
    }
}

/// What a new plan covers (plan, apply).
#[derive(Args, Clone)]
pub struct Scope {
    /// Only this kind, or one object: `agents`, `webhooks/CRM sync` (repeatable).
    #[arg(long, value_name = "KIND[/NAME]", value_parser = skyform::plan::Target::parse)]
    pub target: Vec<skyform::plan::Target>,
    /// Also delete live objects of these kinds that the manifests do not name (comma-separated, repeatable).
    #[arg(long, value_name = "KIND", value_delimiter = ',', value_parser = plan::parse_kind)]
    pub prune: Vec<skyform::resources::Kind>,
    /// Allow the deletes the guard blocks for these kinds: more than 25% of a kind's live objects, or a
    /// list, segment or tag whose contacts lose their membership (comma-separated, repeatable).
    #[arg(long, value_name = "KIND", value_delimiter = ',', value_parser = plan::parse_kind)]
    pub allow_deletes: Vec<skyform::resources::Kind>,
    /// Also rotate this object's secret, e.g. `webhooks/CRM sync` (repeatable); the plan shows it.
    #[arg(long, value_name = "KIND/NAME", value_parser = skyform::plan::Target::parse)]
    pub rotate: Vec<skyform::plan::Target>,
}

impl Scope {
    pub fn options(&self) -> skyform::plan::PlanOptions {
        skyform::plan::PlanOptions {
            targets: self.target.clone(),
            prune: self.prune.clone(),
            allow_deletes: self.allow_deletes.clone(),
            rotate: self.rotate.clone(),
        }
    }
}

/// SIGINT or SIGTERM (a pipeline cancel) stops the run: nothing new starts, requests in flight finish
/// (bounded), the summary is printed, the lease is given back, exit 130. A second signal exits at once.
pub fn cancel_on_signals(runtime: &tokio::runtime::Runtime, quiet: bool) -> skyform::api::Cancel {
    let cancel = skyform::api::Cancel::default();
    let c = cancel.clone();
    runtime.spawn(async move {
        let first = next_signal().await;
        c.cancel(format!("{first} received: nothing new was started"));
        if !quiet {
            skyform::redact::to_stderr(&format!(
                "\nskyform: {first}: stopping; changes in flight finish, then the summary. Send it again to exit at once.\n"
            ));
        }
        let _ = next_signal().await;
        std::process::exit(skyform::ErrorKind::Interrupted.exit_code());
    });
    cancel
}

/// The next SIGINT or SIGTERM, by name.
async fn next_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = int.recv() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

/// A runtime for the async engine.
pub fn runtime() -> skyform::Result<tokio::runtime::Runtime> {
    // One thread: the work waits on the network, and a single scheduler thread saves the wake-ups and
    // hand-offs between workers (about a fifth of an apply's CPU at 10,000 objects). File I/O still goes
    // to the blocking pool.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| skyform::Error::new(skyform::ErrorKind::Io, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every flag and argument of every command says what it does, and the offline commands do not list
    /// the flags of the commands that talk to the API.
    #[test]
    fn every_flag_has_help_and_each_command_lists_only_its_own_flags() {
        let cli = command();
        let mut missing = Vec::new();
        for sub in cli.get_subcommands() {
            for arg in sub.get_arguments() {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "version") {
                    continue;
                }
                if arg.get_help().is_none_or(|h| h.to_string().trim().is_empty()) {
                    missing.push(format!("{} --{id}", sub.get_name()));
                }
            }
        }
        assert!(missing.is_empty(), "flags without help: {missing:?}");
        for offline in ["validate", "schema", "sandbox", "completions", "man", "accounts"] {
            let sub = cli.find_subcommand(offline).unwrap_or_else(|| panic!("no command {offline}"));
            for api_only in ["api_url", "color", "verbose", "sandbox_state"] {
                assert!(
                    sub.get_arguments().all(|a| a.get_id().as_str() != api_only),
                    "`skyform {offline}` lists --{api_only}, which it does not use"
                );
            }
        }
        // Cache flags only where bodies are read; --settle only where writes may land late.
        for (command, absent) in [
            ("doctor", &["cache_dir", "no_cache", "refresh", "settle"][..]),
            ("unlock", &["cache_dir", "no_cache", "refresh", "settle"][..]),
            ("rotate", &["cache_dir", "no_cache", "refresh"][..]),
            ("plan", &["settle"][..]),
            ("export", &["settle"][..]),
        ] {
            let sub = cli.find_subcommand(command).unwrap();
            for flag in absent {
                assert!(
                    sub.get_arguments().all(|a| a.get_id().as_str() != *flag),
                    "`skyform {command}` lists --{flag}"
                );
            }
        }
        for online in ["plan", "apply", "export", "doctor", "rotate", "unlock"] {
            let sub = cli.find_subcommand(online).unwrap();
            for flag in ["api_url", "sandbox", "seed", "sandbox_state", "verbose"] {
                assert!(sub.get_arguments().any(|a| a.get_id().as_str() == flag), "`skyform {online}` lacks --{flag}");
            }
        }
    }

    #[test]
    fn shell_quoting_reads_back_as_the_same_words() {
        assert_eq!(shell_quote("examples/acme"), "examples/acme");
        assert_eq!(shell_quote("my plan.json"), "'my plan.json'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
