//! skyform: manage a SkyLight Chat account as code.
//!
//! The library holds all logic; `src/main.rs` and `src/cli/` only parse arguments and call in here.

pub mod error;
pub mod sandbox;

pub use error::{Error, ErrorKind, Result};
