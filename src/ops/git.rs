//! The manifests as they were at a git ref, for `plan --base`: read with git's plumbing (`rev-parse`,
//! `ls-tree`, `cat-file --batch`) into a temporary folder, so the working tree, the index and the
//! repository's metadata are never touched.

use crate::{Error, ErrorKind};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Blobs larger than this (bytes) are not extracted: no manifest or text file is that large (the loader's
/// own limits are 4 MiB and 1 MiB), and a large binary in the repository would only cost disk.
const MAX_BLOB: u64 = 8 * 1024 * 1024;

/// The manifest paths at a commit, extracted; the folder is removed when this is dropped.
#[derive(Debug)]
pub struct Checkout {
    dir: PathBuf,
    /// The commit the ref named (full hash).
    pub commit: String,
    /// The same manifest paths inside the checkout; `None` for a path that did not exist at the commit.
    pub paths: Vec<Option<PathBuf>>,
}

impl Drop for Checkout {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn git(args: &[&str], cwd: &Path) -> Result<std::process::Output, Error> {
    Command::new("git").args(args).current_dir(cwd).stdin(Stdio::null()).output().map_err(|e| {
        Error::new(ErrorKind::Usage, format!("plan --base needs git, which could not be run: {e}"))
            .with_hint("install git, or plan without --base")
    })
}

/// Extracts `paths` (as given on the command line, relative to `cwd`) as they were at `git_ref`.
///
/// Errors: not inside a git repository, a ref that names no commit (with the fetch hint CI checkouts
/// need), a path outside the repository, git failing.
pub fn checkout(git_ref: &str, paths: &[PathBuf], cwd: &Path) -> Result<Checkout, Error> {
    // The repository is the one holding the (first) manifest path, wherever skyform runs from.
    let first = paths.first().map(|p| cwd.join(p)).unwrap_or_else(|| cwd.to_path_buf());
    let anchor = if first.is_dir() { first } else { first.parent().map(Path::to_path_buf).unwrap_or_default() };
    let anchor = if anchor.as_os_str().is_empty() { cwd.to_path_buf() } else { anchor };
    let top = git(&["rev-parse", "--show-toplevel"], &anchor)?;
    if !top.status.success() {
        return Err(Error::new(ErrorKind::Usage, "plan --base needs a git repository: this folder is not in one")
            .with_hint("run it from a clone of the repository that holds the manifests"));
    }
    let top = PathBuf::from(String::from_utf8_lossy(&top.stdout).trim());
    let top = std::fs::canonicalize(&top).unwrap_or(top);
    if git_ref.starts_with('-') {
        return Err(Error::new(ErrorKind::Usage, format!("`{git_ref}` is not a git ref")));
    }
    let rev = git(&["rev-parse", "--verify", "--quiet", "--end-of-options", &format!("{git_ref}^{{commit}}")], &top)?;
    if !rev.status.success() {
        return Err(Error::new(ErrorKind::Usage, format!("--base `{git_ref}` names no commit in this repository"))
            .with_hint(
                "fetch it first (git fetch origin main); in GitHub Actions, check out with fetch-depth: 0 and pass --base origin/${{ github.base_ref }}",
            ));
    }
    let commit = String::from_utf8_lossy(&rev.stdout).trim().to_string();
    let dir = std::env::temp_dir().join(format!(
        "skyform-base-{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos()
    ));
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::new(ErrorKind::Io, format!("cannot create {}: {e}", dir.display())))?;
    let mut out = Checkout { dir, commit, paths: Vec::new() };
    let mut wanted = Vec::new();
    for p in paths {
        let abs = std::fs::canonicalize(cwd.join(p))
            .unwrap_or_else(|_| std::path::absolute(cwd.join(p)).unwrap_or(p.clone()));
        let Ok(rel) = abs.strip_prefix(&top) else {
            return Err(Error::new(
                ErrorKind::Usage,
                format!("{} is outside the git repository at {}", p.display(), top.display()),
            ));
        };
        wanted.push(rel.to_path_buf());
    }
    // Shared manifests the accounts include (settings.include) come along, at the same place in the tree,
    // so the base's `../_shared` finds them.
    let mut extracted = wanted.clone();
    for include in crate::manifest::layout::prescan(paths).includes {
        let abs = std::fs::canonicalize(cwd.join(&include)).unwrap_or_default();
        if let Ok(rel) = abs.strip_prefix(&top) {
            extracted.push(rel.to_path_buf());
        }
    }
    extract(&top, &out.commit, &extracted, &out.dir)?;
    out.paths = wanted.iter().map(|rel| Some(out.dir.join(rel)).filter(|p| p.exists())).collect();
    Ok(out)
}

/// Writes every blob under `rels` at `commit` into `dir`.
fn extract(top: &Path, commit: &str, rels: &[PathBuf], dir: &Path) -> Result<(), Error> {
    let io = |what: String| move |e: std::io::Error| Error::new(ErrorKind::Io, format!("{what}: {e}"));
    let mut args =
        vec!["ls-tree".to_string(), "-r".into(), "-z".into(), "--full-tree".into(), commit.to_string(), "--".into()];
    args.extend(rels.iter().filter(|r| !r.as_os_str().is_empty()).map(|r| r.to_string_lossy().into_owned()));
    let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let listing = git(&arg_refs, top)?;
    if !listing.status.success() {
        return Err(Error::new(
            ErrorKind::Io,
            format!("git ls-tree failed: {}", String::from_utf8_lossy(&listing.stderr).trim()),
        ));
    }
    // `<mode> <type> <object> <size>\t<path>\0` without --long: `<mode> <type> <object>\t<path>\0`.
    let mut entries = Vec::new();
    for record in listing.stdout.split(|b| *b == 0).filter(|r| !r.is_empty()) {
        let record = String::from_utf8_lossy(record);
        let Some((meta, path)) = record.split_once('\t') else { continue };
        let mut parts = meta.split(' ');
        let (Some(mode), Some(kind), Some(object)) = (parts.next(), parts.next(), parts.next()) else { continue };
        if kind == "blob" {
            entries.push((mode.to_string(), object.to_string(), path.to_string()));
        }
    }
    if entries.is_empty() {
        return Ok(());
    }
    let mut cat = Command::new("git")
        .args(["cat-file", "--batch"])
        .current_dir(top)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(io("cannot run git cat-file".into()))?;
    let mut stdin = cat.stdin.take().expect("piped");
    let names: String = entries.iter().map(|(_, o, _)| format!("{o}\n")).collect();
    // Written from a thread: git answers while it reads, and a full pipe would stall both.
    let writer = std::thread::spawn(move || stdin.write_all(names.as_bytes()));
    let mut reader = BufReader::new(cat.stdout.take().expect("piped"));
    for (mode, _, path) in &entries {
        let mut header = String::new();
        reader.read_line(&mut header).map_err(io("git cat-file".into()))?;
        let size: u64 = header.split(' ').nth(2).and_then(|s| s.trim().parse().ok()).unwrap_or(0);
        let mut body = Vec::new();
        (&mut reader).take(size).read_to_end(&mut body).map_err(io("git cat-file".into()))?;
        let mut newline = [0u8; 1];
        reader.read_exact(&mut newline).map_err(io("git cat-file".into()))?;
        if size > MAX_BLOB || path.split('/').any(|c| c == "..") {
            continue;
        }
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(io(format!("cannot create {}", parent.display())))?;
        }
        if mode == "120000" {
            #[cfg(unix)]
            std::os::unix::fs::symlink(String::from_utf8_lossy(&body).as_ref(), &target)
                .map_err(io(format!("cannot write {}", target.display())))?;
        } else {
            std::fs::write(&target, &body).map_err(io(format!("cannot write {}", target.display())))?;
        }
    }
    let _ = writer.join();
    let _ = cat.wait();
    Ok(())
}
