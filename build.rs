//! Records the git commit the binary is built from, for `skyform --version`: `SKYFORM_GIT_COMMIT` when
//! set (release builds from a tarball), else `git rev-parse`, else "unknown". Never fails the build.
// Cargo reads build-script instructions from stdout; nothing secret is printed here.
#![allow(clippy::disallowed_macros)]

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=SKYFORM_GIT_COMMIT");
    // A new commit or checkout changes HEAD or the ref it points to.
    for path in [".git/HEAD", ".git/refs/heads", ".git/packed-refs"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    let commit = std::env::var("SKYFORM_GIT_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| {
            let out = Command::new("git").args(["rev-parse", "--short=12", "HEAD"]).output().ok()?;
            out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        })
        .map(|c| c.chars().take(12).collect::<String>())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=SKYFORM_GIT_COMMIT={commit}");
}
