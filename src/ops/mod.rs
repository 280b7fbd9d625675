//! The commands' operations, cargo-style: each takes what the user asked (a request struct the command
//! line fills in), loads what it needs, owns the connection to the API or to an in-process sandbox, and
//! calls the engines (`manifest`, `plan`, `apply`, `export`). The engines never connect anything themselves
//! and never link the sandbox; the command line only parses arguments, calls an op and prints.

pub mod apply;
pub mod connect;
pub mod doctor;
pub mod export;
pub mod git;
pub mod plan;
pub mod rotate;
pub mod unlock;
pub mod validate;

use std::path::PathBuf;

/// The manifest paths a command was given, or the current folder.
pub fn paths_or_here(paths: &[PathBuf]) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths.to_vec()
    }
}
