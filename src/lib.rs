//! skyform: manage a SkyLight Chat account as code.
//!
//! The library holds all logic; `src/main.rs` and `src/cli/` only parse arguments and call in here.
//! Flow: `manifest` (load, resolve, check) → `resources` (one file per kind) → later `api`, `plan`, `apply`.

pub mod api;
pub mod apply;
pub mod error;
pub mod export;
pub mod manifest;
pub mod plan;
pub mod redact;
pub mod render;
pub mod resources;
pub mod sandbox;
pub mod session;

pub use error::{Error, ErrorKind, Result};
