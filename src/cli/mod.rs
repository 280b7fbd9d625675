//! The command line: one file per command, each parsing its arguments into options and calling the library.

mod sandbox;
mod schema;
mod validate;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "skyform",
    version,
    about = "Manage a SkyLight Chat account as code: plan and apply YAML manifests."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load and check manifests offline: YAML, schema, references, env vars, files. No network.
    Validate(validate::Args),
    /// Print the manifest JSON Schema (checked in as schemas/manifest.schema.json).
    Schema(schema::Args),
    /// Serve the SkyLight API emulator on loopback, for trying manifests offline and for tests.
    Sandbox(sandbox::Args),
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
        Command::Schema(args) => schema::run(args),
        Command::Sandbox(args) => sandbox::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            e.exit_code()
        }
    }
}
