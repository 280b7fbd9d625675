//! `validate`: load and check manifests offline.

use crate::manifest::{self, ManifestSet};
use crate::vars::Env;
use crate::Error;
use std::path::PathBuf;

/// Loads and checks the manifests under `paths` (the current folder when empty). Never touches the network.
/// Problems come back as an [`Error`] carrying them, like every other command's.
pub fn validate(paths: &[PathBuf], env: Env) -> Result<ManifestSet, Error> {
    manifest::load(&super::paths_or_here(paths), env).map_err(Error::problems)
}
