//! skyform: manage a SkyLight Chat account as code.
//!
//! The library holds all logic; `src/main.rs` and `src/cli/` only parse arguments, call an op and print.
//! `ARCHITECTURE.md` at the root maps the layers and what each may use; `tests/it/architecture.rs` keeps it
//! true.

// Leaves first: they use nothing else of the crate.
pub mod error;
pub mod redact;
pub mod source;
pub mod vars;

// The registry of kinds (its `with_kind!` and `each_kind!` macros are visible in every module below).
#[macro_use]
pub mod resources;

pub mod api;
pub mod apply;
pub mod doctor;
pub mod export;
pub mod manifest;
pub mod ops;
pub mod plan;
pub mod render;
pub mod sandbox;

pub use error::{Error, ErrorKind, Result};
